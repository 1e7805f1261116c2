"""Shared fixtures: real stores only. A sqlite store in a temp dir for most tests; a throw-away
PostgreSQL database on the local server (127.0.0.1:5432, trust auth) where a test says so."""
from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
REFERENCE_LOG = SHARED / "reference" / "captains-log-2025-11.md"
PG_ADMIN_URI = os.environ.get("COGIT_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


@pytest.fixture
def store(tmp_path, monkeypatch) -> str:
    """A fresh sqlite tracking store in a temp dir, made the process default (env and fluent)."""
    import mlflow

    monkeypatch.chdir(tmp_path)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    mlflow.set_tracking_uri(uri)
    yield uri
    if mlflow.active_run():
        mlflow.end_run()


@pytest.fixture
def pg_uri() -> str:
    """A throw-away PostgreSQL database, dropped afterwards."""
    sqlalchemy = pytest.importorskip("sqlalchemy")
    name = f"cogit_test_{uuid.uuid4().hex[:12]}"
    admin = sqlalchemy.create_engine(PG_ADMIN_URI, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    yield PG_ADMIN_URI.rsplit("/", 1)[0] + "/" + name
    with admin.connect() as conn:
        conn.exec_driver_sql(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,)
        )
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}"')
    admin.dispose()


# ==== reports (issue 5) ======================================================================
# Creating and migrating a sqlite store costs seconds on a busy machine, so the report tests
# build each store once per session and hand every test its own copy of the file.

def _report_template(tmp_path_factory, name: str, fill) -> Path:
    path = tmp_path_factory.getbasetemp() / f"report-template-{name}.db"
    if not path.exists():
        from mlflow.tracking import MlflowClient

        here = os.getcwd()
        os.chdir(path.parent)  # artifacts (./mlruns) land beside the template, not in the repo
        try:
            client = MlflowClient(f"sqlite:///{path}")
            client.search_experiments()  # creates the schema
            fill(client)
        finally:
            os.chdir(here)
    return path


def _fill_two_campaigns(client) -> None:
    from cogit_tracker import synthetic as sy

    sy.make_campaign(client, "cogit-qmech", sy.CampaignSpec("run-001", sy.reference_phases()))
    phases = sy.reference_phases(speed=11.8, fidelity=0.985)
    phases[2].status, phases[2].failure = "FAILED", "cuda_oom"
    phases[3].status, phases[3].duration_s = "RUNNING", None
    sy.make_campaign(client, "cogit-qmech", sy.CampaignSpec(
        "run-002", phases, gpu_key="h100-sxm", precision="int8", usd_per_hour=2.99,
        status="RUNNING", start_ms=1_763_100_000_000))


def _copied_store(template: Path, tmp_path, monkeypatch) -> str:
    import shutil

    import mlflow

    shutil.copy(template, tmp_path / "mlflow.db")
    monkeypatch.chdir(tmp_path)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    mlflow.set_tracking_uri(uri)
    return uri


@pytest.fixture
def report_store(tmp_path_factory, tmp_path, monkeypatch) -> str:
    """Like `store`, but a copy of an already-migrated empty sqlite store."""
    return _copied_store(_report_template(tmp_path_factory, "empty", lambda c: None),
                         tmp_path, monkeypatch)


@pytest.fixture
def two_campaigns(tmp_path_factory, tmp_path, monkeypatch):
    """run-001 finished on an RTX 5090 (fp16); run-002 on an H100 (int8), 11.8x faster, with a
    FAILED phase and a RUNNING one; written through MlflowClient, copied per test."""
    from mlflow.tracking import MlflowClient

    from cogit_tracker.reports import load

    uri = _copied_store(_report_template(tmp_path_factory, "two", _fill_two_campaigns),
                        tmp_path, monkeypatch)
    client = MlflowClient(uri)
    ids = {c.label: (c.run_id, [p.run_id for p in c.phases]) for c in load(uri)}
    return {"client": client, "uri": uri, **ids}
