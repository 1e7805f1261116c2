"""The live board: every running campaign with its running phases, and what ended a moment
ago, as `/cogit/live` and `/cogit/api/live` show them.

Each run's figures (elapsed, progress, ETA, cost so far, projected cost, heartbeat age, stale)
are `runs watch`'s own (`watch.watched`), so the page, its JSON and the command line cannot
disagree. This module only adds what a board needs beyond one phase: the phases grouped under
their campaign, the campaign's budget and how much of it is spent, the job's ranks and nodes,
and the runs that ended within `JUST_ENDED_MIN` minutes with how they ended, so a phase that
ends moves to "just ended" instead of vanishing between two looks.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

from .. import schema
from ..redaction import redact
from ..store import query
from .liveness import DEFAULT_STALE_AFTER_S
from .watch import Watched, watched

#: How long an ended phase or campaign stays on the board, under "just ended".
JUST_ENDED_MIN = 10
#: The longest failure message a board row carries (the run's page has all of it).
MESSAGE_CHARS = 300


@dataclass
class LiveCampaign:
    """A running campaign (or the campaign of a running phase) and its running phases."""

    figures: Watched                 # the campaign run itself, as `runs watch` sees a run
    uid: str
    experiment: str
    experiment_id: str
    budget_usd: float | None
    nodes: int                       # the job's nodes (1 for one machine)
    phases_planned: list[str]
    phases: list[Watched] = field(default_factory=list)

    @property
    def budget_spent(self) -> float | None:
        """The fraction of the budget spent so far (over 1 once it is overspent)."""
        if not self.budget_usd or self.figures.cost_usd is None:
            return None
        return self.figures.cost_usd / self.budget_usd

    @property
    def projected_cost_usd(self) -> float | None:
        """The campaign's cost when its running phases end: what it has cost, plus what each
        running phase's own projection adds; None while no phase projects."""
        extra = [p.projected_cost_usd - p.cost_usd for p in self.phases
                 if p.status == "RUNNING" and p.projected_cost_usd is not None
                 and p.cost_usd is not None]
        if not extra or self.figures.cost_usd is None:
            return None
        return self.figures.cost_usd + sum(extra)

    def data(self) -> dict:
        return {**run_data(self.figures), "kind": "campaign", "uid": self.uid,
                "experiment": self.experiment, "experiment_id": self.experiment_id,
                "budget_usd": self.budget_usd, "budget_spent": self.budget_spent,
                "projected_cost_usd": self.projected_cost_usd, "nodes_count": self.nodes,
                "phases_planned": self.phases_planned,
                "phases": [run_data(p) for p in self.phases]}


@dataclass
class EndedRun:
    """A phase or campaign run that ended within the last `JUST_ENDED_MIN` minutes."""

    figures: Watched
    kind: str                        # campaign | phase
    experiment: str
    experiment_id: str

    def data(self) -> dict:
        return {**run_data(self.figures), "kind": self.kind, "experiment": self.experiment,
                "experiment_id": self.experiment_id}


@dataclass
class Board:
    running: list[LiveCampaign]
    just_ended: list[EndedRun]
    now_ms: int
    stale_after_s: float
    just_ended_min: int = JUST_ENDED_MIN

    def data(self) -> dict:
        return {"now_ms": self.now_ms, "stale_after_s": self.stale_after_s,
                "just_ended_minutes": self.just_ended_min,
                "running": [c.data() for c in self.running],
                "just_ended": [e.data() for e in self.just_ended]}


def run_data(w: Watched) -> dict:
    """One run's figures as the board's JSON carries them: raw numbers (the page formats
    them, and keeps elapsed time, ETA and heartbeat age ticking between two looks)."""
    return {"run_id": w.run_id, "campaign": w.campaign, "phase": w.phase, "status": w.status,
            "ending": w.ending, "failure": w.failure,
            "failure_message": redact(w.failure_message)[:MESSAGE_CHARS],
            "elapsed_s": w.elapsed_s, "progress": w.progress, "eta_s": w.eta_s,
            "cost_usd": w.cost_usd, "projected_cost_usd": w.projected_cost_usd,
            "heartbeat_age_s": w.heartbeat_age_s, "stale": w.stale,
            "stale_reason": w.stale_reason, "ranks": w.ranks, "ended_ms": w.ended_ms,
            "nodes": [_node_data(n, w) for n in w.nodes]}


def _node_data(line, w: Watched) -> dict:
    """A node of a multi-rank job: its name, ranks, GPUs, and its ranks' freshest heartbeat
    (a node whose ranks stopped beating shows an age the others do not)."""
    age = max(w.seen_ms - line.heartbeat_ms, 0) / 1000 \
        if w.status == "RUNNING" and line.heartbeat_ms is not None else None
    return {"node": line.label, "what": line.describe(failure=True), "heartbeat_age_s": age,
            "failed": line.failed}


def board(client, experiment_ids: list[str] | None, campaign: str | None = None,
          stale_after_s: float = DEFAULT_STALE_AFTER_S, now_ms: int | None = None,
          just_ended_min: int = JUST_ENDED_MIN) -> Board:
    """The board over `experiment_ids` (None: every experiment), optionally one campaign's
    label only. Two searches: the runs RUNNING now, and those that ended in the window."""
    now_ms = now_ms or int(time.time() * 1000)
    tags = {schema.CAMPAIGN: campaign} if campaign else None
    running = _ours(query.runs(client, "attributes.status = 'RUNNING'", experiment_ids, tags))
    since = now_ms - just_ended_min * 60_000
    ended = _ours(query.runs(client, "attributes.status != 'RUNNING' and "
                             f"attributes.end_time >= {since}", experiment_ids, tags))
    names = _Experiments(client)
    campaigns = {r.info.run_id: r for r in running if _kind(r) == "campaign"}
    campaigns.update({r.info.run_id: r for r in ended if _kind(r) == "campaign"})
    live = {rid: _live(run, names, now_ms, stale_after_s)
            for rid, run in campaigns.items() if run.info.status == "RUNNING"}
    for run in running:
        if _kind(run) != "phase":
            continue
        parent = run.data.tags.get(schema.PARENT_RUN, "")
        if parent not in live:  # a running phase whose campaign ended (or was reaped)
            live[parent] = _live(campaigns.get(parent) or _run(client, parent) or run, names,
                                 now_ms, stale_after_s)
        live[parent].phases.append(watched(run, now_ms, stale_after_s,
                                           _job_tags(run, campaigns.get(parent))))
    just = [EndedRun(watched(r, now_ms, stale_after_s, _job_tags(r, campaigns.get(
        r.data.tags.get(schema.PARENT_RUN, "")))), _kind(r), *names.of(r)) for r in ended]
    for c in live.values():
        c.phases.sort(key=lambda p: p.elapsed_s, reverse=True)
    return Board(sorted(live.values(), key=lambda c: (c.figures.campaign, c.figures.run_id)),
                 sorted(just, key=lambda e: -(e.figures.ended_ms or 0)), now_ms,
                 stale_after_s, just_ended_min)


def _run(client, run_id: str):
    """A phase's campaign run, or None when it is gone (the phase then stands for itself)."""
    from mlflow.exceptions import MlflowException

    try:
        return client.get_run(run_id) if run_id else None
    except MlflowException:
        return None


def _kind(run) -> str:
    return run.data.tags.get(schema.KIND, "")


def _ours(runs: list) -> list:
    """Campaign and phase runs only (not decisions, predictions, or runs not cogit's)."""
    return [r for r in runs if _kind(r) in ("campaign", "phase")]


def _job_tags(run, campaign_run) -> dict | None:
    """The tags a multi-rank run's node lines need (its campaign's: where each node's GPUs
    are said); None for a run of one process, which has no node lines."""
    if run.data.tags.get(schema.RANKS, "1") in ("", "0", "1"):
        return None
    return dict(campaign_run.data.tags) if campaign_run is not None else dict(run.data.tags)


def _live(run, names: "_Experiments", now_ms: int, stale_after_s: float) -> LiveCampaign:
    tags = run.data.tags
    budget = tags.get(schema.BUDGET_USD)
    nodes = tags.get(schema.NODES_COUNT, "1")
    planned = tags.get(schema.PHASES_PLANNED, "")
    return LiveCampaign(watched(run, now_ms, stale_after_s, _job_tags(run, run)),
                        tags.get(schema.UID, ""), *names.of(run),
                        budget_usd=_number(budget), nodes=int(nodes) if nodes.isdigit() else 1,
                        phases_planned=[p for p in planned.split(",") if p])


def _number(text: str | None) -> float | None:
    try:
        return float(text) if text else None
    except ValueError:  # a tag someone else wrote: no budget rather than no board
        return None


class _Experiments:
    """Experiment names by id, asked once each per board."""

    def __init__(self, client) -> None:
        self.client, self.names = client, {}

    def of(self, run) -> tuple[str, str]:
        eid = run.info.experiment_id
        if eid not in self.names:
            self.names[eid] = self.client.get_experiment(eid).name
        return self.names[eid], eid
