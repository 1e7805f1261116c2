"""A real `mlflow server` on loopback over a throw-away PostgreSQL database (fixtures in
conftest.py): the command line, sync through REST, basic auth, and secrets kept out of the store.
"""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from cogit_tracker import schema
from cogit_tracker.store import server, uri as store
from cogit_tracker.errors import BadInput
from cogit_tracker.redaction import redact
from test_sync import cli, find, last_line, make_campaign

pytestmark = pytest.mark.postgres

FAKE_SECRETS = {
    "HF_TOKEN": "hf_fakeFAKEfake0123456789abcdefSECRET",
    "AWS_SECRET_ACCESS_KEY": "fakeAWSsecretKEY/0123456789abcdefXYZ",
    "OPENAI_API_KEY": "sk-fake-0123456789abcdefghijSECRET",
}


def test_command_line_carries_no_secret(tmp_path):
    spec = server.ServerSpec(backend_uri="postgresql://postgres@127.0.0.1:5432/cogit",
                             artifacts=str(tmp_path / "a"), port=5123, auth=True,
                             state_dir=tmp_path)
    cmd = server.command(spec)
    assert cmd[cmd.index("--backend-store-uri") + 1] == \
        "postgresql+psycopg2://postgres@127.0.0.1:5432/cogit"
    assert cmd[cmd.index("--app-name") + 1] == "cogit-basic-auth"
    assert cmd[cmd.index("--host") + 1] == "127.0.0.1"
    env = server.environment(spec, {"MLFLOW_AUTH_ADMIN_PASSWORD": "x" * 12})
    assert env["MLFLOW_SERVER_ENABLE_JOB_EXECUTION"] == "false"
    assert env["MLFLOW_AUTH_CONFIG_PATH"] == str((tmp_path / "basic_auth.ini").resolve())
    assert "x" * 12 not in " ".join(cmd)
    with pytest.raises(BadInput, match="MLFLOW_AUTH_ADMIN_PASSWORD"):
        server.prepare(spec, {"MLFLOW_AUTH_ADMIN_PASSWORD": "short"})
    with pytest.raises(BadInput, match="accepted is a postgresql:"):
        server.ServerSpec(backend_uri="sqlite:///x.db")
    assert redact("postgresql://u:pw@db.example:5432/c") == \
        "postgresql://u:***@db.example:5432/c"


def test_sync_to_server_rest_and_sql_agree(mlflow_server, tmp_path, monkeypatch, _empty_store):
    """sqlite on a 'pod' -> the shared server; then the server's PostgreSQL tables are read
    directly and must hold exactly what the REST API reports."""
    import shutil

    import sqlalchemy

    monkeypatch.chdir(tmp_path)
    shutil.copy(_empty_store, tmp_path / "pod.db")
    src = f"sqlite:///{tmp_path / 'pod.db'}"
    uids = make_campaign(src, tmp_path)
    out = cli("sync", "--from", src, "--to", mlflow_server.url, "--json")
    assert out.returncode == 0, out.stderr
    assert '"copied": 4' in out.stdout
    again = cli("sync", "--from", src, "--to", mlflow_server.url, "--json")
    assert '"copied": 0' in again.stdout and '"unchanged": 4' in again.stdout

    rest = {uid: find(mlflow_server.url, uid) for uid in uids.values()}
    engine = sqlalchemy.create_engine(mlflow_server.spec.backend_uri)
    with engine.connect() as conn:
        for uid, run in rest.items():
            rows = conn.exec_driver_sql(
                "SELECT r.run_uuid, r.status FROM runs r JOIN tags t ON t.run_uuid = r.run_uuid "
                "WHERE t.key = %s AND t.value = %s AND r.lifecycle_stage = 'active'",
                (schema.UID, uid)).all()
            assert rows == [(run.info.run_id, run.info.status)]
            points = conn.exec_driver_sql(
                "SELECT count(*) FROM metrics WHERE run_uuid = %s", (run.info.run_id,)).scalar()
            client = MlflowClient(mlflow_server.url)
            assert points == sum(len(client.get_metric_history(run.info.run_id, k))
                                 for k in run.data.metrics)
    engine.dispose()
    train = rest[uids["train"]]
    artifacts = Path(mlflow_server.spec.artifacts)
    assert [p.read_text() for p in artifacts.rglob("train.json")
            if train.info.run_id in p.parts] == ['{"phase": "train"}']


def test_wrong_or_missing_password_is_one_line(auth_server, tmp_path):
    url, never = auth_server.url, tmp_path / "never.db"
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_TRACKING_")}
    missing = cli("sync", "--from", url, "--to", f"sqlite:///{never}", base=clean)
    assert missing.returncode == 1 and "Traceback" not in missing.stderr
    assert last_line(missing) == ("Error: the tracking server wants credentials; set "
                                  "MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD "
                                  "(or MLFLOW_TRACKING_TOKEN)")
    wrong_pw = "definitely-wrong-password-42"
    wrong = cli("sync", "--from", url, "--to", f"sqlite:///{never}", base=clean,
                env={"MLFLOW_TRACKING_USERNAME": "admin", "MLFLOW_TRACKING_PASSWORD": wrong_pw})
    assert wrong.returncode == 1 and "Traceback" not in wrong.stderr
    assert last_line(wrong).startswith("Error: the tracking server refused the credentials")
    assert wrong_pw not in wrong.stderr + wrong.stdout
    assert not never.exists()


def test_secrets_never_reach_the_store(auth_server, tmp_path, monkeypatch, _empty_store):
    """Credentials and planted secrets sit in the environment of a sync to an auth server; then
    every text column of every table in its PostgreSQL database, and every artifact file, is
    searched for them."""
    import shutil

    from conftest import SERVER_ADMIN_PASSWORD

    monkeypatch.chdir(tmp_path)
    shutil.copy(_empty_store, tmp_path / "pod.db")
    src = f"sqlite:///{tmp_path / 'pod.db'}"
    make_campaign(src, tmp_path)
    env = {**FAKE_SECRETS, "MLFLOW_TRACKING_USERNAME": "admin",
           "MLFLOW_TRACKING_PASSWORD": SERVER_ADMIN_PASSWORD}
    out = cli("sync", "--from", src, "--to", auth_server.url, env=env)
    assert out.returncode == 0, out.stderr
    secrets = [*FAKE_SECRETS.values(), SERVER_ADMIN_PASSWORD]
    for secret in secrets:
        assert secret not in out.stdout + out.stderr
    hits = search_store(auth_server.spec.backend_uri, Path(auth_server.spec.artifacts), secrets)
    assert hits == []
    # the search can fail: a secret that is written is found
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "admin")
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", SERVER_ADMIN_PASSWORD)
    c = MlflowClient(auth_server.url)
    planted = c.create_run(c.get_experiment_by_name("cogit-qmech").experiment_id)
    c.set_tag(planted.info.run_id, "leak", FAKE_SECRETS["HF_TOKEN"])
    assert search_store(auth_server.spec.backend_uri, Path(auth_server.spec.artifacts),
                        secrets) == [("tags", FAKE_SECRETS["HF_TOKEN"])]
    c.delete_tag(planted.info.run_id, "leak")  # the server is shared by later tests
    c.delete_run(planted.info.run_id)


def test_campaign_with_planted_secrets_leaves_none(auth_server, tmp_path):
    """A real campaign process (tests/support/campaign_worker.py) with fake secrets and its credentials
    in its environment, which the campaign records redacted as its `environment.json` artifact:
    afterwards no table and no artifact file holds any of them."""
    import subprocess

    from conftest import SERVER_ADMIN_PASSWORD
    from test_server_load import REPO, WORKER

    env = {**os.environ, **FAKE_SECRETS, "PYTHONPATH": str(REPO),
           "COGIT_SPOOL_DIR": str(tmp_path / "spool"), "MLFLOW_TRACKING_USERNAME": "admin",
           "MLFLOW_TRACKING_PASSWORD": SERVER_ADMIN_PASSWORD,
           "DATABASE_URL": "postgresql://app:pg-fake-Pa55word@db.internal/app"}
    proc = subprocess.run([sys.executable, str(WORKER), auth_server.url, "secretive",
                           "--experiment", "secrets", "--phases", "2", "--points", "50",
                           ], env=env, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr[-3000:]
    secrets = [*FAKE_SECRETS.values(), SERVER_ADMIN_PASSWORD, "pg-fake-Pa55word"]
    for secret in secrets:
        assert secret not in proc.stdout + proc.stderr
    artifacts = Path(auth_server.spec.artifacts)
    captured = [p for p in artifacts.rglob("environment.json")]
    assert len(captured) == 1 and "HF_TOKEN" in captured[0].read_text()  # recorded, redacted
    assert search_store(auth_server.spec.backend_uri, artifacts, secrets) == []


def search_store(backend_uri: str, artifacts: Path, secrets: list[str]) -> list[tuple[str, str]]:
    """(table or file, secret) for every secret found in any row of any table or any file."""
    import sqlalchemy

    engine = sqlalchemy.create_engine(store.pg_driver(backend_uri))
    hits = []
    with engine.connect() as conn:
        tables = conn.exec_driver_sql(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'").scalars().all()
        assert "runs" in tables and "tags" in tables
        for table in tables:
            text = "\n".join(conn.exec_driver_sql(f'SELECT t::text FROM "{table}" t').scalars())
            hits += [(table, s) for s in secrets if s in text]
    engine.dispose()
    for path in artifacts.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            hits += [(str(path), s) for s in secrets if s.encode() in data]
    return hits


def test_cogit_log_server_runs_until_sigterm(tmp_path):
    """What `make server AUTH=1` runs: it answers /health, refuses anonymous API calls, and a
    SIGTERM stops it and every worker it started."""
    import signal
    import subprocess
    import urllib.error
    import urllib.request

    from conftest import PG_ADMIN_URI
    from test_sync import REPO

    short = cli("server", "--auth", base={k: v for k, v in os.environ.items()
                                          if k != "MLFLOW_AUTH_ADMIN_PASSWORD"})
    assert short.returncode == 2 and "Traceback" not in short.stderr
    assert last_line(short).startswith("Error: --auth: set MLFLOW_AUTH_ADMIN_PASSWORD")

    db = server.with_database(store.pg_driver(PG_ADMIN_URI), f"cogit_test_cli_{os.getpid()}")
    port, log = server.free_port(), tmp_path / "out.txt"
    env = {**os.environ, "PYTHONPATH": str(REPO), "MLFLOW_AUTH_ADMIN_PASSWORD": "x" * 16}
    proc = subprocess.Popen([sys.executable, "-m", "cogit_tracker.cli", "server", "--auth",
                             "--port", str(port), "--backend-store-uri", db, "--workers", "1"],
                            cwd=tmp_path, env=env, stdout=log.open("w"),
                            stderr=subprocess.STDOUT, start_new_session=True)
    try:
        banner = wait_for_text(log, "mlflow server at", proc, timeout=120)
        assert f"http://127.0.0.1:{port}" in banner and "basic auth" in banner
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/2.0/mlflow/experiments/search"
                                   "?max_results=1", timeout=10)
        assert refused.value.code == 401
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0, log.read_text()[-2000:]
        with pytest.raises(urllib.error.URLError):  # no worker is left to answer
            urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5)
        assert (tmp_path / ".cogit" / "server" / "basic_auth.ini").exists()
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        server.drop_database(db)
        server.drop_database(db + "_auth")


def wait_for_text(path: Path, text: str, proc, timeout: float) -> str:
    """The first line of the file `path` containing `text`, waiting at most `timeout` s."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for line in path.read_text().splitlines():
            if text in line:
                return line
        if proc.poll() is not None:
            break
        time.sleep(0.25)
    pytest.fail(f"no line with {text!r} within {timeout:.0f} s (exit code {proc.poll()}):\n"
                + path.read_text()[-2000:])


def test_cogit_log_server_names_its_log_and_takes_the_server_with_it_when_killed(tmp_path):
    """The MLflow server's own output goes to the file the first line names (it was thrown
    away); a `kill -9` of `cogit-log server` ends the MLflow server too (it went on holding
    its port, in a session of its own)."""
    import signal
    import subprocess
    import urllib.error
    import urllib.request

    from conftest import PG_ADMIN_URI
    from test_sync import REPO

    db = server.with_database(store.pg_driver(PG_ADMIN_URI), f"cogit_test_kill_{os.getpid()}")
    port, out, log = server.free_port(), tmp_path / "out.txt", tmp_path / "mlflow-server.log"
    proc = subprocess.Popen([sys.executable, "-m", "cogit_tracker.cli", "server", "--port",
                             str(port), "--backend-store-uri", db, "--workers", "1",
                             "--log", str(log)],
                            cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(REPO)},
                            stdout=out.open("w"), stderr=subprocess.STDOUT)
    try:
        banner = wait_for_text(out, "mlflow server at", proc, timeout=120)
        assert str(log) in banner
        assert log.stat().st_size > 0, "the server's own output is kept"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        deadline, answering = time.monotonic() + 30, True
        while answering and time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2).close()
                time.sleep(0.5)
            except (urllib.error.URLError, ConnectionError, OSError):
                answering = False
        assert not answering, "the MLflow server outlived cogit-log server"
    finally:
        if proc.poll() is None:
            proc.kill()
        server.drop_database(db)
