"""The SQL fast path and the REST path must give identical reports on the same data.

Each test reads one store both ways: straight from the tables (sqlalchemy) and through
MlflowClient (on the same sqlite file, on a real PostgreSQL database, and through a real
`mlflow server` on 127.0.0.1).
"""
from __future__ import annotations

import math
import os
import socket
import subprocess
import sys
import time

import pytest
from mlflow.tracking import MlflowClient

from cogit_tracker.reports import fetch as runquery
from support import synthetic as sy
from cogit_tracker.reports.compare import compare
from cogit_tracker.cli.render import render
from cogit_tracker.reports.model import load
from cogit_tracker.reports.report import report


def fill_awkward(client) -> dict:
    """Everything a path could get wrong: two experiments, a deleted run and a deleted
    experiment, a NaN metric, unfinished runs, a run that is not a cogit run at all."""
    a = sy.make_campaign(client, "cogit-qmech", sy.CampaignSpec("run-001", sy.reference_phases()))
    phases = sy.reference_phases(speed=11.8, fidelity=0.985)
    phases[2].status, phases[2].failure = "FAILED", "cuda_oom"
    phases[3].status, phases[3].duration_s = "RUNNING", None
    phases[1].metrics["sentiment_shift"] = math.nan
    sy.make_campaign(client, "cogit-qmech", sy.CampaignSpec(
        "run-002", phases, gpu_key="h100-sxm", precision="int8", usd_per_hour=2.99,
        status="RUNNING", start_ms=1_763_100_000_000))
    sy.make_campaign(client, "sweep", sy.CampaignSpec(
        "run-003", sy.reference_phases(2.0), provider="lambda", start_ms=1_763_200_000_000))
    gone = sy.make_campaign(client, "sweep", sy.CampaignSpec("gone", sy.reference_phases()))
    client.delete_run(gone[0])
    client.delete_run(a[1][3])  # run-001's reverse phase
    dead = client.create_experiment("deleted-exp")
    sy.make_campaign(client, "deleted-exp", sy.CampaignSpec("ghost", sy.reference_phases()))
    client.delete_experiment(dead)
    plain = client.create_run(client.get_experiment_by_name("sweep").experiment_id)
    client.log_metric(plain.info.run_id, "duration_s", 1.0)
    return {"deleted_phase": a[1][3]}


def assert_same(uri: str, rest_client) -> None:
    sql = load(uri, history=True)
    rest = load(uri, history=True, client=rest_client)
    assert [c.label for c in sql] == ["run-001", "run-002", "run-003"]
    assert sql == rest
    fidelity = [len(p.history.get("fidelity", ())) for c in sql for p in c.phases]
    assert sum(fidelity) == 18  # 3 train phases x 6
    for keys in ([], ["gpu.key", "phase"], ["experiment", "provider"]):
        assert render(report(sql, keys), "json") == render(report(rest, keys), "json")
    assert render(compare(sql, "run-001", "run-003"), "json") == \
        render(compare(rest, "run-001", "run-003"), "json")


def test_sql_and_rest_agree_on_sqlite(store):
    client = MlflowClient(store)
    info = fill_awkward(client)
    assert runquery.is_sql(store)
    assert_same(store, client)
    sql = load(store)
    assert info["deleted_phase"] not in {p.run_id for c in sql for p in c.phases}
    train = next(p for p in sql[1].phases if p.name == "train")
    assert train.figures.get("sentiment_shift") is None  # NaN is "not measured", both paths


@pytest.mark.slow
@pytest.mark.postgres
def test_sql_and_rest_agree_on_postgresql(pg_uri, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    client = MlflowClient(pg_uri)
    fill_awkward(client)
    assert runquery.is_sql(pg_uri)
    assert_same(pg_uri, client)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_rest_through_a_real_mlflow_server(store, tmp_path):
    """`http://` goes through MlflowClient.search_runs with pagination; same report as SQL."""
    fill_awkward(MlflowClient(store))
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", store,
         "--artifacts-destination", str(tmp_path / "art"), "--host", "127.0.0.1",
         "--port", str(port), "--workers", "1"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=os.environ.copy())
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.time() + 90
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert server.poll() is None and time.time() < deadline, "server did not start"
                time.sleep(0.5)
        assert not runquery.is_sql(url)
        via_http = load(url, history=True)
        assert via_http == load(store, history=True)
    finally:
        server.terminate()
        server.wait(timeout=30)
