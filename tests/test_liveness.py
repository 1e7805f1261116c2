"""Processes that die: SIGTERM, SIGKILL then `runs reap`, and runs that are not ours.

Each case runs a real experiment process (a subprocess) against a real sqlite store.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import mlflow
import pytest
from mlflow.tracking import MlflowClient

from cogit_tracker import schema

from conftest import REPO

pytestmark = pytest.mark.slow

CHILD = textwrap.dedent("""
    import signal, sys, time
    import cogit_tracker as ct
    if "--user-handler" in sys.argv:
        def handler(signum, frame):
            print("user handler ran", flush=True)
            raise SystemExit(7)
        signal.signal(signal.SIGTERM, handler)
    with ct.campaign("victim", usd_per_hour=1.0) as camp:
        with camp.phase("intervene") as ph:
            for i in range(100):
                ph.log_metrics({"generations": i}, step=i)
            ph.flush()
            print(ph.run_id, flush=True)
            time.sleep(60)
""")


def start_child(store: str, *args: str) -> tuple[subprocess.Popen, str]:
    env = dict(os.environ, MLFLOW_TRACKING_URI=store, PYTHONPATH=str(REPO),
               COGIT_HEARTBEAT_S="0.5", PYTHONWARNINGS="ignore")
    proc = subprocess.Popen([sys.executable, "-c", CHILD, *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    run_id = proc.stdout.readline().strip()
    assert run_id, proc.stderr.read()
    return proc, run_id


def cli(*args: str, store: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, MLFLOW_TRACKING_URI=store, PYTHONPATH=str(REPO),
               PYTHONWARNINGS="ignore")
    return subprocess.run([sys.executable, "-m", "cogit_tracker.cli", *args], env=env,
                          capture_output=True, text=True, timeout=120)


def test_sigterm_marks_killed_and_exits_like_the_default(store):
    proc, run_id = start_child(store)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(60) == 128 + signal.SIGTERM
    run = MlflowClient().get_run(run_id)
    assert run.info.status == "KILLED"
    assert run.data.tags[schema.FAILURE] == "sigterm"
    parent = MlflowClient().get_run(run.data.tags["mlflow.parentRunId"])
    assert parent.info.status == "KILLED"


def test_sigterm_chains_the_users_handler(store):
    proc, run_id = start_child(store, "--user-handler")
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(60) == 7
    assert "user handler ran" in proc.stdout.read()
    # the user's handler raised SystemExit: the phase records it as an exception exit
    assert MlflowClient().get_run(run_id).info.status in ("FAILED", "KILLED")


def test_sigkill_then_reap_marks_killed_and_keeps_metrics(store):
    proc, run_id = start_child(store)
    plain = mlflow.start_run(run_name="not ours")  # RUNNING, no heartbeat: must be left alone
    proc.kill()
    proc.wait(30)
    client = MlflowClient()
    assert client.get_run(run_id).info.status == "RUNNING"  # what MLflow alone leaves behind
    time.sleep(1.5)
    result = cli("runs", "reap", "--stale-after", "1", store=store)
    assert result.returncode == 0, result.stderr
    assert "Reaped 2 run(s)" in result.stdout  # the phase and its campaign
    run = client.get_run(run_id)
    assert run.info.status == "KILLED"
    assert run.data.tags[schema.FAILURE] == "stale"
    assert len(client.get_metric_history(run_id, "generations")) == 100
    assert run.data.metrics[schema.COST_USD] > 0
    assert run.info.end_time == int(run.data.tags[schema.HEARTBEAT])
    assert client.get_run(plain.info.run_id).info.status == "RUNNING"
    mlflow.end_run()
    listed = cli("runs", "list", "--json", store=store)
    assert '"status": "KILLED"' in listed.stdout and "victim" in listed.stdout


@pytest.mark.parametrize("args,bad", [
    (["runs", "reap", "--stale-after", "-5"], "-5"),
    (["runs", "reap", "--stale-after", "soon"], "soon"),
    (["runs", "list", "--status", "DONE"], "DONE"),
])
def test_bad_values_exit_2_with_one_line(store, args, bad):
    result = cli(*args, store=store)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    assert bad in result.stderr and "Usage" not in result.stderr


def test_unwritable_store_path_is_one_line(tmp_path):
    result = cli("runs", "list", store=f"sqlite:///{tmp_path}/missing/dir/mlflow.db")
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0
    assert "missing/dir" in result.stderr
