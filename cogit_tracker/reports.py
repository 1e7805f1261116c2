"""Cost and time per campaign and phase, totals, groups and ratios against a baseline.

The researcher's questions ("FP16 vs Q8: how much faster, how much cheaper, how much fidelity
lost?") were answered by hand. Here a campaign (the parent run) and its phases (child runs)
become `Campaign` and `Phase` records read by `runquery` (SQL fast path or REST), and every
view of them (`report`, `compare`, `project`) is a `render.Table`.

Missing figures stay missing (None, printed blank): a RUNNING or FAILED phase appears with
its status and the totals add what was measured, never a guessed zero.
"""
from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from typing import Iterable, Sequence

from . import runquery
from . import schema as s
from .errors import BadInput
from .render import Column, Table

# `--group-by` keys and where each is read from; `phase` and `experiment` are not tags.
GROUP_KEYS = {
    "gpu.key": s.GPU_KEY, "gpu.name": s.GPU_NAME, "gpu.count": s.GPU_COUNT,
    "precision": s.PRECISION, "provider": s.PROVIDER, "model": s.MODEL,
    "phase": None, "experiment": None,
}
TOTAL = "total"
METRIC_FIELDS = {
    "duration_s": s.DURATION_S, "cost_usd": s.COST_USD, "vram_peak_gb": s.VRAM_PEAK_GB,
    "ram_peak_gb": s.RAM_PEAK_GB, "fidelity": runquery.FIDELITY,
    "generations": runquery.GENERATIONS, "tokens_per_s": runquery.TOKENS_PER_S,
    "sentiment_shift": runquery.SENTIMENT_SHIFT,
}


@dataclass
class Figures:
    """Measured figures of a phase, or a campaign's totals; None where nothing was logged."""

    duration_s: float | None = None
    cost_usd: float | None = None
    vram_peak_gb: float | None = None
    ram_peak_gb: float | None = None
    fidelity: float | None = None
    generations: float | None = None
    tokens_per_s: float | None = None
    sentiment_shift: float | None = None


@dataclass
class Phase:
    run_id: str
    uid: str | None
    name: str
    index: int | None
    status: str
    failure: str | None
    attrs: dict[str, str]     # the phase run's own tags (campaign.attr falls back to them)
    figures: Figures
    history: list[tuple[int, float]] = field(default_factory=list)  # fidelity per epoch

    @property
    def status_text(self) -> str:
        return f"{self.status} ({self.failure})" if self.failure else self.status


@dataclass
class Campaign:
    run_id: str
    uid: str | None
    label: str
    experiment: str
    status: str
    attrs: dict[str, str]
    start_time: int | None
    phases: list[Phase] = field(default_factory=list)

    def attr(self, key: str) -> str | None:
        """A group-by value: the campaign's tag, else the first phase that has it."""
        if key == "experiment":
            return self.experiment
        tag = GROUP_KEYS[key]
        if tag in self.attrs:
            return self.attrs[tag]
        return next((p.attrs[tag] for p in self.phases if tag in p.attrs), None)

    def totals(self) -> Figures:
        """Sums of what was measured; peaks are maxima; fidelity is the last phase's."""
        figs = [p.figures for p in self.phases]

        def total(name):
            values = [getattr(f, name) for f in figs if getattr(f, name) is not None]
            return sum(values) if values else None

        def peak(name):
            values = [getattr(f, name) for f in figs if getattr(f, name) is not None]
            return max(values) if values else None

        fidelity = next((f.fidelity for f in reversed(figs) if f.fidelity is not None), None)
        return Figures(duration_s=total("duration_s"), cost_usd=total("cost_usd"),
                       vram_peak_gb=peak("vram_peak_gb"), ram_peak_gb=peak("ram_peak_gb"),
                       fidelity=fidelity, generations=total("generations"))


# ---------------------------------------------------------------- loading

def load(uri: str, experiments: Sequence[str] | None = None,
         campaigns: Sequence[str] | None = None, history: bool = False,
         client=None) -> list[Campaign]:
    """The selected campaigns with their phases, oldest first. Raises BadInput for an empty
    store, an experiment without campaigns, or a campaign selector that matches nothing."""
    snap = runquery.fetch(uri, experiments, history=history, client=client)
    found = assemble(snap)
    if not found:
        where = f"experiment(s) {', '.join(experiments)}" if experiments else "store"
        raise BadInput(f"no cogit campaigns in {where} of {uri!r}; accepted: a store with "
                       f"runs tagged {s.KIND}=campaign")
    if experiments:
        missing = sorted(set(experiments) - {c.experiment for c in found})
        if missing:
            raise BadInput(f"no cogit campaigns in experiment {missing[0]!r}; accepted: "
                           f"{', '.join(sorted({c.experiment for c in found}))}")
    return select(found, campaigns) if campaigns else found


def assemble(snap: runquery.Snapshot) -> list[Campaign]:
    """Campaign records with their phases attached through `mlflow.parentRunId`."""
    camps: dict[str, Campaign] = {}
    for row in snap.runs:
        if row.tags.get(s.KIND) == "campaign":
            camps[row.run_id] = Campaign(
                row.run_id, row.tags.get(s.UID), row.tags.get(s.CAMPAIGN) or row.name,
                row.experiment, row.status, row.tags, row.start_time)
    for row in snap.runs:
        parent = camps.get(row.tags.get(runquery.PARENT_TAG, ""))
        if row.tags.get(s.KIND) != "phase" or parent is None:
            continue
        figures = Figures(**{f: row.metrics.get(m) for f, m in METRIC_FIELDS.items()})
        index = row.tags.get(s.PHASE_INDEX)
        parent.phases.append(Phase(
            row.run_id, row.tags.get(s.UID), row.tags.get(s.PHASE) or row.name,
            int(index) if index and index.lstrip("-").isdigit() else None,
            row.status, row.tags.get(s.FAILURE), row.tags, figures,
            snap.history.get(row.run_id, [])))
    for camp in camps.values():
        camp.phases.sort(key=lambda p: (p.index is None, p.index or 0))
    return list(camps.values())


def select(campaigns: list[Campaign], selectors: Iterable[str]) -> list[Campaign]:
    """Campaigns named by label, run id or uid, in the order given; unknown names fail."""
    chosen: list[Campaign] = []
    for sel in selectors:
        hits = [c for c in campaigns if sel in (c.label, c.run_id, c.uid)]
        if not hits:
            known = sorted({c.label for c in campaigns})
            more = f", ... ({len(known)} in all)" if len(known) > 8 else ""
            shown = ", ".join(known[:8]) + more
            raise BadInput(f"unknown campaign {sel!r}; accepted: a campaign label, run id or "
                           f"uid ({shown})")
        chosen += [c for c in hits if c not in chosen]
    return chosen


def parse_group_by(text: str | None) -> list[str]:
    if not text:
        return []
    keys = [k.strip() for k in text.split(",") if k.strip()]
    for key in keys:
        if key not in GROUP_KEYS:
            raise BadInput(f"unknown group-by key {key!r}; accepted: {', '.join(GROUP_KEYS)}")
    return keys


# ---------------------------------------------------------------- the report table

FIGURE_COLUMNS = [
    Column("duration_s", "time", "seconds"), Column("cost_usd", "cost", "usd"),
    Column("vram_peak_gb", "VRAM GB", "gb"), Column("fidelity", "fidelity", "fraction"),
    Column("generations", "gens", "int"), Column("tokens_per_s", "tok/s", "float"),
]
RATIO_COLUMNS = [
    Column("x_time", "time/base", "ratio"), Column("x_cost", "cost/base", "ratio"),
    Column("d_fidelity", "fid pt-base", "pt"),
]


def report(campaigns: list[Campaign], group_by: Sequence[str] = (),
           baseline: str | None = None) -> Table:
    """Per campaign and phase (or per group), with totals and optional baseline ratios."""
    table = grouped(campaigns, group_by) if group_by else per_campaign(campaigns)
    if baseline is not None:
        add_ratios(table, baseline)
    return table


def _figure_cells(f: Figures) -> dict:
    return {c.key: getattr(f, c.key) for c in FIGURE_COLUMNS}


def per_campaign(campaigns: list[Campaign]) -> Table:
    rows = []
    for camp in campaigns:
        head = {"campaign": camp.label, "gpu": camp.attr("gpu.key"),
                "precision": camp.attr("precision")}
        for ph in camp.phases:
            rows.append({**head, "phase": ph.name, "status": ph.status_text,
                         "_key": camp.label, **_figure_cells(ph.figures)})
        rows.append({**head, "phase": TOTAL, "status": camp.status, "_key": camp.label,
                     "_section_end": True, **_figure_cells(camp.totals())})
    columns = [Column("campaign", "campaign"), Column("gpu", "gpu"),
               Column("precision", "precision"), Column("phase", "phase"),
               Column("status", "status"), *FIGURE_COLUMNS]
    return Table(f"Report: {len(campaigns)} campaign(s)", columns, rows)


def _median(values: Iterable[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


def status_counts(statuses: Iterable[str]) -> str:
    counts: dict[str, int] = {}
    for st in statuses:
        counts[st] = counts.get(st, 0) + 1
    return ", ".join(f"{n} {st}" for st, n in sorted(counts.items()))


def aggregate(figures: list[Figures]) -> Figures:
    """Medians across runs (robust to one slow pod); peaks are maxima."""
    def med(name):
        return _median(getattr(f, name) for f in figures)

    peaks = [f.vram_peak_gb for f in figures if f.vram_peak_gb is not None]
    return Figures(duration_s=med("duration_s"), cost_usd=med("cost_usd"),
                   vram_peak_gb=max(peaks) if peaks else None, fidelity=med("fidelity"),
                   generations=med("generations"), tokens_per_s=med("tokens_per_s"))


def grouped(campaigns: list[Campaign], keys: Sequence[str]) -> Table:
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
        row.update(_figure_cells(aggregate([f for _, f in items])))
        row.update({"n": len(items), "status": status_counts(st for st, _ in items),
                    "cost_total": sum(costs) if costs else None,
                    "_key": "/".join(group[:len(tag_keys)]) if tag_keys else "all"})
        if not by_phase:
            row["phase"] = TOTAL
        rows.append(row)
    columns = [Column(k, k) for k in tag_keys] + ([Column("phase", "phase")] if by_phase else [])
    columns += [Column("n", "runs" if by_phase else "campaigns", "int"),
                Column("status", "status"), *FIGURE_COLUMNS,
                Column("cost_total", "cost (sum)", "usd")]
    unit = "phase runs" if by_phase else "campaigns"
    return Table(f"Grouped by {', '.join(keys)} ({len(campaigns)} campaigns)", columns, rows,
                 notes=[f"Figures are medians across {unit} in a group; VRAM is the peak; "
                        f"'cost (sum)' adds every member's cost."])


def add_ratios(table: Table, baseline: str) -> None:
    """Ratio columns against the baseline's row for the same phase (or the total)."""
    base = {r["phase"]: r for r in table.rows if r["_key"] == baseline}
    if not base:
        known = sorted({r["_key"] for r in table.rows})
        raise BadInput(f"unknown baseline {baseline!r}; accepted: one of the rows shown "
                       f"({', '.join(known[:8])}{', ...' if len(known) > 8 else ''})")
    for row in table.rows:
        ref = base.get(row["phase"])
        if ref is None:
            continue
        row["x_time"] = ratio(row.get("duration_s"), ref.get("duration_s"))
        row["x_cost"] = ratio(row.get("cost_usd"), ref.get("cost_usd"))
        row["d_fidelity"] = points(row.get("fidelity"), ref.get("fidelity"))
    table.columns += RATIO_COLUMNS
    table.notes.append(f"Ratios are against {baseline!r} (time and cost: row / baseline; "
                       f"fidelity: difference in percentage points).")


def ratio(value: float | None, ref: float | None) -> float | None:
    return value / ref if value is not None and ref else None


def points(value: float | None, ref: float | None) -> float | None:
    """Fidelity difference in percentage points (fidelity is logged as a fraction)."""
    return (value - ref) * 100 if value is not None and ref is not None else None


# ---------------------------------------------------------------- the command's entry point

def make_report(uri: str, experiments: Sequence[str] = (), campaigns: Sequence[str] = (),
                group_by: str | None = None, baseline: str | None = None,
                charts: bool = False, log: bool = False, client=None) -> Table:
    """`cogit-log report`: load, tabulate, and (html or `log`) draw the charts.

    With `log`, each campaign's charts are also logged to its run under `cogit-report/`,
    so `mlflow ui` shows them; the artifact URIs are listed in the table's notes.
    """
    keys = parse_group_by(group_by)
    found = load(uri, experiments or None, campaigns or None, history=charts or log,
                 client=client)
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
