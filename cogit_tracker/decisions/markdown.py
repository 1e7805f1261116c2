"""Markdown both ways: a Captain's Log file <-> `Decision` records.

The format is the researcher's own (`## Decision #002: Title`, `**Date:**` lines, `###`
sections, `#### A) Option` headings with ✅/❌ bullets). Parsing is line based and fence
aware, so a `## Decision` line inside a code block is text, not a record. Sections the template
does not know are kept verbatim and in order, so nothing written by hand is lost on import.

A validation criterion that can be checked carries its expression after an em dash, in
backticks:  `1. H100 Phase 3 completes in <15 min — `phase[intervene].duration_s < 900``.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import BadInput
from .model import SECTIONS, Criterion, Decision, Extra, Option, default_status, validate
from .verify import parse_criterion

DECISION_HEADING = re.compile(r"^##\s+Decision\s*(?:#\s*(\d+))?\s*:\s*(.*?)\s*$")
FIELD_LINE = re.compile(r"^\*\*(Date|Time|Context|Status):\*\*\s*(.*?)\s*$", re.I)
OPTION_HEADING = re.compile(r"^#{3,4}\s+(?:Option\s+)?([A-Za-z]|\d{1,2})\s*[).:]\s*(.*?)\s*$")
CHOSEN = re.compile(r"\bOption\s+([A-Za-z]|\d{1,2})\b")
CRITERION_ITEM = re.compile(r"^(?:\d+[.)]|[-*])\s+(.*)$")
CRITERION_EXPR = re.compile(r"^(.*?)\s+—\s+`([^`]+)`\s*$", re.S)
BULLET = re.compile(r"^[-*]\s+(.*)$")
RULE = re.compile(r"^\s*(?:-{3,}|\*{3,}|_{3,})\s*$")
FOOTER_LINE = re.compile(r"^\*\*[^*]+:\*\*.*$")
PRO, CON = "✅", "❌"

ALIASES = {
    "context": "context",
    "the problem": "problem", "problem": "problem",
    "full strategic analysis": "analysis", "strategic analysis": "analysis",
    "analysis": "analysis",
    "options considered": "options", "options": "options",
    "decision made": "decision", "decision": "decision",
    "reasoning": "reasoning",
    "tradeoffs accepted": "tradeoffs", "tradeoffs": "tradeoffs",
    "trade-offs accepted": "tradeoffs", "trade-offs": "tradeoffs",
    "technical debt created": "debt", "technical debt acknowledged": "debt",
    "technical debt": "debt",
    "validation criteria": "criteria", "validation": "criteria",
    "future implications": "implications", "implications": "implications",
    "actions taken": "actions", "actions": "actions",
}


@dataclass
class Parsed:
    """What a log file yields: the records, where each begins, and what was repaired."""

    decisions: list[Decision]
    lines: list[int]                 # 1-based line of each record's heading
    repaired: int = 0                # lines whose mojibake ftfy repaired
    warnings: list[str] = field(default_factory=list)


# ---------------------------------------------------------------- reading


#: the largest log read (the researcher's month is 60 KB): `/dev/zero`, a pipe that never
#: ends or a multi-GB file by mistake is refused, not read until memory runs out
MAX_LOG_BYTES = 16 * 2**20


def read_text(path: str | Path) -> tuple[str, int]:
    """The file as clean text: LF line ends, Mac Roman mojibake repaired (count of lines).
    At most `MAX_LOG_BYTES` are read, whatever the file is."""
    import ftfy

    path = Path(path)
    try:
        with path.open("rb") as fh:
            raw = fh.read(MAX_LOG_BYTES + 1)
    except OSError as exc:
        raise BadInput(f"{path}: cannot read the file ({exc.strerror or exc})") from None
    if len(raw) > MAX_LOG_BYTES:
        raise BadInput(f"{path}: more than {MAX_LOG_BYTES // 2**20} MiB; accepted: a "
                       "Captain's Log markdown file up to that size")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise BadInput(f"{path}:{line}: byte {raw[exc.start]:#04x} is not UTF-8 text; "
                       "save the log as UTF-8") from None
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    fixed = ftfy.fix_encoding(text)
    repaired = sum(a != b for a, b in zip(text.split("\n"), fixed.split("\n")))
    return fixed, repaired


def parse_file(path: str | Path) -> Parsed:
    text, repaired = read_text(path)
    parsed = parse(text, source=str(path))
    parsed.repaired = repaired
    if repaired:
        parsed.warnings.append(f"{path}: repaired Mac Roman mojibake (e.g. '‚Üí' for '→') "
                               f"on {repaired} lines with ftfy")
    return parsed


def parse(text: str, source: str = "<text>") -> Parsed:
    """Every `## Decision ...` block of a log; other `##` blocks (a template) are skipped."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    blocks = _blocks(lines)
    decisions, starts = [], []
    for i, (start, end) in enumerate(blocks):
        m = DECISION_HEADING.match(lines[start])
        if not m:
            continue
        body = lines[start + 1:end]
        if i == len(blocks) - 1:
            body = _drop_footer(body)
        decisions.append(_decision(m, body, start + 1, source))
        starts.append(start + 1)
    return Parsed(decisions, starts)


def _outside_fences(lines: list[str]):
    """(index, line) of each line that is not inside a fenced code block."""
    fence = ""
    for i, line in enumerate(lines):
        stripped = line.lstrip()
        if fence:
            if stripped.startswith(fence):
                fence = ""
            continue
        if stripped.startswith("```") or stripped.startswith("~~~"):
            fence = stripped[:3]
            continue
        yield i, line


def _blocks(lines: list[str]) -> list[tuple[int, int]]:
    """(start, end) of each level-2 block; a level-1 heading also ends one."""
    heads = [(i, ln) for i, ln in _outside_fences(lines) if ln.startswith("#") and
             re.match(r"^#{1,2}\s", ln)]
    blocks = []
    for k, (i, ln) in enumerate(heads):
        if ln.startswith("## "):
            end = heads[k + 1][0] if k + 1 < len(heads) else len(lines)
            blocks.append((i, end))
    return blocks


def _drop_footer(body: list[str]) -> list[str]:
    """The log's own footer (`---` then `**Last Updated:**` lines) is not part of a record."""
    rules = [i for i, _ in _outside_fences(body) if RULE.match(body[i])]
    if rules:
        tail = [ln for ln in body[rules[-1] + 1:] if ln.strip()]
        if tail and all(FOOTER_LINE.match(ln) for ln in tail):
            return body[:rules[-1]]
    return body


def _trim(lines: list[str]) -> str:
    """Section text without surrounding blank lines and trailing horizontal rules."""
    while lines and (not lines[-1].strip() or RULE.match(lines[-1])):
        lines = lines[:-1]
    while lines and not lines[0].strip():
        lines = lines[1:]
    return "\n".join(lines)


def _decision(m: re.Match, body: list[str], line0: int, source: str) -> Decision:
    number = int(m.group(1)) if m.group(1) else None
    d = Decision(title=m.group(2), number=number)
    where_line = {"title": line0, "status": line0}
    sections = _section_starts(body)
    header_end = sections[0][0] if sections else len(body)
    preamble, status_given = [], False
    for ln in body[:header_end]:
        f = FIELD_LINE.match(ln)
        if f is None:
            preamble.append(ln)
        elif f.group(1).lower() == "status":
            d.status, status_given = f.group(2).lower(), True
        else:
            setattr(d, f.group(1).lower(), f.group(2))
    d.preamble = _trim(preamble)
    for k, (i, ln) in enumerate(sections):
        end = sections[k + 1][0] if k + 1 < len(sections) else len(body)
        heading, key = ln[3:].strip(), _key(ln)
        text = _trim(body[i + 1:end])
        line = line0 + 1 + i
        if key is None or key in where_line:
            d.extras.append(Extra(heading, text))
            d.layout.append(("extra", heading))
            continue
        where_line[key] = line
        d.layout.append((key, heading))
        _fill(d, key, text, line, source)
    if not status_given:
        d.status = default_status(d.chosen)
    validate(d, lambda f: f"{source}:{where_line.get(f, line0)}")
    return d


def _section_starts(body: list[str]) -> list[tuple[int, str]]:
    """`###` headings, except `### A) ...` option headings inside "Options Considered"."""
    starts: list[tuple[int, str]] = []
    for i, ln in _outside_fences(body):
        if not re.match(r"^###\s", ln):
            continue
        in_options = starts and _key(starts[-1][1]) == "options"
        if not (in_options and OPTION_HEADING.match(ln)):
            starts.append((i, ln))
    return starts


def _key(heading_line: str) -> str | None:
    return ALIASES.get(re.sub(r"\s+", " ", heading_line[3:].strip().lower().strip(" :")))


def _fill(d: Decision, key: str, text: str, line: int, source: str) -> None:
    if key == "options":
        d.options, d.options_note = _options(text)
    elif key == "decision":
        d.statement = text
        m = CHOSEN.search(text)
        d.chosen = m.group(1) if m and d.options else None
    elif key == "criteria":
        d.criteria_note, d.criteria = _criteria(text, line, source)
    else:
        setattr(d, key, text)


def _options(text: str) -> tuple[list[Option], str]:
    lines = text.split("\n")
    options: list[Option] = []
    note: list[str] = []
    items: list[str] | None = None
    fenced = {i for i in range(len(lines))} - {i for i, _ in _outside_fences(lines)}
    for i, ln in enumerate(lines):
        m = OPTION_HEADING.match(ln) if i not in fenced else None
        if m:
            options.append(Option(label=m.group(1), title=m.group(2)))
            items = None
            continue
        if not options:
            note.append(ln)
            continue
        opt = options[-1]
        b = BULLET.match(ln)
        if b and i not in fenced:
            item = b.group(1)
            if item.startswith(PRO):
                items = opt.pros
                item = item[len(PRO):].strip()
            elif item.startswith(CON):
                items = opt.cons
                item = item[len(CON):].strip()
            else:
                items = opt.other
            items.append(item)
        elif ln.strip() and items:
            items[-1] += "\n" + ln
        elif ln.strip():
            opt.other.append(ln)
    return options, _trim(note)


def _criteria(text: str, line: int, source: str) -> tuple[str, list[Criterion]]:
    lines = text.split("\n")
    note: list[str] = []
    items: list[tuple[str, int]] = []
    first = line + 1 + next((i for i, ln in enumerate(lines) if ln.strip()), 0) + 1
    for i, ln in enumerate(lines):
        m = CRITERION_ITEM.match(ln)
        if m:
            items.append((m.group(1), first + i))
        elif items and ln.strip():
            items[-1] = (items[-1][0] + "\n" + ln, items[-1][1])
        elif not items:
            note.append(ln)
    criteria = []
    for item, at in items:
        m = CRITERION_EXPR.match(item)
        if m:
            parse_criterion(m.group(2), where=f"{source}:{at}")
            criteria.append(Criterion(m.group(1), m.group(2)))
        else:
            criteria.append(Criterion(item))
    return _trim(note), criteria


# ---------------------------------------------------------------- writing


def render(d: Decision) -> str:
    """One record in the log's format; `parse(render(d))` gives back `d`."""
    out = [f"## {d.heading}", ""]
    context_as_section = "\n" in d.context or any(k == "context" for k, _ in d.layout)
    fields = [("Date", d.date), ("Time", d.time)]
    if not context_as_section:
        fields.append(("Context", d.context))
    fields.append(("Status", d.status))
    out += [f"**{name}:** {value}" for name, value in fields if value]
    if d.preamble:
        out += ["", d.preamble]
    for heading, body in _sections(d, context_as_section):
        out += ["", f"### {heading}", "", body]
    return "\n".join(out) + "\n"


def _sections(d: Decision, context_as_section: bool):
    """(heading, body) in the record's own order, then the template's for the rest."""
    bodies = {
        "context": d.context if context_as_section else "",
        "problem": d.problem, "analysis": d.analysis, "options": _render_options(d),
        "decision": d.statement, "reasoning": d.reasoning,
        "tradeoffs": d.tradeoffs, "debt": d.debt, "criteria": _render_criteria(d),
        "implications": d.implications, "actions": d.actions,
    }
    extras = iter(d.extras)
    done: set[str] = set()
    for key, heading in d.layout:
        if key == "extra":
            extra = next(extras, None)
            if extra is not None:
                yield extra.heading, extra.body
        elif key in bodies and key not in done:
            done.add(key)
            if bodies[key]:
                yield heading, bodies[key]
    for key, heading in SECTIONS.items():
        if key not in done and bodies[key]:
            yield heading, bodies[key]
    for extra in extras:
        yield extra.heading, extra.body


def _render_options(d: Decision) -> str:
    out = [d.options_note] if d.options_note else []
    for opt in d.options:
        lines = [f"#### {opt.label}) {opt.title}"]
        lines += [f"- {PRO} {p}" for p in opt.pros]
        lines += [f"- {CON} {c}" for c in opt.cons]
        lines += [f"- {o}" if not o.startswith(" ") else o for o in opt.other]
        out.append("\n".join(lines))
    return "\n\n".join(out)


def _render_criteria(d: Decision) -> str:
    items = [f"{i}. {c.text}" + (f" — `{c.expr}`" if c.expr else "")
             for i, c in enumerate(d.criteria, 1)]
    return "\n\n".join(p for p in (d.criteria_note, "\n".join(items)) if p)


def render_log(decisions: list[Decision], title: str = "Strategic Decision Log") -> str:
    """The whole log, in the layout of the researcher's file: header, records, footer."""
    dates = sorted(d.date for d in decisions if d.date)
    parts = [f"# {title}\n\n**Format:** one section per decision, written by "
             "`cogit-log decision export --single`.\n"]
    parts += [render(d) for d in decisions]
    footer = ""
    if dates:
        footer += f"**Last Updated:** {dates[-1]}\n"
    footer += f"**Decisions Logged:** {len(decisions)}\n"
    parts.append(footer)
    return "\n---\n\n".join(parts)


def template() -> str:
    """What `decision new --edit` opens: every section, with a hint of what goes there."""
    d = Decision(
        title="<title>", date="", time="", context="<what was happening>",
        problem="<the issue that forced a decision>", analysis="<reasoning, figures>",
        options=[Option("A", "<first option>", ["<pro>"], ["<con>"]),
                 Option("B", "<second option>", ["<pro>"], ["<con>"])],
        chosen="A", status="accepted", reasoning="1. <why>", tradeoffs="- <what we gave up>",
        debt="- <code to revisit>",
        criteria=[Criterion("<checked by hand>"),
                  Criterion("<checked against linked runs>", "sum(cost_usd) < 1.00")],
        implications="<impact on future work>",
    )
    return render(d)
