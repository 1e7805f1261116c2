"""One bad write must not sink the others: real sqlite stores, the real writer.

Values the store would refuse are dropped alone where they are logged, with one warning each;
an op the store refuses anyway (a param changed behind the run's back, a key sent without the
checks) is quarantined beside the spool with its reason while every other op goes through;
and `cogit-log sync --spool` reports what it cannot replay in one line, never a traceback.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings

from mlflow.tracking import MlflowClient

import cogit_tracker as ct
from cogit_tracker import schema
from cogit_tracker.store.spool import SpoolFile

from conftest import REPO


def _warnings(fn):
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        fn()
    return [str(w.message) for w in seen if "cogit-tracker" in str(w.message)]


def test_bad_values_are_dropped_alone_and_everything_else_arrives(store, tmp_path, monkeypatch):
    monkeypatch.setenv("COGIT_SPOOL_DIR", str(tmp_path / "spool"))

    def experiment():
        with ct.campaign("careless") as camp:
            with camp.phase("train") as ph:
                for step in range(20):
                    ph.log_metrics({"loss": 1.0 / (step + 1), "bad key!": 1.0, "": 2.0,
                                    "k" * 300: 3.0, "a//b": 4.0, "text": "high"}, step=step)
                    ph.log_metrics({"loss_big_step": 5.0}, step=2**63)   # past a 64-bit step
                ph.log_params({"lr": 0.1, "bad param?": 1})
                ph.log_params({"lr": 0.2})                              # MLflow keeps 0.1
                ph.set_tags({"ok.tag": "yes", "bad tag*": "x", "long": "v" * 9000})
                ph.log_artifact("/nonexistent/operator.pt")
                for step in range(20, 40):                               # after all of that
                    ph.log_metrics({"loss": 1.0 / (step + 1)}, step=step)
        return camp, ph

    said = _warnings(lambda: holder.append(experiment()))
    camp, ph = holder[0]
    client = MlflowClient()
    run = client.get_run(ph.run_id)
    assert run.info.status == "FINISHED" and client.get_run(camp.run_id).info.status == "FINISHED"
    assert sorted(m.step for m in client.get_metric_history(ph.run_id, "loss")) == list(range(40))
    own = {k for k in run.data.metrics if not k.startswith(schema.SYSTEM_METRICS_PREFIX)}
    assert own == {"loss", *(schema.DURATION_S, schema.COST_USD, schema.VRAM_PEAK_GB,
                             schema.RAM_PEAK_GB)}
    assert run.data.params["lr"] == "0.1" and "bad param?" not in run.data.params
    assert run.data.tags["ok.tag"] == "yes" and len(run.data.tags["long"]) == schema.MAX_TAG_VALUE
    joined = "\n".join(said)
    for needle in ("'bad key!'", "is empty", "300 characters", "'a//b'", "'text'", "step",
                   "'lr' is already '0.1'", "'bad param?'", "'bad tag*'", "9,000 characters",
                   "/nonexistent/operator.pt"):
        assert needle in joined, needle
    assert len(said) == len(set(said)) == 11  # each problem said once, not once per step
    assert not (tmp_path / "spool").exists()  # nothing refused, nothing spooled


holder: list = []


def test_an_op_the_store_refuses_is_quarantined_and_no_op_waits_behind_it(
        store, tmp_path, monkeypatch):
    """Ops that skip the checks (as an old spool's may) reach the store: it refuses a param
    changed behind the run's back and a key MLflow cannot hold. Only those items are set
    aside, with the reason; every point around them, and every later op, is stored."""
    monkeypatch.setenv("COGIT_SPOOL_DIR", str(tmp_path / "spool"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with ct.campaign("poisoned") as camp:
            with camp.phase("train") as ph:
                ph.log_params({"lr": "0.1"})
                ph.flush()
                ph._writer.submit({"op": "params", "uid": ph.uid, "params": {"lr": "0.2"}})
                for step in range(1500):   # one bad key in the same batches as good points
                    points = {"loss": float(step)}
                    if step == 700:
                        points["bad key!"] = 1.0
                    ph._writer.metrics(ph.uid, points, step)
                ph.log_metrics({"after": 1.0}, step=0)
    client = MlflowClient()
    run = client.get_run(ph.run_id)
    assert run.info.status == "FINISHED"
    assert len(client.get_metric_history(ph.run_id, "loss")) == 1500
    assert run.data.metrics["after"] == 1.0 and run.data.params["lr"] == "0.1"
    kept = [json.loads(line) for f in (tmp_path / "spool" / "quarantine").glob("*.jsonl")
            for line in f.read_text().splitlines()]
    assert len(kept) == 2
    assert {k["op"]["op"] for k in kept} == {"params", "metrics"}
    metric = next(k for k in kept if k["op"]["op"] == "metrics")
    assert [p[0] for p in metric["op"]["metrics"]] == ["bad key!"]   # that point alone
    assert all(k["reason"] for k in kept)
    assert not list((tmp_path / "spool").glob("*.jsonl"))   # nothing waits in the spool


def _cli(*args: str, cwd) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(REPO), PYTHONWARNINGS="ignore",
               MLFLOW_HTTP_REQUEST_MAX_RETRIES="0")
    return subprocess.run([sys.executable, "-m", "cogit_tracker.cli", *args], env=env, cwd=cwd,
                          capture_output=True, text=True, timeout=180)


def test_sync_spool_replays_what_it_can_and_says_the_rest_in_one_line(tmp_path, _empty_store):
    """A spool holding a refused op and a line cut short by a crash replays the rest and
    quarantines those two; a file without a header names its problem in one line; a store
    that does not answer is one line and exit 1. Never a traceback, never a new store."""
    import shutil
    import uuid

    target = tmp_path / "target.db"
    shutil.copy(_empty_store, target)
    folder = tmp_path / "spool"
    uid = str(uuid.uuid4())
    spool = SpoolFile.create(folder, f"sqlite:///{target}")
    spool.append([{"op": "create", "uid": uid, "experiment": "offline", "name": "p",
                   "parent": None, "start": 1_700_000_000_000,
                   "tags": {schema.UID: uid, schema.KIND: "phase"}},
                  {"op": "metrics", "uid": uid, "metrics": [["bad key!", 1.0, 1, 0]]},
                  {"op": "metrics", "uid": uid, "metrics": [["x", 1.0, 1, 0]]}])
    with spool.path.open("a") as fh:
        fh.write('{"op": "tags", "uid": "' + uid + '", "ta')   # a crash mid-line
    down = _cli("sync", "--spool", str(folder), "--to", "http://127.0.0.1:9", cwd=tmp_path)
    assert down.returncode == 1 and len(down.stderr.strip().splitlines()) == 1, down.stderr
    done = _cli("sync", "--spool", str(folder), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    client = MlflowClient(f"sqlite:///{target}")
    run = client.search_runs([client.get_experiment_by_name("offline").experiment_id])[0]
    assert run.data.metrics == {"x": 1.0}
    reasons = [json.loads(line)["reason"] for f in (folder / "quarantine").glob("*.jsonl")
               for line in f.read_text().splitlines()]
    assert len(reasons) == 2 and any("not an op" in r for r in reasons), reasons
    (folder / "old.jsonl").write_text('{"op": "metrics", "uid": "x", "metrics": []}\n')
    headless = _cli("sync", "--spool", str(folder), cwd=tmp_path)
    assert headless.returncode == 2 and "old.jsonl" in headless.stderr
    assert len(headless.stderr.strip().splitlines()) == 1 and "Traceback" not in headless.stderr
    assert not (tmp_path / "mlflow.db").exists()   # a header-less file made no store here
