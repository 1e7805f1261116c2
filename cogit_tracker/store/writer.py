"""The background writer: the experiment hands it ops and never waits for the store.

One thread per process and store drains an in-memory queue every `COGIT_FLUSH_S` seconds
(default 0.5) or as soon as 1,000 metric points are waiting, merging points into batches of
1,000 (one `log_batch` each, the store's own pace). If the store fails, the op that failed and
everything after it goes to a spool file on disk (`spool.py`); the writer keeps trying the
store every `COGIT_RETRY_S` seconds and replays the spool, in order, once it answers. A run
therefore never waits on, nor dies from, its tracking store.
"""
from __future__ import annotations

import atexit
import threading
import time
import warnings
from collections import deque
from pathlib import Path
from typing import Mapping

from .. import settings
from .ops import Applier, Op, coalesce, now_ms
from .spool import SpoolFile, default_dir


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
        from mlflow.tracking import MlflowClient

        self.tracking_uri = tracking_uri
        self.spool_dir = Path(spool_dir) if spool_dir else default_dir()
        self.flush_s = settings.FLUSH.get()
        self.retry_s = settings.RETRY.get()
        self._applier = Applier(MlflowClient(tracking_uri=tracking_uri))
        self._queue: deque[Op] = deque()
        self.wake_at = 50_000  # queued points before a flush starts early, to bound memory
        self._queued = 0
        self._tail: _Points | None = None  # the queue's last entry, while it takes points
        self._lock = threading.Lock()
        self._cv = threading.Condition(self._lock)
        self._busy = False  # the thread holds ops taken from the queue
        self._spool: SpoolFile | None = None
        self._last_try = 0.0
        self._closed = False
        self._thread = threading.Thread(target=self._loop, name="cogit-writer", daemon=True)
        self._thread.start()

    # -- called by the experiment: cheap, never touches the store ---------------------------
    def submit(self, op: Op) -> None:
        with self._cv:
            self._queue.append(op)
            self._tail = None
            self._cv.notify()

    def metrics(self, uid: str, points: Mapping[str, float], step: int) -> None:
        """Queue metric points. They wait for the timer rather than wake the thread, so a
        burst of logging is not slowed by a flush competing for the GIL, and they go into flat
        columns, which allocate no object the garbage collector tracks: a burst of 10,000
        `log_metrics` calls then triggers no collection (a full one costs ~0.1 s once MLflow
        is imported, and made the difference between 0.02 s and 0.2 s for 10,000 points)."""
        ts = now_ms()
        with self._lock:
            tail = self._tail
            if tail is None or tail.uid != uid:
                tail = self._tail = _Points(uid)
                self._queue.append(tail)
            for key, value in points.items():
                value = float(value)
                tail.keys.append(key)
                tail.values.append(value)
                tail.stamps.append(ts)
                tail.steps.append(step)
            self._queued += len(points)
            if self._queued >= self.wake_at:
                self._cv.notify()

    def run_id(self, uid: str, timeout: float = 10.0) -> str | None:
        """The MLflow run id of a run this writer created; None while it is spooled."""
        deadline = time.monotonic() + timeout
        with self._cv:
            while uid not in self._applier.run_ids and self._spool is None:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cv.notify()
                self._cv.wait(min(left, 0.05))
        return self._applier.run_ids.get(uid)

    def known(self, uid: str, run_id: str) -> None:
        """Tell the writer the run id of an existing run (a resumed campaign or phase)."""
        self._applier.run_ids[uid] = run_id

    @property
    def offline(self) -> bool:
        return self._spool is not None

    def flush(self, timeout: float = 30.0) -> bool:
        """Wait until every op so far is in the store or in the spool. True if it all got
        there in time; what is still queued after `timeout` is spooled instead."""
        deadline = time.monotonic() + timeout
        with self._cv:
            self._cv.notify()
            while (self._queue or self._busy) and time.monotonic() < deadline:
                self._cv.wait(0.05)
            if not self._queue and not self._busy:
                return True
            self._spool_now(self._take())
            return False

    def close(self, timeout: float = 30.0) -> None:
        if not self._closed:
            self.flush(timeout)
            self._closed = True
            with self._cv:
                self._cv.notify()

    # -- the thread ------------------------------------------------------------------------
    def _loop(self) -> None:
        while True:
            with self._cv:
                if not self._queue and not self._closed:
                    self._cv.wait(self.flush_s)
                if self._closed and not self._queue:
                    return
                self._busy = True
                ops = self._take()
            try:
                self._write(ops)
            finally:
                with self._cv:
                    self._busy = False
                    self._cv.notify_all()

    def _take(self) -> list[Op]:
        """Everything queued, as plain ops (the caller holds the lock)."""
        ops = [o.op() if isinstance(o, _Points) else o for o in self._queue]
        self._queue.clear()
        self._tail = None
        self._queued = 0
        return ops

    def _write(self, ops: list[Op]) -> None:
        if self._spool is not None and not self._try_replay():
            self._spool_now(ops)
            return
        batch = coalesce(ops)
        for i, op in enumerate(batch):
            try:
                self._applier.apply(op)
            except Exception as exc:  # the store failed: keep the rest on disk, in order
                warnings.warn(
                    f"cogit-tracker: tracking store {self.tracking_uri} failed ({exc}); "
                    f"spooling to {self.spool_dir} and retrying every {self.retry_s:g}s",
                    stacklevel=2,
                )
                self._last_try = time.monotonic()
                self._spool_now(batch[i:])
                return
            with self._cv:
                self._cv.notify_all()

    def _spool_now(self, ops: list[Op]) -> None:
        if not ops:
            return
        if self._spool is None:
            self._spool = SpoolFile.create(self.spool_dir, self.tracking_uri)
        try:
            self._spool.append(coalesce(ops))
        except OSError as exc:
            warnings.warn(f"cogit-tracker: could not spool {len(ops)} ops: {exc}", stacklevel=2)

    def _try_replay(self) -> bool:
        if time.monotonic() - self._last_try < self.retry_s:
            return False
        self._last_try = time.monotonic()
        try:
            self._spool.replay(self._applier)
        except Exception:
            return False
        self._spool = None
        warnings.warn(f"cogit-tracker: tracking store {self.tracking_uri} is back; spool replayed")
        return True


_writers: dict[str, Writer] = {}
_lock = threading.Lock()


def get(tracking_uri: str) -> Writer:
    """The process's writer for a store, started on first use and flushed at exit."""
    with _lock:
        if tracking_uri not in _writers:
            _writers[tracking_uri] = Writer(tracking_uri)
        return _writers[tracking_uri]


@atexit.register
def _close_all() -> None:
    timeout = settings.EXIT_FLUSH.get()
    for w in list(_writers.values()):
        w.close(timeout)
