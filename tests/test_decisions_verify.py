"""The criterion grammar and its evaluation over runs' tags and latest metrics."""
from __future__ import annotations

import pytest

from cogit_tracker.decisions.verify import (Check, RunView, evaluate, parse_criterion, scope,
                                            verdict)
from cogit_tracker.errors import BadInput


def phase(name, gpu, status="FINISHED", **metrics):
    return RunView({"cogit.kind": "phase", "cogit.phase": name, "cogit.gpu.key": gpu},
                   metrics, status)


def campaign(*phases):
    return RunView({"cogit.kind": "campaign"}, {}, "FINISHED", list(phases))


RTX = campaign(phase("train", "rtx-5090", fidelity=0.989, cost_usd=0.30, duration_s=1200),
               phase("intervene", "rtx-5090", duration_s=7200, cost_usd=1.78))
H100 = campaign(phase("train", "h100-sxm", fidelity=0.991, cost_usd=0.10, duration_s=300),
                phase("intervene", "h100-sxm", duration_s=600, cost_usd=0.25))


def test_grammar_reads_the_issue_examples():
    assert parse_criterion("phase[intervene].duration_s < 900 where gpu.key = h100-sxm") == \
        Check(None, "intervene", "duration_s", "<", 900.0, (("cogit.gpu.key", "=", "h100-sxm"),))
    assert parse_criterion("sum(cost_usd) < $1.00") == Check("sum", None, "cost_usd", "<", 1.0)
    assert parse_criterion("count(phase[reverse]) >= 1").metric is None
    c = parse_criterion("mean(phase['train'].fidelity)>=0.98 where precision != int8 and "
                        "cogit.gpu.key = 'h100-sxm'")
    assert c.where == (("cogit.precision", "!=", "int8"), ("cogit.gpu.key", "=", "h100-sxm"))


@pytest.mark.parametrize("text, column", [
    ("sum(cost_usd < 1", 14),            # missing ')'
    ("phase[train].fidelity >= high", 26),
    ("phase[train] >= 1", 14),           # a phase alone needs count()
    ("fidelity >= 0.9 where", 22),
    ("fidelity >= 0.9 or loss < 1", 17),
    ("fidelity ~ 0.9", 10),
])
def test_malformed_criteria_name_the_column(text, column):
    with pytest.raises(BadInput) as err:
        parse_criterion(text, where="log.md:12")
    assert str(err.value).startswith(f"log.md:12: criterion {text!r}")
    assert f"at column {column} " in str(err.value)


def test_where_filters_and_aggregates_over_campaign_phases():
    linked = [RTX, H100]
    assert len(scope(linked)) == 4
    h100 = evaluate(parse_criterion("phase[intervene].duration_s < 900 where gpu.key = h100-sxm"),
                    linked)
    assert (h100.state, h100.value, h100.runs) == ("pass", 600, 1)
    both = evaluate(parse_criterion("phase[intervene].duration_s < 900"), linked)
    assert (both.state, both.value) == ("fail", [7200, 600])
    total = evaluate(parse_criterion("sum(cost_usd) < 1.00 where gpu.key = h100-sxm"), linked)
    assert total.state == "pass" and total.value == pytest.approx(0.35)
    assert evaluate(parse_criterion("sum(cost_usd) < 1.00"), linked).state == "fail"
    assert evaluate(parse_criterion("min(phase[train].fidelity) >= 0.98"), linked).value == 0.989
    assert evaluate(parse_criterion("count(phase[train]) = 2"), linked).state == "pass"


def test_running_or_missing_values_are_pending_failed_runs_give_no_value():
    live = campaign(phase("train", "h100-sxm", status="RUNNING", fidelity=0.5))
    assert evaluate(parse_criterion("phase[train].fidelity >= 0.98"), [live]).state == "pending"
    assert evaluate(parse_criterion("phase[reverse].fidelity >= 0.98"), [H100]).state == "pending"
    dead = campaign(phase("intervene", "h100-sxm", status="FAILED", duration_s=10))
    out = evaluate(parse_criterion("phase[intervene].duration_s < 900"), [dead])
    assert out.state == "pending" and out.value is None


def test_verdict_waits_for_every_checkable_criterion():
    from cogit_tracker.decisions.verify import Outcome

    p, f, q, m = (Outcome(s, None, 0) for s in ("pass", "fail", "pending", "manual"))
    assert verdict([p, m]) == "validated"
    assert verdict([p, f, m]) == "refuted"
    assert verdict([p, q]) is None
    assert verdict([m]) is None
