"""The one shape of every command's output: rows of raw values under typed columns, and the
human form of each kind of value.

The library builds a `Table` (a report, a comparison, a plan, a list of runs); only
`cli/render.py` lays it out, so csv and json stay machine-readable (seconds, dollars, ratios as
numbers) while the terminal and markdown read well (`1h 32m`, `$1.37`, `11.8x`). Text the
library writes itself (a drafted decision) uses the same `fmt_value`, so a figure reads the
same wherever it appears.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timezone

#: How a column's raw values read: text | seconds | usd | gb | ratio | fraction | float | int |
#: status (a run's or a check's state, coloured on a terminal) |
#: when (epoch milliseconds, shown as a UTC date and time) | percent (a fraction, as 45%) |
#: error (a signed relative error, as +12%) | number (any measured value, an experiment's
#: metric: four significant digits) | change (a signed relative change, as -0.4%)
KINDS = ("text", "seconds", "usd", "gb", "ratio", "fraction", "float", "int", "status",
         "when", "percent", "error", "number", "change")
LEFT = ("text", "status", "when")  # column kinds that read left-aligned


@dataclass
class Column:
    key: str
    title: str
    kind: str = "text"

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"column {self.key!r}: kind {self.kind!r} is not one of {KINDS}")


@dataclass
class Table:
    title: str
    columns: list[Column]
    # by column key; `_section_end` closes a section, `_style` colours a row, `_sub` marks a
    # line under the row above for people (a node of a multi-rank phase: csv and json leave
    # it out), `_extra` holds what json adds to a row beside its columns (those nodes, as data)
    rows: list[dict]
    notes: list[str] = field(default_factory=list)   # verdicts, assumptions, footnotes
    charts: list[tuple[str, bytes]] = field(default_factory=list)  # (title, PNG) for html
    data: dict = field(default_factory=dict)          # extra machine-readable payload for json


def fmt_value(value, kind: str) -> str:
    """Human form of a raw value; blank for missing, so a missing figure never reads as 0."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, float) and math.isinf(value) and kind not in ("when",):
        return "inf" if value > 0 else "-inf"
    formats = {
        "seconds": lambda v: _duration(float(v)),
        "usd": lambda v: f"${v:,.2f}" if abs(v) >= 0.01 or v == 0 else f"${v:.4f}",
        "gb": lambda v: f"{v:.1f}",
        "ratio": lambda v: f"{v:.2f}x",
        "fraction": lambda v: f"{v:.3f}",
        "float": lambda v: f"{v:,.1f}",
        "int": lambda v: f"{v:,.0f}",
        "when": lambda v: datetime.fromtimestamp(v / 1000, tz=timezone.utc)
        .strftime("%Y-%m-%d %H:%M") if v else "",
        "percent": lambda v: f"{v * 100:.0f}%",
        "error": lambda v: f"{v * 100:+.0f}%" if round(v * 100) else "0%",
        "number": lambda v: f"{v:,.0f}" if abs(v) >= 10_000 else f"{v:.4g}",
        "change": lambda v: f"{v * 100:+.1f}%" if round(v * 100, 1) else "0.0%",
    }
    return formats[kind](value) if kind in formats else str(value)


def _duration(seconds: float) -> str:
    seconds = round(seconds)
    h, rest = divmod(seconds, 3600)
    m, sec = divmod(rest, 60)
    if h:
        return f"{h}h {m:02d}m"
    if m:
        return f"{m}m {sec:02d}s"
    return f"{sec}s"


def row_class(row: dict) -> str:
    """A section's last row; a line under the row above (`sub`), and such a line that stands
    out (a failed node: `alert`)."""
    sub = bool(row.get("_sub"))
    return " ".join(name for name, on in (("end", row.get("_section_end")), ("sub", sub),
                                          ("alert", sub and row.get("_style"))) if on)
