"""What a run costs: the hourly rate and where it came from, the cost of a duration, and the
budget guard.

Every rate is per GPU, like the catalog's and like rental prices (RunPod's $0.89/h is for one
RTX 5090), so a 4-GPU pod costs 4x the rate. The rate resolves in a fixed order, first found
wins, and the run records which one did (`cogit.cost.rate_source`), so a cost figure can
always be traced to an argument, a variable, a file or a catalog price:

    arg (usd_per_hour=...) > env (COGIT_USD_PER_HOUR) > config (cogit.toml) > catalog > unknown
"""
from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from .. import schema
from ..errors import BadInput
from .catalog import load
from .config import UserConfig, load_config, rate_value
from .hardware import probe

ENV_VAR = "COGIT_USD_PER_HOUR"
WARN_FRACTION = 0.8
Verdict = Literal["ok", "warn", "stop"]


@dataclass(frozen=True)
class Rate:
    """USD per hour per GPU, and which of arg|env|config|catalog|unknown gave it."""

    usd_per_hour: float
    source: str

    def tags(self) -> dict[str, str]:
        return {schema.USD_PER_HOUR: f"{self.usd_per_hour:g}", schema.RATE_SOURCE: self.source}


UNKNOWN = Rate(0.0, "unknown")


def resolve_rate(
    arg: float | str | None = None,
    gpu_key: str | None = None,
    config: Path | str | UserConfig | None = None,
    *,
    warn: bool = True,
) -> Rate:
    """The rate for this run; `gpu_key` defaults to the detected GPU. Each later source is
    read only when the earlier ones are absent, so a given argument never fails on a
    broken cogit.toml. Unknown gives 0 with a warning (`warn=False` leaves it to the tag): a
    run is never stopped for lack of a price, but nobody should mistake its cost of 0 for free."""
    if arg is not None:
        return Rate(rate_value(arg, "usd_per_hour"), "arg")
    if os.environ.get(ENV_VAR, "").strip():
        return Rate(rate_value(os.environ[ENV_VAR], ENV_VAR), "env")
    user = config if isinstance(config, UserConfig) else load_config(config)
    if user.usd_per_hour is not None:
        return Rate(user.usd_per_hour, "config")
    if gpu_key is None:
        gpu_key = probe().gpu_key
    spec = load(user).get(gpu_key)
    if spec is not None:
        return Rate(spec.usd_per_hour, "config" if user.sets_price(gpu_key) else "catalog")
    if warn:
        warnings.warn(
            f"no hourly rate for GPU {gpu_key!r}: cost is recorded as 0; set usd_per_hour=, "
            f"{ENV_VAR} or usd_per_hour in cogit.toml",
            stacklevel=2,
        )
    return UNKNOWN


def cost_usd(seconds: float, rate: Rate | float, gpu_count: int) -> float:
    """hours x per-GPU rate x GPUs; a CPU-only run counts as one unit of the rate, so a user
    who sets a rate for a CPU box gets a cost rather than 0."""
    usd_per_hour = rate.usd_per_hour if isinstance(rate, Rate) else rate
    return seconds / 3600.0 * usd_per_hour * max(gpu_count, 1)


class BudgetGuard:
    """Watches a phase's running cost against its budget: "warn" once on crossing 80%,
    "stop" from 100% on (the caller ends the phase with `cogit.failure=budget`)."""

    def __init__(self, budget_usd: float | str) -> None:
        value = rate_value(budget_usd, "budget_usd", "USD")
        if value <= 0:
            raise BadInput(f"budget_usd: {budget_usd!r} is not accepted; give a number > 0 (USD)")
        self.budget_usd = value
        self._warned = False

    def check(self, spent_usd: float) -> Verdict:
        if spent_usd >= self.budget_usd:
            return "stop"
        if spent_usd >= WARN_FRACTION * self.budget_usd and not self._warned:
            self._warned = True
            return "warn"
        return "ok"
