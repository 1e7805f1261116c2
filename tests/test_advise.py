"""`cogit-log advise`: the options table on campaigns written with the real tag schema
(tests/support/synthetic.py) into a real sqlite store. Expected figures come from the
catalog's own specs and from `project`, never typed in."""
from __future__ import annotations

import json
import time

import pytest
from click.testing import CliRunner

from cogit_tracker import schema as s
from cogit_tracker.cli import cli
from cogit_tracker.machine import catalog
from support import synthetic as sy
from support.cli_checks import one_line_error

FOUR = "encode,train,intervene,reverse"


def advise(*args: str) -> dict:
    res = CliRunner().invoke(cli, ["advise", *args, "--json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.output)
    return {o["key"]: o for o in doc["options"]} | {"_doc": doc}


@pytest.fixture
def running(two_campaigns):
    """run-003 on the RTX 5090 like run-001, RUNNING: encode and train finished, intervene
    one third done with an ETA of 3,600 s, reverse not started."""
    phases = sy.reference_phases()[:3]
    phases[2].status, phases[2].duration_s = "RUNNING", None
    phases[2].metrics = {s.PROGRESS: 1 / 3, s.ETA_S: 3600.0, s.COST_USD: 0.45}
    start = int(time.time() * 1000) - (420 + 1500 + 1800) * 1000  # intervene began 30 min ago
    sy.make_campaign(two_campaigns["client"], "cogit-qmech", sy.CampaignSpec(
        "run-003", phases, status="RUNNING", start_ms=start,
        extra_tags={s.PHASES_PLANNED: FOUR}))
    return two_campaigns


def test_continue_comes_from_the_eta_and_the_earlier_campaign(running):
    opts = advise("run-003", "--gpu", "h100-sxm", "--setup-min", "0")
    here = opts["continue"]
    assert here["phases"]["intervene"] == pytest.approx(3600)
    assert here["phases"]["reverse"] == pytest.approx(90)  # as long as in run-001
    assert here["time_s"] == pytest.approx(3690)
    spent = 420 / 3600 * 0.89 + 1500 / 3600 * 0.89 + 0.45
    assert opts["_doc"]["campaign"]["spent_usd"] == pytest.approx(spent, rel=1e-4)
    assert here["total_usd"] == pytest.approx(spent + 3690 / 3600 * 0.89, rel=1e-4)


def test_a_move_restarts_the_running_phase_and_reuses_the_finished_ones(running):
    src, dst = catalog.get("rtx-5090"), catalog.get("h100-sxm")
    opts = advise("run-003", "--gpu", "h100-sxm", "--setup-min", "10")
    move = opts["h100-sxm"]
    assert list(move["phases"]) == ["intervene", "reverse"]
    whole = 1800 + 3600  # 30 min run + the ETA: it starts again there, memory-bound
    assert move["phases"]["intervene"] == pytest.approx(
        whole * src.bandwidth_gbs / dst.bandwidth_gbs, rel=0.01)
    assert move["phases"]["reverse"] == pytest.approx(90)  # host-bound: unchanged
    assert move["time_s"] == pytest.approx(sum(move["phases"].values()) + 600)
    assert move["cost_usd"] == pytest.approx(move["time_s"] / 3600 * dst.usd_per_hour)
    assert any("intervene restarts" in a for a in move["assumptions"])
    assert any("(encode, train) are reused" in a for a in move["assumptions"])


def test_a_finished_campaign_projects_as_project_does(two_campaigns):
    opts = advise("run-001", "--gpu", "h100-sxm", "--setup-min", "0")
    res = CliRunner().invoke(cli, ["project", "run-001", "--to", "h100-sxm", "--json"])
    projected = json.loads(res.output)["total"]
    assert opts["h100-sxm"]["time_s"] == pytest.approx(projected["projected_s"])
    assert opts["h100-sxm"]["cost_usd"] == pytest.approx(projected["projected_usd"])
    assert opts["continue"]["time_s"] == pytest.approx(420 + 1500 + 5400 + 90)


def test_precision_options_rerun_everything_and_show_the_measured_quality(two_campaigns):
    sy.make_campaign(two_campaigns["client"], "cogit-qmech", sy.CampaignSpec(
        "run-int8", sy.reference_phases(fidelity=0.97), precision="int8"))
    opts = advise("run-001", "--precision", "int8", "--gpu", "h100-sxm", "--setup-min", "0")
    assert list(opts["int8"]["phases"]) == ["encode", "train", "intervene", "reverse"]
    assert opts["int8"]["quality"].startswith("fidelity 0.989 -> 0.970 (-0.019)")
    assert "h100-sxm/int8" in opts  # both flags: each GPU at each precision too
    assert opts["h100-sxm"]["quality"] == "same precision: none expected"
    marked = [o for o in opts.values() if isinstance(o, dict) and "cheapest" in o.get("marks", [])]
    assert len(marked) == 1
    assert marked[0]["total_usd"] == min(o["total_usd"] for k, o in opts.items()
                                         if k != "_doc" and o["fits"] and o["total_usd"])


def test_a_gpu_too_small_does_not_fit_and_gets_no_time(two_campaigns):
    small = min(catalog.load().values(), key=lambda g: g.vram_gb)
    if small.vram_gb >= 20.3:
        pytest.skip("every catalog GPU holds run-001's peak")
    opt = advise("run-001", "--gpu", small.key)[small.key]
    assert not opt["fits"] and opt["time_s"] is None and opt["cost_usd"] is None
    assert "NO: measured peak" in opt["fit_note"]


def test_the_table_says_what_every_option_assumed(two_campaigns):
    res = CliRunner().invoke(cli, ["advise", "run-001", "--gpu", "h100-sxm"])
    assert res.exit_code == 0, res.output
    assert "Shared assumptions:" in res.output and "A [continue]:" in res.output
    assert "B [int8]:" in res.output and "set-up 5 min" in res.output


def test_bad_input(two_campaigns):
    sy.make_campaign(two_campaigns["client"], "cogit-qmech", sy.CampaignSpec(
        "just-started", [sy.PhaseSpec("encode", None, status="RUNNING")], status="RUNNING",
        model="no/earlier-run"))  # no progress, nothing finished, no earlier campaign
    one_line_error(["advise", "just-started"], "'just-started'", "nothing to base an ETA on")
    one_line_error(["advise", "run-001", "--gpu", "tpu-v9"], "'tpu-v9'", "h100-sxm")
    one_line_error(["advise", "run-001", "--precision", "fp8"], "'fp8'", "int8")
    one_line_error(["advise", "run-001", "--setup-min", "-5"], "--setup-min -5", ">= 0")
    one_line_error(["advise", "run-404"], "'run-404'")


@pytest.mark.parametrize("args", [["advise", "c1"], ["report", "--accuracy"],
                                  ["runs", "watch"],
                                  ["decision", "new", "--from-advice", "c1", "--no-input"]])
def test_reading_a_store_that_does_not_exist_creates_none(args, tmp_path):
    missing = tmp_path / "nowhere.db"
    res = CliRunner().invoke(cli, [*args, "--tracking-uri", f"sqlite:///{missing}"])
    assert res.exit_code == 2, res.output
    assert "does not exist" in res.output and not missing.exists()
