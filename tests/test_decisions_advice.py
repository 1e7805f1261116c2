"""Decisions from the options table (`decision new --from-advice`) and checkable criteria for
records that already exist (`decision criterion`), on a real sqlite store."""
from __future__ import annotations

import json
import shlex
import sys

import pytest
from click.testing import CliRunner

from cogit_tracker.cli import cli
from conftest import REFERENCE_LOG
from support import synthetic as sy
from support.cli_checks import one_line_error

H100_PHASE_3 = "phase[intervene].duration_s < 900 where gpu.key = h100-sxm"
needs_log = pytest.mark.skipif(not REFERENCE_LOG.exists(), reason="reference log absent")


def run(*args: str, env: dict | None = None):
    return CliRunner().invoke(cli, list(args), env=env)


@needs_log
def test_the_reference_logs_criteria_become_checkable(two_campaigns, tmp_path):
    """Decision #002 promised "H100 Phase 3 completes in <15 min" and "Total cost < $1.00";
    imported, both were manual. Attached expressions make `verify` hold them."""
    assert run("decision", "import", str(REFERENCE_LOG)).exit_code == 0
    res = run("decision", "criterion", "2", "1", H100_PHASE_3)
    assert res.exit_code == 0, res.output
    assert "H100 Phase 3 completes in <15 min" in res.output and H100_PHASE_3 in res.output
    assert run("decision", "criterion", "2", "5", "sum(cost_usd) < 1.00").exit_code == 0

    out = tmp_path / "export"
    assert run("decision", "export", "--dir", str(out)).exit_code == 0
    text = next(out.glob("0002-*.md")).read_text(encoding="utf-8")
    assert f"1. **H100 Phase 3 completes in <15 min** (vs 2hr projected on RTX 5090) — " \
           f"`{H100_PHASE_3}`" in text

    # the H100 run that followed: 11.8x faster than run-001, at $2.99/h
    sy.make_campaign(two_campaigns["client"], "cogit-qmech", sy.CampaignSpec(
        "h100-run", sy.reference_phases(speed=11.8), gpu_key="h100-sxm", usd_per_hour=2.99))
    assert run("decision", "link", "2", "h100-run", "--role", "validation").exit_code == 0
    ver = json.loads(run("decision", "verify", "2", "--json").output)
    states = [c["state"] for c in ver["criteria"]]
    assert states == ["pass", "manual", "manual", "manual", "pass"]
    assert ver["criteria"][0]["value"] == pytest.approx(5400 / 11.8)
    assert ver["status"] == "validated"


@needs_log
def test_a_criterion_can_be_made_manual_again_and_bad_ones_are_refused(store):
    assert run("decision", "import", str(REFERENCE_LOG)).exit_code == 0
    assert run("decision", "criterion", "2", "1", H100_PHASE_3).exit_code == 0
    assert "(manual)" in run("decision", "criterion", "2", "1", "-").output
    one_line_error(["decision", "criterion", "2", "9", H100_PHASE_3], "criterion 9", "1 to 5")
    one_line_error(["decision", "criterion", "2", "0", H100_PHASE_3], "criterion 0")
    one_line_error(["decision", "criterion", "2", "1", "phase[intervene].duration_s <"],
                   "criterion 1", "a number")
    one_line_error(["decision", "criterion", "7", "1", H100_PHASE_3], "#007")


def test_a_draft_from_advice_takes_the_cheapest_option_with_criteria(two_campaigns):
    res = run("decision", "new", "--from-advice", "run-001", "--no-input", "--json")
    assert res.exit_code == 0, res.output
    d = json.loads(res.output)
    chosen = next(o for o in d["options"] if o["label"] == d["chosen"])
    assert any("cheapest" in p for p in chosen["pros"])
    assert d["status"] == "accepted" and d["links"] and set(d["links"].values()) == {"context"}
    assert d["criteria"] and all(c["expr"] for c in d["criteria"])
    assert d["criteria"][-1]["expr"].startswith("sum(cost_usd) < ")
    assert "Derived from the projection" in d["criteria_note"]


def test_the_draft_opens_in_the_editor_unless_no_input(two_campaigns, tmp_path):
    script = tmp_path / "editor.py"
    script.write_text("import re, sys\np = sys.argv[1]\ntext = open(p).read()\n"
                      "open(p, 'w').write(re.sub(r'^## Decision: .*$', '## Decision: Edited',"
                      " text, count=1, flags=re.M))\n")
    editor = f"{shlex.quote(sys.executable)} {shlex.quote(str(script))}"
    res = run("decision", "new", "--from-advice", "run-001", "--choose", "h100-sxm", "--json",
              env={"EDITOR": editor, "VISUAL": editor})
    assert res.exit_code == 0, res.output
    d = json.loads(res.output)
    assert d["title"] == "Edited"
    assert all("gpu.key = h100-sxm" in c["expr"] for c in d["criteria"])


def test_from_advice_bad_input_writes_nothing(two_campaigns):
    one_line_error(["decision", "new", "--from-advice", "run-001", "--title", "x"],
                   "--title", "--from-advice")
    one_line_error(["decision", "new", "--no-input", "--title", "x", "--choose", "A"],
                   "--choose", "--from-advice")
    one_line_error(["decision", "new", "--from-advice", "run-001", "--choose", "tpu-v9",
                    "--no-input"], "'tpu-v9'")
    one_line_error(["decision", "new", "--from-advice", "run-001", "--setup-min", "-1",
                    "--no-input"], "--setup-min")
    one_line_error(["decision", "new", "--from-advice", "run-404", "--no-input"], "'run-404'")
    assert json.loads(run("decision", "list", "--json").output) == []
