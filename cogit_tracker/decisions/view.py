"""Terminal output for the decision commands: rich tables, kept out of cli.py."""
from __future__ import annotations

import re

from rich.console import Console
from rich.markdown import Markdown
from rich.markup import escape
from rich.table import Table

from .markdown import render
from .model import Decision
from .store import Entry, LinkedRun, Verification

STATE_STYLE = {"pass": "green", "fail": "red", "pending": "yellow", "manual": "dim"}


def console() -> Console:
    return Console(soft_wrap=False)


def entries_table(entries: list[Entry]) -> Table:
    table = Table("#", "Date", "Title", "Status", "Links", "Verification")
    for e in entries:
        table.add_row(f"{e.number:03d}", escape(e.date), escape(e.title), e.status,
                      str(e.links), e.verification or "-")
    return table


def show(d: Decision, runs: list[LinkedRun] | None) -> list:
    """What `decision show` prints: the record, then (with --runs) its evidence."""
    # a hard line break after each **Field:** line, or markdown runs them into one paragraph
    text = re.sub(r"^(\*\*(?:Date|Time|Context|Status):\*\*.*)$", r"\1  ", render(d), flags=re.M)
    out: list = [Markdown(text)]
    if d.links:
        links = Table("Linked run (cogit.uid)", "Role", title="Links")
        for uid, role in d.links.items():
            links.add_row(uid, role)
        out.append(links)
    if runs is not None:
        out.append(runs_table(runs))
    return out


def _money(v: float | None) -> str:
    return "-" if v is None else f"${v:.2f}"


def _secs(v: float | None) -> str:
    return "-" if v is None else f"{v:,.0f} s"


def runs_table(runs: list[LinkedRun]) -> Table:
    """Two or more campaigns side by side (a column each, phases as rows); else one row a run."""
    campaigns = [r for r in runs if r.kind == "campaign"]
    if len(campaigns) >= 2:
        return _side_by_side(campaigns)
    table = Table("Role", "Campaign", "Phase", "GPU", "Precision", "Status", "Duration", "Cost",
                  title="Linked runs")
    for run in runs:
        for r in (run.phases or [run]):
            table.add_row(run.role, escape(r.campaign), escape(r.phase or r.kind), r.gpu,
                          r.precision, r.status,
                          _secs(r.metrics.get("duration_s")), _money(r.metrics.get("cost_usd")))
    return table


def _side_by_side(campaigns: list[LinkedRun]) -> Table:
    table = Table("Phase", title="Linked campaigns side by side")
    for c in campaigns:
        gpu = c.gpu or next((p.gpu for p in c.phases if p.gpu), "")
        precision = c.precision or next((p.precision for p in c.phases if p.precision), "")
        table.add_column(escape(f"{c.campaign or c.uid[:8]} ({c.role})\n{gpu} {precision}"))
    phases: list[str] = []
    for c in campaigns:
        phases += [p.phase for p in c.phases if p.phase not in phases]
    for name in phases:
        cells = []
        for c in campaigns:
            p = next((p for p in c.phases if p.phase == name), None)
            cells.append("-" if p is None else
                         f"{_secs(p.metrics.get('duration_s'))} · "
                         f"{_money(p.metrics.get('cost_usd'))} · {p.status}")
        table.add_row(escape(name), *cells)
    totals = []
    for c in campaigns:
        dur = sum(p.metrics.get("duration_s", 0.0) for p in c.phases)
        cost = sum(p.metrics.get("cost_usd", 0.0) for p in c.phases)
        totals.append(f"{_secs(dur)} · {_money(cost)}")
    table.add_row("total", *totals, style="bold")
    return table


def verification_table(ver: Verification) -> Table:
    d = ver.decision
    table = Table("#", "Criterion", "Expression", "Measured", "Runs", "Result",
                  title=escape(f"Decision #{d.number:03d}: {d.title} — status {ver.status}"))
    for i, (crit, out) in enumerate(ver.results, 1):
        if isinstance(out.value, list):
            value = ", ".join(f"{v:.4g}" for v in out.value)
        else:
            value = "-" if out.value is None else f"{out.value:.4g}"
        table.add_row(str(i), escape(crit.text), escape(crit.expr or "(manual)"), value,
                      str(out.runs),
                      f"[{STATE_STYLE[out.state]}]{out.state}[/]")
    return table
