"""Which MLflow tracking store to talk to, and a client for it.

Resolution order: an explicit URI (`--tracking-uri`), then `MLFLOW_TRACKING_URI`, then MLflow's
own embedded default `sqlite:///mlflow.db` in the working directory (artifacts in `./mlruns`),
so `mlflow ui` started in the same folder shows everything.
"""
from __future__ import annotations

import os
from pathlib import Path

from ..errors import BadInput

DEFAULT_URI = "sqlite:///mlflow.db"
SQLITE_PREFIX = "sqlite:///"


def tracking_uri(explicit: str | None = None) -> str:
    """The URI to use, checked early so a bad path fails before any run exists."""
    uri = pg_driver(explicit or os.environ.get("MLFLOW_TRACKING_URI") or DEFAULT_URI)
    if uri.startswith(SQLITE_PREFIX):
        _check_writable(Path(uri[len(SQLITE_PREFIX):]), uri)
    return uri


def scheme(uri: str) -> str:
    """`sqlite`, `postgresql`, `http`...: the database or protocol, without a driver suffix."""
    return uri.split(":", 1)[0].split("+", 1)[0].lower()


def pg_driver(uri: str) -> str:
    """`postgresql://` -> `postgresql+psycopg2://`: SQLAlchemy 2.1 reads a bare `postgresql://`
    as psycopg 3, while the driver we install (and MLflow's docs use) is psycopg2."""
    for prefix in ("postgresql://", "postgres://"):
        if uri.startswith(prefix):
            return "postgresql+psycopg2://" + uri[len(prefix):]
    return uri


def _check_writable(db: Path, uri: str) -> None:
    folder = db.parent if str(db.parent) else Path(".")
    if not folder.is_dir():
        raise BadInput(f"tracking store {uri!r}: folder {str(folder)!r} does not exist")
    target = db if db.exists() else folder
    if not os.access(target, os.W_OK):
        raise BadInput(f"tracking store {uri!r}: {str(target)!r} is not writable")


def require_existing(uri: str) -> str:
    """`uri`, if it is not a sqlite file that is missing: reading commands must not leave a
    new empty store behind (opening one with MLflow creates it)."""
    if uri.startswith(SQLITE_PREFIX) and not Path(uri[len(SQLITE_PREFIX):]).is_file():
        raise BadInput(f"tracking store {uri!r} does not exist; accepted: an existing store")
    return uri


def client(explicit: str | None = None):
    """An `MlflowClient` on the resolved store."""
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=tracking_uri(explicit))
