"""Running phases as they run: elapsed time, progress, ETA, cost so far and projected, and how
old the last heartbeat is (`cogit-log runs watch`).

Everything shown is what the runs' own processes logged with their heartbeats (`monitor.py`);
nothing here estimates. A run whose heartbeat is older than `stale_after` is dead in all but
name (`runs reap` would mark it KILLED): it is shown as stale and no longer waited for.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Iterator, Mapping

from .. import schema
from ..errors import check_number
from ..reports.nodes import NodeLine, node_lines, sub_rows
from ..store import query
from ..store import uri as store_uri
from ..table import Column, Table, fmt_value
from .liveness import DEFAULT_STALE_AFTER_S
from .ranks import latest_heartbeat


@dataclass
class Watched:
    """One phase run as `runs watch` shows it."""

    run_id: str
    campaign: str
    phase: str
    status: str
    elapsed_s: float
    progress: float | None
    eta_s: float | None
    cost_usd: float | None
    projected_cost_usd: float | None
    heartbeat_age_s: float | None
    stale: bool
    nodes: list[NodeLine] = field(default_factory=list)  # a multi-rank job's, one a node
    seen_ms: int = 0                                      # when it was looked at
    # how it ended (the live page's "just ended"), and why a stale one is called stale
    failure: str = ""
    failure_message: str = ""
    ended_ms: int | None = None
    stale_after_s: float = DEFAULT_STALE_AFTER_S
    ranks: int = 1                                        # the job's ranks (1: one process)

    @property
    def stale_reason(self) -> str:
        """Why a stale run is not waited for, in words; blank for a live one."""
        if not self.stale or self.heartbeat_age_s is None:
            return ""
        return (f"no heartbeat for {fmt_value(self.heartbeat_age_s, 'seconds')} (stale after "
                f"{fmt_value(self.stale_after_s, 'seconds')}): its process is gone; "
                "`cogit-log runs reap` marks it KILLED")

    @property
    def ending(self) -> str:
        """How an ended run ended: `FINISHED`, `KILLED (budget)`, `FAILED (cuda_oom)`."""
        return f"{self.status} ({self.failure})" if self.failure else self.status

    def state(self) -> tuple:
        """What a new plain line is printed for: the figures the heartbeat changes, not the
        clock (elapsed time and heartbeat age change on every look)."""
        return (self.status, self.stale, self.progress, self.eta_s, self.cost_usd)

    @property
    def waiting(self) -> bool:
        """Still worth waiting for: running, with a live (or not yet written) heartbeat."""
        return self.status == "RUNNING" and not self.stale


def watched(run, now_ms: int, stale_after_s: float,
            campaign_tags: Mapping[str, str] | None = None) -> Watched:
    """`run` as watch shows it; a phase of a multi-rank job with its node lines, which
    need its campaign's tags (where each node's GPUs are said)."""
    tags, metrics, info = run.data.tags, run.data.metrics, run.info
    beat = latest_heartbeat(tags)
    age = (now_ms - beat) / 1000 if beat is not None else None
    end = info.end_time if info.status != "RUNNING" and info.end_time else now_ms
    running = info.status == "RUNNING"
    return Watched(
        info.run_id, tags.get(schema.CAMPAIGN, ""), tags.get(schema.PHASE, ""), info.status,
        max(end - info.start_time, 0) / 1000, metrics.get(schema.PROGRESS),
        metrics.get(schema.ETA_S) if running else None, metrics.get(schema.COST_USD),
        metrics.get(schema.PROJECTED_COST_USD, metrics.get(schema.COST_USD)),
        age if running else None, running and age is not None and age > stale_after_s,
        node_lines(tags, metrics, campaign_tags) if campaign_tags is not None else [], now_ms,
        failure=tags.get(schema.FAILURE, ""),
        failure_message=tags.get(schema.FAILURE_MESSAGE, ""),
        ended_ms=None if running else info.end_time, stale_after_s=stale_after_s,
        ranks=_ranks(tags))


def _ranks(tags: Mapping[str, str]) -> int:
    """How many ranks the run's job has (1 for a run of one process, or a tag gone bad)."""
    text = tags.get(schema.RANKS, "1")
    return int(text) if text.isdigit() and int(text) > 0 else 1


def snapshot(client, campaign: str | None, seen: dict[str, Watched], stale_after_s: float,
             now_ms: int | None = None) -> list[Watched]:
    """Every phase run that is RUNNING now, and those seen running before (now ended), so a
    phase that finishes stays on screen with its final figures."""
    now_ms = now_ms or int(time.time() * 1000)
    where = f"tags.`{schema.KIND}` = 'phase' and attributes.status = 'RUNNING'"
    tags = {schema.CAMPAIGN: campaign} if campaign else None
    running = {r.info.run_id: r for r in query.runs(client, where, tags=tags)}
    for run_id, before in list(seen.items()):
        if run_id not in running and before.waiting:
            running[run_id] = client.get_run(run_id)
    campaigns: dict[str, Mapping[str, str]] = {}
    for run_id, run in running.items():
        seen[run_id] = watched(run, now_ms, stale_after_s, _campaign_tags(client, run, campaigns))
    return sorted(seen.values(), key=lambda w: (w.campaign, w.run_id))


def _campaign_tags(client, run, cache: dict[str, Mapping[str, str]]) -> Mapping[str, str]:
    """The tags of a multi-rank phase's campaign (read once a look), `{}` for a phase of
    one process, which needs none, or whose campaign is gone."""
    from mlflow.exceptions import MlflowException

    parent = run.data.tags.get(schema.PARENT_RUN)
    if not parent or run.data.tags.get(schema.RANKS, "1") in ("", "0", "1"):
        return {}
    if parent not in cache:
        try:
            cache[parent] = client.get_run(parent).data.tags
        except MlflowException:
            cache[parent] = {}
    return cache[parent]


def watch(tracking_uri: str | None = None, campaign: str | None = None,
          interval_s: float = 2.0, stale_after_s: float = DEFAULT_STALE_AFTER_S
          ) -> Iterator[list[Watched]]:
    """Snapshots every `interval_s` until no phase is left to wait for. A campaign between two
    phases counts as running: its next phase is waited for while the campaign run is RUNNING
    with a live heartbeat. Bad values fail here, before the first look."""
    check_number("--interval", interval_s, 0,
                 "a finite, positive number of seconds, e.g. 2")
    check_number("--stale-after", stale_after_s, 0,
                 "a finite, positive number of seconds, e.g. 120")
    client = store_uri.client(tracking_uri, "read")
    return _snapshots(client, campaign, interval_s, stale_after_s)


def _snapshots(client, campaign: str | None, interval_s: float,
               stale_after_s: float) -> Iterator[list[Watched]]:
    seen: dict[str, Watched] = {}
    while True:
        rows = snapshot(client, campaign, seen, stale_after_s)
        yield rows
        if not any(r.waiting for r in rows) and not _campaigns_alive(client, campaign,
                                                                      stale_after_s):
            return
        time.sleep(interval_s)


def _campaigns_alive(client, campaign: str | None, stale_after_s: float) -> bool:
    """A RUNNING campaign run with a fresh heartbeat: a phase may be about to start."""
    where = f"tags.`{schema.KIND}` = 'campaign' and attributes.status = 'RUNNING'"
    tags = {schema.CAMPAIGN: campaign} if campaign else None
    now_ms = int(time.time() * 1000)
    return any(watched(run, now_ms, stale_after_s).waiting
               for run in query.runs(client, where, tags=tags))


COLUMNS = [Column("campaign", "campaign"), Column("phase", "phase"),
           Column("status", "status", "status"), Column("elapsed_s", "elapsed", "seconds"),
           Column("progress", "progress", "percent"), Column("eta_s", "ETA", "seconds"),
           Column("cost_usd", "cost so far", "usd"),
           Column("projected_cost_usd", "projected", "usd"),
           Column("heartbeat_age_s", "heartbeat", "seconds")]


def as_table(rows: list[Watched], title: str = "Running phases") -> Table:
    """The watch table; a stale run reads `RUNNING (stale)` and is styled to stand out."""
    out = []
    for r in rows:
        row = {c.key: getattr(r, c.key) for c in COLUMNS}
        if r.stale:
            row.update(status="RUNNING (stale)", _style="bold red")
        out += [row, *_node_rows(r)]
    notes = [] if rows else ["No phase is running."]
    if any(r.stale for r in rows):
        notes.append("A stale run's heartbeat stopped: its process is gone "
                     "(`cogit-log runs reap` marks it KILLED).")
    return Table(title, list(COLUMNS), out, notes)


def _node_rows(r: Watched) -> list[dict]:
    """A multi-rank phase's node lines: each node's ranks, GPUs, peaks and, while the phase
    runs, the age of its ranks' freshest heartbeat: a node whose ranks stopped beating
    shows an age the others do not."""
    rows = sub_rows(r.nodes, "phase", "status")
    for row, line in zip(rows, r.nodes):
        if r.status == "RUNNING" and line.heartbeat_ms is not None:
            row["heartbeat_age_s"] = max(r.seen_ms - line.heartbeat_ms, 0) / 1000
    return rows
