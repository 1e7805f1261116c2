"""Where a campaign stands and what is left of it: the ground `advise` builds its options on.

For each phase the campaign plans (`cogit.phases`, else the phases that have run): done, with
its measured duration; running, with the ETA its own progress gives (`runtime/progress.py`);
or not started, estimated from the same phase of the latest earlier campaign in the same
configuration (model, precision, GPU). Each estimate says where it came from, because the
researcher's "90-135 minutes" was worth exactly as much as its basis.
"""
from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from .. import schema as s
from ..errors import BadInput
from ..reports.model import Campaign, Phase, load, select
from ..reports.overview import visible_campaigns
from ..table import fmt_value
from .scaling import measured_precision


@dataclass
class Work:
    """One phase as advise sees it."""

    name: str
    state: str                  # done | running | planned
    record: Phase | None        # figures to class and fit it by: its own run, else an earlier
    full_s: float | None        # its whole duration here
    left_s: float | None        # what is still to run of it here
    elapsed_s: float = 0.0      # run so far (a running phase)
    basis: str = ""             # where the figures came from, in words


@dataclass
class Situation:
    campaign: Campaign
    campaigns: list[Campaign]   # every campaign of the store (earlier runs, quality)
    running: bool
    spent_usd: float
    rate: float | None          # $/h per GPU here, as the campaign recorded it
    rate_source: str
    count: int
    work: list[Work] = field(default_factory=list)

    @property
    def gpu(self) -> str:
        return self.campaign.attr("gpu.key") or s.NO_GPU

    @property
    def precision(self) -> str:
        return measured_precision(self.campaign)

    def left(self) -> list[Work]:
        """Phases that still have to run (all of them once the campaign has ended: a rerun)."""
        if not self.running:
            return list(self.work)
        return [w for w in self.work if w.state != "done"]


def situation(uri: str, label: str, client,
              visible: Sequence[str] | None = None) -> Situation:
    """The campaign `label` (label, run id or uid) with every phase's state and estimate.
    `client()` gives an MlflowClient; it is made only once the store is known to exist.
    `visible`: only campaigns in these experiments (a web reader's), an unknown one else."""
    campaigns = load(uri) if visible is None else visible_campaigns(uri, visible)
    client = client()
    found = select(campaigns, [label])
    if len(found) > 1:
        raise BadInput(f"campaign {label!r} names {len(found)} runs; accepted: one run id "
                       f"or uid ({', '.join(c.run_id for c in found[:4])})")
    camp = found[0]
    attrs = camp.attrs
    rate = attrs.get(s.USD_PER_HOUR)
    sit = Situation(camp, campaigns, camp.status == "RUNNING",
                    sum(p.figures.cost_usd or 0.0 for p in camp.phases),
                    float(rate) if rate else None, attrs.get(s.RATE_SOURCE, "source not recorded"),
                    max(int(camp.attr("gpu.count") or 1), 1))
    now_ms = int(time.time() * 1000)
    sit.work = [_work(sit, name, client, now_ms) for name in _phase_names(camp)]
    if not any(w.state == "done" or (w.state == "running" and w.left_s is not None)
               for w in sit.work):
        raise BadInput(f"campaign {camp.label!r} has no finished phase and no running phase "
                       f"that reports progress: nothing to base an ETA on; accepted: a "
                       f"campaign with a finished phase, or one whose phase calls "
                       f"ph.progress(done, total)")
    return sit


def _phase_names(camp: Campaign) -> list[str]:
    planned = [p for p in camp.attrs.get(s.PHASES_PLANNED, "").split(",") if p]
    return planned + [p.name for p in camp.phases if p.name not in planned]


def _latest(camp: Campaign, name: str) -> Phase | None:
    runs = [p for p in camp.phases if p.name == name]
    return max(runs, key=lambda p: p.start_time or 0) if runs else None


def earlier(sit: Situation, name: str) -> tuple[Phase, str] | None:
    """The same phase, FINISHED, in the latest other campaign of this configuration."""
    camp = sit.campaign
    same = [c for c in sit.campaigns if c.run_id != camp.run_id
            and c.experiment == camp.experiment and c.attr("model") == camp.attr("model")
            and (c.attr("gpu.key") or s.NO_GPU) == sit.gpu
            and measured_precision(c) == sit.precision]
    for other in sorted(same, key=lambda c: c.start_time or 0, reverse=True):
        ph = _latest(other, name)
        if ph is not None and ph.status == "FINISHED" and ph.figures.duration_s is not None:
            return ph, other.label
    return None


def _work(sit: Situation, name: str, client, now_ms: int) -> Work:
    own = _latest(sit.campaign, name)
    like = earlier(sit, name)
    if own is not None and own.status == "FINISHED" and own.figures.duration_s is not None:
        return Work(name, "done", own, own.figures.duration_s, 0.0, basis="measured")
    if own is not None and own.status == "RUNNING":
        return _running(own, like, client, now_ms)
    if like is None:
        return Work(name, "planned", None, None, None,
                    basis=f"{name}: not started, and no earlier campaign in this "
                          f"configuration ran it: not counted")
    ph, label = like
    return Work(name, "planned", ph, ph.figures.duration_s, ph.figures.duration_s,
                basis=f"{name}: not started; as long as in {label} (same model, precision, "
                      f"GPU): {fmt_value(ph.figures.duration_s, 'seconds')}")


def _running(own: Phase, like: tuple[Phase, str] | None, client, now_ms: int) -> Work:
    metrics = client.get_run(own.run_id).data.metrics
    elapsed = max(now_ms - (own.start_time or now_ms), 0) / 1000
    eta, done = metrics.get(s.ETA_S), metrics.get(s.PROGRESS)
    record = like[0] if like else own  # an earlier finished run has the full figures
    if eta is not None:
        return Work(own.name, "running", record, elapsed + eta, eta, elapsed,
                    f"{own.name}: {fmt_value(done, 'percent')} done after "
                    f"{fmt_value(elapsed, 'seconds')}, ETA {fmt_value(eta, 'seconds')} at the "
                    f"rate its progress shows")
    if like is None:
        return Work(own.name, "running", own, None, None, elapsed,
                    f"{own.name}: running {fmt_value(elapsed, 'seconds')}, reports no progress "
                    f"and no earlier campaign in this configuration ran it: not counted")
    full = like[0].figures.duration_s
    return Work(own.name, "running", record, full, max(full - elapsed, 0.0), elapsed,
                f"{own.name}: reports no progress; as long as in {like[1]}: "
                f"{fmt_value(full, 'seconds')}, {fmt_value(elapsed, 'seconds')} of it run")
