"""Decision-test helpers: campaign and phase runs as `cogit_tracker.tracking` writes them
(DESIGN.md schema), made directly with `MlflowClient`; and a real `mlflow server` fixture."""
from __future__ import annotations

import shutil
import uuid

import pytest

from mlflow.tracking import MlflowClient

from cogit_tracker import schema as S


def make_campaign(uri: str, label: str, gpu_key: str, precision: str,
                  phases: dict[str, dict[str, float]], status: str = "FINISHED") -> str:
    """A finished campaign run with one child run per phase; returns the campaign's uid."""
    client = MlflowClient(uri)
    exp = client.get_experiment_by_name("cogit-qmech")
    exp_id = exp.experiment_id if exp else client.create_experiment("cogit-qmech")
    uid = uuid.uuid4().hex
    camp = client.create_run(exp_id, run_name=label, tags={
        S.UID: uid, S.KIND: "campaign", S.CAMPAIGN: label, S.PRECISION: precision,
        S.MODEL: "Qwen/Qwen2.5-7B-Instruct", S.GPU_KEY: gpu_key})
    for index, (name, metrics) in enumerate(phases.items(), 1):
        ph = client.create_run(exp_id, run_name=f"{label}/{name}", tags={
            S.UID: uuid.uuid4().hex, S.KIND: "phase", S.PHASE: name,
            S.PHASE_INDEX: str(index), S.CAMPAIGN: label, S.GPU_KEY: gpu_key,
            S.PRECISION: precision, "mlflow.parentRunId": camp.info.run_id})
        for key, value in metrics.items():
            client.log_metric(ph.info.run_id, key, value)
        client.set_terminated(ph.info.run_id, status)
    client.set_terminated(camp.info.run_id, status)
    return uid


@pytest.fixture
def mlflow_server(tmp_path, _empty_store):
    """A real `mlflow server` on loopback (sqlite backend, served artifacts); its URI."""
    import socket
    import subprocess
    import sys
    import time
    import urllib.request

    db = tmp_path / "server.db"
    shutil.copyfile(_empty_store, db)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    log = open(tmp_path / "server.log", "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", f"sqlite:///{db}",
         "--artifacts-destination", str(tmp_path / "artifacts"), "--host", "127.0.0.1",
         "--port", str(port), "--workers", "1"], stdout=log, stderr=subprocess.STDOUT)
    uri = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                urllib.request.urlopen(f"{uri}/health", timeout=2)
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError((tmp_path / "server.log").read_text()[-2000:])
                time.sleep(0.5)
        yield uri
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
