"""A store that is down, at start or later, never breaks or blocks the experiment.

Real experiment processes against stores that refuse connections (a PostgreSQL URI and an
HTTP URI on a port nothing listens on), a real PostgreSQL database that stops taking
connections in the middle of a phase, and a spool folder that cannot be written.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from cogit_tracker import schema

from conftest import REPO

pytestmark = pytest.mark.slow

CHILD = textwrap.dedent("""
    import os, sys, time
    from pathlib import Path
    import cogit_tracker as ct
    marker = os.environ.get("MARKER")
    with ct.campaign("offline", experiment="faults") as camp:
        with camp.phase("train") as ph:
            ph.log_params({"lr": 0.1})
            for step in range(100):
                ph.log_metrics({"loss": 1.0 / (step + 1)}, step=step)
            ph.log_text("notes", "notes/hello.txt")
            if marker:                      # the test takes the store away here
                ph.flush()
                Path(marker).write_text("logged 100")
                while not Path(marker + ".gone").exists():
                    time.sleep(0.1)
                for step in range(100, 200):
                    ph.log_metrics({"loss": 1.0 / (step + 1)}, step=step)
    print("experiment done", flush=True)
""")


def run_child(tmp_path: Path, uri: str, **env: str) -> subprocess.Popen:
    full = {**os.environ, "MLFLOW_TRACKING_URI": uri, "PYTHONPATH": str(REPO),
            "COGIT_SPOOL_DIR": str(tmp_path / "spool"), "COGIT_RETRY_S": "1",
            "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0", **env}
    return subprocess.Popen([sys.executable, "-c", CHILD], env=full, cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def cli(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess:
    full = dict(os.environ, PYTHONPATH=str(REPO), PYTHONWARNINGS="ignore", **env)
    return subprocess.run([sys.executable, "-m", "cogit_tracker.cli", *args], env=full, cwd=cwd,
                          capture_output=True, text=True, timeout=180)


def spool_files(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.jsonl"))


def runs_in(uri: str) -> dict:
    client = MlflowClient(uri)
    exp = client.get_experiment_by_name("faults")
    return {r.data.tags.get(schema.PHASE, "campaign"): r for r in client.search_runs([exp.experiment_id])}


@pytest.mark.parametrize("uri", ["postgresql://cogit:Sp00lPw@127.0.0.1:9/cogit",
                                 "http://127.0.0.1:9"])
def test_a_campaign_against_a_refusing_store_ends_fast_and_everything_is_spooled(tmp_path, uri):
    t0 = time.monotonic()
    proc = run_child(tmp_path, uri)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0 and "experiment done" in out, err
    assert time.monotonic() - t0 < 60, "a refusing store must not hold the experiment up"
    assert "Traceback" not in err and "Sp00lPw" not in err
    files = spool_files(tmp_path / "spool")
    assert files and not (tmp_path / "mlflow.db").exists()
    for f in files:   # written whole: a header first, naming the store without its password
        header = json.loads(f.read_text().splitlines()[0])
        assert header["op"] == "header" and "Sp00lPw" not in f.read_text()
    later = f"sqlite:///{tmp_path / 'later.db'}"
    sent = cli("sync", "--spool", str(tmp_path / "spool"), "--to", later, cwd=tmp_path)
    assert sent.returncode == 0, sent.stderr
    runs = runs_in(later)
    assert set(runs) == {"campaign", "train"}
    assert all(r.info.status == "FINISHED" for r in runs.values())
    train = runs["train"]
    client = MlflowClient(later)
    assert len(client.get_metric_history(train.info.run_id, "loss")) == 100
    assert train.data.params["lr"] == "0.1"
    assert train.data.tags[schema.PARENT_RUN] == runs["campaign"].info.run_id
    assert [a.path for a in client.list_artifacts(train.info.run_id, "notes")] == ["notes/hello.txt"]
    names = {a.path for a in client.list_artifacts(runs["campaign"].info.run_id)}
    assert "environment.json" in names


def test_an_unwritable_spool_keeps_ops_in_memory_and_says_at_exit_what_is_lost(tmp_path):
    (tmp_path / "a-file").write_text("the spool folder cannot live under a file")
    t0 = time.monotonic()
    proc = run_child(tmp_path, "http://127.0.0.1:9",
                     COGIT_SPOOL_DIR=str(tmp_path / "a-file" / "spool"), COGIT_MEMORY_OPS="50")
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0 and "experiment done" in out, err
    assert time.monotonic() - t0 < 60 and "Traceback" not in err
    assert err.count("cannot write the spool") == 1, err    # warned once
    lost = [re.search(r"([\d,]+) operations and ([\d,]+) metric points are lost", line)
            for line in err.splitlines()]
    lost = [m for m in lost if m]
    assert len(lost) == 1, err      # said once, at exit, with the count
    assert int(lost[0][1]) >= 4 and int(lost[0][2].replace(",", "")) >= 100
    assert not (tmp_path / "mlflow.db").exists()
    assert not list(tmp_path.rglob("*.jsonl"))


@pytest.mark.postgres
def test_a_store_lost_mid_phase_spools_with_the_runs_so_another_store_can_take_them(
        tmp_path, pg_uri):
    """The database stops taking connections after 100 points. The phase logs 100 more and
    ends; nothing blocks. The spool starts with the creation of the campaign and the phase,
    so a store that never saw them (a fresh sqlite file) takes them as they were."""
    import sqlalchemy

    from conftest import PG_ADMIN_URI

    marker = tmp_path / "marker"
    proc = run_child(tmp_path, pg_uri, MARKER=str(marker))
    deadline = time.monotonic() + 120
    while not marker.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    assert marker.exists(), proc.communicate()[1]
    name = pg_uri.rsplit("/", 1)[1]
    admin = sqlalchemy.create_engine(PG_ADMIN_URI, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
        conn.exec_driver_sql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                             "WHERE datname = %s", (name,))
    admin.dispose()
    (tmp_path / "marker.gone").write_text("")
    t0 = time.monotonic()
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0 and "experiment done" in out, err
    assert time.monotonic() - t0 < 60
    files = spool_files(tmp_path / "spool")
    assert files
    fresh = f"sqlite:///{tmp_path / 'fresh.db'}"
    sent = cli("sync", "--spool", str(tmp_path / "spool"), "--to", fresh, cwd=tmp_path)
    assert sent.returncode == 0, sent.stderr
    runs = runs_in(fresh)
    assert set(runs) == {"campaign", "train"} and runs["train"].info.status == "FINISHED"
    steps = [m.step for m in MlflowClient(fresh).get_metric_history(runs["train"].info.run_id, "loss")]
    assert set(range(100, 200)) <= set(steps)
    with admin.connect() as conn:   # let the fixture drop it
        conn.exec_driver_sql(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
    admin.dispose()


def test_a_phase_alone_while_the_store_is_away_joins_its_campaign_on_replay(
        store, tmp_path, monkeypatch):
    """`ct.phase(..., campaign=L)` cannot look its campaign up while the store is away: the
    phase runs anyway, and the replay attaches it to the campaign with that label."""
    import warnings

    import cogit_tracker as ct
    from cogit_tracker.store import query, spool

    monkeypatch.setenv("COGIT_SPOOL_DIR", str(tmp_path / "spool"))
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        with ct.campaign("joined", experiment="faults") as camp:
            pass
        with ct.phase("reverse", campaign="joined", tracking_uri="http://127.0.0.1:9") as ph:
            ph.log_metrics({"roundtrip_fidelity": 0.99})
    assert any("joins campaign 'joined'" in str(w.message) for w in seen)
    spool.replay(tmp_path / "spool", tracking_uri=store)
    client = MlflowClient(store)
    assert len(query.campaigns(client, "joined")) == 1   # joined, not a second campaign
    run = ct.find_run(ph.uid, store)
    assert run.data.tags[schema.PARENT_RUN] == camp.run_id
    assert run.data.metrics["roundtrip_fidelity"] == 0.99
