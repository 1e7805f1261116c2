"""The tuning knobs read from the environment, each named once with its default.

They are durations in seconds or counts. A value that is not a finite number >= 0 falls back
to the default with no error: a typo in a tuning knob must not stop an experiment that is
otherwise fine (the README's Configuration table lists them).
"""
from __future__ import annotations

import math
import os
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator, Mapping


def _read(name: str, default: float) -> float:
    try:
        value = float(os.environ.get(name, default))
    except ValueError:
        return default
    return value if math.isfinite(value) and value >= 0 else default


@dataclass(frozen=True)
class Seconds:
    """A duration from the environment variable `name`, else `default`."""

    name: str
    default: float

    def get(self) -> float:
        return _read(self.name, self.default)


@dataclass(frozen=True)
class Count:
    """A whole number from the environment variable `name`, else `default`."""

    name: str
    default: int

    def get(self) -> int:
        return int(_read(self.name, self.default))


SAMPLE = Seconds("COGIT_SAMPLE_S", 0.5)          # how often the monitor samples RAM and VRAM
HEARTBEAT = Seconds("COGIT_HEARTBEAT_S", 15.0)   # how often a live run proves it is alive
SYSTEM_METRICS = Seconds("COGIT_SYSTEM_S", 15.0)  # how often a phase logs MLflow's system/...
FLUSH = Seconds("COGIT_FLUSH_S", 0.5)            # how long queued writes wait for company
RETRY = Seconds("COGIT_RETRY_S", 5.0)            # how often a spooling writer tries the store
EXIT_FLUSH = Seconds("COGIT_EXIT_FLUSH_S", 30.0)  # how long exit waits for queued writes
#: how long a run's end waits for its writes (the rest goes on in the background; what exit
#: cannot write waits in the spool): a slow store does not hold each `with` block for long
END_FLUSH = Seconds("COGIT_END_FLUSH_S", 10.0)
CONNECT_TIMEOUT = Seconds("COGIT_CONNECT_TIMEOUT_S", 10.0)  # one try to reach a store
MEMORY_OPS = Count("COGIT_MEMORY_OPS", 500_000)   # kept in memory when the spool cannot be written
JOIN_WAIT = Seconds("COGIT_JOIN_WAIT_S", 120.0)  # a rank waits this long for rank 0's run
#: a rank that ends waits at most this long for the job's other ranks to write their ends
#: (torchrun gives a rank it tears down 30 s before SIGKILL)
RANKS_END_WAIT = Seconds("COGIT_RANKS_END_WAIT_S", 10.0)
BUDGET_GRACE = Seconds("COGIT_BUDGET_GRACE_S", 30.0)  # to unwind a stopped phase, then exit
#: a shell command run once when a campaign's budget is spent (as `on_budget=`)
ON_BUDGET = "COGIT_ON_BUDGET"
#: a shell command run once when a campaign stops because someone asked it to (as `on_stop=`)
ON_STOP = "COGIT_ON_STOP"


@contextmanager
def environment(values: Mapping[str, str]) -> Iterator[None]:
    """`values` in `os.environ` for the duration; each variable is then put back as it was
    (or removed, if it was not set): for libraries configured only by the environment."""
    old = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in old.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
