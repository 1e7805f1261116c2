"""Writing a new decision from command-line options, a markdown file or edited text.

Every road (the prompts and the editor live in the CLI) ends in the same `Decision`, checked by
`model.validate` before the store sees it.
"""
from __future__ import annotations

import re
from datetime import datetime, timezone
from pathlib import Path

from ..errors import BadInput
from ..schema import LINK_ROLES
from .markdown import parse, parse_file, render, template
from .model import Criterion, Decision, Option, default_status, validate
from .verify import parse_criterion

OPTION_ARG = re.compile(r"^\s*([A-Za-z]|\d{1,2})\s*[:).]\s*(.+?)\s*$")
EXPR_ARG = re.compile(r"^(.*?)\s*(?:—|::)\s*`?([^`]+?)`?\s*$")
LOOKS_LIKE_EXPR = re.compile(r"^\s*(?:(?:sum|mean|min|max|count)\s*\(|phase\s*\[|[\w./-]+\s*[<>=!])")
DEFAULT_ROLE = "evidence"
FLAGS = {"decision": "chosen", "options": "option", "criteria": "criterion", "links": "link"}


def now_utc() -> tuple[str, str]:
    now = datetime.now(timezone.utc)
    return now.strftime("%Y-%m-%d"), now.strftime("%H:%M UTC")


def option_arg(value: str) -> Option:
    """`"A: Let it complete"` -> Option("A", "Let it complete")."""
    m = OPTION_ARG.match(value)
    if not m:
        raise BadInput(f"--option {value!r}: write it as 'LABEL: title', e.g. 'A: Let it complete'")
    return Option(m.group(1), m.group(2))


def criterion_arg(value: str, where: str = "--criterion") -> Criterion:
    """`"Phase 3 under 15 min :: phase[intervene].duration_s < 900"` (or an em dash, as in
    the markdown). Without a separator, text that starts like an expression is one
    (`sum(cost_usd) < 1`, `phase[train]...`, `fidelity >= 0.98`); anything else is manual.
    """
    m = EXPR_ARG.match(value)
    if m and m.group(2).strip():
        expr = m.group(2).strip()
    elif LOOKS_LIKE_EXPR.match(value):
        expr = value.strip()
    elif "`" in value:
        raise BadInput(f"{where} {value!r}: a backtick marks an expression, which goes after "
                       "' :: ' (e.g. 'Cheap :: sum(cost_usd) < 1'); accepted without one: "
                       "plain text, checked by hand")
    else:
        return Criterion(value.strip())
    parse_criterion(expr, where=where)
    return Criterion((m.group(1) if m else "") or expr, expr)


def link_arg(value: str) -> tuple[str, str]:
    """`RUN[:role]`; the role defaults to evidence, the weakest claim a link can make."""
    target, _, role = value.rpartition(":")
    if target and role in LINK_ROLES:
        return target, role
    return value, DEFAULT_ROLE


def from_options(title: str | None, context: str, problem: str, options: list[str],
                 chosen: str | None, reason: str, criteria: list[str], analysis: str = "",
                 tradeoffs: str = "", debt: str = "", implications: str = "") -> Decision:
    date, time = now_utc()
    opts = [option_arg(o) for o in options]
    d = Decision(title=(title or "").strip(), date=date, time=time, context=context,
                 problem=problem, analysis=analysis, options=opts, chosen=chosen,
                 reasoning=reason, tradeoffs=tradeoffs, debt=debt,
                 criteria=[criterion_arg(c) for c in criteria], implications=implications,
                 status=default_status(chosen))
    validate(d, lambda f: "--" + FLAGS.get(f, f))
    return d


def check_modes(from_advice: str | None, given: dict[str, object]) -> None:
    """`--from-advice` drafts the whole record, so it takes no section of it by hand; and
    `--choose` and `--setup-min` mean nothing without it."""
    if from_advice:
        clash = [flag for flag, value in given.items()
                 if value and flag not in ("--choose", "--setup-min")]
        if clash:
            raise BadInput(f"{clash[0]}: --from-advice drafts the whole record; accepted with "
                           f"it: --choose, --setup-min, --link, --no-input")
        return
    for flag in ("--choose", "--setup-min"):
        if given.get(flag):
            raise BadInput(f"{flag}: only goes with --from-advice CAMPAIGN")


def from_file(path: str | Path) -> Decision:
    parsed = parse_file(path)
    return _one(parsed.decisions, str(path))


def _unnumbered(text: str) -> str:
    """The heading of a record without a number as the parser reads it back."""
    return text.replace("## Decision #new:", "## Decision:", 1)


def editable(d: Decision) -> str:
    """A record not yet numbered, as markdown to edit and read back (`## Decision: Title`)."""
    return _unnumbered(render(d))


def editor_template() -> str:
    """The template a user fills in `$EDITOR`, dated now."""
    date, time = now_utc()
    text = _unnumbered(template())
    return text.replace("**Context:**", f"**Date:** {date}\n**Time:** {time}\n**Context:**", 1)


def from_text(text: str, source: str) -> Decision:
    """Exactly one record from markdown text (what the editor saved)."""
    return _one(parse(text, source=source).decisions, source)


def _one(decisions: list[Decision], source: str) -> Decision:
    if len(decisions) != 1:
        raise BadInput(f"{source}: found {len(decisions)} '## Decision: Title' records; "
                       "`new` takes exactly one (use `decision import` for a whole log)")
    d = decisions[0]
    d.number = None
    return d
