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


# --- pipelines (issue 4): one small trained tiny model for the whole session -------------


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    """A deliberately small, briefly trained `tiny` (seconds, not minutes): enough for the
    plumbing tests. The steering-goal test uses the full default recipe instead."""
    from pipelines import tiny

    recipe = tiny.TinyRecipe(hidden=64, layers=2, heads=2, kv_heads=1, intermediate=128,
                             steps=40, batch=32, sentences=2000)
    out = tmp_path_factory.mktemp("tiny") / "model"
    tiny.train(recipe, out)
    return out
