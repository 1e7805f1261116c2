"""Exactly once (issue 17, item 2): a create whose reply is lost never leaves a second run.

Every test talks to a real `mlflow server` (PostgreSQL, the session's `mlflow_server`) through
`support.lossy_proxy`, a TCP proxy of our own that forwards each request and then loses the
reply (the server did the work, the client never hears), resets the connection before or after
forwarding, or delays the reply. MLflow 3.17's HTTP layer retries a POST whose reply was lost,
and a CreateRun repeated that way made a second run with the same `cogit.uid`; cogit now sends
CreateRun without that retry and, after any failure that may have reached the server, looks
the uid up before creating again (`store/once.py`). The last test plants duplicates (a store
written before the fix) and checks that `runs list`, `report` and `decision list` show one.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from cogit_tracker import schema
from support.lossy_proxy import LossyProxy

pytestmark = pytest.mark.postgres

REPO = Path(__file__).resolve().parents[1]
WORKER = REPO / "tests" / "support" / "campaign_worker.py"
CREATE = "/api/2.0/mlflow/runs/create"
CLAIM = "/api/2.0/mlflow/experiments/create"


def _env(tmp_path: Path, url: str) -> dict:
    return {**os.environ, "PYTHONPATH": f"{REPO}{os.pathsep}{REPO / 'tests'}",
            "MLFLOW_TRACKING_URI": url, "COGIT_SPOOL_DIR": str(tmp_path / "spool"),
            "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "0", "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2"}


def _campaign(tmp_path: Path, url: str, label: str, phases: int = 1) -> subprocess.CompletedProcess:
    out = subprocess.run([sys.executable, str(WORKER), url, label, "--experiment", "once",
                          "--phases", str(phases), "--points", "5"],
                         env=_env(tmp_path, url), cwd=tmp_path, capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr[-3000:]
    return out


def _cli(tmp_path: Path, url: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cogit_tracker.cli", *args],
                          env=_env(tmp_path, url), cwd=tmp_path, capture_output=True, text=True,
                          timeout=60)


def _runs_of(url: str, label: str) -> list:
    client = MlflowClient(url)
    exp = client.get_experiment_by_name("once")
    return client.search_runs([exp.experiment_id],
                              f"tags.`{schema.CAMPAIGN}` = '{label}'", max_results=1000)


def _exactly_one_each(url: str, label: str, phases: int = 1) -> None:
    runs = _runs_of(url, label)
    uids = [r.data.tags[schema.UID] for r in runs]
    assert len(uids) == len(set(uids)), f"two runs share a uid: {sorted(uids)}"
    kinds = sorted(r.data.tags[schema.KIND] for r in runs)
    assert kinds == ["campaign"] + ["phase"] * phases, kinds
    assert {r.info.status for r in runs} == {"FINISHED"}, [r.info.status for r in runs]
    campaign = next(r for r in runs if r.data.tags[schema.KIND] == "campaign")
    for r in runs:
        if r.data.tags[schema.KIND] == "phase":
            assert r.data.tags[schema.PARENT_RUN] == campaign.info.run_id
            assert r.data.metrics["x"] == 4.0


def test_applier_create_whose_reply_is_lost_makes_one_run(mlflow_server, monkeypatch):
    """The narrowest case, in process: one create op, its reply dropped once."""
    from cogit_tracker.store.ops import Applier

    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "0")
    uid = uuid.uuid4().hex
    with LossyProxy(mlflow_server.url) as proxy:
        proxy.rule(CREATE, "drop", nth=1)
        applier = Applier(proxy.url)
        applier.apply({"op": "create", "uid": uid, "experiment": "once", "start": 1,
                       "name": "lost-reply", "tags": {schema.UID: uid, schema.KIND: "campaign"}})
        assert proxy.fired() == 1 and proxy.seen(CREATE) >= 1
    client = MlflowClient(mlflow_server.url)
    exp = client.get_experiment_by_name("once")
    runs = client.search_runs([exp.experiment_id], f"tags.`{schema.UID}` = '{uid}'")
    assert len(runs) == 1
    assert applier.run_ids[uid] == runs[0].info.run_id


def test_a_campaign_whose_create_replies_are_lost_has_one_run_of_each(mlflow_server, tmp_path):
    """The campaign's CreateRun reply and its phase's are both dropped."""
    label = f"once-drop-{uuid.uuid4().hex[:6]}"
    with LossyProxy(mlflow_server.url) as proxy:
        proxy.rule(CREATE, "drop", nth=1, times=2)
        _campaign(tmp_path, proxy.url, label)
        assert proxy.fired() == 2, proxy.log
    _exactly_one_each(mlflow_server.url, label)


def test_resets_and_delays_still_give_one_run_of_each(mlflow_server, tmp_path):
    label = f"once-faults-{uuid.uuid4().hex[:6]}"
    with LossyProxy(mlflow_server.url) as proxy:
        proxy.rule(CREATE, "reset", nth=1)          # never reached the server
        proxy.rule(CREATE, "reset_after", nth=2)    # reached it, then the connection reset
        proxy.rule(CREATE, "delay", nth=3, seconds=1.5)
        proxy.rule("/runs/log-batch", "reset_after", nth=1)
        proxy.rule("/runs/update", "drop", nth=1)
        _campaign(tmp_path, proxy.url, label, phases=2)
        assert proxy.fired() >= 4, proxy.log
    _exactly_one_each(mlflow_server.url, label, phases=2)


def _decisions_titled(url: str, title: str) -> list:
    client = MlflowClient(url)
    exp = client.get_experiment_by_name(schema.DECISION_EXPERIMENT)
    return client.search_runs([exp.experiment_id],
                              f"tags.`{schema.DECISION_TITLE}` = '{title}'", max_results=100)


@pytest.mark.parametrize("fault", ["both", "resets"])
def test_a_decision_whose_create_reply_is_lost_is_listed_once(mlflow_server, tmp_path, fault):
    # make sure the log's experiment exists, so that the first experiments/create is a claim
    MlflowClient(mlflow_server.url).get_experiment_by_name(schema.DECISION_EXPERIMENT) or \
        MlflowClient(mlflow_server.url).create_experiment(schema.DECISION_EXPERIMENT)
    title = f"Lost reply {fault} {uuid.uuid4().hex[:6]}"
    with LossyProxy(mlflow_server.url) as proxy:
        if fault in ("create", "both"):
            proxy.rule(CREATE, "drop", nth=1)
        if fault in ("claim", "both"):
            proxy.rule(CLAIM, "drop", nth=1)
        if fault == "resets":
            proxy.rule(CREATE, "reset_after", nth=1)
            proxy.rule(CLAIM, "reset_after", nth=1)
            proxy.rule("/experiments/delete", "drop", nth=1)
            proxy.rule("/runs/update", "reset_after", nth=1)
            proxy.rule("/artifacts/", "delay", nth=1, seconds=1.0)
        new = _cli(tmp_path, proxy.url, "decision", "new", "--no-input", "--title", title,
                   "--option", "A: one", "--option", "B: two", "--chosen", "A",
                   "--reason", "lost replies")
        assert new.returncode == 0, new.stderr[-3000:]
        assert proxy.fired() >= 1, proxy.log
        listed = _cli(tmp_path, proxy.url, "decision", "list", "--text", title, "--json")
    assert listed.returncode == 0, listed.stderr
    entries = json.loads(listed.stdout)
    assert len(entries) == 1, entries
    runs = _decisions_titled(mlflow_server.url, title)
    assert len(runs) == 1, [r.info.run_id for r in runs]
    assert runs[0].info.status == "FINISHED"
    # no other decision took the same number
    client = MlflowClient(mlflow_server.url)
    exp = client.get_experiment_by_name(schema.DECISION_EXPERIMENT)
    number = runs[0].data.tags[schema.DECISION_NUMBER]
    same = client.search_runs([exp.experiment_id],
                              f"tags.`{schema.DECISION_NUMBER}` = '{number}'", max_results=100)
    assert len(same) == 1, [r.data.tags[schema.DECISION_TITLE] for r in same]


# ------------------------------------------------------------ a store written before the fix

def test_duplicates_already_in_a_store_are_shown_once(store, tmp_path):
    """Two runs with one uid (the second RUNNING forever, as MLflow's retry left them), and a
    decision listed twice: every listing shows one, and says once that duplicates exist."""
    from cogit_tracker.cli import cli as cogit
    from click.testing import CliRunner

    client = MlflowClient(store)
    exp = client.create_experiment("dups")
    uid, phase_uid = uuid.uuid4().hex, uuid.uuid4().hex
    base = {schema.UID: uid, schema.KIND: "campaign", schema.CAMPAIGN: "dup-run"}
    kept = client.create_run(exp, start_time=1000, tags=base, run_name="dup-run")
    orphan = client.create_run(exp, start_time=1001, tags=base, run_name="dup-run")
    client.log_metric(kept.info.run_id, schema.COST_USD, 1.0)
    ptags = {schema.UID: phase_uid, schema.KIND: "phase", schema.CAMPAIGN: "dup-run",
             schema.PHASE: "encode", schema.PHASE_INDEX: "0",
             schema.PARENT_RUN: kept.info.run_id}
    phase = client.create_run(exp, start_time=1002, tags=ptags, run_name="encode")
    client.log_metric(phase.info.run_id, schema.DURATION_S, 3.0)
    client.set_terminated(phase.info.run_id)
    client.set_terminated(kept.info.run_id)
    # the orphan phase points at the orphan campaign
    client.create_run(exp, start_time=1003, tags=dict(ptags, **{
        schema.PARENT_RUN: orphan.info.run_id}), run_name="encode")

    runner = CliRunner()
    out = runner.invoke(cogit, ["runs", "list", "--json"])
    assert out.exit_code == 0, out.output
    rows = json.loads(out.stdout)
    assert len(rows) == 2, rows
    assert "duplicate" in out.stderr
    assert out.stderr.count("duplicate") == 1

    out = runner.invoke(cogit, ["report", "--json"])
    assert out.exit_code == 0, out.output
    report = json.loads(out.stdout)
    assert report["title"] == "Report: 1 campaign(s)", report
    assert [(r["campaign"], r["phase"], r["status"], r["duration_s"]) for r in report["rows"]] \
        == [("dup-run", "encode", "FINISHED", 3.0), ("dup-run", "total", "FINISHED", 3.0)]
    assert "duplicate" in out.stderr

    dexp = client.create_experiment(schema.DECISION_EXPERIMENT)
    dtags = {schema.UID: uuid.uuid4().hex, schema.KIND: "decision",
             schema.DECISION_NUMBER: "001", schema.DECISION_TITLE: "Twice",
             schema.DECISION_STATUS: "proposed", schema.DECISION_DATE: "2026-12-04"}
    first = client.create_run(dexp, start_time=1000, tags=dtags, run_name="Decision #001: Twice")
    client.create_run(dexp, start_time=1001, tags=dtags, run_name="Decision #001: Twice")
    client.set_terminated(first.info.run_id)
    out = runner.invoke(cogit, ["decision", "list", "--json"])
    assert out.exit_code == 0, out.output
    entries = json.loads(out.stdout)
    assert [e["number"] for e in entries] == [1], entries
    assert entries[0]["run_id"] == first.info.run_id
    assert "duplicate" in out.stderr
