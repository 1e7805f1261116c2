"""Campaigns and their phases as records: what was measured, loaded from a store.

A campaign (the parent run) and its phases (child runs) become `Campaign` and `Phase` records,
read by `fetch.py` (SQL fast path or REST). Every view of them (`report`, `compare`, a
projection) starts here. Missing figures stay missing (None, printed blank): a RUNNING or
FAILED phase keeps its status and totals add what was measured, never a guessed zero.
"""
from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from typing import Iterable, Sequence

from .. import schema as s
from ..errors import BadInput, Unknown
from . import fetch
from .headline import Headline, from_tag, logged
from .nodes import NodeLine, node_lines

# `--group-by` keys and where each is read from; `phase` and `experiment` are not tags.
GROUP_KEYS = {
    "gpu.key": s.GPU_KEY, "gpu.name": s.GPU_NAME, "gpu.count": s.GPU_COUNT,
    "precision": s.PRECISION, "provider": s.PROVIDER, "model": s.MODEL,
    "phase": None, "experiment": None,
}
TOTAL = "total"
#: The figures cogit itself measures on every phase, each a field of `Figures`.
OWN = (s.DURATION_S, s.COST_USD, s.VRAM_PEAK_GB, s.RAM_PEAK_GB)
Points = list[tuple[int, float]]


@dataclass
class Figures:
    """Measured figures of a phase, or a campaign's totals; None where nothing was logged.
    `metrics` holds the experiment's own results, by name (the last value of each)."""

    duration_s: float | None = None
    cost_usd: float | None = None
    vram_peak_gb: float | None = None
    ram_peak_gb: float | None = None
    metrics: dict[str, float] = field(default_factory=dict)

    def get(self, name: str) -> float | None:
        """A figure by its metric name, cogit's own or the experiment's."""
        return getattr(self, name) if name in OWN else self.metrics.get(name)

    @property
    def tokens_per_s(self) -> float | None:
        """The throughput the projection classes a generating phase by."""
        return self.metrics.get(s.TOKENS_PER_S)


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
    history: dict[str, Points] = field(default_factory=dict)  # metric -> (step, value)
    start_time: int | None = None   # epoch ms, as MLflow keeps them
    end_time: int | None = None
    nodes: list[NodeLine] = field(default_factory=list)  # a multi-rank job's, one a node

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

    @property
    def headline(self) -> Headline:
        """What the campaign declared (`schema.HEADLINE`), else what its phases logged."""
        declared = from_tag(self.attrs.get(s.HEADLINE))
        return declared or logged(n for p in self.phases for n in p.figures.metrics)

    def totals(self) -> Figures:
        """Sums of cost, and of time less the time phases ran at once (two phases on two
        machines in the same hour took one hour, not two); peaks are maxima; each of the
        experiment's metrics is the last phase's that measured it."""
        figs = [p.figures for p in self.phases]

        def present(name):
            return [f.get(name) for f in figs if f.get(name) is not None]

        def total(name):
            return sum(present(name)) if present(name) else None

        def peak(name):
            return max(present(name), default=None)

        last = {k: v for f in figs for k, v in f.metrics.items()}  # later phases win
        duration = total(s.DURATION_S)
        if duration is not None:
            duration -= overlap_s([(p.start_time, p.end_time) for p in self.phases])
        return Figures(duration_s=duration, cost_usd=total(s.COST_USD),
                       vram_peak_gb=peak(s.VRAM_PEAK_GB), ram_peak_gb=peak(s.RAM_PEAK_GB),
                       metrics=last)


def overlap_s(spans: Sequence[tuple[int | None, int | None]]) -> float:
    """Seconds counted more than once by spans (epoch ms) that overlap: their lengths less
    the length of their union. Spans without both ends count nothing."""
    known = sorted((a, b) for a, b in spans if a is not None and b is not None and b > a)
    union, end = 0, None
    for start, stop in known:
        if end is None or start > end:
            union, end = union + (stop - start), stop
        elif stop > end:
            union, end = union + (stop - end), stop
    return (sum(b - a for a, b in known) - union) / 1000


# ---------------------------------------------------------------- loading

def load(uri: str, experiments: Sequence[str] | None = None,
         campaigns: Sequence[str] | None = None, history: bool = False,
         client=None, gpus: Sequence[str] = ()) -> list[Campaign]:
    """The selected campaigns with their phases, oldest first. Raises BadInput for an empty
    store, an experiment without campaigns, a GPU key no campaign ran on, or a campaign
    selector that matches nothing."""
    found = assemble(fetch.fetch(uri, experiments, client=client))
    if not found:
        where = f"experiment(s) {', '.join(experiments)}" if experiments else "store"
        raise BadInput(f"no cogit campaigns in {where} of {uri!r}; accepted: a store with "
                       f"runs tagged {s.KIND}=campaign")
    if experiments:
        missing = sorted(set(experiments) - {c.experiment for c in found})
        if missing:
            raise BadInput(f"no cogit campaigns in experiment {missing[0]!r}; accepted: "
                           f"{', '.join(sorted({c.experiment for c in found}))}")
    found = on_gpus(found, gpus)
    found = select(found, campaigns) if campaigns else found
    return with_history(uri, found, client) if history else found


def with_history(uri: str, campaigns: list[Campaign], client=None) -> list[Campaign]:
    """`campaigns`, each phase given the history of its campaign's charted headline metrics
    (`Headline.charted`) that it logged: what the charts draw, and nothing more is read."""
    wanted = {p.run_id: [n for n in c.headline.charted if n in p.figures.metrics]
              for c in campaigns for p in c.phases}
    found = fetch.histories(uri, {i: keys for i, keys in wanted.items() if keys}, client)
    for camp in campaigns:
        for ph in camp.phases:
            ph.history = found.get(ph.run_id, {})
    return campaigns


def on_gpus(campaigns: list[Campaign], gpus: Sequence[str]) -> list[Campaign]:
    """The campaigns that ran on one of these catalog GPU keys (all, when none are given)."""
    known = sorted({c.attr("gpu.key") or "-" for c in campaigns})
    for key in gpus:
        if key not in known:
            raise BadInput(f"no campaign ran on GPU {key!r}; accepted: {', '.join(known)}")
    return [c for c in campaigns if not gpus or (c.attr("gpu.key") or "-") in gpus]


def assemble(snap: fetch.Snapshot) -> list[Campaign]:
    """Campaign records with their phases attached through `mlflow.parentRunId`."""
    camps: dict[str, Campaign] = {}
    for row in snap.runs:
        if row.tags.get(s.KIND) == "campaign":
            camps[row.run_id] = Campaign(
                row.run_id, row.tags.get(s.UID), row.tags.get(s.CAMPAIGN) or row.name,
                row.experiment, row.status, row.tags, row.start_time)
    for row in snap.runs:
        parent = camps.get(row.tags.get(s.PARENT_RUN, ""))
        if row.tags.get(s.KIND) != "phase" or parent is None:
            continue
        own = {k: v for k, v in sorted(row.metrics.items()) if not s.is_cogit_metric(k)}
        figures = Figures(**{k: row.metrics.get(k) for k in OWN}, metrics=own)
        index = row.tags.get(s.PHASE_INDEX)
        parent.phases.append(Phase(
            row.run_id, row.tags.get(s.UID), row.tags.get(s.PHASE) or row.name,
            int(index) if index and index.lstrip("-").isdigit() else None,
            row.status, row.tags.get(s.FAILURE), row.tags, figures,
            start_time=row.start_time, end_time=row.end_time,
            nodes=node_lines(row.tags, row.metrics, parent.attrs)))
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
            raise Unknown(f"unknown campaign {sel!r}; accepted: a campaign label, run id or "
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


# ---------------------------------------------------------------- arithmetic on figures

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
        return _median(f.get(name) for f in figures)

    def peak(name):
        return max((f.get(name) for f in figures if f.get(name) is not None), default=None)

    names = dict.fromkeys(k for f in figures for k in f.metrics)
    found = {k: med(k) for k in names}
    return Figures(duration_s=med(s.DURATION_S), cost_usd=med(s.COST_USD),
                   vram_peak_gb=peak(s.VRAM_PEAK_GB), ram_peak_gb=peak(s.RAM_PEAK_GB),
                   metrics={k: v for k, v in found.items() if v is not None})


def ratio(value: float | None, ref: float | None) -> float | None:
    return value / ref if value is not None and ref else None


def change(value: float | None, ref: float | None) -> float | None:
    """Relative change from `ref` to `value`, a fraction of |ref| (shown as +12%): the
    log's "<2% degradation" as a computed figure."""
    return (value - ref) / abs(ref) if value is not None and ref else None

