"""`cogit-log runs watch`: a real experiment process reporting progress, watched by a real
`cogit-log` process until it ends; and a SIGKILLed one, whose stale heartbeat stands out.

Off a terminal watch prints lines; on one (a pseudo-terminal here) it redraws a rich table.
Nothing waits on a fixed sleep: the experiment holds halfway through its phase until the test
has seen what it needs, then finishes, and watch must then exit by itself."""
from __future__ import annotations

import fcntl
import os
import pty
import select
import signal
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest

from conftest import REPO

pytestmark = pytest.mark.slow
WORKER = Path(__file__).parent / "support" / "campaign_worker.py"


def _env(store: str) -> dict:
    return dict(os.environ, MLFLOW_TRACKING_URI=store, PYTHONPATH=str(REPO),
                COGIT_HEARTBEAT_S="0.3", PYTHONWARNINGS="ignore")


def start_worker(store: str, tmp_path: Path, label: str, *args: str) -> subprocess.Popen:
    """A campaign of one phase of 20 points reporting progress; returns once the phase run
    exists. With `--gate FILE` it holds at point 10 until FILE exists."""
    marker = tmp_path / f"{label}.started"
    proc = subprocess.Popen([sys.executable, str(WORKER), store, label, "--phases", "1",
                             "--points", "20", "--pause", "0.05", "--progress",
                             "--usd-per-hour", "3.6", "--marker", str(marker),
                             "--marker-at", "0", *args], env=_env(store),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not marker.exists():
        assert proc.poll() is None, proc.stderr.read()
        assert time.monotonic() < deadline, "the worker never started its phase"
        time.sleep(0.1)
    return proc


@pytest.fixture
def gate(tmp_path):
    """The file that lets a held worker finish; opened in any case when the test ends, so a
    failed test leaves no process waiting."""
    path = tmp_path / "gate"
    yield path
    path.touch()


def watch(store: str, *args: str, **popen) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "cogit_tracker.cli", "runs", "watch",
                             "--interval", "0.3", *args], env=_env(store), **popen)


def test_watch_prints_eta_and_projected_cost_and_exits_when_the_phase_ends(store, tmp_path,
                                                                           gate):
    worker = start_worker(store, tmp_path, "watched", "--gate", str(gate))
    seen = watch(store, "--campaign", "watched", stdout=subprocess.PIPE,
                 stderr=subprocess.PIPE, text=True)
    lines = []
    for line in seen.stdout:  # until a line shows the ETA, then let the phase finish
        lines.append(line.rstrip("\n"))
        if "RUNNING" in line and "ETA" in line:
            gate.touch()
    assert seen.wait(timeout=180) == 0, seen.stderr.read()
    assert worker.wait(timeout=60) == 0
    running = [ln for ln in lines if "RUNNING" in ln and "ETA" in ln]
    assert running and all("progress" in ln and "projected $" in ln for ln in running), lines
    assert "watched" in running[0] and "phase-0" in running[0]
    assert "FINISHED" in lines[-2] and lines[-1] == "All watched phases have ended.", lines
    assert seen.stderr.read() == ""


def test_a_stale_heartbeat_stands_out_and_is_not_waited_for(store, tmp_path):
    worker = start_worker(store, tmp_path, "dead", "--gate", str(tmp_path / "never"))
    worker.send_signal(signal.SIGKILL)
    worker.wait(timeout=30)
    time.sleep(1.5)  # the last heartbeat is now older than --stale-after 1
    seen = watch(store, "--stale-after", "1", stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                 text=True)
    out, err = seen.communicate(timeout=120)
    assert seen.returncode == 0, err
    assert "RUNNING (stale)" in out and "dead" in out, out


@pytest.mark.parametrize("columns", [160, 80])
def test_on_a_terminal_the_table_redraws_in_place(store, tmp_path, gate, columns):
    """On a wide terminal the boxed table; on the common 80 columns a compact one, so that
    no word folds (a boxed table of nine columns there read `RUNNIN` over `G`)."""
    worker = start_worker(store, tmp_path, "tty", "--gate", str(gate))
    main, child = pty.openpty()
    fcntl.ioctl(child, termios.TIOCSWINSZ, struct.pack("HHHH", 40, columns, 0, 0))
    seen = watch(store, "--campaign", "tty", stdin=child, stdout=child, stderr=child)
    os.close(child)
    screen = ""
    deadline = time.monotonic() + 120
    while True:
        assert time.monotonic() < deadline, f"watch never ended; the screen so far:\n{screen}"
        if not select.select([main], [], [], 1)[0]:
            continue
        try:
            chunk = os.read(main, 4096)
        except OSError:  # the terminal's other side closed: watch has exited
            break
        if not chunk:
            break
        screen += chunk.decode(errors="replace")
        if "RUNNIN" in screen:  # (even folded: the words are judged below)
            gate.touch()
    os.close(main)
    assert seen.wait(timeout=120) == 0
    assert worker.wait(timeout=60) == 0
    assert "Running phases" in screen and "FINISHED" in screen
    assert "\x1b[1A" in screen  # the cursor moves up: redrawn in place, not appended
    for word in ("campaign", "elapsed", "progress", "projected", "heartbeat", "RUNNING"):
        assert word in screen, (word, screen[-3000:])  # whole: not folded over two lines
    assert ("┃" in screen) == (columns == 160)


def test_bad_values_are_one_line(store):
    from support.cli_checks import one_line_error

    one_line_error(["runs", "watch", "--interval", "0"], "--interval 0", "positive")
    one_line_error(["runs", "watch", "--stale-after", "-1"], "--stale-after -1", "positive")
