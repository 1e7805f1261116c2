"""Listing our runs, and reaping the ones whose process died without a word.

A SIGKILLed or OOM-killed process cannot mark its run; MLflow leaves it RUNNING forever. Our
runs carry `cogit.heartbeat`, refreshed every `COGIT_HEARTBEAT_S` seconds while they live, so
a RUNNING run whose heartbeat is older than `stale_after` is dead: `reap` marks it KILLED
with `cogit.failure=stale`, ends it at its last heartbeat and logs the cost up to then. Runs
without a heartbeat tag are not ours and are left alone.
"""
from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass

from .. import schema
from ..errors import BadInput, check_number
from ..machine import cost
from ..store import once, query
from ..store import uri as store_uri
from .ranks import latest_heartbeat

DEFAULT_STALE_AFTER_S = 120.0
STATUSES = ("RUNNING", "FINISHED", "FAILED", "KILLED", "SCHEDULED")


@dataclass
class RunState:
    """One line of `runs list` or `runs reap`: where a run stands, and what it cost."""

    run_id: str
    uid: str
    kind: str
    campaign: str
    phase: str
    status: str
    gpu: str
    start_ms: int
    duration_s: float | None
    cost_usd: float | None
    failure: str

    @classmethod
    def of(cls, run) -> "RunState":
        tags, metrics = run.data.tags, run.data.metrics
        return cls(run_id=run.info.run_id, uid=tags.get(schema.UID, ""),
                   kind=tags.get(schema.KIND, ""), campaign=tags.get(schema.CAMPAIGN, ""),
                   phase=tags.get(schema.PHASE, ""), status=run.info.status,
                   gpu=tags.get(schema.GPU_KEY, ""), start_ms=run.info.start_time,
                   duration_s=metrics.get(schema.DURATION_S),
                   cost_usd=metrics.get(schema.COST_USD), failure=tags.get(schema.FAILURE, ""))


def _cogit_runs(client, where: str, tags: dict[str, str] | None = None,
                limit: int | None = None) -> list:
    """Our runs (they carry a uid), newest first."""
    return query.runs(client, f"tags.`{schema.UID}` != '' and {where}", tags=tags,
                      order_by=["attributes.start_time DESC"], limit=limit)


def list_runs(tracking_uri: str | None = None, campaign: str | None = None,
              status: str | None = None, limit: int = 50) -> list[RunState]:
    """Campaign and phase runs, newest first."""
    client = store_uri.client(tracking_uri)
    clauses = [f"tags.`{schema.KIND}` != '{kind}'" for kind in ("decision", "prediction")]
    if status:
        status = status.upper()
        if status not in STATUSES:
            raise BadInput(f"status {status!r} is not one of {', '.join(STATUSES[:4])}")
        clauses.append(f"attributes.status = '{status}'")
    found = _cogit_runs(client, " and ".join(clauses),
                        {schema.CAMPAIGN: campaign} if campaign else None, limit)
    # a store written before exactly-once creates may hold a run twice: one shown
    return [RunState.of(run) for run in once.distinct_runs(found)]


def reap(tracking_uri: str | None = None, stale_after_s: float = DEFAULT_STALE_AFTER_S,
         dry_run: bool = False, now_ms: int | None = None) -> list[RunState]:
    """Mark dead runs KILLED (see module docstring) and return them."""
    check_number("--stale-after", stale_after_s, 0,
                 "a finite, positive number of seconds, e.g. 120")
    client = store_uri.client(tracking_uri)
    now_ms = now_ms or int(time.time() * 1000)
    found = (reap_run(client, run, stale_after_s, now_ms, dry_run)
             for run in _cogit_runs(client, "attributes.status = 'RUNNING'"))
    return [state for state in found if state is not None]


def stale(run, stale_after_s: float, now_ms: int) -> bool:
    """Whether a RUNNING run of ours has had no heartbeat for `stale_after_s` (a job lives
    while any of its ranks' does; a run without any is not ours to judge)."""
    last = latest_heartbeat(run.data.tags)
    return last is not None and now_ms - last >= stale_after_s * 1000


def reap_run(client, run, stale_after_s: float, now_ms: int,
             dry_run: bool = False) -> RunState | None:
    """Reap one RUNNING run if it is stale (else None): KILLED/stale, ended at its last
    heartbeat, with its time and cost up to then. `runs stop` reaps a dead campaign so."""
    if not stale(run, stale_after_s, now_ms):
        return None
    from mlflow.entities import Metric, RunTag

    last = latest_heartbeat(run.data.tags)
    duration = max(last - run.info.start_time, 0) / 1000
    rate = float(run.data.tags.get(schema.USD_PER_HOUR, 0) or 0)
    gpus = int(run.data.tags.get(schema.GPU_COUNT, 1) or 1)
    spent = cost.cost_usd(duration, cost.Rate(rate, "tag"), gpus)
    if not dry_run:
        client.log_batch(
            run.info.run_id,
            metrics=[Metric(schema.DURATION_S, duration, last, 0),
                     Metric(schema.COST_USD, spent, last, 0)],
            tags=[RunTag(schema.FAILURE, "stale"),
                  RunTag(schema.FAILURE_MESSAGE,
                         f"no heartbeat for {(now_ms - last) / 1000:.0f}s; reaped")],
        )
        client.set_terminated(run.info.run_id, "KILLED", end_time=last)
    return dataclasses.replace(RunState.of(run), status="KILLED", duration_s=duration,
                               cost_usd=spent, failure="stale")
