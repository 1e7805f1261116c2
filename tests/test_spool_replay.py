"""Replaying a spool merges neighbouring metric ops (one request per 1,000 points, as the live
writer does) and still resumes exactly after an interruption. Real sqlite store; the store
failing mid-replay is injected at `Applier.apply`, and its being away at `Applier.answers`."""
from __future__ import annotations

import shutil
import uuid

import pytest
from mlflow.tracking import MlflowClient

from cogit_tracker import schema
from cogit_tracker.store.ops import Applier
from cogit_tracker.store.quarantine import Quarantine
from cogit_tracker.store.spool import SpoolFile


def spooled(folder, uri: str, points: int) -> tuple[SpoolFile, str]:
    """A spool as a pod leaves it: a run created, then one op per `log_metrics` call, a tag,
    the end."""
    uid = str(uuid.uuid4())
    spool = SpoolFile.create(folder, uri)
    spool.append([{"op": "create", "uid": uid, "experiment": "offline", "name": "p",
                   "parent": None, "start": 1_700_000_000_000,
                   "tags": {schema.UID: uid, schema.KIND: "phase"}}])
    spool.append({"op": "metrics", "uid": uid, "metrics": [["x", float(i), 1_700_000_000_000 + i, i]]}
                 for i in range(points))
    spool.append([{"op": "tags", "uid": uid, "tags": {"done": "yes"}},
                  {"op": "end", "uid": uid, "status": "FINISHED", "end": 1_700_000_100_000}])
    return spool, uid


@pytest.fixture
def sqlite_uri(tmp_path, monkeypatch, _empty_store) -> str:
    monkeypatch.chdir(tmp_path)
    shutil.copy(_empty_store, tmp_path / "m.db")
    return f"sqlite:///{tmp_path / 'm.db'}"


def test_replay_merges_metric_ops(tmp_path, sqlite_uri, monkeypatch):
    spool, _ = spooled(tmp_path / "spool", sqlite_uri, 2500)
    applied = []
    real = Applier.apply
    monkeypatch.setattr(Applier, "apply", lambda self, op: (applied.append(op["op"]),
                                                            real(self, op))[1])
    assert spool.replay(Applier(sqlite_uri), Quarantine(tmp_path / "q", "")) == 2503
    assert applied == ["create", "metrics", "metrics", "metrics", "tags", "end"]
    run = MlflowClient(sqlite_uri).search_runs(
        [MlflowClient(sqlite_uri).get_experiment_by_name("offline").experiment_id])[0]
    steps = [m.step for m in MlflowClient(sqlite_uri).get_metric_history(run.info.run_id, "x")]
    assert sorted(steps) == list(range(2500)) and run.info.status == "FINISHED"
    assert not spool.path.exists()


def test_interrupted_replay_resumes_at_the_right_op(tmp_path, sqlite_uri, monkeypatch):
    spool, _ = spooled(tmp_path / "spool", sqlite_uri, 2500)
    real = Applier.apply
    calls = []

    def fail_third(self, op):
        calls.append(op["op"])
        if len(calls) == 3:
            raise ConnectionError("store went away")
        return real(self, op)

    monkeypatch.setattr(Applier, "apply", fail_third)
    monkeypatch.setattr(Applier, "answers", lambda self: False)
    quarantine = Quarantine(tmp_path / "q", "")
    with pytest.raises(ConnectionError):
        spool.replay(Applier(sqlite_uri), quarantine)
    assert spool.applied == 1 + 1000  # the create and the first merged 1,000 points
    monkeypatch.setattr(Applier, "apply", real)
    assert spool.replay(Applier(sqlite_uri), quarantine) == 2503 - 1001
    assert quarantine.count == 0  # the store was away, not refusing: nothing set aside
    client = MlflowClient(sqlite_uri)
    runs = client.search_runs([client.get_experiment_by_name("offline").experiment_id])
    assert len(runs) == 1
    steps = [m.step for m in client.get_metric_history(runs[0].info.run_id, "x")]
    assert sorted(steps) == list(range(2500))  # each point exactly once
