"""Progress for the long steps (activation collection, training, generation): a rich bar on a
terminal, a few plain lines otherwise, so logs and CI output stay readable. Inside
`reporting_to(ph)` every step also goes to the phase (`ph.progress`), which turns it into the
live ETA and projected cost that `cogit-log runs watch` and `advise` read."""
from __future__ import annotations

import sys
import time
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Iterator

_phase: ContextVar = ContextVar("cogit_qmech_phase", default=None)


@contextmanager
def reporting_to(ph) -> Iterator[None]:
    """Bars opened inside report their steps to the phase `ph`."""
    token = _phase.set(ph)
    try:
        yield
    finally:
        _phase.reset(token)


class _Feed:
    """Passes a bar's count to the current phase, as part of a larger count when the phase
    runs several bars in turn (`offset` steps before it, `of` steps in all)."""

    def __init__(self, total: int, offset: int, of: int | None):
        self.ph, self.done, self.offset = _phase.get(), 0, offset
        self.of = of if of is not None else total
        self.send()

    def advance(self, n: int) -> None:
        self.done += n
        self.send()

    def send(self) -> None:
        if self.ph is not None:
            self.ph.progress(min(self.offset + self.done, self.of), self.of)


class _Plain:
    """Prints at most ~10 lines per task: start, every tenth, end."""

    def __init__(self, label: str, total: int, feed: _Feed):
        self.label, self.total, self.done, self.note = label, max(total, 1), 0, ""
        self.every = max(self.total // 10, 1)
        self.start = time.perf_counter()
        self.feed = feed

    def advance(self, n: int = 1, note: str = "") -> None:
        self.done += n
        self.note = note or self.note
        self.feed.advance(n)
        if self.done % self.every == 0 and self.done < self.total:
            self._line()

    def _line(self) -> None:
        took = time.perf_counter() - self.start
        print(f"{self.label}: {self.done}/{self.total} {self.note} ({took:.1f}s)", file=sys.stderr,
              flush=True)


class _Rich:
    def __init__(self, bar, task, feed: _Feed):
        self.bar, self.task, self.feed = bar, task, feed

    def advance(self, n: int = 1, note: str = "") -> None:
        self.bar.update(self.task, advance=n, note=note)
        self.feed.advance(n)


@contextmanager
def progress(label: str, total: int, offset: int = 0,
             of: int | None = None) -> Iterator[_Plain | _Rich]:
    """A bar of `total` steps; `offset` and `of` place it in the phase's whole count."""
    feed = _Feed(total, offset, of)
    if sys.stderr.isatty():
        from rich.console import Console
        from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                                   TimeElapsedColumn)

        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                      TimeElapsedColumn(), TextColumn("{task.fields[note]}"),
                      console=Console(stderr=True)) as bar:
            yield _Rich(bar, bar.add_task(label, total=total, note=""), feed)
        return
    plain = _Plain(label, total, feed)
    yield plain
    plain._line()
