"""End to end: a campaign written through `ct.campaign` (the public tracking API) shows up in
`report`, `compare` and `project` with the figures the tracker measured.

The GPU is faked at the pynvml seam (`fake_nvml`: this machine has no NVIDIA GPU), so the
runs carry the RTX 5090's hardware tags; everything else (tracking, store, CLI) is real.
"""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from mlflow.tracking import MlflowClient

import cogit_tracker as ct
from cogit_tracker.cli import cli
from conftest import FakeGpu


def invoke(*args: str) -> dict:
    res = CliRunner().invoke(cli, [*args, "--json"])
    assert res.exit_code == 0, res.output
    return json.loads(res.output)


def test_campaign_api_to_report_compare_and_project(store, fake_nvml):
    fake_nvml([FakeGpu("NVIDIA GeForce RTX 5090", total_gb=32, used_gb=12)])
    with ct.campaign("run-001", experiment="cogit-qmech", precision="fp16",
                     usd_per_hour=0.89) as camp:
        with camp.phase("encode") as ph:
            ph.log_metrics({"vram_hint": 1.0})
        with camp.phase("train") as train:
            for epoch, fid in enumerate([0.71, 0.88, 0.93]):
                train.log_metrics({"fidelity": fid}, step=epoch)
        with pytest.raises(RuntimeError):
            with camp.phase("intervene") as inter:
                inter.log_metrics({"tokens_per_s": 31.5, "generations": 4})
                raise RuntimeError("decoder blew up")
    with ct.campaign("run-002", experiment="cogit-qmech", precision="int8",
                     usd_per_hour=0.89) as camp2:
        with camp2.phase("train") as ph2:
            ph2.log_metrics({"fidelity": 0.91}, step=0)

    doc = invoke("report", "--campaign", "run-001")
    rows = {r["phase"]: r for r in doc["rows"]}
    assert list(rows) == ["encode", "train", "intervene", "total"]
    assert rows["intervene"]["status"] == "FAILED (exception)"
    assert rows["train"]["fidelity"] == pytest.approx(0.93)
    assert rows["intervene"]["tokens_per_s"] == pytest.approx(31.5)
    assert rows["train"]["gpu"] == "rtx-5090"
    stored = MlflowClient(store).get_run(train.run_id).data.metrics
    assert rows["train"]["duration_s"] == pytest.approx(stored["duration_s"])
    assert rows["train"]["vram_peak_gb"] == pytest.approx(stored["vram_peak_gb"])
    parts = [rows[p]["cost_usd"] for p in ("encode", "train", "intervene")]
    assert rows["total"]["cost_usd"] == pytest.approx(sum(parts))

    cmp = invoke("compare", "run-001", "run-002")
    assert cmp["rows"][1]["phase"] == "train"
    assert cmp["rows"][1]["p_fidelity"] == pytest.approx((0.91 - 0.93) / 0.93)
    # declared by neither: what the phases logged, its change without a direction to judge by
    assert ", fidelity -2.2% (A = run-001" in cmp["verdict"]

    proj = invoke("project", "run-001", "--to", "h100-sxm")
    bounds = {r["phase"]: r["bound"] for r in proj["rows"][:-1]}
    assert bounds["intervene"] == "memory" and bounds["train"] == "compute"
    assert proj["source"]["key"] == "rtx-5090"
