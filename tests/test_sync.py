"""`cogit-log sync`: real sqlite stores in temp dirs (and a real server in test_server.py).

The source runs are written with MlflowClient in the tag schema that tracking.py writes
(campaign -> phases via mlflow.parentRunId, a decision linking a phase by uid), so these tests
exercise the copy, not the logging API.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from mlflow.entities import Metric
from mlflow.tracking import MlflowClient

from cogit_tracker import schema
from cogit_tracker.store.sync import sync

REPO = Path(__file__).resolve().parents[1]


def make_campaign(uri: str, tmp: Path, points: int = 30, finish: bool = True) -> dict:
    """A campaign with two finished phases, metric histories, params, artifacts and a linked
    decision; the campaign itself left RUNNING unless `finish`."""
    c = MlflowClient(uri)
    exp = c.get_experiment_by_name("cogit-qmech") or c.create_experiment("cogit-qmech")
    exp_id = exp if isinstance(exp, str) else exp.experiment_id
    camp_uid = str(uuid.uuid4())
    camp = c.create_run(exp_id, run_name="run-002", tags={
        schema.UID: camp_uid, schema.KIND: "campaign", schema.CAMPAIGN: "run-002",
        schema.MODEL: "Qwen/Qwen2.5-7B-Instruct", schema.PRECISION: "int8"})
    uids = {"campaign": camp_uid}
    for index, name in enumerate(["encode", "train"], 1):
        uid = str(uuid.uuid4())
        ph = c.create_run(exp_id, run_name=name, tags={
            schema.UID: uid, schema.KIND: "phase", schema.PHASE: name,
            schema.PHASE_INDEX: str(index), schema.CAMPAIGN: "run-002",
            schema.PARENT_RUN: camp.info.run_id})
        rid = ph.info.run_id
        c.log_batch(rid, metrics=[Metric("fidelity", 0.5 + i / (2 * points), 1_700_000_000_000 + i, i)
                                  for i in range(points)]
                    + [Metric("loss", float("nan"), 1_700_000_000_000, 0)],
                    params=[])
        c.log_param(rid, "quantum_dim", "64")
        f = tmp / f"{name}.json"
        f.write_text('{"phase": "%s"}' % name)
        c.log_artifact(rid, str(f), artifact_path="out")
        c.set_terminated(rid, "FINISHED")
        uids[name] = uid
    dexp = c.get_experiment_by_name(schema.DECISION_EXPERIMENT)
    dexp_id = dexp.experiment_id if dexp else c.create_experiment(schema.DECISION_EXPERIMENT)
    duid = str(uuid.uuid4())
    dec = c.create_run(dexp_id, run_name="decision-002", tags={
        schema.UID: duid, schema.KIND: "decision", schema.DECISION_NUMBER: "2",
        schema.DECISION_STATUS: "accepted", schema.link_tag(uids["train"]): "validation"})
    c.set_terminated(dec.info.run_id, "FINISHED")
    train = find(uri, uids["train"])
    c.set_tag(train.info.run_id, schema.decision_tag(2), "validation")
    c.set_terminated(camp.info.run_id, "FINISHED" if finish else "RUNNING")
    uids["decision"] = duid
    return uids


def runs(uri: str) -> list:
    c = MlflowClient(uri)
    ids = [e.experiment_id for e in c.search_experiments()]
    return c.search_runs(ids, max_results=1000)


def find(uri: str, uid: str):
    found = [r for r in runs(uri) if r.data.tags.get(schema.UID) == uid]
    assert len(found) == 1, f"{len(found)} runs with uid {uid}"
    return found[0]


def history(uri: str, run_id: str, key: str) -> list:
    return sorted((m.timestamp, m.step, str(m.value))
                  for m in MlflowClient(uri).get_metric_history(run_id, key))


def mine(tags: dict) -> dict:
    return {k: v for k, v in tags.items() if not k.startswith(schema.SYNC_PREFIX) and k != schema.PARENT_RUN}


@pytest.fixture
def two_stores(tmp_path, monkeypatch, _empty_store):
    monkeypatch.chdir(tmp_path)  # sqlite stores put artifacts under ./mlruns
    for name in ("pod.db", "laptop.db"):
        shutil.copy(_empty_store, tmp_path / name)
    return f"sqlite:///{tmp_path / 'pod.db'}", f"sqlite:///{tmp_path / 'laptop.db'}"


def test_copies_everything_then_twice_copies_nothing(two_stores, tmp_path):
    src, dst = two_stores
    uids = make_campaign(src, tmp_path)
    first = sync(src, dst)
    assert first.as_dict()["copied"] == 4 and first.points == 2 * 31
    for kind, uid in uids.items():
        a, b = find(src, uid), find(dst, uid)
        assert mine(b.data.tags) == mine(a.data.tags), kind
        assert b.data.params == a.data.params
        assert b.info.status == a.info.status and b.info.start_time == a.info.start_time
        assert b.info.end_time == a.info.end_time
        assert b.data.tags[schema.SYNC_SOURCE_RUN] == a.info.run_id
        assert b.data.tags[schema.SYNC_COMPLETE] == "true"
        for key in a.data.metrics:
            assert history(dst, b.info.run_id, key) == history(src, a.info.run_id, key)
    camp = find(dst, uids["campaign"])
    for phase in ("encode", "train"):
        copy = find(dst, uids[phase])
        assert copy.data.tags[schema.PARENT_RUN] == camp.info.run_id
        local = MlflowClient(dst).download_artifacts(copy.info.run_id, f"out/{phase}.json",
                                                     str(tmp_path / "dl"))
        assert Path(local).read_text() == '{"phase": "%s"}' % phase
    assert find(dst, uids["decision"]).data.tags[schema.link_tag(uids["train"])] == "validation"

    second = sync(src, dst)
    assert second.as_dict() == {"copied": 0, "repaired": 0, "updated": 0, "unchanged": 4,
                                "foreign": 0, "points": 0}
    assert len(runs(dst)) == 4


def test_interrupted_sync_resumes_without_duplicates(two_stores, tmp_path, monkeypatch):
    """The network dropping mid-copy is injected at one seam: the first artifact upload to the
    target raises. Everything else is the real copy against real stores."""
    src, dst = two_stores
    uids = make_campaign(src, tmp_path)
    real = MlflowClient.log_artifacts
    calls = []

    def drop_once(self, run_id, local_dir, artifact_path=None):
        calls.append(run_id)
        if len(calls) == 1:
            raise ConnectionError("connection reset by peer")
        return real(self, run_id, local_dir, artifact_path)

    monkeypatch.setattr(MlflowClient, "log_artifacts", drop_once)
    with pytest.raises(ConnectionError):
        sync(src, dst)
    half = [r for r in runs(dst) if r.data.tags.get(schema.UID) == uids["encode"]]
    assert len(half) == 1 and schema.SYNC_COMPLETE not in half[0].data.tags
    assert len(history(dst, half[0].info.run_id, "fidelity")) == 30  # points went before the drop

    resumed = sync(src, dst)
    assert resumed.repaired == [uids["encode"]] and len(resumed.copied) == 2
    assert resumed.points == 31  # only the train phase's; encode's were already there
    for uid in uids.values():
        a, b = find(src, uid), find(dst, uid)   # exactly one copy each
        assert b.data.tags[schema.SYNC_COMPLETE] == "true"
        for key in a.data.metrics:
            assert history(dst, b.info.run_id, key) == history(src, a.info.run_id, key)
    assert len(runs(dst)) == 4


def test_running_run_is_refreshed_and_late_links_follow(two_stores, tmp_path):
    src, dst = two_stores
    uids = make_campaign(src, tmp_path, finish=False)
    sync(src, dst)
    live = find(dst, uids["campaign"])
    assert live.info.status == "RUNNING" and schema.SYNC_COMPLETE not in live.data.tags
    c = MlflowClient(src)
    camp = find(src, uids["campaign"])
    c.log_metric(camp.info.run_id, "cost_usd", 1.25, timestamp=1_700_000_100_000, step=0)
    c.set_terminated(camp.info.run_id, "FINISHED")
    c.set_tag(find(src, uids["encode"]).info.run_id, schema.decision_tag(3), "evidence")

    again = sync(src, dst)
    assert again.repaired == [uids["campaign"]] and again.updated == [uids["encode"]]
    assert again.points == 1
    done = find(dst, uids["campaign"])
    assert done.info.status == "FINISHED" and done.data.metrics["cost_usd"] == 1.25
    assert find(dst, uids["encode"]).data.tags[schema.decision_tag(3)] == "evidence"
    assert sync(src, dst).unchanged == 4


def test_runs_without_uid_are_not_ours(two_stores, tmp_path):
    src, dst = two_stores
    c = MlflowClient(src)
    c.create_run(c.create_experiment("plain"), run_name="someone-elses")
    make_campaign(src, tmp_path)
    result = sync(src, dst, experiment="cogit-qmech")
    assert result.foreign == 0 and len(result.copied) == 3  # decisions live elsewhere
    everything = sync(src, dst)
    assert everything.foreign == 1 and everything.copied and len(runs(dst)) == 4
    assert MlflowClient(dst).get_experiment_by_name("plain") is None


def cli(*args: str, env: dict | None = None, base: dict | None = None) -> subprocess.CompletedProcess:
    """`cogit-log` in a subprocess, environment `base` (default ours) updated with `env`."""
    env = {**(os.environ if base is None else base), "PYTHONPATH": str(REPO), **(env or {})}
    return subprocess.run([sys.executable, "-m", "cogit_tracker.cli", *args],
                          capture_output=True, text=True, env=env, timeout=120)


def test_cli_sync_json_and_bad_input(two_stores, tmp_path):
    src, dst = two_stores
    make_campaign(src, tmp_path)
    out = cli("sync", "--from", src, "--to", dst, "--json")
    assert out.returncode == 0, out.stderr
    assert '"copied": 4' in out.stdout
    bad = cli("sync", "--from", src, "--to", dst, "--experiment", "nope")
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    assert last_line(bad) == "Error: --experiment 'nope': no such experiment in the source store"
    down = cli("sync", "--from", "http://127.0.0.1:9", "--to", dst,
               env={"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0"})
    assert down.returncode == 1 and "Traceback" not in down.stderr
    assert last_line(down).startswith("Error: --from http://127.0.0.1:9 does not answer")
    same = cli("sync", "--from", src, "--to", src)
    assert same.returncode == 2 and "Traceback" not in same.stderr
    assert last_line(same).endswith("are the same store; accepted: two different stores")


def last_line(proc: subprocess.CompletedProcess) -> str:
    # stderr may carry an unrelated import-time warning line before ours
    return proc.stderr.strip().splitlines()[-1]


def test_a_real_campaign_round_trips(store, tmp_path, _empty_store):
    """A campaign written by cogit_tracker itself (its writer, heartbeat, end metrics, a table
    artifact) copies whole, and a second sync finds nothing to do."""
    import cogit_tracker as ct

    dst = f"sqlite:///{tmp_path / 'laptop.db'}"
    shutil.copy(_empty_store, tmp_path / "laptop.db")
    with ct.campaign("run-009", usd_per_hour=0.5, tracking_uri=store) as camp:
        with camp.phase("train", index=1) as ph:
            for step in range(40):
                ph.log_metrics({"fidelity": step / 40, "loss": 1 / (step + 1)}, step=step)
            ph.log_table({"prompt": ["a", "b"], "score": [0.1, 0.9]}, "generations.json")
    first = sync(store, dst)
    assert len(first.copied) == 2
    a, b = find(store, ph.uid), find(dst, ph.uid)
    assert mine(b.data.tags) == mine(a.data.tags) and b.data.params == a.data.params
    assert b.data.tags[schema.PARENT_RUN] == find(dst, camp.uid).info.run_id
    for key in ("fidelity", "loss", schema.DURATION_S, schema.COST_USD):
        assert history(dst, b.info.run_id, key) == history(store, a.info.run_id, key)
    table = MlflowClient(dst).download_artifacts(b.info.run_id, "generations.json",
                                                 str(tmp_path / "dl"))
    assert '"prompt"' in Path(table).read_text()
    assert sync(store, dst).as_dict()["unchanged"] == 2
