"""The tuning knobs read from the environment, each named once with its default.

They are durations in seconds. A value that is not a finite number >= 0 falls back to the
default with no error: a typo in a tuning knob must not stop an experiment that is otherwise
fine (the README's Configuration table lists them).
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass


@dataclass(frozen=True)
class Seconds:
    """A duration from the environment variable `name`, else `default`."""

    name: str
    default: float

    def get(self) -> float:
        try:
            value = float(os.environ.get(self.name, self.default))
        except ValueError:
            return self.default
        return value if math.isfinite(value) and value >= 0 else self.default


SAMPLE = Seconds("COGIT_SAMPLE_S", 0.5)          # how often the monitor samples RAM and VRAM
HEARTBEAT = Seconds("COGIT_HEARTBEAT_S", 15.0)   # how often a live run proves it is alive
SYSTEM_METRICS = Seconds("COGIT_SYSTEM_S", 15.0)  # how often a phase logs MLflow's system/...
FLUSH = Seconds("COGIT_FLUSH_S", 0.5)            # how long queued writes wait for company
RETRY = Seconds("COGIT_RETRY_S", 5.0)            # how often a spooling writer tries the store
EXIT_FLUSH = Seconds("COGIT_EXIT_FLUSH_S", 30.0)  # how long exit waits for queued writes
