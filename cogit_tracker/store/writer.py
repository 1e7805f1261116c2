"""The background writer: the experiment hands it ops and never waits for the store.

One thread per process and store drains an in-memory queue every `COGIT_FLUSH_S` seconds
(default 0.5) or as soon as 50,000 metric points are waiting, merging points into batches of
1,000 (one `log_batch` each, the store's own pace). Neither the store nor one op may hold up
the experiment or the other ops:

- before its first write, and before each retry, one TCP connect (`COGIT_CONNECT_TIMEOUT_S`)
  says whether the store's host answers at all, so a store that is down is known at once,
  not after MLflow's retries (two minutes over HTTP, a hundred seconds for PostgreSQL);
- a store that does not answer: the op that failed and everything after it wait in the
  backlog (`backlog.py`: the spool on disk, else memory), in order; the writer tries the store
  every `COGIT_RETRY_S` seconds and replays the backlog once it answers;
- a store that answers but cannot be opened (a foreign or half-made schema, a missing
  database): the same, but the one warning and the exit line say what it answered
  (`quarantine.Failure`). A brand-new store is opened once per process under a lock shared by
  every process (`first_open.py`), so ranks opening it together all write into it;
- an op the store refuses while it answers is split until only the refused items remain,
  which go to the quarantine with the reason (`quarantine.py`); the rest goes on.
"""
from __future__ import annotations

import atexit
import os
import sys
import threading
import time
import warnings
from collections import deque
from pathlib import Path
from typing import Mapping

from .. import settings
from ..redaction import redact
from . import uri as store_uri
from . import values
from .backlog import Backlog
from .ops import Applier, Op, apply_isolating, coalesce, now_ms
from .quarantine import Failure, Quarantine, reason, rejected
from .spool import default_dir, quarantine_dir


class _Points:
    """Metric points of one run, queued as columns (see `Writer.metrics`)."""

    __slots__ = ("uid", "keys", "values", "stamps", "steps")

    def __init__(self, uid: str) -> None:
        self.uid = uid
        self.keys: list[str] = []
        self.values: list[float] = []
        self.stamps: list[int] = []
        self.steps: list[int] = []

    def op(self) -> Op:
        return {"op": "metrics", "uid": self.uid,
                "metrics": [list(p) for p in zip(self.keys, self.values, self.stamps, self.steps)]}


class Writer:
    def __init__(self, tracking_uri: str, spool_dir: Path | None = None):
        self.tracking_uri = tracking_uri
        self.shown = redact(tracking_uri)
        self.spool_dir = Path(spool_dir) if spool_dir else default_dir()
        self.flush_s = settings.FLUSH.get()
        self.retry_s = settings.RETRY.get()
        self.run_ids: dict[str, str] = {}
        self._creates: dict[str, Op] = {}   # every run's creation, for a spool to start with
        self._applier = Applier(tracking_uri, self.run_ids)
        self.quarantine = Quarantine(quarantine_dir(self.spool_dir), self.shown)
        self._queue: deque[Op | _Points] = deque()
        self.wake_at = 50_000  # queued points before a flush starts early, to bound memory
        self._queued = 0
        self._tail: _Points | None = None  # the queue's last entry, while it takes points
        self._lock = threading.Lock()
        self._cv = threading.Condition(self._lock)
        self._busy = False  # the thread holds ops taken from the queue
        self._inflight: list[Op] = []
        self._backlog: Backlog | None = None
        self._failure: Failure | None = None  # why the store last took no ops
        self._checked = False   # the store answered and opened since the last failure
        self._last_try = 0.0
        self._closed = False
        self._hurry = False  # a Ctrl-C came while a flush waited: later ones do not wait
        self._pid = os.getpid()
        self._thread = threading.Thread(target=self._loop, name="cogit-writer", daemon=True)
        self._thread.start()

    @property
    def in_child(self) -> bool:
        """Whether this is a child forked from the process that made the writer: its thread
        did not survive the fork (and its lock may be held for good), so nothing queued here
        would ever be written."""
        return os.getpid() != self._pid

    def _forked(self) -> bool:
        """`in_child`, said once; the child's ops are dropped."""
        if not self.in_child:
            return False
        values.warn_once(("forked", self.tracking_uri), f"this process ({os.getpid()}) was "
                         f"forked from the one that opened its runs ({self._pid}); what it "
                         "logs is not recorded: log from the parent, or start workers with "
                         "the 'spawn' method and open a phase in them")
        return True

    # -- called by the experiment: cheap, never touches the store ---------------------------
    def submit(self, op: Op) -> None:
        if self._forked():
            return
        with self._cv:
            if op["op"] == "create":
                self._creates[op["uid"]] = op
            self._queue.append(op)
            self._tail = None
            self._cv.notify()

    def metrics(self, uid: str, points: Mapping[str, float], step: int,
                at_ms: int | None = None) -> None:
        """Queue metric points (already checked: `values.py`). They wait for the timer rather
        than wake the thread, so a burst of logging is not slowed by a flush competing for
        the GIL, and they go into flat columns, which allocate no object the garbage collector
        tracks: a burst of 10,000 `log_metrics` calls then triggers no collection (a full one
        costs ~0.1 s once MLflow is imported: decisions/0014)."""
        if self._forked():
            return
        ts = now_ms() if at_ms is None else at_ms
        with self._lock:
            tail = self._tail
            if tail is None or tail.uid != uid:
                tail = self._tail = _Points(uid)
                self._queue.append(tail)
            for key, value in points.items():
                tail.keys.append(key)
                tail.values.append(value)
                tail.stamps.append(ts)
                tail.steps.append(step)
            self._queued += len(points)
            if self._queued >= self.wake_at:
                self._cv.notify()

    def run_id(self, uid: str, timeout: float = 10.0) -> str | None:
        """The MLflow run id of a run this writer created; None while the store is away."""
        deadline = time.monotonic() + timeout
        with self._cv:
            while uid not in self.run_ids and self._backlog is None:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cv.notify()
                self._cv.wait(min(left, 0.05))
        return self.run_ids.get(uid)

    def known(self, uid: str, run_id: str | None, create: Op | None) -> None:
        """An existing run (a resumed campaign or phase): its id, and how to make it again
        on a store that lacks it (None: another process made it, and says how)."""
        with self._lock:
            if run_id:
                self.run_ids[uid] = run_id
            if create:
                self._creates[uid] = create

    @property
    def offline(self) -> bool:
        return self._backlog is not None

    def flush(self, timeout: float = 30.0) -> bool:
        """Wait until every op so far is in the store, the backlog or the quarantine. False
        after `timeout`, or as soon as a write hangs on a store whose host no longer takes
        connections; what is still queued then stays queued, in order. A forked child has
        no writer thread to wait for: False at once."""
        if self.in_child:
            return False
        try:
            return self._wait_written(0.0 if self._hurry else timeout)
        except KeyboardInterrupt:  # Ctrl-C: no later flush waits either (`close` spools)
            self._hurry = True
            raise

    def _wait_written(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        probe_at = time.monotonic() + 1.0
        while True:
            with self._cv:
                self._cv.notify()
                if not self._queue and not self._busy:
                    return True
                self._cv.wait(0.05)
            now = time.monotonic()
            if now >= deadline:
                return False
            if now >= probe_at:
                probe_at = now + 1.0
                if self._busy and store_uri.answers(self.tracking_uri):
                    return False

    def close(self, timeout: float = 30.0) -> None:
        """Flush; whatever could not be written (still queued, or in flight on a hung
        request: applying it twice changes nothing) goes to the backlog, and one line on
        stderr says what waits in the spool and what, if anything, is lost."""
        if self._closed or self.in_child:  # a forked child holds the parent's queue: the
            return                         # parent writes it
        try:
            self.flush(timeout)
        except KeyboardInterrupt:  # Ctrl-C while exit waits: what is left goes to the spool now
            pass
        with self._cv:
            self._closed = True
            left = self._inflight + self._take()
            self._cv.notify()
        if left:
            self._failure = self._failure or Failure(
                f"its writes did not finish within {timeout:g}s", answered=False)
            self._ensure_backlog().add(left)
        for line in self._exit_lines():
            print(f"cogit-tracker: {line}", file=sys.stderr)

    def _exit_lines(self) -> list[str]:
        lines = []
        if self._backlog is not None:
            says = self._failure.says(self.shown)
            fixed = " once it is fixed" if self._failure.answered else ""
            lost = self._backlog.close(says)
            lines.append(lost or f"the {says}; its ops wait in {self.spool_dir}: "
                         f"`cogit-log sync --spool` sends them{fixed}")
        if self.quarantine.count:
            lines.append(f"{self.quarantine.count} op(s) refused by {self.shown} are kept "
                         f"with the reason in {self.quarantine.folder}")
        return lines

    # -- the thread ------------------------------------------------------------------------
    def _loop(self) -> None:
        while True:
            with self._cv:
                if not self._queue and not self._closed:
                    self._cv.wait(self.flush_s)
                if self._closed and not self._queue:
                    return
                self._busy = True
                ops = self._inflight = self._take()
            try:
                self._write(ops)
            except Exception as exc:  # noqa: BLE001 - the thread must not die; keep the ops
                self._offline(ops, Failure.of(exc, self.tracking_uri))
            finally:
                with self._cv:
                    self._busy = False
                    self._inflight = []
                    self._cv.notify_all()

    def _take(self) -> list[Op]:
        """Everything queued, as plain ops (the caller holds the lock)."""
        ops = [o.op() if isinstance(o, _Points) else o for o in self._queue]
        self._queue.clear()
        self._tail = None
        self._queued = 0
        return ops

    def _write(self, ops: list[Op]) -> None:
        if self._backlog is not None and not self._retry():
            self._backlog.add(ops)
            return
        if not ops:
            return
        if not self._checked:
            failure = self._opens()
            if failure:
                self._offline(ops, failure)
                return
            self._checked = True
        work = deque(coalesce(ops))
        while work:
            try:
                apply_isolating(self._applier, work[0],
                                lambda exc: rejected(exc, self._applier), self._set_aside)
            except Exception as exc:  # the store went away: keep the rest, in order
                self._offline(list(work), Failure.of(exc, self.tracking_uri))
                return
            work.popleft()
            with self._cv:
                self._cv.notify_all()

    def _opens(self) -> Failure | None:
        """None if the store's host answers (one TCP connect) and its client opens, else why
        not. Opening first keeps a store that cannot be opened from being taken, op by op,
        for one that refuses each op."""
        why = store_uri.answers(self.tracking_uri)
        if why:
            return Failure(why, answered=False)
        try:
            self._applier.open()
        except Exception as exc:  # noqa: BLE001 - said in the warning, the ops kept
            return Failure.of(exc, self.tracking_uri)
        return None

    def _set_aside(self, op: Op, exc: BaseException) -> None:
        self.quarantine.add(op, reason(exc))

    def _ensure_backlog(self) -> Backlog:
        with self._lock:
            if self._backlog is None:
                self._backlog = Backlog(self.spool_dir, self.tracking_uri,
                                        lambda: list(self._creates.values()))
            return self._backlog

    def _offline(self, ops: list[Op], failure: Failure) -> None:
        self._checked = False
        self._last_try = time.monotonic()
        self._failure = failure
        first = self._backlog is None
        backlog = self._ensure_backlog()
        if first:
            warnings.warn(f"cogit-tracker: {failure.says(self.shown)}; keeping its ops in "
                          f"{backlog.where} and retrying every {self.retry_s:g}s", stacklevel=2)
        backlog.add(ops)

    def _retry(self) -> bool:
        """Once every `retry_s`: if the store answers, replay the backlog; True if all of it
        went through."""
        if time.monotonic() - self._last_try < self.retry_s:
            return False
        self._last_try = time.monotonic()
        failure = self._opens()
        if failure:
            self._failure = failure
            return False
        try:
            count = self._backlog.replay(self._applier, self.quarantine)
        except Exception as exc:  # noqa: BLE001 - still away: try again later
            self._failure = Failure.of(exc, self.tracking_uri)
            return False
        with self._lock:
            self._backlog = None
        self._checked = True
        warnings.warn(f"cogit-tracker: tracking store {self.shown} is back; {count} waiting "
                      "ops replayed", stacklevel=2)
        return True


_writers: dict[tuple[str, str], Writer] = {}
_lock = threading.Lock()


def get(tracking_uri: str) -> Writer:
    """The process's writer for a store and the spool folder in force (COGIT_SPOOL_DIR when
    asked), started on first use and flushed at exit."""
    key = (tracking_uri, str(default_dir()))
    with _lock:
        if key not in _writers:
            _writers[key] = Writer(tracking_uri)
        return _writers[key]


@atexit.register
def close_all() -> None:
    """Flush every writer (at exit, and before a budget ends the process)."""
    timeout = settings.EXIT_FLUSH.get()
    for w in list(_writers.values()):
        w.close(timeout)
