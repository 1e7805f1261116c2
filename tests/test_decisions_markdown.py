"""The log format both ways: the researcher's own file (read from ../shared, never copied),
and the variants a hand-written log throws at a parser."""
from __future__ import annotations

import pytest

from cogit_tracker.decisions.markdown import parse, parse_file, render, render_log
from cogit_tracker.decisions.model import Criterion, Decision, Option
from cogit_tracker.errors import BadInput
from conftest import REFERENCE_LOG

needs_reference = pytest.mark.skipif(not REFERENCE_LOG.exists(), reason="reference log absent")


def _headings(path) -> list[str]:
    """`###` headings of the decision blocks in the file, read independently of the parser."""
    out, fence = [], False
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.lstrip().startswith("```"):
            fence = not fence
        elif not fence and line.startswith("### "):
            out.append(line[4:].strip())
    return out


@needs_reference
def test_reference_log_yields_exactly_two_decisions_with_every_section():
    parsed = parse_file(REFERENCE_LOG)
    assert [d.number for d in parsed.decisions] == [1, 2]
    d1, d2 = parsed.decisions
    assert d1.title == "GPU Memory Crisis - CPU Fallback Strategy"
    assert d2.title == "Abort RTX 5090, Migrate to H100"
    # every ### section of the file lands in one of the two records, in order
    kept = [h for d in parsed.decisions for _, h in d.layout]
    assert kept == _headings(REFERENCE_LOG)
    assert [e.heading for e in d1.extras] == ["Initial Mistake"]
    assert [e.heading for e in d2.extras] == ["Data Already Saved"]
    assert [o.label for o in d2.options] == ["A", "B", "C"] and d2.chosen == "C"
    c = d2.option("C")
    assert len(c.pros) == 5 and len(c.cons) == 1 and c.other == ["⚠️ Requires pod availability"]
    assert len(d1.criteria) == 4 and len(d2.criteria) == 5
    assert d2.criteria[0].text.startswith("**H100 Phase 3 completes in <15 min**")
    assert "pkill -9" in d2.actions and "TODO_REFACTORING.md" in d2.debt
    assert d1.date == "2025-11-04" and d1.time == "~00:15 UTC"


@needs_reference
def test_reference_mojibake_is_repaired_and_reported():
    raw = REFERENCE_LOG.read_text(encoding="utf-8")
    assert "‚Üí" in raw  # the file really is damaged; otherwise this test proves nothing
    parsed = parse_file(REFERENCE_LOG)
    assert parsed.repaired > 0 and "mojibake" in parsed.warnings[0]
    text = "".join(render(d) for d in parsed.decisions)
    assert "‚Üí" not in text and "‚úÖ" not in text
    assert "U_pos→neg" in parsed.decisions[0].problem
    assert parsed.decisions[1].option("C").pros[0].startswith("**10-15× faster**")


@needs_reference
def test_render_then_parse_gives_back_equal_decisions():
    for d in parse_file(REFERENCE_LOG).decisions:
        again = parse(render(d)).decisions
        assert again == [d]
        assert again[0].layout == d.layout


@needs_reference
def test_whole_log_round_trip_keeps_both_records():
    decisions = parse_file(REFERENCE_LOG).decisions
    again = parse(render_log(decisions)).decisions
    assert again == decisions
    assert again[1].implications.endswith("last resort, not design")  # footer not swallowed


VARIANT = """# My log

## Decision #7: Pick a store

**Date:** 2026-01-02
**Time:** 10:00 UTC
**Context:** two machines

### The Problem

| store | writers |
|-------|---------|
| sqlite | 1 |

```markdown
## Decision #99: not a decision, just an example in a fence
```

### Options Considered

#### 1) SQLite
- ✅ nothing to run
- ❌ one machine

#### 2) PostgreSQL
- ✅ many writers

### Decision Made

**Option 2: PostgreSQL**

### Lessons From The Pub

Verbatim text, *kept*.

### Validation Criteria

1. Both pods log — `count(phase[train]) >= 2`
2. Nobody complains
"""


def test_variant_log_crlf_fence_table_numbered_options_missing_and_extra_sections():
    parsed = parse(VARIANT.replace("\n", "\r\n"))
    assert len(parsed.decisions) == 1
    d = parsed.decisions[0]
    assert (d.number, d.title, d.chosen, d.status) == (7, "Pick a store", "2", "accepted")
    assert "| sqlite | 1 |" in d.problem and "## Decision #99" in d.problem
    assert [o.label for o in d.options] == ["1", "2"] and d.option("1").cons == ["one machine"]
    assert d.extras[0].heading == "Lessons From The Pub"
    assert d.extras[0].body == "Verbatim text, *kept*."
    assert d.criteria == [Criterion("Both pods log", "count(phase[train]) >= 2"),
                          Criterion("Nobody complains")]
    assert d.reasoning == "" and d.analysis == ""          # missing sections stay empty
    assert "\r" not in render(d)
    again = parse(render(d)).decisions[0]
    assert again == d
    assert [h for _, h in again.layout].index("Lessons From The Pub") == 3   # order kept


def test_new_record_renders_in_template_order_and_round_trips():
    d = Decision(title="T", number=3, date="2026-11-24", context="c", problem="p",
                 options=[Option("A", "one", ["fast"], ["risky"]), Option("B", "two")],
                 chosen="B", reasoning="1. because", criteria=[
                     Criterion("cheap", "sum(cost_usd) < 1.00"), Criterion("by hand")],
                 status="accepted")
    text = render(d)
    assert text.index("### The Problem") < text.index("### Options Considered") \
        < text.index("### Decision Made") < text.index("### Validation Criteria")
    assert "1. cheap — `sum(cost_usd) < 1.00`" in text
    assert parse(text).decisions == [d]


@pytest.mark.parametrize("text, where, value", [
    (VARIANT.replace("**Option 2: PostgreSQL**", "**Option 3: Files**"), ":28", "'3'"),
    (VARIANT.replace("count(phase[train]) >= 2", "count(phase[train] >= 2"), ":38", "column"),
    (VARIANT.replace("Pick a store", ""), ":3", "title"),
])
def test_bad_records_name_file_line_and_value(tmp_path, text, where, value):
    path = tmp_path / "log.md"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(BadInput) as err:
        parse_file(path)
    msg = str(err.value)
    assert f"{path}{where}" in msg and value in msg and "\n" not in msg


def test_unreadable_files_are_one_line_errors(tmp_path):
    with pytest.raises(BadInput, match="cannot read"):
        parse_file(tmp_path / "missing.md")
    bad = tmp_path / "latin1.md"
    bad.write_bytes("## Decision #1: caf\xe9\n".encode("latin-1"))
    with pytest.raises(BadInput, match=r"latin1.md:1: byte 0xe9 is not UTF-8"):
        parse_file(bad)


def test_level_three_option_headings_stay_inside_options():
    text = ("## Decision #3: Pick\n\n### Options Considered\n\n### Option 1: Wait\n- ✅ cheap\n\n"
            "### Option 2: Go\n- ❌ costly\n\n### Decision Made\n\nOption 2\n")
    [d] = parse(text).decisions
    assert [o.title for o in d.options] == ["Wait", "Go"] and d.extras == []
    assert d.chosen == "2" and parse(render(d)).decisions == [d]
