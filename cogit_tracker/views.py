"""Terminal rendering shared by the commands: rich tables, and plain text when piped."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Iterable

from rich.console import Console
from rich.table import Table

console = Console()


def money(value: float | None) -> str:
    return "" if value is None else f"${value:,.2f}"


def seconds(value: float | None) -> str:
    if value is None:
        return ""
    if value < 120:
        return f"{value:.1f}s"
    if value < 7200:
        return f"{value / 60:.1f}m"
    return f"{value / 3600:.2f}h"


def when(ms: int | None) -> str:
    if not ms:
        return ""
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).strftime("%Y-%m-%d %H:%M")


def runs_table(rows: Iterable, title: str) -> None:
    table = Table(title=title)
    for col in ("started (UTC)", "campaign", "phase", "status", "GPU", "duration", "cost",
                "failure", "run id"):
        table.add_column(col)
    for r in rows:
        style = {"FAILED": "red", "KILLED": "yellow", "RUNNING": "cyan"}.get(r.status, "")
        table.add_row(when(r.start_ms), r.campaign, r.phase or f"({r.kind})",
                      f"[{style}]{r.status}[/]" if style else r.status, r.gpu,
                      seconds(r.duration_s), money(r.cost_usd), r.failure, r.run_id)
    console.print(table)
