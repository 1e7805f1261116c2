"""The whole loop of issue 13 on `tiny`, with real parts: a campaign reporting progress at a
rate, `advise` while it runs, a decision drafted from the advice, a second campaign in the
chosen configuration linked as validation, `decision verify` judging it, and the track record
pairing the decision's prediction with the campaign that followed.

The running campaign is a real process held halfway through its intervene phase
(tests/support/qmech_worker.py) until the test has acted, so nothing depends on timing. The
figures themselves depend on this machine's speed, so the test holds the relations between
them (verify's verdict against the measured durations, the error against both sides), not
the numbers.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from mlflow.tracking import MlflowClient

from cogit_tracker import schema
from cogit_tracker.cli import cli
from cogit_tracker.decisions.verify import parse_criterion
from conftest import REPO
from cogit_tracker.runtime import experiments
from pipelines import EXPERIMENT
from support.qmech_worker import SMALL
from support.cli_checks import invoke_json as invoke

pytestmark = pytest.mark.slow
WORKER = Path(__file__).parent / "support" / "qmech_worker.py"


def phases_of(store: str, label: str) -> dict:
    client = MlflowClient(store)
    ids = [e.experiment_id for e in client.search_experiments()]
    runs = client.search_runs(ids, f"tags.`{schema.CAMPAIGN}` = '{label}' and "
                                   f"tags.`{schema.KIND}` = 'phase'")
    return {r.data.tags[schema.PHASE]: r for r in runs}


def hold_campaign(store: str, label: str, model: Path, gate: Path) -> subprocess.Popen:
    """Start the campaign in its own process; return once its intervene phase, held halfway,
    has a live ETA in the store."""
    env = dict(os.environ, MLFLOW_TRACKING_URI=store, PYTHONPATH=f"{REPO}:{REPO / 'tests'}",
               COGIT_HEARTBEAT_S="0.3", PYTHONWARNINGS="ignore")
    proc = subprocess.Popen([sys.executable, str(WORKER), store, label, str(model), "fp32",
                             str(gate)], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 600
    while True:
        assert proc.poll() is None, proc.stderr.read()
        assert time.monotonic() < deadline, "the campaign never reached its held phase"
        run = phases_of(store, label).get("intervene")
        if Path(f"{gate}.held").exists() and run and schema.ETA_S in run.data.metrics:
            return proc
        time.sleep(0.3)


def test_advise_decide_validate_and_the_track_record(tiny_model, store, tmp_path):
    model = str(tiny_model)
    # an earlier campaign in the same configuration: the phases not yet started take its time
    experiments.run(EXPERIMENT, model=model, precision="fp32", campaign="c0",
                    tracking_uri=store, usd_per_hour=3.6, **SMALL)
    gate = tmp_path / "gate"
    proc = hold_campaign(store, "c1", tiny_model, gate)
    try:
        advice = invoke("advise", "c1", "--setup-min", "0")
        drafted = invoke("decision", "new", "--from-advice", "c1", "--choose", "int8",
                         "--setup-min", "0", "--no-input")
    finally:
        gate.touch()
    assert proc.wait(timeout=600) == 0, proc.stderr.read()
    check_advice(advice)
    number = check_draft(drafted, store)

    experiments.run(EXPERIMENT, model=model, precision="int8", campaign="c2",
                    tracking_uri=store, usd_per_hour=3.6, **SMALL)
    res = CliRunner().invoke(cli, ["decision", "link", str(number), "c2", "--role",
                                   "validation"])
    assert res.exit_code == 0, res.output
    check_verdict(store, number)
    check_track_record(store)


def check_advice(advice: dict) -> None:
    assert advice["campaign"]["running"] is True
    opts = {o["key"]: o for o in advice["options"]}
    here = opts["continue"]
    assert list(here["phases"]) == ["intervene", "reverse"]   # what is left of c1
    assert here["time_s"] > 0 and here["total_usd"] > advice["campaign"]["spent_usd"]
    int8 = opts["int8"]
    assert int8["fits"] and list(int8["phases"]) == ["encode", "train", "intervene", "reverse"]
    assert any("every phase reruns" in a for a in int8["assumptions"])
    assert int8["quality"].startswith("not measured")           # no int8 campaign yet
    h100 = opts["h100-sxm"]                                      # planner knew the model
    assert h100["fits"] and "plan" in h100["fit_note"], h100["fit_note"]
    assert list(h100["phases"]) == ["intervene", "reverse"]     # finished phases reused
    assert all(o["label"] for o in advice["options"])


def check_draft(drafted: dict, store: str) -> int:
    c1 = phases_of(store, "c1")["intervene"].data.tags[schema.PARENT_RUN]
    c1_uid = MlflowClient(store).get_run(c1).data.tags[schema.UID]
    assert drafted["links"] == {c1_uid: "context"}
    assert drafted["chosen"] == next(o["label"] for o in drafted["options"]
                                     if o["title"].endswith("[int8]"))
    exprs = [c["expr"] for c in drafted["criteria"]]
    assert len(exprs) == 5 and all("where gpu.key = none and precision = int8" in e
                                   for e in exprs)
    assert exprs[-1].startswith("sum(cost_usd) < ")
    return drafted["number"]


def check_verdict(store: str, number: int) -> None:
    res = CliRunner().invoke(cli, ["decision", "verify", str(number), "--json"])
    ver = json.loads(res.output)
    c2 = phases_of(store, "c2")
    for crit in ver["criteria"]:
        check = parse_criterion(crit["expr"])
        if check.phase is not None:
            measured = c2[check.phase].data.metrics[schema.DURATION_S]
        else:
            measured = sum(r.data.metrics[schema.COST_USD] for r in c2.values())
        assert crit["value"] == pytest.approx(measured)
        assert crit["state"] == ("pass" if measured < check.threshold else "fail")
    refuted = any(c["state"] == "fail" for c in ver["criteria"])
    assert ver["status"] == ("refuted" if refuted else "validated")
    assert res.exit_code == (1 if refuted else 0)


def check_track_record(store: str) -> None:
    table = invoke("report", "--accuracy")
    rows = [r for r in table["rows"] if r["source"] == "advice"]
    assert len(rows) == 1 and rows[0]["campaign"] == "c2", table
    row = rows[0]
    c2 = phases_of(store, "c2")
    measured = sum(r.data.metrics[schema.DURATION_S] for r in c2.values())
    assert row["time_meas"] == pytest.approx(measured)
    assert row["time_err"] == pytest.approx((row["time_pred"] - measured) / measured)
    assert row["config"].endswith("int8 on none") and row["from"] == "c1"
