"""Every command's output, formatted here and nowhere else: a `Table` (`table.py`) as a rich
table, markdown, csv, json or html; data as strict JSON; a decision as rendered markdown.

Values stay raw until this module: csv and json keep seconds, dollars and ratios as numbers,
while the terminal and markdown read well (`1h 32m`, `$1.37`, `11.8x`). Off a terminal, rich
prints plain text, so piped output carries no colour codes.
"""
from __future__ import annotations

import csv
import io
import json
import math
import os
import shutil
from pathlib import Path

import click

from ..errors import BadInput
from ..table import LEFT, Table, fmt_value

FORMATS = ("table", "md", "csv", "json", "html")
# rich lays out ~500-1000 rows a second here; past this many rows `table` prints the
# markdown layout instead, which is just as readable and keeps `report` on 10,000 runs fast.
RICH_MAX_ROWS = 400
UNBOUNDED = 100_000  # columns: a width to measure a table at without bounding it
STATUS_STYLE = {"FAILED": "red", "KILLED": "yellow", "RUNNING": "cyan",
                "pass": "green", "fail": "red", "pending": "yellow", "manual": "dim"}


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


def check_alone(flag: str, others: dict[str, object]) -> None:
    """A mode flag that takes none of the other options: naming one is bad input."""
    given = [name for name, value in others.items() if value]
    if given:
        raise BadInput(f"{flag} takes no {given[0]}; accepted with it: --format, --output, "
                       f"--json, --tracking-uri")


def emit(table: Table, fmt: str = "table", output: str | None = None) -> None:
    """Print the rendered table, or write it to `output` and say so on stderr."""
    text = render(table, fmt, width=shutil.get_terminal_size((160, 40)).columns)
    if output is None:
        click.echo(text, nl=False)
        return
    Path(output).write_text(text, encoding="utf-8")
    click.echo(f"wrote {output}", err=True)


def emit_json(data) -> None:
    """Data as strict JSON (RFC 8259: a non-finite number becomes null, with the reason)."""
    click.echo(to_json(data))


def to_json(data) -> str:
    return json.dumps(_finite(data), indent=2, default=str, allow_nan=False)


def _finite(value):
    """`value` with every NaN or infinity replaced by null; in an object, `<key>_reason`
    beside it says which it was, so a null is never mistaken for a missing figure."""
    if _non_finite(value):
        return None
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            out[key] = _finite(item)
            if _non_finite(item):
                out[f"{key}_reason"] = f"not a finite number ({item})"
        return out
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def _non_finite(value) -> bool:
    return isinstance(value, float) and not math.isfinite(value)


def emit_markdown(text: str) -> None:
    """A markdown document (a decision) as the terminal shows it."""
    from rich.markdown import Markdown

    _console().print(Markdown(text))


def _console(file=None, width: int | None = None):
    from rich.console import Console

    return Console(file=file, width=width, soft_wrap=False, highlight=False)


def _cells(table: Table, row: dict) -> list[str]:
    return [fmt_value(row.get(c.key), c.kind) for c in table.columns]


def _rich(table: Table, width: int) -> str:
    buf = io.StringIO()
    _console(buf, width).print(rich_view(table, width))
    return buf.getvalue()


def rich_view(table: Table, width: int):
    """The table and its notes as one rich renderable for `width` columns: what `_rich`
    prints, and what `runs watch` keeps redrawing in place. Boxed where its longest words
    fit; else compact (no vertical rules, one space between columns: two characters fewer
    a column), since a boxed table squeezed below them folds its words (`FINIS`/`HED`)."""
    from rich import box
    from rich.console import Console, Group
    from rich.markup import escape
    from rich.table import Table as RichTable
    from rich.text import Text

    out = RichTable(title=escape(table.title), title_justify="left")
    for c in table.columns:
        out.add_column(escape(c.title), justify="left" if c.kind in LEFT else "right",
                       overflow="fold")
    for row in table.rows:
        cells = [_styled(escape(text), c.kind) for c, text in zip(table.columns, _cells(table, row))]
        out.add_row(*cells, end_section=bool(row.get("_section_end")), style=row.get("_style"))
    if Console(width=UNBOUNDED).measure(out).minimum > width:  # its longest words don't fit
        out.box, out.padding, out.show_edge = box.SIMPLE_HEAD, (0, 0), False
    return Group(out, *(Text(note) for note in table.notes))


def row_line(table: Table, row: dict) -> str:
    """One row as one plain line (text cells as they are, figures after their title): how
    `runs watch` reports off a terminal, where a redrawn table would be noise in a log."""
    parts = []
    for c, text in zip(table.columns, _cells(table, row)):
        if text:
            parts.append(text if c.kind in LEFT else f"{c.title} {text}")
    return "  ".join(parts)


def row_groups(table: Table) -> list[list[dict]]:
    """Each data row with the `_sub` lines under it (a phase and its nodes): what `runs
    watch` prints together when the phase changes."""
    groups: list[list[dict]] = []
    for row in table.rows:
        if row.get("_sub") and groups:
            groups[-1].append(row)
        else:
            groups.append([row])
    return groups


def _styled(text: str, kind: str) -> str:
    style = STATUS_STYLE.get(text) if kind == "status" else None
    return f"[{style}]{text}[/]" if style else text


def _markdown(table: Table) -> str:
    def esc(text: str) -> str:
        return text.replace("|", "\\|")

    lines = [f"### {table.title}", "",
             "| " + " | ".join(esc(c.title) for c in table.columns) + " |",
             "|" + "|".join("---" if c.kind in LEFT else "---:" for c in table.columns) + "|"]
    lines += ["| " + " | ".join(esc(v) for v in _cells(table, r)) + " |" for r in table.rows]
    if table.notes:
        lines += [""] + [f"- {esc(n)}" for n in table.notes]
    return "\n".join(lines) + "\n"


def _csv(table: Table) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow([c.key for c in table.columns])
    for row in _data_rows(table):
        writer.writerow(["" if row.get(c.key) is None else row.get(c.key) for c in table.columns])
    return buf.getvalue()


def _data_rows(table: Table) -> list[dict]:
    """The rows that are data: a `_sub` line (a node under its phase) is for people, and
    its row above carries it in `_extra`, so each csv or json row stays one phase."""
    return [row for row in table.rows if not row.get("_sub")]


def _json(table: Table) -> str:
    doc = {"title": table.title, "columns": [c.key for c in table.columns],
           "rows": [{**{c.key: row.get(c.key) for c in table.columns}, **row.get("_extra", {})}
                    for row in _data_rows(table)],
           "notes": table.notes, **table.data}
    return to_json(doc) + "\n"


def _html(table: Table) -> str:
    """One self-contained page, from the web's templates (`web/report_page.py`)."""
    from ..web.report_page import render_page

    return render_page(table)
