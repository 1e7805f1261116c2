"""Validation criteria that a machine can check: a small grammar of our own, never `eval`.

    criterion  := operand OP number [ "where" cond { "and" cond } ]
    operand    := AGG "(" selector ")" | selector          AGG: sum mean min max count
    selector   := "phase" "[" name "]" [ "." metric ] | metric
    cond       := tag ("=" | "!=") value                   tag: gpu.key -> cogit.gpu.key

Examples: `phase[intervene].duration_s < 900 where gpu.key = h100-sxm`,
`sum(cost_usd) < 1.00`, `phase[train].fidelity >= 0.98`, `count(phase[reverse]) >= 1`.

Semantics, chosen so that a decision linked to whole campaigns is judged by their phases:
the runs in scope are the linked runs, with each linked campaign replaced by its phase runs.
Only FINISHED runs give values; while a selected run is still RUNNING the criterion is
pending, and so is one with no value yet. A bare metric must hold for every selected run; an
aggregate is computed over the latest values of the selected runs.
"""
from __future__ import annotations

import operator
import re
from dataclasses import dataclass, field

from ..errors import BadInput
from ..schema import KIND, PHASE

AGGREGATES = ("sum", "mean", "min", "max", "count")
OPS = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge,
       "=": operator.eq, "==": operator.eq, "!=": operator.ne}
NAME = r"[A-Za-z_][\w/\-]*(?:\.[A-Za-z_][\w/\-]*)*"  # a metric, tag or bare value
_PLAIN = re.compile(rf"^{NAME}$")
TOKEN = re.compile(rf"""
    (?P<space>\s+)
  | (?P<number>\$?-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?(?![\w.]))
  | (?P<string>'[^']*'|"[^"]*")
  | (?P<op><=|>=|==|!=|<|>|=)
  | (?P<punct>[()\[\].])
  | (?P<name>{NAME})
""", re.X)


def literal(value: str) -> str | None:
    """`value` as the grammar reads a tag value: bare, or quoted; None if it cannot be."""
    if _PLAIN.match(value):
        return value
    for quote in ("'", '"'):
        if quote not in value:
            return f"{quote}{value}{quote}"
    return None


@dataclass(frozen=True)
class Check:
    """A parsed criterion expression."""

    aggregate: str | None
    phase: str | None
    metric: str | None
    op: str
    threshold: float
    where: tuple[tuple[str, str, str], ...] = ()


@dataclass
class RunView:
    """What a criterion needs to know of one run: its tags, latest metrics and status."""

    tags: dict[str, str]
    metrics: dict[str, float]
    status: str = "FINISHED"
    children: list["RunView"] = field(default_factory=list)


@dataclass
class Outcome:
    state: str                         # pass | fail | pending | manual
    value: float | list[float] | None  # what was measured
    runs: int                          # how many runs it was measured on


class _Tokens:
    def __init__(self, text: str, where: str):
        self.text, self.where, self.items, pos = text, where, [], 0
        while pos < len(text):
            m = TOKEN.match(text, pos)
            if not m:
                self.fail(pos, f"unexpected character {text[pos]!r}")
            if m.lastgroup != "space":
                self.items.append((m.lastgroup, m.group(), pos))
            pos = m.end()
        self.items.append(("end", "", len(text)))
        self.i = 0

    def fail(self, pos: int, what: str):
        raise BadInput(f"{self.where}: criterion {self.text!r}: {what} at column {pos + 1} "
                       "(e.g. 'phase[train].fidelity >= 0.98 where gpu.key = h100-sxm')")

    def peek(self) -> tuple[str, str, int]:
        return self.items[self.i]

    def take(self, kind: str, value: str | None = None, what: str = "") -> str:
        k, v, pos = self.peek()
        if k != kind or (value is not None and v.lower() != value):
            self.fail(pos, f"expected {what or value or kind}, found {v!r}" if v else
                      f"expected {what or value or kind}, found the end")
        self.i += 1
        return v

    def at(self, kind: str, value: str | None = None) -> bool:
        k, v, _ = self.peek()
        return k == kind and (value is None or v.lower() == value)


def parse_criterion(text: str, where: str = "--criterion") -> Check:
    """Parse one expression; a malformed one raises `BadInput` naming the column."""
    t = _Tokens(text, where)
    aggregate = None
    k, v, pos = t.peek()
    if k == "name" and v.lower() in AGGREGATES and t.items[t.i + 1][1] == "(":
        aggregate = v.lower()
        t.i += 1
        t.take("punct", "(")
        phase, metric = _selector(t)
        t.take("punct", ")", "')'")
    else:
        phase, metric = _selector(t)
    if metric is None and aggregate != "count":
        t.fail(t.peek()[2], "expected '.metric' after the phase (only count() takes a phase alone)")
    op = t.take("op", what="a comparison (< <= > >= = !=)")
    threshold = float(t.take("number", what="a number").lstrip("$"))
    conds = []
    if t.at("name", "where"):
        t.i += 1
        conds.append(_cond(t))
        while t.at("name", "and"):
            t.i += 1
            conds.append(_cond(t))
    k, v, pos = t.peek()
    if k != "end":
        t.fail(pos, f"unexpected {v!r} (expected 'where', 'and' or the end)")
    return Check(aggregate, phase, metric, op, threshold, tuple(conds))


def _selector(t: _Tokens) -> tuple[str | None, str | None]:
    if t.at("name", "phase") and t.items[t.i + 1][1] == "[":
        t.i += 2
        k, v, pos = t.peek()
        if k not in ("name", "string"):
            t.fail(pos, "expected a phase name inside [ ]")
        t.i += 1
        phase = v.strip("'\"")
        t.take("punct", "]", "']'")
        if t.at("punct", "."):
            t.i += 1
            return phase, t.take("name", what="a metric name")
        return phase, None
    return None, t.take("name", what="a metric name, phase[...] or sum/mean/min/max/count(...)")


def _cond(t: _Tokens) -> tuple[str, str, str]:
    tag = t.take("name", what="a tag name such as gpu.key")
    k, op, pos = t.peek()
    if k != "op" or op not in ("=", "==", "!="):
        t.fail(pos, "expected = or != after the tag name")
    t.i += 1
    k, v, pos = t.peek()
    if k not in ("name", "string", "number"):
        t.fail(pos, "expected a tag value")
    t.i += 1
    return full_tag(tag), "!=" if op == "!=" else "=", v.strip("'\"")


def full_tag(name: str) -> str:
    """Short tag names are ours: `gpu.key` means `cogit.gpu.key`."""
    return name if name.startswith(("cogit.", "mlflow.")) else f"cogit.{name}"


# ---------------------------------------------------------------- evaluation


def scope(linked: list[RunView]) -> list[RunView]:
    """The runs a criterion looks at: linked runs, a campaign standing for its phases."""
    runs: list[RunView] = []
    for run in linked:
        runs.extend(run.children if run.children else [run])
    return runs


def evaluate(check: Check, linked: list[RunView]) -> Outcome:
    runs = [r for r in scope(linked) if _selected(check, r)]
    if any(r.status == "RUNNING" for r in runs):
        return Outcome("pending", None, len(runs))
    done = [r for r in runs if r.status == "FINISHED"]
    if check.metric is None:                     # count(phase[x])
        return _decide(check, float(len(done)), len(done))
    values = [r.metrics[check.metric] for r in done if check.metric in r.metrics]
    if check.aggregate == "count":
        return _decide(check, float(len(values)), len(values))
    if not values:
        return Outcome("pending", None, 0)
    if check.aggregate is None:
        ok = all(OPS[check.op](v, check.threshold) for v in values)
        value: float | list[float] = values[0] if len(values) == 1 else values
        return Outcome("pass" if ok else "fail", value, len(values))
    agg = {"sum": sum, "min": min, "max": max,
           "mean": lambda xs: sum(xs) / len(xs)}[check.aggregate]
    return _decide(check, float(agg(values)), len(values))


def _decide(check: Check, value: float, n: int) -> Outcome:
    return Outcome("pass" if OPS[check.op](value, check.threshold) else "fail", value, n)


def _selected(check: Check, run: RunView) -> bool:
    if check.phase is not None and (run.tags.get(KIND) != "phase" or
                                    run.tags.get(PHASE) != check.phase):
        return False
    for tag, op, value in check.where:
        if (run.tags.get(tag) == value) != (op == "="):
            return False
    return True


def verdict(outcomes: list[Outcome]) -> str | None:
    """validated / refuted once every checkable criterion is decided, else None."""
    checked = [o.state for o in outcomes if o.state != "manual"]
    if not checked or "pending" in checked:
        return None
    return "refuted" if "fail" in checked else "validated"
