"""One table, five formats: table (rich), md, csv, json, html.

Reports, comparisons and projections all build a `Table` of raw values; only here are they
formatted, so the csv and json stay machine-readable (seconds, dollars, ratios as numbers)
while the table and markdown read well (`1h 32m`, `$1.37`, `11.8x`).
"""
from __future__ import annotations

import base64
import csv
import html
import io
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

from .errors import BadInput

FORMATS = ("table", "md", "csv", "json", "html")
# rich lays out ~500-1000 rows a second here; past this many rows `table` prints the
# markdown layout instead, which is just as readable and keeps `report` on 10,000 runs fast.
RICH_MAX_ROWS = 400


@dataclass
class Column:
    key: str
    title: str
    kind: str = "text"  # text | seconds | usd | gb | ratio | fraction | float | int | pt


@dataclass
class Table:
    title: str
    columns: list[Column]
    rows: list[dict]
    notes: list[str] = field(default_factory=list)   # verdicts, assumptions, footnotes
    charts: list[tuple[str, bytes]] = field(default_factory=list)  # (title, PNG) for html
    data: dict = field(default_factory=dict)          # extra machine-readable payload for json


def fmt_value(value, kind: str) -> str:
    """Human form of a raw value; blank for missing, so a missing figure never reads as 0."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if kind == "seconds":
        return _duration(float(value))
    if kind == "usd":
        return f"${value:,.2f}" if abs(value) >= 0.01 or value == 0 else f"${value:.4f}"
    if kind == "gb":
        return f"{value:.1f}"
    if kind == "ratio":
        return f"{value:.2f}x"
    if kind == "fraction":
        return f"{value:.3f}"
    if kind == "pt":
        return f"{value:+.1f}" if round(value, 1) else "+0.0"  # never "-0.0"
    if kind == "float":
        return f"{value:,.1f}"
    if kind == "int":
        return f"{value:,.0f}"
    return str(value)


def _duration(seconds: float) -> str:
    seconds = round(seconds)
    h, rest = divmod(seconds, 3600)
    m, sec = divmod(rest, 60)
    if h:
        return f"{h}h {m:02d}m"
    if m:
        return f"{m}m {sec:02d}s"
    return f"{sec}s"


def render(table: Table, fmt: str, width: int = 160) -> str:
    if fmt not in FORMATS:
        raise BadInput(f"unknown format {fmt!r}; accepted: {', '.join(FORMATS)}")
    if fmt == "table" and len(table.rows) <= RICH_MAX_ROWS:
        return _rich(table, width)
    if fmt == "table":
        return _markdown(table)
    return {"md": _markdown, "csv": _csv, "json": _json, "html": _html}[fmt](table)


def check_output(path: str | None) -> None:
    """Fail before any work if `--output` cannot be written, so nothing is half done."""
    if path is None:
        return
    target = Path(path)
    folder = target.parent
    if target.is_dir():
        raise BadInput(f"output {path!r} is a folder; accepted: a file path")
    if not folder.is_dir() or not os.access(folder, os.W_OK) or \
            (target.exists() and not os.access(target, os.W_OK)):
        raise BadInput(f"output {path!r} cannot be written; accepted: a file in an existing, "
                       f"writable folder")


def emit(table: Table, fmt: str, output: str | None, width: int = 160) -> str | None:
    """Write the rendered table to `output`, or return it for printing."""
    text = render(table, fmt, width)
    if output is None:
        return text
    Path(output).write_text(text, encoding="utf-8")
    return None


def _cells(table: Table, row: dict) -> list[str]:
    return [fmt_value(row.get(c.key), c.kind) for c in table.columns]


def _rich(table: Table, width: int) -> str:
    from rich.console import Console
    from rich.table import Table as RichTable

    out = RichTable(title=table.title, title_justify="left")
    for c in table.columns:
        out.add_column(c.title, justify="left" if c.kind == "text" else "right")
    for row in table.rows:
        out.add_row(*_cells(table, row), end_section=bool(row.get("_section_end")))
    buf = io.StringIO()
    console = Console(file=buf, width=width, color_system=None, highlight=False)
    console.print(out)
    for note in table.notes:
        console.print(note, markup=False)
    return buf.getvalue()


def _markdown(table: Table) -> str:
    def esc(text: str) -> str:
        return text.replace("|", "\\|")

    lines = [f"### {table.title}", "",
             "| " + " | ".join(esc(c.title) for c in table.columns) + " |",
             "|" + "|".join("---" if c.kind == "text" else "---:" for c in table.columns) + "|"]
    lines += ["| " + " | ".join(esc(v) for v in _cells(table, r)) + " |" for r in table.rows]
    if table.notes:
        lines += [""] + [f"- {esc(n)}" for n in table.notes]
    return "\n".join(lines) + "\n"


def _csv(table: Table) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow([c.key for c in table.columns])
    for row in table.rows:
        writer.writerow(["" if row.get(c.key) is None else row.get(c.key) for c in table.columns])
    return buf.getvalue()


def _json(table: Table) -> str:
    doc = {"title": table.title, "columns": [c.key for c in table.columns],
           "rows": [{c.key: row.get(c.key) for c in table.columns} for row in table.rows],
           "notes": table.notes, **table.data}
    return json.dumps(doc, indent=2, default=str) + "\n"


_CSS = """body{font-family:system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;font-size:13px}th,td{padding:3px 8px;border-bottom:1px solid #ddd}
th{background:#f3f3f3;text-align:left}td{white-space:nowrap}
td.n{text-align:right;font-variant-numeric:tabular-nums}
tr.end td{border-bottom:2px solid #888;font-weight:600}img{max-width:100%;margin:1em 0}
.notes{margin:1em 0;color:#444}"""


def _html(table: Table) -> str:
    """One self-contained page: no scripts, no links, charts inlined as base64 PNG."""
    head = "".join(f"<th>{html.escape(c.title)}</th>" for c in table.columns)
    body = []
    for row in table.rows:
        cells = "".join(
            f'<td class="{"" if c.kind == "text" else "n"}">{html.escape(v)}</td>'
            for c, v in zip(table.columns, _cells(table, row)))
        body.append(f'<tr class="{"end" if row.get("_section_end") else ""}">{cells}</tr>')
    notes = "".join(f"<li>{html.escape(n)}</li>" for n in table.notes)
    charts = "".join(
        f'<img alt="{html.escape(title)}" '
        f'src="data:image/png;base64,{base64.b64encode(png).decode()}">'
        for title, png in table.charts)
    return (f"<!DOCTYPE html><html><head><meta charset=\"utf-8\">"
            f"<title>{html.escape(table.title)}</title><style>{_CSS}</style></head><body>"
            f"<h1>{html.escape(table.title)}</h1><table><thead><tr>{head}</tr></thead>"
            f"<tbody>{''.join(body)}</tbody></table><ul class=\"notes\">{notes}</ul>"
            f"{charts}</body></html>\n")
