"""The loop of issue 13 on this machine, at the reference sizes of `tiny`: how far the live ETA,
the projections and a decision's prediction were from what then ran.

In a throw-away store: campaign c0 (fp32) runs; its projections onto this host are logged
(`project c0 --to none --log`, at fp32 and at int8) and a decision is drafted from `advise`
choosing int8; then c1 (fp32) runs as `cogit-log run` in its own process, watched from here so
the ETA each phase logged at half-way can be held against when it really ended; then c2
(int8). `report --accuracy` pairs every prediction with the campaign that ran it.

    .venv/bin/python bench/track_record.py [--model tiny] [--usd-per-hour 0.89]
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from click.testing import CliRunner
from mlflow.tracking import MlflowClient

from cogit_tracker import schema
from cogit_tracker.cli import cli
from cogit_tracker.cli.render import render
from cogit_tracker.planning import track


def cogit(*args: str) -> str:
    res = CliRunner().invoke(cli, list(args))
    if res.exit_code not in (0, 1):
        raise SystemExit(f"cogit-log {' '.join(args)} failed:\n{res.output}")
    return res.output


def campaign(label: str, precision: str, args) -> subprocess.Popen:
    env = dict(os.environ, COGIT_HEARTBEAT_S="1", PYTHONWARNINGS="ignore")
    return subprocess.Popen([sys.executable, "-m", "cogit_tracker.cli", "run", "--model",
                             args.model, "--precision", precision, "--campaign", label,
                             "--usd-per-hour", str(args.usd_per_hour)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def watch_etas(proc: subprocess.Popen, label: str) -> dict[str, tuple[float, float]]:
    """For each phase: (ETA logged when it first reported >= 50 %, when that was)."""
    client, seen = MlflowClient(), {}
    while proc.poll() is None:
        for run in client.search_runs([e.experiment_id for e in client.search_experiments()],
                                      f"tags.`{schema.CAMPAIGN}` = '{label}' and "
                                      f"attributes.status = 'RUNNING'"):
            m, name = run.data.metrics, run.data.tags.get(schema.PHASE)
            if name and name not in seen and m.get(schema.PROGRESS, 0) >= 0.5 \
                    and schema.ETA_S in m:
                seen[name] = (m[schema.ETA_S], time.time())
        time.sleep(0.25)
    return seen


def eta_rows(label: str, seen: dict[str, tuple[float, float]]) -> list[str]:
    client = MlflowClient()
    runs = client.search_runs([e.experiment_id for e in client.search_experiments()],
                              f"tags.`{schema.CAMPAIGN}` = '{label}'")
    ends = {r.data.tags.get(schema.PHASE): r.info.end_time / 1000 for r in runs}
    lines = ["| phase | ETA logged at half-way | took from then | error |", "|---|---|---|---|"]
    for name, (eta, at) in seen.items():
        took = ends[name] - at
        lines.append(f"| {name} | {eta:.1f} s | {took:.1f} s | {(eta - took) / took:+.0%} |")
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="tiny")
    ap.add_argument("--usd-per-hour", type=float, default=0.89)
    args = ap.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="cogit-track-"))
    os.chdir(folder)
    os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{folder / 'mlflow.db'}"
    started = time.time()
    assert campaign("c0", "fp32", args).wait() == 0, "campaign c0 failed"
    cogit("project", "c0", "--to", "none", "--log")
    cogit("project", "c0", "--to", "none", "--precision", "int8", "--log")
    print(cogit("decision", "new", "--from-advice", "c0", "--choose", "int8", "--setup-min",
                "0", "--no-input"))
    proc = campaign("c1", "fp32", args)
    seen = watch_etas(proc, "c1")
    assert proc.wait() == 0, "campaign c1 failed"
    assert campaign("c2", "int8", args).wait() == 0, "campaign c2 failed"
    print("\n".join(eta_rows("c1", seen)) + "\n")
    print(render(track.accuracy(os.environ["MLFLOW_TRACKING_URI"]), "md"))
    print(f"store: {folder / 'mlflow.db'}; {time.time() - started:.0f} s in all")


if __name__ == "__main__":
    main()
