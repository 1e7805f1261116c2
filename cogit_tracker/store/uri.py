"""Which MLflow tracking store to talk to, checked once, here, for every command and run.

Resolution order: an explicit URI (`--tracking-uri`), then `MLFLOW_TRACKING_URI`, then MLflow's
own embedded default `sqlite:///mlflow.db` in the working directory (artifacts in `./mlruns`),
so `mlflow ui` started in the same folder shows everything.

Every URI the plugin is given goes through `check`, so a typo is one line naming the value
before anything is opened: the scheme must be one we support (and its driver installed), a
sqlite file's folder must exist, and a reading command never creates a store (a mistyped path
would otherwise give a new, empty one and report success). `answers` says within
`COGIT_CONNECT_TIMEOUT_S` whether a store's host takes connections at all, so neither a
command nor an experiment waits minutes on MLflow's own retries for a store that is down.
"""
from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from .. import settings
from ..errors import BadInput, StoreFailure
from ..redaction import redact

DEFAULT_URI = "sqlite:///mlflow.db"
SQLITE_PREFIX = "sqlite:///"
#: scheme -> the module its driver needs (None: nothing beyond MLflow)
DRIVERS = {"sqlite": None, "postgresql": "psycopg2", "http": None, "https": None,
           "mysql": "pymysql", "mssql": "pyodbc"}
ACCEPTED = "sqlite:///PATH, postgresql://HOST/DB, http(s)://HOST:PORT"
SQL_SERVERS = ("postgresql", "mysql", "mssql")  # a URI of these must name its database
DEFAULT_PORTS = {"postgresql": 5432, "mysql": 3306, "mssql": 1433, "http": 80, "https": 443}
#: track: a run logs here (a missing store is made, a store that is down is spooled for);
#: write: a command writes here (it must answer); read: a command reads (it must exist too)
Mode = Literal["track", "write", "read"]
#: While a phase is open MLflow's fluent API tracks to `cogit:<store URI>` (the store behind
#: it is `fluent_store.py`); anything of ours that reads the tracking URI means the store.
FLUENT_PREFIX = "cogit:"
#: exceptions of a transport that got no answer (socket.timeout is TimeoutError)
NO_ANSWER = (ConnectionError, TimeoutError)


def fluent(uri: str) -> str:
    """The URI MLflow's fluent API uses while a phase of the store `uri` is open."""
    return uri if uri.startswith(FLUENT_PREFIX) else FLUENT_PREFIX + uri


def inner(uri: str) -> str:
    """The store a `cogit:` URI stands for (any other URI as it is)."""
    return uri[len(FLUENT_PREFIX):] if uri.startswith(FLUENT_PREFIX) else uri


def tracking_uri(explicit: str | None = None, mode: Mode = "track") -> str:
    """The URI to use, checked (see the module doc) before any run or file exists."""
    return check(explicit or os.environ.get("MLFLOW_TRACKING_URI") or DEFAULT_URI, mode)


def check(uri: str, mode: Mode = "track", what: str = "tracking store",
          made_here: bool = False) -> str:
    """`uri` with the driver MLflow needs, or BadInput (a malformed or missing store) or
    StoreFailure (a store that does not answer, or a PostgreSQL database that is not there,
    for `write` and `read`; `made_here`: the caller creates the database)."""
    uri = pg_driver(inner(uri.strip()))
    kind = scheme(uri)
    if kind not in DRIVERS or "://" not in uri:
        raise BadInput(f"{what} {redact(uri)!r}: unsupported; accepted: {ACCEPTED}")
    _check_driver(uri, kind, what)
    if kind == "sqlite":
        _check_sqlite(uri, mode, what)
    elif not urlsplit(uri).hostname:
        raise BadInput(f"{what} {redact(uri)!r}: no host; accepted: {ACCEPTED}")
    elif kind in SQL_SERVERS and not urlsplit(uri).path.strip("/"):
        raise BadInput(f"{what} {redact(uri)!r}: no database named (MLflow would make its "
                       f"tables in the server's default one); accepted: {ACCEPTED}")
    elif mode != "track":
        reason = answers(uri)
        if reason:
            raise StoreFailure(f"{what} {redact(uri)} does not answer ({reason}): is it "
                               "running, and is this the right address?")
        if kind == "postgresql" and not made_here:
            _check_pg_database(uri, what)
    if mode != "track" and kind in ("sqlite", "postgresql"):
        from .schema_version import refuse_other

        refuse_other(uri, revision(uri), what)
    return uri


def _check_pg_database(uri: str, what: str) -> None:
    """A PostgreSQL server that answers but has no such database: one line now, not MLflow's
    minute and a half of retries and a traceback. One connection, `COGIT_CONNECT_TIMEOUT_S`."""
    import psycopg2

    from sqlalchemy.engine import make_url

    url = make_url(uri)
    try:
        psycopg2.connect(host=url.host, port=url.port or DEFAULT_PORTS["postgresql"],
                         user=url.username, password=url.password, dbname=url.database,
                         connect_timeout=max(int(settings.CONNECT_TIMEOUT.get()), 1),
                         **dict(url.query)).close()
    except psycopg2.OperationalError as exc:
        first = redact(str(exc).strip().splitlines()[0]) if str(exc).strip() else "refused"
        if "does not exist" in first:
            raise StoreFailure(f"{what} {redact(uri)}: the server answers but has no database "
                               f"{url.database!r} ({first}); create it (`createdb "
                               f"{url.database}`) or name another") from None


def scheme(uri: str) -> str:
    """`sqlite`, `postgresql`, `http`...: the database or protocol, without a driver suffix."""
    name = uri.split(":", 1)[0].split("+", 1)[0].lower()
    return "postgresql" if name == "postgres" else name


def pg_driver(uri: str) -> str:
    """`postgresql://` -> `postgresql+psycopg2://`: SQLAlchemy 2.1 reads a bare `postgresql://`
    as psycopg 3, while the driver we install (and MLflow's docs use) is psycopg2."""
    for prefix in ("postgresql://", "postgres://"):
        if uri.startswith(prefix):
            return "postgresql+psycopg2://" + uri[len(prefix):]
    return uri


def sqlite_path(uri: str) -> Path:
    """The database file of a `sqlite:///` URI (relative to the working directory)."""
    return Path(uri[len(SQLITE_PREFIX):].split("?", 1)[0])


def _check_driver(uri: str, kind: str, what: str) -> None:
    module = DRIVERS[kind]
    if module is None:
        return
    from importlib.util import find_spec

    if find_spec(module) is None:
        raise BadInput(f"{what} {redact(uri)!r}: {kind} needs the {module} package, which is "
                       f"not installed; accepted here: {ACCEPTED}")


def _check_sqlite(uri: str, mode: Mode, what: str) -> None:
    if not uri.startswith(SQLITE_PREFIX) or not uri[len(SQLITE_PREFIX):].split("?", 1)[0]:
        raise BadInput(f"{what} {uri!r}: give a file, as sqlite:///relative/path.db or "
                       "sqlite:////absolute/path.db")
    db = sqlite_path(uri)
    folder = db.parent if str(db.parent) else Path(".")
    if not folder.is_dir():
        raise BadInput(f"{what} {uri!r}: folder {str(folder)!r} does not exist")
    if db.is_dir():
        raise BadInput(f"{what} {uri!r}: {str(db)!r} is a folder, not a database file")
    if mode == "read" and not db.exists():
        raise BadInput(f"{what} {uri!r}: {str(db)!r} does not exist (reading never creates a "
                       "store; check the path)")
    if db.exists() and not _is_sqlite(db):
        raise BadInput(f"{what} {uri!r}: {str(db)!r} is not an SQLite database")
    target = db if db.exists() else folder
    if mode != "read" and not os.access(target, os.W_OK):
        raise BadInput(f"{what} {uri!r}: {str(target)!r} is not writable")


def _is_sqlite(db: Path) -> bool:
    try:
        with db.open("rb") as fh:
            head = fh.read(16)
    except OSError:
        return False
    return head in (b"", b"SQLite format 3\x00")  # an empty file is a store sqlite will make


def address(uri: str) -> tuple[str, int] | None:
    """(host, port) of a networked store; None for a local one."""
    kind = scheme(uri)
    if kind not in DEFAULT_PORTS:
        return None
    parts = urlsplit(uri)
    try:
        port = parts.port or DEFAULT_PORTS[kind]
    except ValueError:
        return None
    return (parts.hostname, port) if parts.hostname else None


def answers(uri: str, timeout: float | None = None) -> str | None:
    """None if the store's host takes a connection within `timeout` (default
    COGIT_CONNECT_TIMEOUT_S), else why not, in a few words. One TCP connect, no MLflow call:
    a refused or unroutable store is known in milliseconds to seconds, not after MLflow's
    retries (minutes)."""
    if scheme(uri) == "sqlite":
        folder = sqlite_path(uri).parent
        return None if folder.is_dir() or not str(folder) else f"folder {folder} is gone"
    where = address(uri)
    if where is None:
        return None
    timeout = settings.CONNECT_TIMEOUT.get() if timeout is None else timeout
    try:
        socket.create_connection(where, timeout=max(timeout, 0.1)).close()
    except OSError as exc:
        return f"{where[0]}:{where[1]}: {exc.strerror or type(exc).__name__}"
    return None


def unanswered(exc: BaseException, uri: str) -> bool:
    """Whether `exc` means that no answer came: the store's host takes no connection now, or a
    connection was refused, reset or timed out on the way. Anything else (an SQL error, a
    schema MLflow does not know, a missing database, an HTTP error status) is an answer."""
    if answers(uri) is not None:
        return True
    import requests

    seen: set[int] = set()
    link: BaseException | None = exc
    while link is not None and id(link) not in seen:  # bounded: each link is visited once
        seen.add(id(link))
        if isinstance(link, NO_ANSWER) or isinstance(
                link, (requests.exceptions.ConnectionError, requests.exceptions.Timeout)):
            return True
        link = link.__cause__ or link.__context__
    return False


def revision(uri: str) -> str | None:
    """The MLflow schema revision a SQL store is at (`schema_version.py`), read-only, in one
    connection bounded by `COGIT_CONNECT_TIMEOUT_S`; None when it has no MLflow tables yet or
    cannot be read (then MLflow's own open says why)."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.exc import SQLAlchemyError
    from sqlalchemy.pool import NullPool

    kind = scheme(uri)
    if kind == "sqlite":
        db = sqlite_path(uri)
        if not db.is_file() or not db.stat().st_size:
            return None
        url, args = f"sqlite:///file:{db.resolve()}?mode=ro&uri=true", {}
    elif kind == "postgresql":
        url, args = uri, {"connect_timeout": max(int(settings.CONNECT_TIMEOUT.get()), 1)}
    else:
        return None
    engine = create_engine(url, poolclass=NullPool, connect_args=args)
    try:
        with engine.connect() as conn:
            row = conn.execute(text("SELECT version_num FROM alembic_version")).first()
    except SQLAlchemyError:
        return None
    finally:
        engine.dispose()
    return row[0] if row else None


def identity(uri: str) -> tuple:
    """What names a store whatever the spelling: two URIs with one identity are one store
    (`sqlite:///a.db` and `sqlite:////abs/a.db`; `postgres://` and `postgresql+psycopg2://`;
    with or without a password)."""
    uri = pg_driver(inner(uri))
    kind = scheme(uri)
    if kind == "sqlite":
        return kind, str(sqlite_path(uri).resolve())
    parts = urlsplit(uri)
    return (kind, (parts.hostname or "").lower(), address(uri),
            parts.path.rstrip("/") or "/")


def client(explicit: str | None = None, mode: Mode = "read"):
    """An `MlflowClient` on the resolved, checked store."""
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=tracking_uri(explicit, mode))
