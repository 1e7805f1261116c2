"""What waits while a store is away: a spool file on disk, or memory when the disk refuses.

A spool that cannot be written (a read-only or full disk, a folder that is a file) must neither
kill the writer nor lose ops silently. The first failure warns once; from then on ops wait in
memory, in order, up to `COGIT_MEMORY_OPS` (a metric point counts as one). Past that bound
metric points are dropped and counted, while the few ops that give them meaning (creations,
ends, tags, params) are always kept. At exit whatever is still in memory gets one more try at
the disk, and the process says how much was lost.
"""
from __future__ import annotations

import threading
import warnings
from collections.abc import Callable
from pathlib import Path

from .. import settings
from ..redaction import redact
from .ops import Applier, Op, apply_isolating, coalesce
from .quarantine import Quarantine, reason, rejected
from .spool import SpoolFile


def size(op: Op) -> int:
    """What an op weighs against the memory bound: its points, or 1."""
    return len(op["metrics"]) if op.get("op") == "metrics" else 1


class Backlog:
    """The ops of one writer that its store has not taken yet, oldest first."""

    def __init__(self, folder: Path, tracking_uri: str, first: Callable[[], list[Op]]):
        self.folder = folder
        self.tracking_uri = tracking_uri
        self._first = first          # creations of every run known: a file starts with them
        self._file: SpoolFile | None = None
        self._memory: list[Op] | None = None   # a list once the disk has refused
        self._held = 0
        self.limit = settings.MEMORY_OPS.get()
        self.lost_points = 0
        self._lock = threading.RLock()

    @property
    def where(self) -> str:
        return "memory" if self._memory is not None else str(self.folder)

    def add(self, ops: list[Op]) -> None:
        if not ops:
            return
        with self._lock:
            if self._memory is None:
                try:
                    self._write(ops)
                    return
                except OSError as exc:
                    self._memory = []
                    warnings.warn(redact(
                        f"cogit-tracker: cannot write the spool in {self.folder} "
                        f"({exc.strerror or exc}); keeping up to {self.limit:,} ops in memory "
                        "until the store answers"), stacklevel=2)
            self._hold(ops)

    def _write(self, ops: list[Op]) -> None:
        if self._file is None:
            self._file = SpoolFile.create(self.folder, self.tracking_uri, self._first())
        self._file.append(coalesce(ops))

    def _hold(self, ops: list[Op]) -> None:
        for op in ops:
            weight = size(op)
            if op.get("op") == "metrics" and self._held + weight > self.limit:
                self.lost_points += weight
                continue
            self._memory.append(op)
            self._held += weight

    def replay(self, applier: Applier, quarantine: Quarantine) -> int:
        """Apply everything waiting, in order; raise (keeping the rest) if the store goes."""
        with self._lock:
            count = 0
            if self._file is not None:
                count += self._file.replay(applier, quarantine)
                self._file = None
            while self._memory:
                op = self._memory[0]
                apply_isolating(applier, op, lambda exc: rejected(exc, applier),
                                lambda item, exc: quarantine.add(item, reason(exc)))
                self._memory.pop(0)
                self._held -= size(op)
                count += 1
            return count

    def close(self, why: str) -> str | None:
        """At exit: one more try to put what is in memory on disk; a line saying what is lost
        (after `why`, what the store did: `quarantine.Failure.says`), or None when nothing
        is."""
        with self._lock:
            if self._memory:
                held, self._memory = self._memory, None
                try:
                    self._write(held)
                    self._held = 0
                except OSError:
                    self._memory = held
            if not self._memory and not self.lost_points:
                return None
            held = self._memory or []
            ops = sum(op.get("op") != "metrics" for op in held)
            points = sum(size(op) for op in held if op.get("op") == "metrics") + self.lost_points
            return redact(f"the {why}, and the spool in {self.folder} could not be written: "
                          f"{ops:,} operations and {points:,} metric points are lost")
