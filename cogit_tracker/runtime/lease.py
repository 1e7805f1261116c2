"""One process at a time on a campaign: a lease on the campaign run.

Two processes resuming one campaign at once would both reopen its unfinished phase (one
history, two writers: 39 points on 20 steps) and both start the phases after it. MLflow has no
lock, but a param is write-once: logging `cogit.session.<n>` succeeds for the first process
and is refused for any other with another value, on every store. So a resume:

1. reads the campaign run: it is busy if its last session was not released and its holder
   looks alive (the run RUNNING with a fresh heartbeat, or the session taken moments ago);
2. takes the next session by logging its param; a refusal means another process took it;
3. releases it at the end (the tag `cogit.session.released`), however the campaign ends.

A holder killed with -9 releases nothing; its lease lapses when its heartbeat goes stale
(`stale_after`, as `runs reap` judges). A busy campaign is one clear error (`Conflict`), or,
with `wait=True`, a wait until it is free.
"""
from __future__ import annotations

import os
import socket
import time
import uuid
import warnings
from dataclasses import dataclass

from .. import schema, settings
from ..errors import Conflict
from ..store.ops import now_ms
from ..store.quarantine import refused
from .liveness import DEFAULT_STALE_AFTER_S

POLL_S = 2.0


def stale_after_s() -> float:
    """How long a holder may stay silent before its lease lapses."""
    return max(DEFAULT_STALE_AFTER_S, 4 * settings.HEARTBEAT.get())


@dataclass(frozen=True)
class Lease:
    session: int
    holder: str


def holder() -> str:
    return f"{socket.gethostname()} pid {os.getpid()} {uuid.uuid4().hex[:8]}"


def acquire(client, run_id: str, label: str, wait: bool = False) -> Lease:
    """Take the campaign run's lease (see the module doc)."""
    me = holder()
    said = False
    while True:
        run = client.get_run(run_id)
        busy = busy_with(run)
        if busy is None:
            session = next_session(run)
            if _claim(client, run_id, session, me):
                return Lease(session, me)
            busy = "another process took it a moment ago"
        if not wait:
            raise Conflict(f"campaign {label!r} is held by another process ({busy}); wait "
                           "for it to end, or pass --wait (wait=True) to wait for it")
        if not said:
            warnings.warn(f"cogit-tracker: campaign {label!r} is held ({busy}); waiting",
                          stacklevel=2)
            said = True
        time.sleep(POLL_S)


def sessions(run) -> dict[int, str]:
    """Session number -> holder of every session the campaign run records."""
    out = {}
    for key, value in run.data.params.items():
        number = key[len(schema.SESSION_PREFIX):]
        if key.startswith(schema.SESSION_PREFIX) and number.isdigit():
            out[int(number)] = value
    return out


def next_session(run) -> int:
    return max(sessions(run), default=0) + 1


def busy_with(run, now: int | None = None) -> str | None:
    """Who holds the campaign, in words; None when it is free."""
    now = now or now_ms()
    taken = sessions(run)
    last = max(taken, default=None)
    tags = run.data.tags
    if last is not None and tags.get(schema.SESSION_RELEASED) == str(last):
        return None
    window = stale_after_s() * 1000
    beat = tags.get(schema.HEARTBEAT, "")
    if run.info.status == "RUNNING" and beat.isdigit() and now - int(beat) < window:
        who = taken[last].rsplit(" ", 1)[0] if last is not None else "the process that made it"
        return f"{who}, alive {max(now - int(beat), 0) / 1000:.0f}s ago"
    if last is not None:
        since = taken[last].rsplit(" ", 1)[-1]
        if since.isdigit() and now - int(since) < window:
            return f"{taken[last].rsplit(' ', 1)[0]}, starting"
    return None


def _claim(client, run_id: str, session: int, me: str) -> bool:
    """Log the session's param; False when the store refuses it (another value is there)."""
    try:
        client.log_param(run_id, f"{schema.SESSION_PREFIX}{session}", f"{me} {now_ms()}")
    except Exception as exc:  # noqa: BLE001 - only a refusal means "taken"
        if refused(exc):
            return False
        raise
    return True


def release_tags(lease: Lease) -> dict[str, str]:
    """The tag that lets the campaign go."""
    return {schema.SESSION_RELEASED: str(lease.session)}
