"""A phase's own account of how far it has got, and the remaining time that follows from it.

The researcher's "each of 45 generations ~2-3 minutes, so 90-135 minutes" was this
calculation by hand. A phase reports `ph.progress(done, total)` (the pipelines' progress bars
do it for every step); the monitor turns it into the live metrics `progress`, `eta_s` and
`projected_cost_usd` with each heartbeat.

The rate is measured from the first report of the current count, not from the phase's start:
loading a model before the first step would otherwise read as slow steps. A report with a new
total, or a smaller count than before, starts a new count (a second progress bar in the same
phase). A report that cannot be true (a negative count, done > total) is ignored with one
warning per phase: tracking never stops the experiment.
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass


@dataclass
class Progress:
    """The last credible report of one phase and where its current count began."""

    phase: str
    done: float = 0.0
    total: float = 0.0
    started_at: float | None = None   # monotonic seconds of the count's first report
    done_at_start: float = 0.0
    warned: bool = False

    def report(self, done: float, total: float, now: float) -> None:
        """Take one report; an impossible one warns once and changes nothing."""
        problem = _problem(done, total)
        if problem:
            if not self.warned:
                self.warned = True
                warnings.warn(f"cogit-tracker: phase {self.phase!r} reported progress "
                              f"{done!r}/{total!r} ({problem}); ignoring such reports",
                              stacklevel=3)
            return
        done, total = float(done), float(total)
        if self.started_at is None or total != self.total or done < self.done:
            self.started_at, self.done_at_start = now, done
        self.done, self.total = done, total

    @property
    def reported(self) -> bool:
        return self.started_at is not None

    @property
    def fraction(self) -> float | None:
        return self.done / self.total if self.reported else None

    def eta_s(self, now: float) -> float | None:
        """Seconds left at the rate measured since this count began; None before any step
        has been counted (a rate of nothing says nothing)."""
        if not self.reported:
            return None
        advanced = self.done - self.done_at_start
        took = now - self.started_at
        if self.done >= self.total:
            return 0.0
        if advanced <= 0 or took <= 0:
            return None
        return (self.total - self.done) * took / advanced


def _problem(done, total) -> str | None:
    """Why a report cannot be true, or None."""
    try:
        done, total = float(done), float(total)
    except (TypeError, ValueError):
        return "not numbers"
    if not (math.isfinite(done) and math.isfinite(total)):
        return "not finite"
    if done < 0 or total < 0:
        return "a negative count"
    if total == 0:
        return "a total of 0"
    if done > total:
        return "done > total"
    return None
