"""Load and faults against a real `mlflow server` on a real PostgreSQL, loopback only.

Experiments are real processes (tests/support/campaign_worker.py) logging through cogit_tracker's
public API; the server is the session's `mlflow_server` (conftest.py). Counts are read straight
from the server's PostgreSQL tables, so they do not depend on the REST path under test. Every
wait is bounded in time, every loop in count.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cogit_tracker import schema
from test_sync import cli

pytestmark = [pytest.mark.slow, pytest.mark.postgres]
WORKER = Path(__file__).parent / "support" / "campaign_worker.py"
REPO = Path(__file__).resolve().parents[1]


def start_worker(url: str, label: str, spool: Path, *args: str, **env: str) -> subprocess.Popen:
    full_env = {**os.environ, "PYTHONPATH": str(REPO), "COGIT_SPOOL_DIR": str(spool),
                "COGIT_RETRY_S": "1", "COGIT_FLUSH_S": "0.2", **env}
    return subprocess.Popen([sys.executable, str(WORKER), url, label, *args], env=full_env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def finish(procs: list[subprocess.Popen], timeout: float) -> list[str]:
    """Wait for every worker (bounded); each must exit 0. Returns their outputs."""
    deadline = time.monotonic() + timeout
    outputs = []
    for proc in procs:
        try:
            out, _ = proc.communicate(timeout=max(1.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            out, _ = proc.communicate()
            pytest.fail(f"worker still running after {timeout:.0f} s:\n{out[-2000:]}")
        assert proc.returncode == 0, out[-3000:]
        outputs.append(out)
    return outputs


def wait_for(condition, timeout: float, what: str, every: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(every)
    pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}")


def sql(server, query: str, *args) -> list[tuple]:
    import sqlalchemy

    engine = sqlalchemy.create_engine(server.spec.backend_uri)
    try:
        with engine.connect() as conn:
            return [tuple(row) for row in conn.exec_driver_sql(query, args).all()]
    finally:
        engine.dispose()


def phase_runs(server, experiment: str) -> dict[str, tuple[str, int, int]]:
    """uid -> (status, points of `x`, distinct steps of `x`) for every phase run."""
    rows = sql(server, """
        SELECT u.value, r.status, count(m.step), count(DISTINCT m.step)
        FROM runs r
        JOIN experiments e ON e.experiment_id = r.experiment_id AND e.name = %s
        JOIN tags k ON k.run_uuid = r.run_uuid AND k.key = %s AND k.value = 'phase'
        JOIN tags u ON u.run_uuid = r.run_uuid AND u.key = %s
        LEFT JOIN metrics m ON m.run_uuid = r.run_uuid AND m.key = 'x'
        WHERE r.lifecycle_stage = 'active'
        GROUP BY r.run_uuid, u.value, r.status""", experiment, schema.KIND, schema.UID)
    uids = [row[0] for row in rows]
    assert len(uids) == len(set(uids)), "a phase was created twice"
    return {uid: (status, n, distinct) for uid, status, n, distinct in rows}


def replay_leftovers(spools: list[Path], url: str) -> None:
    """What a worker could not send before it exited goes in by `cogit-log sync --spool`."""
    for spool in spools:
        if spool.is_dir() and any(spool.glob("*.jsonl")):
            out = cli("sync", "--spool", str(spool), "--to", url)
            assert out.returncode == 0, out.stderr


def test_sixteen_processes_four_phases_thousand_points(mlflow_server, tmp_path):
    spools = [tmp_path / f"spool-{i}" for i in range(16)]
    procs = [start_worker(mlflow_server.url, f"load-{i:02d}", spools[i]) for i in range(16)]
    finish(procs, timeout=150)
    runs = phase_runs(mlflow_server, "load")
    assert len(runs) == 64
    assert set(runs.values()) == {("FINISHED", 1000, 1000)}
    assert not any(s.glob("*.jsonl") for s in spools if s.is_dir())  # nothing left behind
    campaigns = sql(mlflow_server, """
        SELECT r.status, count(*) FROM runs r
        JOIN experiments e ON e.experiment_id = r.experiment_id AND e.name = 'load'
        JOIN tags k ON k.run_uuid = r.run_uuid AND k.key = %s AND k.value = 'campaign'
        GROUP BY r.status""", schema.KIND)
    assert campaigns == [("FINISHED", 16)]


def test_server_killed_mid_phase(mlflow_server, tmp_path):
    """MLflow's client retries a refused request for up to ~2 minutes by default, which hides a
    short outage from the spool; the worker turns those retries off so that this outage goes
    through the spool and its replay, the path a longer one takes."""
    marker, spool = tmp_path / "marker", tmp_path / "spool"
    proc = start_worker(mlflow_server.url, "outage", spool, "--experiment", "outage",
                        "--phases", "2", "--points", "1000", "--pause", "0.004",
                        "--marker", str(marker), "--marker-at", "200",
                        MLFLOW_HTTP_REQUEST_MAX_RETRIES="0")
    wait_for(marker.exists, 90, "the first phase to log 200 points")
    mlflow_server.kill()
    time.sleep(2)  # points logged now have nowhere to go but the spool
    mlflow_server.start()
    [out] = finish([proc], timeout=120)
    assert f"keeping its ops in {spool}" in out  # the outage was felt; the spool took the points
    replay_leftovers([spool], mlflow_server.url)
    runs = phase_runs(mlflow_server, "outage")
    assert set(runs.values()) == {("FINISHED", 1000, 1000)} and len(runs) == 2
    assert runs[marker.read_text()] == ("FINISHED", 1000, 1000)


def test_sigkilled_experiment_is_reaped_killed(mlflow_server, tmp_path):
    marker = tmp_path / "marker"
    proc = start_worker(mlflow_server.url, "doomed", tmp_path / "spool", "--experiment", "doomed",
                        "--phases", "1", "--points", "10", "--marker", str(marker),
                        "--marker-at", "9", "--hold", "120", COGIT_HEARTBEAT_S="0.5")
    uid = wait_for(lambda: marker.exists() and marker.read_text(), 90, "the phase to start")
    beat = f"SELECT r.status FROM runs r JOIN tags t ON t.run_uuid = r.run_uuid " \
           f"AND t.key = '{schema.UID}' AND t.value = %s JOIN tags h ON h.run_uuid = r.run_uuid " \
           f"AND h.key = '{schema.HEARTBEAT}'"
    wait_for(lambda: sql(mlflow_server, beat, uid) == [("RUNNING",)], 30, "a heartbeat")
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=30)
    time.sleep(3)  # the heartbeat is now older than --stale-after
    out = cli("runs", "reap", "--stale-after", "2", "--tracking-uri", mlflow_server.url, "--json")
    assert out.returncode == 0, out.stderr
    status = sql(mlflow_server, beat, uid)
    assert status == [("KILLED",)]
    failure = sql(mlflow_server, "SELECT t.value FROM tags t JOIN tags u ON u.run_uuid = "
                  "t.run_uuid AND u.key = %s AND u.value = %s WHERE t.key = %s",
                  schema.UID, uid, schema.FAILURE)
    assert failure == [("stale",)]


@pytest.mark.alone
@pytest.mark.skipif(not (os.environ.get("CI") or os.environ.get("COGIT_PG_RESTART") == "1"),
                    reason="restarts the shared PostgreSQL: runs under CI or with COGIT_PG_RESTART=1")
def test_postgres_restart_under_load(mlflow_server, tmp_path):
    """Restarts the machine's PostgreSQL cluster: on a shared development machine that would
    break everyone else's database tests for a moment, so it runs under CI (its own machine)
    or when COGIT_PG_RESTART=1 says this machine is yours; and after the rest of the suite,
    alone (`make test`), since the other tests' databases live in the same cluster."""
    clusters = sorted(Path("/etc/postgresql").glob("*/main"))
    if not clusters:
        pytest.skip("no local PostgreSQL cluster to restart (/etc/postgresql/*/main)")
    version = clusters[-1].parent.name
    marker = tmp_path / "marker"
    spools = [tmp_path / f"spool-{i}" for i in range(4)]
    procs = [start_worker(mlflow_server.url, f"pg-{i}", spools[i], "--experiment", "pg-restart",
                          "--phases", "2", "--points", "1000", "--pause", "0.003",
                          *(["--marker", str(marker), "--marker-at", "300"] if i == 0 else []),
                          MLFLOW_HTTP_REQUEST_MAX_RETRIES="0")  # see test_server_killed_mid_phase
             for i in range(4)]
    wait_for(marker.exists, 90, "the load to be under way")
    subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "restart"],
                   check=True, timeout=60)
    outputs = finish(procs, timeout=150)
    # The restart was felt, and said for what it was: the MLflow server stayed up and answered
    # 500 while its database restarted, so no worker may claim that the store did not answer.
    assert any("answered with an error" in out for out in outputs), outputs
    assert not any("does not answer" in out for out in outputs), outputs
    replay_leftovers(spools, mlflow_server.url)
    runs = phase_runs(mlflow_server, "pg-restart")
    assert len(runs) == 8
    assert set(runs.values()) == {("FINISHED", 1000, 1000)}
