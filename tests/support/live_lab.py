"""Running campaigns for the live board's tests (`/cogit/live`): a real experiment process
(`campaign_worker.py`, the public API) reporting progress with a fast heartbeat, started and
waited for until its first phase exists; and how to take its runs away again."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from cogit_tracker import schema

WORKER = Path(__file__).parent / "campaign_worker.py"
REPO = Path(__file__).resolve().parents[2]
HOSTILE = "<img src=x onerror=window.__pwned=1>"   # a label that is markup, if not escaped


def start(url: str, folder: Path, label: str, *args: str, heartbeat_s: float = 1.0,
          auth: tuple[str, str] | None = None) -> subprocess.Popen:
    """A campaign of one phase reporting its progress point by point (extra `args` go to
    the worker, e.g. `--gate FILE`); returns once the phase run exists."""
    return started(launch(url, folder, label, *args, heartbeat_s=heartbeat_s, auth=auth))


def launch(url: str, folder: Path, label: str, *args: str, heartbeat_s: float = 1.0,
           auth: tuple[str, str] | None = None) -> subprocess.Popen:
    """The same, returning at once (start several, then wait for each with `started`)."""
    marker = folder / f"{abs(hash(label))}.started"
    env = dict(os.environ, MLFLOW_TRACKING_URI=url, PYTHONPATH=str(REPO),
               COGIT_HEARTBEAT_S=str(heartbeat_s), PYTHONWARNINGS="ignore")
    if auth:
        env.update(MLFLOW_TRACKING_USERNAME=auth[0], MLFLOW_TRACKING_PASSWORD=auth[1])
    proc = subprocess.Popen([sys.executable, str(WORKER), url, label, "--phases", "1",
                             "--progress", "--usd-per-hour", "3.6", "--marker", str(marker),
                             "--marker-at", "0", *args], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    proc.marker = marker  # type: ignore[attr-defined]
    return proc


def started(proc: subprocess.Popen) -> subprocess.Popen:
    """`proc` once its first phase run exists (it touches its marker file then)."""
    deadline = time.monotonic() + 120
    while not proc.marker.exists():  # type: ignore[attr-defined]
        assert proc.poll() is None, proc.stderr.read()
        assert time.monotonic() < deadline, "the worker never started its phase"
        time.sleep(0.1)
    return proc


def campaign_runs(client, label: str) -> list:
    """The campaign's runs (campaign and phases), in any experiment."""
    from cogit_tracker.store import query

    return query.runs(client, "", tags={schema.CAMPAIGN: label})


def remove(client, label: str) -> None:
    """Delete the campaign's runs, so a shared lab's other tests see the store they expect."""
    for run in campaign_runs(client, label):
        client.delete_run(run.info.run_id)


def until(look, ok, timeout_s: float = 60.0, pause_s: float = 0.2):
    """`look()` again until `ok(result)`; the last result (assert on it)."""
    deadline = time.monotonic() + timeout_s
    while True:
        found = look()
        if ok(found) or time.monotonic() > deadline:
            return found
        time.sleep(pause_s)
