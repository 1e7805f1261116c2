"""The report: time, cost, VRAM and each campaign's headline metrics per campaign and phase,
totals, groups, and ratios against a baseline.

The researcher's questions ("FP16 vs Q8: how much faster, how much cheaper, how much fidelity
lost?") were answered by hand; here they are one `Table` (`table.py`), drawn with charts when
asked. Its metric columns are the campaigns' headline metrics (`headline.py`), each campaign's
declaration in turn, so an experiment that logs `accuracy` gets an `accuracy` column.
"""
from __future__ import annotations

from typing import Sequence

from ..errors import BadInput
from ..table import Column, Table
from .headline import Headline, apart_from, union
from .model import (GROUP_KEYS, TOTAL, Campaign, Figures, Phase, aggregate, change, load,
                    parse_group_by, ratio, status_counts)
from .nodes import as_data, sub_rows


# ---------------------------------------------------------------- the report table

OWN_COLUMNS = [
    Column("duration_s", "time", "seconds"), Column("cost_usd", "cost", "usd"),
    Column("vram_peak_gb", "VRAM GB", "gb"),
]
#: Every key a report row holds besides its metrics' (which must not overwrite them).
ROW_KEYS = ("campaign", "gpu", "precision", "phase", "status", "n", "cost_total", "x_time",
            "x_cost", *GROUP_KEYS, *(c.key for c in OWN_COLUMNS))


def report(campaigns: list[Campaign], group_by: Sequence[str] = (),
           baseline: str | None = None) -> Table:
    """Per campaign and phase (or per group), with totals and optional baseline ratios."""
    headline, notes = apart_from(union(c.headline for c in campaigns), ROW_KEYS)
    figures = OWN_COLUMNS + [Column(n, n, "number") for n in headline.names]
    table = grouped(campaigns, group_by, figures) if group_by \
        else per_campaign(campaigns, figures)
    table.notes += notes
    if baseline is not None:
        add_ratios(table, baseline, headline)
    return table


def _figure_cells(f: Figures, columns: list[Column]) -> dict:
    return {c.key: f.get(c.key) for c in columns}


def per_campaign(campaigns: list[Campaign], figures: list[Column]) -> Table:
    rows = []
    for camp in campaigns:
        head = {"campaign": camp.label, "gpu": camp.attr("gpu.key"),
                "precision": camp.attr("precision")}
        for ph in camp.phases:
            rows.append({**head, "phase": ph.name, "status": ph.status_text,
                         "_key": camp.label, **_figure_cells(ph.figures, figures)})
            rows += _node_rows(ph, rows[-1])
        rows.append({**head, "phase": TOTAL, "status": camp.status, "_key": camp.label,
                     "_section_end": True, **_figure_cells(camp.totals(), figures)})
    columns = [Column("campaign", "campaign"), Column("gpu", "gpu"),
               Column("precision", "precision"), Column("phase", "phase"),
               Column("status", "status"), *figures]
    return Table(f"Report: {len(campaigns)} campaign(s)", columns, rows)


#: Where a node line puts its figures: the report's columns that a node has a value for.
NODE_FIGURES = {"duration_s": "duration_s", "vram_peak_gb": "vram_peak_gb"}


def _node_rows(ph: Phase, row: dict) -> list[dict]:
    """A multi-rank phase's node lines under its `row` (which then carries them as data
    for json); none for a single-process phase."""
    if not ph.nodes:
        return []
    row["_extra"] = {"nodes": as_data(ph.nodes)}
    return sub_rows(ph.nodes, "phase", "status", NODE_FIGURES)


def grouped(campaigns: list[Campaign], keys: Sequence[str], figures: list[Column]) -> Table:
    """One row per group (per group and phase when `phase` is a key): medians across members,
    summed cost, and how many members ended in which status."""
    by_phase = "phase" in keys
    tag_keys = [k for k in keys if k != "phase"]
    members: dict[tuple, list[tuple[str, Figures]]] = {}
    order: dict[str, int] = {}  # phases sort by their index, as in the campaign
    for camp in campaigns:
        label = tuple(camp.attr(k) or "-" for k in tag_keys)
        if by_phase:
            for ph in camp.phases:
                order.setdefault(ph.name, ph.index if ph.index is not None else 1 << 30)
                members.setdefault(label + (ph.name,), []).append((ph.status, ph.figures))
        else:
            members.setdefault(label, []).append((camp.status, camp.totals()))

    def sort_key(group: tuple) -> tuple:
        head = tuple(str(v) for v in group[:len(tag_keys)])
        return head + ((order[group[-1]], group[-1]) if by_phase else ())

    rows = []
    for group in sorted(members, key=sort_key):
        items = members[group]
        costs = [f.cost_usd for _, f in items if f.cost_usd is not None]
        row = dict(zip(tag_keys + (["phase"] if by_phase else []), group))
        row.update(_figure_cells(aggregate([f for _, f in items]), figures))
        row.update({"n": len(items), "status": status_counts(st for st, _ in items),
                    "cost_total": sum(costs) if costs else None,
                    "_key": "/".join(group[:len(tag_keys)]) if tag_keys else "all"})
        if not by_phase:
            row["phase"] = TOTAL
        rows.append(row)
    columns = [Column(k, k) for k in tag_keys] + ([Column("phase", "phase")] if by_phase else [])
    columns += [Column("n", "runs" if by_phase else "campaigns", "int"),
                Column("status", "status"), *figures,
                Column("cost_total", "cost (sum)", "usd")]
    unit = "phase runs" if by_phase else "campaigns"
    return Table(f"Grouped by {', '.join(keys)} ({len(campaigns)} campaigns)", columns, rows,
                 notes=[f"Figures are medians across {unit} in a group; VRAM is the peak; "
                        f"'cost (sum)' adds every member's cost."])


def change_key(name: str) -> str:
    """The column of a metric's change against the baseline."""
    return f"{name} vs base"


def add_ratios(table: Table, baseline: str, headline: Headline) -> None:
    """Ratio columns against the baseline's row for the same phase (or the total): time and
    cost as row / baseline, each headline metric as its relative change."""
    rows = [r for r in table.rows if not r.get("_sub")]  # a node line has no baseline
    base = {r["phase"]: r for r in rows if r["_key"] == baseline}
    if not base:
        known = sorted({r["_key"] for r in rows})
        raise BadInput(f"unknown baseline {baseline!r}; accepted: one of the rows shown "
                       f"({', '.join(known[:8])}{', ...' if len(known) > 8 else ''})")
    for row in rows:
        ref = base.get(row["phase"])
        if ref is None:
            continue
        row["x_time"] = ratio(row.get("duration_s"), ref.get("duration_s"))
        row["x_cost"] = ratio(row.get("cost_usd"), ref.get("cost_usd"))
        row.update({change_key(n): change(row.get(n), ref.get(n)) for n in headline.names})
    table.columns += [Column("x_time", "time/base", "ratio"),
                      Column("x_cost", "cost/base", "ratio"),
                      *(Column(change_key(n), change_key(n), "change") for n in headline.names)]
    table.notes.append(f"Ratios are against {baseline!r} (time and cost: row / baseline; "
                       f"metrics: change from the baseline, a fraction of its value).")


# ---------------------------------------------------------------- the command's entry point

def make_report(uri: str, experiments: Sequence[str] = (), campaigns: Sequence[str] = (),
                group_by: str | None = None, baseline: str | None = None,
                charts: bool = False, log: bool = False, client=None,
                gpus: Sequence[str] = ()) -> Table:
    """`cogit-log report`: load, tabulate, and (html or `log`) draw the charts.

    With `log`, each campaign's charts are also logged to its run under `cogit-report/`,
    so `mlflow ui` shows them; the artifact URIs are listed in the table's notes.
    """
    keys = parse_group_by(group_by)
    found = load(uri, experiments or None, campaigns or None, history=charts or log,
                 client=client, gpus=gpus)
    table = report(found, keys, baseline)
    if charts or log:
        from . import charts as ch

        if charts:
            table.charts = ch.pngs(found)
            if len(found) > ch.MAX_CAMPAIGNS:
                table.notes.append(f"Charts show the first {ch.MAX_CAMPAIGNS} of "
                                   f"{len(found)} campaigns.")
        if log:
            from mlflow.tracking import MlflowClient

            logged = ch.log_to_runs(found, client or MlflowClient(tracking_uri=uri))
            table.notes.append(f"Charts logged to {len(found)} campaign run(s) under "
                               f"cogit-report/ ({len(logged)} files).")
    return table
