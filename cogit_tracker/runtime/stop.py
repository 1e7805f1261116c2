"""Asking a running campaign to stop from elsewhere, and the campaign seeing that it was asked.

A campaign runs on a rented pod; the researcher who wants it stopped is on a laptop, with only
the store in common (no shell on the pod, no signal that crosses machines). So the request is
two tags on the campaign run, written by whoever asks (`request_stop`: `cogit-log runs stop`,
the web's Stop button): `cogit.stop.by` (who) and `cogit.stop.at` (when, epoch ms). The
running process looks at its campaign's tags once a heartbeat (`RequestWatch`, rank 0 of a
job; the other ranks follow rank 0's stop as for a spent budget) and stops exactly as a spent
budget stops it (`budget.py`, `cogit.failure = stopped`, `on_stop` run once).

A request only works while something reads it: a campaign whose heartbeat is stale (its
process killed, its pod gone) is reaped instead, as `runs reap` would (`liveness.reap_run`),
so that asking to stop a dead run still leaves it ended. An unknown label, a campaign that is
not running, or one the asker may not see or change writes nothing.
"""
from __future__ import annotations

import getpass
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from .. import schema
from ..errors import BadInput, Denied, Unknown, check_number
from ..redaction import redact
from ..store import query
from ..store import uri as store_uri
from . import liveness
from .budget import REQUEST, Reason
from .tag_watch import TagWatch


@dataclass
class StopOutcome:
    """What asking to stop did: `requested` (the process will see it within a heartbeat) or
    `reaped` (its process was gone; `reaped` lists the runs ended as stale)."""

    outcome: str             # "requested" | "reaped"
    campaign: str
    experiment: str
    run_id: str
    by: str
    at_ms: int
    message: str
    reaped: list[liveness.RunState] = field(default_factory=list)


def asker() -> str:
    """Who asks from this machine: the MLflow login if one is set, else the OS user."""
    try:
        return os.environ.get("MLFLOW_TRACKING_USERNAME") or getpass.getuser()
    except (KeyError, OSError):  # a container user without a passwd entry
        return "unknown"


def note(by: str, at_ms: int | str) -> str:
    """The runs' `cogit.failure.message` for a stop asked for: who and when (UTC)."""
    try:
        when = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(int(at_ms) / 1000))
    except (TypeError, ValueError, OverflowError):
        when = str(at_ms)
    return f"stop requested by {by} at {when}"


def request_stop(tracking_uri: str | None, label: str, by: str, experiment: str | None = None,
                 *, visible: list[str] | None = None,
                 may_stop: Callable[[str], bool] | None = None,
                 stale_after_s: float = liveness.DEFAULT_STALE_AFTER_S,
                 now_ms: int | None = None) -> StopOutcome:
    """Ask the running campaign `label` (in `experiment`, else in any) to stop, or reap it if
    its process is gone (no heartbeat for `stale_after_s`). `visible`: the experiments the
    asker may read (None: all), outside which a campaign is unknown; `may_stop(experiment_id)`:
    whether the asker may change it (`Denied` if not). `Unknown` for no such campaign,
    `BadInput` for one that is not running; neither writes anything."""
    check_number("--stale-after", stale_after_s, 0,
                          "a finite, positive number of seconds, e.g. 120")
    client = store_uri.client(tracking_uri)
    run, exp_name = _running_campaign(client, label, experiment, visible)
    if may_stop is not None and not may_stop(run.info.experiment_id):
        raise Denied(f"stopping campaign {label!r} needs permission to edit experiment "
                     f"{exp_name!r}")
    now_ms = now_ms or int(time.time() * 1000)
    by = by or "unknown"
    if liveness.stale(run, stale_after_s, now_ms):
        return _reap(client, run, label, exp_name, by, stale_after_s, now_ms)
    from mlflow.entities import RunTag

    client.log_batch(run.info.run_id, tags=[RunTag(schema.STOP_BY, by),
                                            RunTag(schema.STOP_AT, str(now_ms))])
    return StopOutcome("requested", label, exp_name, run.info.run_id, by, now_ms,
                       f"{note(by, now_ms)}; the campaign stops at its next heartbeat")


def _running_campaign(client, label: str, experiment: str | None,
                      visible: list[str] | None):
    """The campaign run to stop (a running one of that label, the newest) and its
    experiment's name; Unknown or BadInput naming the label otherwise."""
    names = {e.experiment_id: e.name for e in query.experiments(client)}
    ids = [i for i, name in names.items() if (experiment is None or name == experiment)
           and (visible is None or name in visible)]
    where = f"experiment {experiment!r}" if experiment else "any experiment"
    found = query.campaigns(client, label, ids) if ids else []
    if not found:
        raise Unknown(f"campaign {label!r}: no such campaign in {where}; accepted: a label "
                      "that `cogit-log runs list` shows")
    running = [run for run in found if run.info.status == "RUNNING"]
    if not running:
        status = found[0].info.status.lower()
        raise BadInput(f"campaign {label!r} is {status}, not running: accepted: a running "
                       "campaign (`cogit-log runs list --status RUNNING`)")
    return running[0], names[running[0].info.experiment_id]


def _reap(client, run, label: str, exp_name: str, by: str, stale_after_s: float,
          now_ms: int) -> StopOutcome:
    """The campaign's process is gone: end it and its running phases as `runs reap` does."""
    phases = [ph for ph in query.children(client, run) if ph.info.status == "RUNNING"]
    ended = [liveness.reap_run(client, r, stale_after_s, now_ms) for r in [*phases, run]]
    reaped = [state for state in ended if state is not None]
    age = (now_ms - (liveness.latest_heartbeat(run.data.tags) or now_ms)) / 1000
    return StopOutcome("reaped", label, exp_name, run.info.run_id, by, now_ms,
                       redact(f"campaign {label!r} had no heartbeat for {age:.0f}s: its "
                              f"process is gone, so {len(reaped)} run(s) were reaped"),
                       reaped)


class RequestWatch(TagWatch):
    """The running campaign's look for a stop request: its run's tags once a heartbeat, while
    the store answers (a look that fails is tried at the next). `seen`: the request a resumed
    campaign already carries from the session it ended, which is not a new one."""

    def __init__(self, uri: str, uid: str, writer, every_s: float,
                 seen: str | None = None) -> None:
        super().__init__(uri, uid, writer, every_s)
        self.seen = seen

    def __call__(self) -> Reason | None:
        tags = self.tags()
        at = tags.get(schema.STOP_AT) if tags else None
        if not at or at == self.seen:
            return None
        return Reason(REQUEST, note(tags.get(schema.STOP_BY) or "someone", at))
