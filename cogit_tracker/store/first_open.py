"""The first open of a SQL store, made safe when many processes open a brand-new one at once.

MLflow's tracking store (3.17, `SqlAlchemyStore.__init__`) creates its tables and runs every
migration when it finds them missing, with no guard between processes (its own
`_safe_initialize_tables`, a lock in the temp folder, serves only its job and workspace
stores). Ranks of one job, or two scripts, opening one new store at the same moment then run
the migrations twice at once: on sqlite the losers get "duplicate column name", "index ...
already exists" or "Online migration expected to match one row", and the store may be left
half-migrated for good; on PostgreSQL the losers' DDL collides ("duplicate key value violates
unique constraint pg_type_typname_nsp_index").

So the first client a process makes on a SQL store is made while holding a lock that every
cogit process takes for that store, so only one creates and the others find it complete:

- sqlite: `flock` on `<db>.cogit-lock` beside the database. Beside it, not in the temp folder
  as MLflow's is, so ranks in separate containers that share the store's volume also meet;
  a separate file because opening and closing the database file itself from a second
  descriptor would drop the POSIX locks sqlite holds on it.
- PostgreSQL: a session-level advisory lock (advisory locks are per database, so one key).
- other stores: none (a tracking server creates its own tables; MySQL and MSSQL are left to
  the retry below).

A store made by something that takes no such lock (a plain `mlflow` script, `mlflow server`)
may still be mid-creation when we open it: an open that fails while the store answers is
tried once more, still under the lock, before its error goes back to the caller.
"""
from __future__ import annotations

import fcntl
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import ContextManager

from .. import settings
from . import uri as store_uri

#: how long one process waits while another creates the store; past it the open goes ahead
#: and MLflow's own schema check says whether the store is complete
WAIT_S = 120.0
#: how often a waiting process tries a sqlite lock again (flock has no timeout of its own)
POLL_S = 0.05
#: the PostgreSQL advisory lock key: "cogit" in ASCII, one number per database
PG_LOCK_KEY = 0x636F676974
LOCK_SUFFIX = ".cogit-lock"


def lock_path(uri: str) -> Path:
    """The lock file of a sqlite store."""
    db = store_uri.sqlite_path(uri)
    return db.with_name(db.name + LOCK_SUFFIX)


def client(uri: str):
    """An `MlflowClient` on `uri`, its store made (tables created, migrations run) by one
    process at a time; a failed open is tried once more before its error propagates, unless
    the store did not answer at all. A store another MLflow made is refused
    (`schema_version.OtherSchema`), never migrated from here."""
    from mlflow.tracking import MlflowClient

    from .schema_version import refuse_other

    refuse_other(uri, store_uri.revision(uri))   # before MLflow, which would migrate it
    with creating(uri):
        try:
            return MlflowClient(tracking_uri=uri)
        except Exception as exc:  # noqa: BLE001 - decided below: retry, or say what it was
            if store_uri.unanswered(exc, uri):
                raise
        return MlflowClient(tracking_uri=uri)


def creating(uri: str) -> ContextManager[None]:
    """The cross-process lock under which a store's tables are made (none where MLflow's
    client makes no tables)."""
    kind = store_uri.scheme(uri)
    if kind == "sqlite":
        return _file_lock(lock_path(uri))
    if kind == "postgresql":
        return _pg_lock(uri)
    return nullcontext()


@contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    """`flock` on `path`, waited for at most `WAIT_S`. A lock file that cannot be made (a
    read-only folder: MLflow could not create the store there either) means no lock."""
    try:
        fh = path.open("a")
    except OSError:
        yield
        return
    with fh:
        deadline = time.monotonic() + WAIT_S
        while True:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    break
                time.sleep(POLL_S)
        yield  # closing the file releases the lock


@contextmanager
def _pg_lock(uri: str) -> Iterator[None]:
    """A session advisory lock on its own connection, held while MLflow creates the tables on
    its own connections; the wait is bounded by `statement_timeout`. A server that refuses
    this connection raises here, at once, rather than after MLflow's minute of retries."""
    import sqlalchemy
    from sqlalchemy.pool import NullPool

    timeout = max(int(settings.CONNECT_TIMEOUT.get()), 1)
    engine = sqlalchemy.create_engine(uri, poolclass=NullPool,
                                      connect_args={"connect_timeout": timeout})
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql(f"SET statement_timeout = {int(WAIT_S * 1000)}")
            try:
                conn.exec_driver_sql(f"SELECT pg_advisory_lock({PG_LOCK_KEY})")
            except sqlalchemy.exc.OperationalError:  # waited WAIT_S: go ahead (module doc)
                conn.rollback()
            yield
    finally:
        engine.dispose()
