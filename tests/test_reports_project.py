"""`cogit-log project`: measured phases scaled onto another catalog GPU.

Expected figures are computed from the catalog's own specs (`catalog.get`), never typed in,
so the tests hold whatever the catalog's sourced numbers are.
"""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from support import synthetic as sy
from cogit_tracker.cli import cli
from support.cli_checks import one_line_error

catalog = pytest.importorskip("cogit_tracker.machine.catalog")


def project_json(*args: str) -> dict:
    res = CliRunner().invoke(cli, ["project", *args, "--json"])
    assert res.exit_code == 0, res.output
    return json.loads(res.output)


def test_phases_are_classed_and_scaled_by_the_bounding_figure(two_campaigns):
    src, dst = catalog.get("rtx-5090"), catalog.get("h100-sxm")
    doc = project_json("run-001", "--to", "h100-sxm")
    rows = {r["phase"]: r for r in doc["rows"]}
    assert {p: rows[p]["bound"] for p in ("encode", "train", "intervene", "reverse")} == {
        "encode": "compute", "train": "compute", "intervene": "memory", "reverse": "host"}
    assert rows["train"]["projected_s"] == pytest.approx(1500 * src.fp16_tflops / dst.fp16_tflops)
    assert rows["intervene"]["projected_s"] == pytest.approx(
        5400 * src.bandwidth_gbs / dst.bandwidth_gbs)
    assert rows["reverse"]["projected_s"] == pytest.approx(90)
    total = sum(rows[p]["projected_s"] for p in ("encode", "train", "intervene", "reverse"))
    assert rows["total"]["projected_s"] == pytest.approx(total)
    assert rows["total"]["projected_usd"] == pytest.approx(total / 3600 * dst.usd_per_hour)
    assert any("dense FP16 TFLOPS" in a for a in doc["assumptions"])


def test_precision_change_scales_memory_bound_phases_and_the_fit(two_campaigns):
    src, dst = catalog.get("rtx-5090"), catalog.get("h100-sxm")
    doc = project_json("run-001", "--to", "h100-sxm", "--precision", "int8")
    rows = {r["phase"]: r for r in doc["rows"]}
    assert rows["intervene"]["projected_s"] == pytest.approx(
        5400 * src.bandwidth_gbs / dst.bandwidth_gbs * 0.5)  # int8: 1 byte vs fp16's 2
    assert rows["train"]["projected_s"] == pytest.approx(1500 * src.fp16_tflops / dst.fp16_tflops)
    assert doc["target"]["precision"] == "int8"


def test_no_estimate_when_it_does_not_fit(two_campaigns):
    need = 20.3 * 2  # run-001's peak, fp16 -> fp32 doubles the weights
    small = sorted((g for g in catalog.load().values() if g.vram_gb < need),
                   key=lambda g: g.vram_gb)
    if not small:
        pytest.skip("every catalog GPU has room")
    doc = project_json("run-001", "--to", small[0].key, "--precision", "fp32")
    total = doc["rows"][-1]
    assert total["projected_s"] is None and total["projected_usd"] is None
    assert "DOES NOT FIT" in total["fit"]
    assert doc["rows"][1]["fit"].startswith("NO: measured peak x2 needs")


def test_loaded_dtype_beats_the_requested_precision(store):
    """The reference log's "FP16" run had float32 weights: project from what was loaded."""
    from mlflow.tracking import MlflowClient

    sy.make_campaign(MlflowClient(store), "e", sy.CampaignSpec(
        "run-f32", sy.reference_phases(), dtype_loaded="torch.float32"))
    src, dst = catalog.get("rtx-5090"), catalog.get("h100-sxm")
    doc = project_json("run-f32", "--to", "h100-sxm", "--precision", "fp16")
    assert doc["source"]["precision"] == "fp32"
    inter = next(r for r in doc["rows"] if r["phase"] == "intervene")
    assert inter["projected_s"] == pytest.approx(5400 * src.bandwidth_gbs / dst.bandwidth_gbs / 2)


def test_log_stores_the_projection_on_the_campaign_run(two_campaigns, tmp_path):
    doc = project_json("run-001", "--to", "h100-sxm", "--log")
    run_id = two_campaigns["run-001"][0]
    assert doc["artifact"] == f"runs:/{run_id}/cogit-projections/h100-sxm-fp16.json"
    local = two_campaigns["client"].download_artifacts(
        run_id, "cogit-projections/h100-sxm-fp16.json", str(tmp_path))
    stored = json.loads(open(local).read())
    assert stored["kind"] == "cogit.projection"
    assert stored["campaign"]["run_id"] == run_id
    assert stored["total"]["projected_s"] == pytest.approx(doc["rows"][-1]["projected_s"])


def test_bad_input(two_campaigns):
    sy.make_campaign(two_campaigns["client"], "e", sy.CampaignSpec(
        "cpu-run", sy.reference_phases(), gpu_key="none"))
    one_line_error(["project", "cpu-run", "--to", "h100-sxm"], "'cpu-run'", "host speed")
    one_line_error(["project", "run-001", "--to", "tpu-v9"], "tpu-v9")
    one_line_error(["project", "run-001", "--to", "h100-sxm", "--precision", "fp8"], "'fp8'",
                   "int8")
    one_line_error(["project", "run-404", "--to", "h100-sxm"], "'run-404'")


def test_a_logged_projection_checks_against_the_real_run(two_campaigns):
    """run-002 really ran on the H100; compare it with what run-001 projected."""
    from cogit_tracker.planning.projection import check_against, project
    from cogit_tracker.reports.model import load

    camps = {c.label: c for c in load(two_campaigns["uri"])}
    doc = project(camps["run-001"], "h100-sxm")
    result = check_against(doc, camps["run-002"], tolerance=0.25)
    train = next(p for p in result["phases"] if p["phase"] == "train")
    real = 1500 / 11.8
    assert train["actual_s"] == pytest.approx(real)
    assert train["error"] == pytest.approx((train["projected_s"] - real) / real)
    total_err = result["total"]["error"]
    assert result["ok"] == (abs(total_err) <= 0.25)
    assert check_against(doc, camps["run-001"], tolerance=0.01)["ok"] is False  # 5090 != H100


def test_the_memory_planner_checks_the_fit_first(store):
    """The reference log's Phase 3 OOM: 7.6B weights in fp32 plus two 9333-dim operators.
    The planner's verdict comes first; the measured peak (taken in fp16, x2 for fp32) second."""
    from mlflow.tracking import MlflowClient

    from cogit_tracker.planning import memory

    client = MlflowClient(store)
    _, phase_ids = sy.make_campaign(client, "e", sy.CampaignSpec(
        "run-qwen", sy.reference_phases(), gpu_key="h100-sxm", usd_per_hour=2.69))
    client.log_param(phase_ids[0], "quantum_dim", "9333")

    def planner_says(gpu: str, precision: str, training: bool) -> bool:
        plan = memory.plan(model="Qwen/Qwen2.5-7B-Instruct", precision=precision,
                           quantum_dim=9333, train_operators=training)
        return memory.gpu_fit(plan, catalog.get(gpu)).fits_placed

    for gpu in ("rtx-4090", "rtx-5090", "h100-sxm"):
        doc = project_json("run-qwen", "--to", gpu, "--precision", "fp32")
        for row in doc["rows"][:-1]:
            ok = planner_says(gpu, "fp32", row["phase"] == "train")
            assert row["fit"].startswith("NO: plan needs") == (not ok), (gpu, row)
            if ok:
                assert "plan" in row["fit"] or "measured" in row["fit"]
    fp16 = project_json("run-qwen", "--to", "h100-sxm", "--precision", "fp16")
    assert fp16["rows"][-1]["projected_s"] is not None
    assert all("plan " in r["fit"] for r in fp16["rows"][:-1])


def test_cpu_campaign_projects_from_its_measured_host_speed(two_campaigns):
    """A GPU-less run carries the host's measured matmul rate and copy bandwidth; every phase
    moves to the GPU: generation scales by bandwidth, the rest by FLOP rate."""
    from cogit_tracker import schema

    phases = sy.reference_phases(vram_gb=0.0)
    for ph in phases:
        ph.vram_peak_gb = None
        ph.metrics = {**ph.metrics, schema.RAM_PEAK_GB: 0.9}  # what fits is checked on RAM
    sy.make_campaign(two_campaigns["client"], "e", sy.CampaignSpec(
        "cpu-measured", phases, gpu_key="none", gpu_count=0, precision="fp32",
        usd_per_hour=None,
        extra_tags={schema.CPU_GFLOPS: "98.9", schema.CPU_BANDWIDTH_GBS: "33.5"}))
    doc = project_json("cpu-measured", "--to", "h100-sxm")
    rows = {r["phase"]: r for r in doc["rows"]}
    assert rows["intervene"]["bound"] == "memory"
    assert rows["train"]["bound"] == "compute"
    assert rows["train"]["factor"] == pytest.approx(0.0989 / 989, rel=1e-3)
    assert rows["intervene"]["factor"] == pytest.approx(33.5 / 3350, rel=1e-3)
    assert rows["train"]["projected_s"] == pytest.approx(1500 * 0.0989 / 989, rel=1e-3)
    assert doc["rows"][-1]["fit"] != "DOES NOT FIT: no estimate"  # gpu.count 0 -> one GPU
