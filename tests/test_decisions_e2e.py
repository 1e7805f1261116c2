"""A decision linked to two campaigns made by the real tracking API (`ct.campaign`)."""
from __future__ import annotations

import json

from click.testing import CliRunner
from conftest import FakeGpu
from mlflow.tracking import MlflowClient

import cogit_tracker as ct
from cogit_tracker import schema as S
from cogit_tracker.cli import cli


def _campaign(label: str, rate: float, fidelity: float) -> str:
    with ct.campaign(label, experiment="cogit-qmech", precision="fp16",
                     usd_per_hour=rate) as camp:
        with camp.phase("train") as ph:
            ph.log_metrics({"fidelity": fidelity}, step=0)
        with camp.phase("intervene"):
            pass
    return camp.run_id


def test_two_campaigns_side_by_side_and_verified(store, fake_nvml):
    """pynvml faked (no GPU here), so that the campaigns carry rtx-5090 and h100-sxm tags."""
    fake_nvml([FakeGpu("NVIDIA GeForce RTX 5090", total_gb=31.8)])
    rtx = _campaign("run-001", 0.89, 0.989)
    fake_nvml([FakeGpu("NVIDIA H100 80GB HBM3")])
    h100 = _campaign("run-002", 2.49, 0.991)
    runner = CliRunner()
    res = runner.invoke(cli, [
        "decision", "new", "--no-input", "--title", "Abort RTX 5090, migrate to H100",
        "--option", "A: Wait", "--option", "C: Migrate", "--chosen", "C",
        "--criterion", "H100 Phase 3 under 15 min :: "
                       "phase[intervene].duration_s < 900 where gpu.key = h100-sxm",
        "--criterion", "Total cost under $1 :: sum(cost_usd) < 1.00",
        "--criterion", "min(phase[train].fidelity) >= 0.98",
        "--criterion", "Results match expectations",
        "--link", "run-001:context", "--link", f"{h100}:validation"])
    assert res.exit_code == 0, res.output
    client = MlflowClient(store)
    assert client.get_run(rtx).data.tags[S.decision_tag(1)] == "context"
    assert client.get_run(h100).data.tags[S.decision_tag(1)] == "validation"

    shown = runner.invoke(cli, ["decision", "show", "1", "--runs"], terminal_width=200)
    assert shown.exit_code == 0, shown.output
    table = shown.output[shown.output.index("side by side"):]
    assert "run-001 (context)" in table and "run-002 (validation)" in table
    assert "rtx-5090 fp16" in table and "h100-sxm fp16" in table
    assert "train" in table and "intervene" in table

    ver = runner.invoke(cli, ["decision", "verify", "1", "--json"])
    assert ver.exit_code == 0, ver.output
    data = json.loads(ver.output)
    assert [c["state"] for c in data["criteria"]] == ["pass", "pass", "pass", "manual"]
    assert data["criteria"][2]["value"] == 0.989
    assert data["status"] == "validated"


def test_show_json_lists_linked_campaign_with_its_phases(store, fake_nvml):
    """pynvml faked (no GPU here): one H100."""
    fake_nvml([FakeGpu("NVIDIA H100 80GB HBM3")])
    _campaign("run-002", 2.49, 0.991)
    runner = CliRunner()
    assert runner.invoke(cli, ["decision", "list", "--json"]).output.strip() == "[]"
    assert MlflowClient(store).get_experiment_by_name(S.DECISION_EXPERIMENT) is None
    runner.invoke(cli, ["decision", "new", "--no-input", "--title", "t", "--link", "run-002"])
    data = json.loads(runner.invoke(cli, ["decision", "show", "1", "--json"]).output)
    [camp] = data["runs"]
    assert camp["role"] == "evidence" and camp["gpu"] == "h100-sxm"
    assert [p["phase"] for p in camp["phases"]] == ["train", "intervene"]
    assert camp["phases"][0]["metrics"]["fidelity"] == 0.991
