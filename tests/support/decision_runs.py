"""Decision-test helpers: campaign and phase runs as `cogit_tracker.runtime.tracking` writes them
(DESIGN.md schema), made directly with `MlflowClient`; and a real `mlflow server` fixture."""
from __future__ import annotations

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
            S.PRECISION: precision, S.PARENT_RUN: camp.info.run_id})
        for key, value in metrics.items():
            client.log_metric(ph.info.run_id, key, value)
        client.set_terminated(ph.info.run_id, status)
    client.set_terminated(camp.info.run_id, status)
    return uid


@pytest.fixture
def own_server(tmp_path):
    """A fresh real `mlflow server` of its own (so numbering starts at 1), over a throw-away
    PostgreSQL database, started by the same code as every other test server; its URL."""
    from conftest import serve_for_test

    for srv in serve_for_test(tmp_path, workers=1):
        yield srv.url
