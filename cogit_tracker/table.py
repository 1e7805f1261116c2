"""The one shape of every command's output: rows of raw values under typed columns.

The library builds a `Table` (a report, a comparison, a plan, a list of runs); only
`cli/render.py` formats it, so csv and json stay machine-readable (seconds, dollars, ratios as
numbers) while the terminal and markdown read well (`1h 32m`, `$1.37`, `11.8x`).
"""
from __future__ import annotations

from dataclasses import dataclass, field

#: How a column's raw values read: text | seconds | usd | gb | ratio | fraction | float | int |
#: pt (percentage points) | pct (a change in percent) | status (a run's or a check's state, coloured on a terminal) |
#: when (epoch milliseconds, shown as a UTC date and time)
KINDS = ("text", "seconds", "usd", "gb", "ratio", "fraction", "float", "int", "pt", "pct",
         "status", "when")


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
    rows: list[dict]   # by column key; `_section_end` closes a section, `_style` colours a row
    notes: list[str] = field(default_factory=list)   # verdicts, assumptions, footnotes
    charts: list[tuple[str, bytes]] = field(default_factory=list)  # (title, PNG) for html
    data: dict = field(default_factory=dict)          # extra machine-readable payload for json
