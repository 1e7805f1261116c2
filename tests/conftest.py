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
# +psycopg2: SQLAlchemy 2.1 maps a bare postgresql:// to psycopg 3, which is not installed
PG_ADMIN_URI = os.environ.get("COGIT_TEST_PG",
                              "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres")


def pytest_configure(config) -> None:
    """Under CI (`CI` set) the suite starts from an empty model cache in a temp folder, so a
    green CI proves that a fresh machine trains and converts working models; subprocesses
    inherit it through the environment (in every xdist worker: the controller sets it before
    they start)."""
    if os.environ.get("CI") and not os.environ.get("COGIT_MODEL_CACHE"):
        import tempfile

        os.environ["COGIT_MODEL_CACHE"] = tempfile.mkdtemp(prefix="cogit-models-")
    # What the commands print must not depend on where the suite runs: pytest-xdist hands its
    # workers the controller's terminal width as COLUMNS, and a developer's shell may export
    # one. Without it, a command off a terminal takes its own fallback width, and a test that
    # wants a terminal opens a pseudo-terminal of the size it names.
    for name in ("COLUMNS", "LINES"):
        os.environ.pop(name, None)


@pytest.fixture(scope="session")
def _empty_store(tmp_path_factory) -> Path:
    """An MLflow sqlite database with its schema made once: creating one costs seconds of
    migrations, copying the file costs milliseconds."""
    from mlflow.tracking import MlflowClient

    db = tmp_path_factory.mktemp("template") / "mlflow.db"
    MlflowClient(f"sqlite:///{db}").search_experiments()
    return db


@pytest.fixture
def store(cogit_env, _empty_store, monkeypatch) -> str:
    """A fresh sqlite tracking store in a temp dir, made the process default (env and fluent),
    with cwd in that dir so its `./mlruns` artifacts stay there too."""
    import shutil

    import mlflow

    db = cogit_env / "mlflow.db"
    shutil.copy(_empty_store, db)
    uri = f"sqlite:///{db}"
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




# --- issue 6: real `mlflow server` processes on loopback, over throw-away PostgreSQL ---------
SERVER_ADMIN_PASSWORD = "cogit-admin-" + uuid.uuid4().hex[:12]  # made per session, never stored


def serve_for_test(folder: Path, auth: bool = False, workers: int = 2):
    """Start a real `mlflow server` (PostgreSQL store, artifacts in `folder`); yield it; stop it
    and drop its databases. A generator so fixtures of any scope can `yield from` it."""
    pytest.importorskip("psycopg2")
    from cogit_tracker.store import server, uri as store

    name = f"cogit_test_{uuid.uuid4().hex[:12]}"
    spec = server.ServerSpec(
        backend_uri=server.with_database(store.pg_driver(PG_ADMIN_URI), name),
        artifacts=str(folder / "artifacts"), port=server.free_port(), workers=workers,
        auth=auth, state_dir=folder)
    env = dict(os.environ, MLFLOW_AUTH_ADMIN_PASSWORD=SERVER_ADMIN_PASSWORD) if auth else None
    srv = server.Server(spec, log_path=folder / "server.log", env=env)
    try:
        yield srv.start()
    finally:
        srv.stop()
        server.drop_database(spec.backend_uri)
        if auth:
            server.drop_database(spec.auth_uri)


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory):
    """One real tracking server for the session (a start costs ~10 s); `.url`, `.spec`."""
    yield from serve_for_test(tmp_path_factory.mktemp("mlflow-server"))


@pytest.fixture(scope="session")
def auth_server(tmp_path_factory):
    """A real tracking server with MLflow basic auth; admin password `SERVER_ADMIN_PASSWORD`."""
    yield from serve_for_test(tmp_path_factory.mktemp("mlflow-auth-server"), auth=True)
# --- end issue 6 -----------------------------------------------------------------------------


# ==== reports (issue 5) ===============================================================
@pytest.fixture(scope="session")
def _two_campaigns_db(_empty_store, tmp_path_factory) -> Path:
    """The `two_campaigns` store, written once per session (seconds) and copied per test."""
    import shutil

    from mlflow.tracking import MlflowClient

    from support import synthetic as sy

    folder = tmp_path_factory.mktemp("two-campaigns")
    db = folder / "mlflow.db"
    shutil.copy(_empty_store, db)
    here = os.getcwd()
    os.chdir(folder)  # the experiment's ./mlruns artifacts live beside the template
    try:
        client = MlflowClient(f"sqlite:///{db}")
        sy.make_campaign(client, "cogit-qmech",
                         sy.CampaignSpec("run-001", sy.reference_phases()))
        phases = sy.reference_phases(speed=11.8, fidelity=0.985)
        phases[2].status, phases[2].failure = "FAILED", "cuda_oom"
        phases[3].status, phases[3].duration_s = "RUNNING", None
        sy.make_campaign(client, "cogit-qmech", sy.CampaignSpec(
            "run-002", phases, gpu_key="h100-sxm", precision="int8", usd_per_hour=2.99,
            status="RUNNING", start_ms=1_763_100_000_000))
    finally:
        os.chdir(here)
    return db


@pytest.fixture
def two_campaigns(store, _two_campaigns_db):
    """run-001 finished on an RTX 5090 (fp16); run-002 on an H100 (int8), 11.8x faster, with a
    FAILED phase and a RUNNING one; written through MlflowClient into the `store` fixture."""
    import shutil

    from mlflow.tracking import MlflowClient

    from cogit_tracker.reports.model import load

    shutil.copy(_two_campaigns_db, store[len("sqlite:///"):])
    ids = {c.label: (c.run_id, [p.run_id for p in c.phases]) for c in load(store)}
    return {"client": MlflowClient(store), "uri": store, **ids}


# ---- fake NVML and a clean cogit environment (issue 2: hardware/catalog/cost) ---------------
# This machine has no NVIDIA GPU and no driver, so GPU tests replace the pynvml functions (the
# narrowest seam: everything above them, our probe and sampler, runs for real).


class FakeGpu:
    """One pretend device as NVML would describe it."""

    def __init__(self, name, total_gb=80, used_gb=0.0, uuid=None, capability=(9, 0),
                 utilization=0, power_w=0.0, power_limit_w=700.0):
        self.name, self.capability = name, capability
        self.total, self.used = int(total_gb * 10**9), int(used_gb * 10**9)  # decimal GB, as every *_gb tag
        self.uuid = uuid or f"GPU-{abs(hash(name)) % 10**8:08d}"
        # what MLflow's own GPU monitor reads for its system/gpu_* series
        self.utilization, self.power_w, self.power_limit_w = utilization, power_w, power_limit_w


def _reset_hardware_caches():
    from cogit_tracker.machine import hardware

    for cached in (hardware.probe, hardware._nvml, hardware._handles):
        cached.cache_clear()


@pytest.fixture
def cogit_env(tmp_path, monkeypatch):
    """cwd in a temp dir (no stray ./cogit.toml), no COGIT_* settings, fresh probe caches."""
    monkeypatch.chdir(tmp_path)
    for name in ("COGIT_CONFIG", "COGIT_USD_PER_HOUR"):
        monkeypatch.delenv(name, raising=False)
    _reset_hardware_caches()
    yield tmp_path
    _reset_hardware_caches()


@pytest.fixture
def fake_nvml(cogit_env, monkeypatch):
    """Call with a list of `FakeGpu` (mutable: change `.used` to move the VRAM reading) or an
    exception for `nvmlInit` to raise; pynvml's functions answer from it."""
    import types

    import pynvml

    def install(gpus, driver="570.86.15", cuda=12080):
        def init():
            if isinstance(gpus, Exception):
                raise gpus

        fakes = {
            "nvmlInit": init,
            "nvmlDeviceGetCount": lambda: len(gpus),
            "nvmlDeviceGetHandleByIndex": lambda i: gpus[i],
            "nvmlDeviceGetName": lambda h: h.name,
            "nvmlDeviceGetUUID": lambda h: h.uuid,
            "nvmlDeviceGetCudaComputeCapability": lambda h: h.capability,
            "nvmlDeviceGetMemoryInfo": lambda h: types.SimpleNamespace(
                total=h.total, used=h.used, free=h.total - h.used
            ),
            "nvmlSystemGetDriverVersion": lambda: driver,
            "nvmlSystemGetCudaDriverVersion_v2": lambda: cuda,
            "nvmlDeviceGetUtilizationRates": lambda h: types.SimpleNamespace(
                gpu=h.utilization, memory=0),
            "nvmlDeviceGetPowerUsage": lambda h: int(h.power_w * 1000),  # milliwatts
            "nvmlDeviceGetEnforcedPowerLimit": lambda h: int(h.power_limit_w * 1000),
        }
        for name, fake in fakes.items():
            monkeypatch.setattr(pynvml, name, fake)
        _reset_hardware_caches()
        return gpus

    return install


# ---- end fake NVML -------------------------------------------------------------------------


def pages_on(uri: str, monkeypatch):
    """The `cogit` blueprint on a Flask app of its own, reading the store `uri` as the server
    would: its pages and JSON without starting a server."""
    from flask import Flask
    from mlflow.server import BACKEND_STORE_URI_ENV_VAR

    from cogit_tracker.web import routes

    monkeypatch.setenv(BACKEND_STORE_URI_ENV_VAR, uri)
    app = Flask("cogit-test")
    app.register_blueprint(routes.blueprint)
    return app.test_client()


# ---- issue 12: the `cogit` web app, on real servers with a small lab of runs -----------------
@pytest.fixture(scope="session")
def web_lab(tmp_path_factory):
    """A real server (the `cogit` app, no logins) holding `support.web_lab`'s runs."""
    from support import web_lab

    for srv in serve_for_test(tmp_path_factory.mktemp("web-lab")):
        yield web_lab.populate(web_lab.Lab(srv.url))


@pytest.fixture(scope="session")
def web_lab_auth(tmp_path_factory):
    """The same behind MLflow's basic-auth (`cogit-basic-auth`); `.auth` is the admin's login,
    `.reader` a user who may not read the private sweep's experiment."""
    from support import web_lab

    for srv in serve_for_test(tmp_path_factory.mktemp("web-lab-auth"), auth=True):
        lab = web_lab.populate(web_lab.Lab(srv.url, auth=("admin", SERVER_ADMIN_PASSWORD)))
        lab.reader = web_lab.add_reader(lab, web_lab.PRIVATE)
        yield lab
# ---- end issue 12 ------------------------------------------------------------------------------
