"""The planner's track record: `plan --log` and `project --log` record predictions, and
`report --accuracy` pairs each with the campaign that later ran its configuration.

Campaigns are written with the real tag schema (tests/support/synthetic.py) into a real sqlite
store; the later ones start after the predictions were made, as they would in life."""
from __future__ import annotations

import json
import time

import pytest
from click.testing import CliRunner

from cogit_tracker import schema as s
from cogit_tracker.cli import cli
from cogit_tracker.planning import memory
from support import synthetic as sy
from support.cli_checks import invoke_json as invoke, one_line_error

PLAN = ["plan", "--model", "Qwen/Qwen2.5-7B-Instruct", "--precision", "fp16",
        "--quantum-dim", "9333"]


def later_h100_run(client, label: str = "run-h100") -> None:
    """The reference phases on an H100, 11.8x faster, started after now."""
    sy.make_campaign(client, "cogit-qmech", sy.CampaignSpec(
        label, sy.reference_phases(speed=11.8, vram_gb=16.0), gpu_key="h100-sxm",
        usd_per_hour=2.99, start_ms=int(time.time() * 1000) + 1000))


def test_a_projection_is_held_against_the_campaign_that_ran_it(two_campaigns):
    doc = invoke("project", "run-001", "--to", "h100-sxm", "--log")
    predicted = doc["total"]
    table = invoke("report", "--accuracy")
    assert table["rows"] == [] and "1 of 1 prediction(s) not matched yet" in table["notes"][-1]

    later_h100_run(two_campaigns["client"])
    table = invoke("report", "--accuracy")
    [row] = table["rows"]
    assert (row["source"], row["from"], row["campaign"]) == ("projection", "run-001",
                                                              "run-h100")
    measured = (420 + 1500 + 5400 + 90) / 11.8
    assert row["time_pred"] == pytest.approx(predicted["projected_s"])
    assert row["time_meas"] == pytest.approx(measured)
    assert row["time_err"] == pytest.approx((predicted["projected_s"] - measured) / measured)
    cost = measured / 3600 * 2.99
    assert row["cost_meas"] == pytest.approx(cost, rel=1e-4)
    assert row["cost_err"] == pytest.approx((predicted["projected_usd"] - cost) / cost, rel=1e-3)
    assert row["peak_meas"] == pytest.approx(16.0 + 2.8)
    assert row["peak_pred"] == pytest.approx(20.3)  # same kind of device, same precision
    assert row["config"] == "Qwen2.5-7B-Instruct fp16 on h100-sxm"


def test_a_plan_is_held_against_the_peak_of_the_campaign_that_ran_it(two_campaigns):
    doc = invoke(*PLAN, "--gpu", "h100-sxm", "--log")
    assert doc["prediction_run_id"]
    later_h100_run(two_campaigns["client"])
    [row] = invoke("report", "--accuracy")["rows"]
    plan = memory.plan_for_gpus(memory.plan(model="Qwen/Qwen2.5-7B-Instruct", precision="fp16",
                                            quantum_dim=9333), gpu="h100-sxm")
    predicted = plan.gpus[0].gpu_bytes_placed / s.GB
    assert row["source"] == "plan" and row["campaign"] == "run-h100"
    assert row["peak_pred"] == pytest.approx(predicted)
    assert row["peak_err"] == pytest.approx((predicted - 18.8) / 18.8)
    assert row["time_pred"] is None and row["time_err"] is None  # a plan predicts memory only


def test_a_campaign_before_the_prediction_or_in_another_configuration_does_not_match(
        two_campaigns):
    invoke(*PLAN, "--gpu", "a100-80gb", "--log")        # nobody runs on an A100
    invoke("project", "run-001", "--to", "h100-sxm", "--precision", "int8", "--log")
    later_h100_run(two_campaigns["client"])             # fp16, not int8
    table = invoke("report", "--accuracy")
    assert table["rows"] == []
    assert "2 of 2 prediction(s) not matched yet" in table["notes"][-1]


def test_a_gpu_less_campaign_projects_onto_its_own_host(store):
    from mlflow.tracking import MlflowClient

    host = {s.CPU_GFLOPS: "30", s.CPU_BANDWIDTH_GBS: "3.4", s.RAM_TOTAL_GB: "25"}
    sy.make_campaign(MlflowClient(store), "e", sy.CampaignSpec(
        "cpu-run", sy.reference_phases(vram_gb=0.0), gpu_key="none", extra_tags=host))
    doc = invoke("project", "cpu-run", "--to", "none", "--precision", "int8", "--log")
    assert doc["target"]["key"] == "none" and doc["target"]["precision"] == "int8"
    inter = next(r for r in doc["rows"] if r["phase"] == "intervene")
    assert inter["projected_s"] == pytest.approx(5400 * 0.5)  # memory-bound: fp16 -> int8
    assert doc["total"]["projected_usd"] == pytest.approx(
        doc["total"]["projected_s"] / 3600 * 0.89)  # the host's own rate


def test_predictions_are_not_campaigns(two_campaigns):
    invoke(*PLAN, "--gpu", "h100-sxm", "--log")
    rows = invoke("runs", "list")
    assert rows and all(r["kind"] in ("campaign", "phase") for r in rows)


def test_bad_input(two_campaigns):
    one_line_error([*PLAN, "--all", "--log"], "--log", "one --gpu")
    one_line_error([*PLAN, "--log"], "--log", "one --gpu")
    one_line_error(["plan", "--params", "7.6B", "--quantum-dim", "9333", "--gpu", "h100-sxm",
                    "--log"], "--log", "--model")
    one_line_error(["report", "--accuracy", "--group-by", "gpu.key"], "--accuracy",
                   "--group-by")
    one_line_error(["project", "run-001", "--to", "none"], "'none'", "without a GPU")
    res = CliRunner().invoke(cli, ["report", "--accuracy", "--json"])
    assert json.loads(res.output)["rows"] == []  # nothing was logged by the failures
