"""Progress for the long steps (activation collection, training, generation): a rich bar on a
terminal, a few plain lines otherwise, so logs and CI output stay readable."""
from __future__ import annotations

import sys
import time
from contextlib import contextmanager
from typing import Iterator


class _Plain:
    """Prints at most ~10 lines per task: start, every tenth, end."""

    def __init__(self, label: str, total: int):
        self.label, self.total, self.done, self.note = label, max(total, 1), 0, ""
        self.every = max(self.total // 10, 1)
        self.start = time.perf_counter()

    def advance(self, n: int = 1, note: str = "") -> None:
        self.done += n
        self.note = note or self.note
        if self.done % self.every == 0 and self.done < self.total:
            self._line()

    def _line(self) -> None:
        took = time.perf_counter() - self.start
        print(f"{self.label}: {self.done}/{self.total} {self.note} ({took:.1f}s)", file=sys.stderr,
              flush=True)


class _Rich:
    def __init__(self, bar, task):
        self.bar, self.task = bar, task

    def advance(self, n: int = 1, note: str = "") -> None:
        self.bar.update(self.task, advance=n, note=note)


@contextmanager
def progress(label: str, total: int) -> Iterator[_Plain | _Rich]:
    if sys.stderr.isatty():
        from rich.console import Console
        from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                                   TimeElapsedColumn)

        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                      TimeElapsedColumn(), TextColumn("{task.fields[note]}"),
                      console=Console(stderr=True)) as bar:
            yield _Rich(bar, bar.add_task(label, total=total, note=""))
        return
    plain = _Plain(label, total)
    yield plain
    plain._line()
