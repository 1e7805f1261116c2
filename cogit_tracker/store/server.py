"""A shared `mlflow server` on PostgreSQL: the command line, the databases, start, health, stop.

One piece for `make server`, `cogit-log server`, the test fixtures and the docs, so the server
the tests prove is the server a team runs. MLflow is the engine (backend store, served
artifacts, basic auth); this module only decides how to start it well:

- PostgreSQL URIs get an explicit `+psycopg2` driver: SQLAlchemy 2.1 made psycopg 3 the
  default for `postgresql://`, and the `postgres` extra installs psycopg2-binary.
- The databases are created when missing (the store's, and `<name>_auth` for basic auth, which
  keeps its users in a database of its own because both apps run their own alembic migrations).
- MLflow's job runner (GenAI evaluation jobs, ~8 extra processes) is off unless asked for.
- `--auth` writes a basic-auth config naming the auth database; the admin password and the
  Flask secret come from MLflow's own environment variables and never touch a file or a log.
- The server runs the `cogit` app (`cogit_tracker/web/`): MLflow's own, plus the pages under
  `/cogit/`; with `--auth`, `cogit-basic-auth`, the same composed with MLflow's basic-auth.
"""
from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from ..errors import BadInput, StoreFailure
from ..redaction import redact
from .uri import check, pg_driver

DEFAULT_BACKEND = "postgresql+psycopg2://postgres@127.0.0.1:5432/cogit"
DEFAULT_STATE = Path(".cogit") / "server"
ADMIN_PASSWORD_VAR = "MLFLOW_AUTH_ADMIN_PASSWORD"
SECRET_KEY_VAR = "MLFLOW_FLASK_SERVER_SECRET_KEY"
MIN_ADMIN_PASSWORD = 12  # mlflow.utils.validation._validate_password


def with_database(uri: str, name: str) -> str:
    """The same PostgreSQL server URI, naming another database."""
    parts = urlsplit(uri)
    return urlunsplit(parts._replace(path="/" + name))


def database_name(uri: str) -> str:
    return urlsplit(uri).path.lstrip("/")


def quoted(conn, name: str) -> str:
    """A database name as an SQL identifier, whatever it holds (a quote included): the
    dialect's own quoting, never the name pasted between quotes."""
    return conn.dialect.identifier_preparer.quote_identifier(name)


def ensure_database(uri: str) -> bool:
    """Create the PostgreSQL database `uri` names if it is missing; True if it was created.

    Tries the database itself first, so a managed server that forbids connecting to the
    `postgres` maintenance database still works when the database already exists.
    """
    import sqlalchemy

    uri = pg_driver(uri)
    engine = sqlalchemy.create_engine(uri)
    try:
        with engine.connect():
            return False
    except sqlalchemy.exc.OperationalError as exc:
        if "does not exist" not in str(exc):
            raise StoreFailure(f"PostgreSQL at {redact(uri)} refused the connection: "
                               f"{_first_line(exc)}") from None
    finally:
        engine.dispose()
    admin = sqlalchemy.create_engine(with_database(uri, "postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f"CREATE DATABASE {quoted(conn, database_name(uri))}")
    finally:
        admin.dispose()
    return True


def drop_database(uri: str) -> None:
    """Drop a database, ending its sessions first (throw-away test databases)."""
    import sqlalchemy

    uri = pg_driver(uri)
    name = database_name(uri)
    admin = sqlalchemy.create_engine(with_database(uri, "postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,)
            )
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {quoted(conn, name)}")
    finally:
        admin.dispose()


def _check_listen(host: str, port: int) -> None:
    """The server will be able to listen at host:port (it is free, and the address ours)."""
    with socket.socket() as sock:
        # as the server itself will: a port whose last connections are in TIME_WAIT is free
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            raise BadInput(f"--host {host} --port {port}: cannot listen there "
                           f"({exc.strerror or exc}); accepted: a free port on an address of "
                           "this machine") from None


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


@dataclass
class ServerSpec:
    """What to start. `artifacts` is a local folder or any URI MLflow serves (`s3://...`)."""

    backend_uri: str = DEFAULT_BACKEND
    artifacts: str = str(DEFAULT_STATE / "artifacts")
    host: str = "127.0.0.1"
    port: int = 5000
    workers: int = 2
    auth: bool = False
    state_dir: Path = DEFAULT_STATE
    jobs: bool = False

    def __post_init__(self) -> None:
        self.backend_uri = pg_driver(self.backend_uri)
        self.state_dir = Path(self.state_dir)
        if not self.backend_uri.startswith("postgresql+"):
            raise BadInput(f"--backend-store-uri {redact(self.backend_uri)!r}: accepted is a "
                           "postgresql://HOST/DB URI")

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def auth_uri(self) -> str:
        return with_database(self.backend_uri, database_name(self.backend_uri) + "_auth")

    @property
    def auth_config(self) -> Path:
        return self.state_dir / "basic_auth.ini"


def command(spec: ServerSpec) -> list[str]:
    """The `mlflow server` command line (no secrets: those travel in the environment)."""
    cmd = [
        sys.executable, "-m", "mlflow", "server",
        "--backend-store-uri", spec.backend_uri,
        "--artifacts-destination", _artifacts_uri(spec.artifacts),
        "--host", spec.host,
        "--port", str(spec.port),
        "--workers", str(spec.workers),
    ]
    cmd += ["--app-name", "cogit-basic-auth" if spec.auth else "cogit"]
    return cmd


def environment(spec: ServerSpec, base: dict[str, str] | None = None) -> dict[str, str]:
    """The server's environment: the caller's, plus what `spec` needs."""
    env = dict(os.environ if base is None else base)
    env["MLFLOW_SERVER_ENABLE_JOB_EXECUTION"] = "true" if spec.jobs else "false"
    if spec.auth:
        env["MLFLOW_AUTH_CONFIG_PATH"] = str(spec.auth_config.resolve())
        # CSRF only guards the sign-up form; one key per start is consistent across this
        # start's workers. Several servers behind one balancer must share a fixed key.
        env.setdefault(SECRET_KEY_VAR, secrets.token_hex(32))
    return env


def prepare(spec: ServerSpec, env: dict[str, str] | None = None) -> None:
    """Check the auth settings, create the databases, the artifact folder and the auth config.

    Everything that can be wrong is checked before any process starts, so a bad setting is
    one line rather than a server that dies in its workers.
    """
    env = os.environ if env is None else env
    if spec.auth:
        password = env.get(ADMIN_PASSWORD_VAR, "")
        if len(password) < MIN_ADMIN_PASSWORD:
            raise BadInput(f"--auth: set {ADMIN_PASSWORD_VAR} to the admin password "
                           f"(at least {MIN_ADMIN_PASSWORD} characters)")
    _check_listen(spec.host, spec.port)
    _check_artifacts(spec.artifacts)
    check(spec.backend_uri, "write", "--backend-store-uri", made_here=True)
    ensure_database(spec.backend_uri)
    if "://" not in spec.artifacts:
        Path(spec.artifacts).mkdir(parents=True, exist_ok=True)
    if spec.auth:
        ensure_database(spec.auth_uri)
        spec.state_dir.mkdir(parents=True, exist_ok=True)
        spec.auth_config.write_text(
            "[mlflow]\n"
            "default_permission = READ\n"
            f"database_uri = {spec.auth_uri}\n"
            "admin_username = admin\n"
            "authorization_function = mlflow.server.auth:authenticate_request_basic_auth\n"
            # every request re-hashes the password (PBKDF2) unless cached; a changed password
            # then takes up to this long to reach the other workers
            "auth_cache_ttl_seconds = 60\n"
        )


@dataclass
class Server:
    """A running `mlflow server`, in its own process group so that stop() ends its workers."""

    spec: ServerSpec
    log_path: Path | None = None
    env: dict[str, str] | None = None
    proc: subprocess.Popen | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return self.spec.url

    def start(self, timeout: float = 90.0) -> "Server":
        prepare(self.spec, self.env)
        env = environment(self.spec, self.env)
        if self.log_path:  # made once every setting is known good: a refusal leaves nothing
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL
        try:
            self.proc = subprocess.Popen(command(self.spec), env=env, stdout=log,
                                         stderr=subprocess.STDOUT, start_new_session=True,
                                         preexec_fn=_die_with_parent)
        finally:
            if self.log_path:
                log.close()
        wait_healthy(self.url, self.proc, timeout)
        return self

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15.0) -> None:
        """End the whole process group; SIGKILL if it lingers past `timeout`."""
        if self.proc is None:
            return
        _signal_group(self.proc, sig)
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            _signal_group(self.proc, signal.SIGKILL)
            self.proc.wait(timeout=timeout)
        # uvicorn workers live in the same group and may outlive the parent by a moment
        _signal_group(self.proc, signal.SIGKILL)
        self.proc = None

    def kill(self) -> None:
        """Die as a crashed host would: SIGKILL, no shutdown."""
        self.stop(signal.SIGKILL)

    def restart(self, timeout: float = 90.0) -> "Server":
        self.stop()
        return self.start(timeout)

    def __enter__(self) -> "Server":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def wait_healthy(url: str, proc: subprocess.Popen | None = None, timeout: float = 90.0) -> None:
    """Poll `/health` until it answers, the process dies, or `timeout` passes."""
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"mlflow server at {url} exited with code {proc.returncode} "
                               "before answering /health (see its log)")
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.25)
    raise TimeoutError(f"mlflow server at {url} did not answer /health within {timeout:.0f} s")


def _die_with_parent() -> None:
    """In the server's process, before it runs: have the kernel send it SIGTERM when the
    process that started it dies, however (a `kill -9` of `cogit-log server` left the MLflow
    server holding its port). Linux's PR_SET_PDEATHSIG; elsewhere nothing."""
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG = 1
    except (OSError, AttributeError):
        pass


def serve(spec: ServerSpec, log_path: Path | None = None) -> None:
    """Run in the foreground until Ctrl-C or SIGTERM (what `make server` does); the server's
    own output goes to `log_path` (default `<state dir>/server.log`), which the first line
    names."""
    log_path = Path(log_path) if log_path else spec.state_dir / "server.log"
    server = Server(spec, log_path=log_path)
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        server.start()
        print(f"mlflow server at {spec.url}  (backend {redact(spec.backend_uri)}, "
              f"artifacts {spec.artifacts}{', basic auth' if spec.auth else ''}; its log in "
              f"{log_path}); Ctrl-C stops it", flush=True)
        server.proc.wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
        signal.signal(signal.SIGTERM, previous)


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


#: artifact schemes that are MLflow's own business, not a place a server stores files
_NOT_DESTINATIONS = {"", "runs", "models", "mlflow-artifacts", "cogit-artifacts"}


def _check_artifacts(artifacts: str) -> None:
    """A destination MLflow can write to: a folder, or a URI of a scheme its artifact
    repositories know (s3, gs, wasbs, ...). An unknown one was taken at start and failed at
    the first upload, on the experiment's time."""
    if "://" not in artifacts:
        return
    from mlflow.store.artifact.artifact_repository_registry import (
        _artifact_repository_registry as registry)

    kind = urlsplit(artifacts).scheme.lower()
    known = sorted(set(registry._registry) - _NOT_DESTINATIONS)
    if kind not in known:
        raise BadInput(f"--artifacts-destination {redact(artifacts)!r}: unknown scheme "
                       f"{kind!r}; accepted: a folder, or {', '.join(k + '://' for k in known)}")


def _artifacts_uri(artifacts: str) -> str:
    return artifacts if "://" in artifacts else str(Path(artifacts).resolve())


def _signal_group(proc: subprocess.Popen, sig: int) -> None:
    try:
        os.killpg(proc.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__

