"""The Captain's Log as tables: the list, a decision's links and evidence, a verification.

Built from the records `decisions.store` returns; `render.py` prints them. Linked campaigns
stand side by side (a column each, phases as rows) so a decision's evidence reads the way the
log compared its options.
"""
from __future__ import annotations

import re
from typing import TYPE_CHECKING

from ..decisions.markdown import render
from ..decisions.model import Decision
from ..table import Column, Table
from .render import fmt_value

if TYPE_CHECKING:
    from ..decisions.store import Entry, LinkedRun, Verification


def entries(found: list[Entry]) -> Table:
    rows = [{"number": f"{e.number:03d}", "date": e.date, "title": e.title, "status": e.status,
             "links": str(e.links), "verification": e.verification or "-"} for e in found]
    return Table("Decisions", [Column("number", "#"), Column("date", "Date"),
                               Column("title", "Title"), Column("status", "Status", "status"),
                               Column("links", "Links"),
                               Column("verification", "Verification")], rows)


def record(d: Decision) -> str:
    """The decision as markdown, with a hard line break after each **Field:** line (or
    markdown runs them into one paragraph)."""
    return re.sub(r"^(\*\*(?:Date|Time|Context|Status):\*\*.*)$", r"\1  ", render(d), flags=re.M)


def evidence(d: Decision, runs: list[LinkedRun] | None) -> list[Table]:
    """Its links, then (with --runs) the runs they point at."""
    out = []
    if d.links:
        out.append(Table("Links", [Column("uid", "Linked run (cogit.uid)"),
                                   Column("role", "Role")],
                         [{"uid": uid, "role": role} for uid, role in d.links.items()]))
    if runs is not None:
        out.append(linked_runs(runs))
    return out


def linked_runs(runs: list[LinkedRun]) -> Table:
    """Two or more campaigns side by side; else one row a run (a campaign by its phases)."""
    campaigns = [r for r in runs if r.kind == "campaign"]
    if len(campaigns) >= 2:
        return _side_by_side(campaigns)
    rows = [{"role": run.role, "campaign": r.campaign, "phase": r.phase or r.kind, "gpu": r.gpu,
             "precision": r.precision, "status": r.status,
             "duration": r.metrics.get("duration_s"), "cost": r.metrics.get("cost_usd")}
            for run in runs for r in (run.phases or [run])]
    columns = [Column("role", "Role"), Column("campaign", "Campaign"), Column("phase", "Phase"),
               Column("gpu", "GPU"), Column("precision", "Precision"),
               Column("status", "Status", "status"), Column("duration", "Duration", "seconds"),
               Column("cost", "Cost", "usd")]
    return Table("Linked runs", columns, rows)


def _side_by_side(campaigns: list[LinkedRun]) -> Table:
    columns = [Column("phase", "Phase")]
    for i, c in enumerate(campaigns):
        gpu = c.gpu or next((p.gpu for p in c.phases if p.gpu), "")
        precision = c.precision or next((p.precision for p in c.phases if p.precision), "")
        columns.append(Column(f"c{i}", f"{c.campaign or c.uid[:8]} ({c.role}) {gpu} {precision}"))
    names: list[str] = []
    for c in campaigns:
        names += [p.phase for p in c.phases if p.phase not in names]
    rows = []
    for name in names:
        row = {"phase": name}
        for i, c in enumerate(campaigns):
            p = next((p for p in c.phases if p.phase == name), None)
            row[f"c{i}"] = "-" if p is None else \
                f"{_figures(p.metrics.get('duration_s'), p.metrics.get('cost_usd'))} · {p.status}"
        rows.append(row)
    total = {"phase": "total", "_style": "bold"}
    for i, c in enumerate(campaigns):
        total[f"c{i}"] = _figures(sum(p.metrics.get("duration_s", 0.0) for p in c.phases),
                                  sum(p.metrics.get("cost_usd", 0.0) for p in c.phases))
    return Table("Linked campaigns side by side", columns, rows + [total])


def _figures(seconds: float | None, usd: float | None) -> str:
    return f"{fmt_value(seconds, 'seconds') or '-'} · {fmt_value(usd, 'usd') or '-'}"


def verification(ver: Verification) -> Table:
    d = ver.decision
    rows = []
    for i, (crit, out) in enumerate(ver.results, 1):
        if isinstance(out.value, list):
            value = ", ".join(f"{v:.4g}" for v in out.value)
        else:
            value = "-" if out.value is None else f"{out.value:.4g}"
        rows.append({"n": str(i), "text": crit.text, "expr": crit.expr or "(manual)",
                     "value": value, "runs": str(out.runs), "state": out.state})
    columns = [Column("n", "#"), Column("text", "Criterion"), Column("expr", "Expression"),
               Column("value", "Measured"), Column("runs", "Runs"),
               Column("state", "Result", "status")]
    return Table(f"Decision #{d.number:03d}: {d.title} — status {ver.status}", columns, rows)
