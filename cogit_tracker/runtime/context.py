"""The MLflow run context provider: any plain `mlflow.start_run()` in a process where
cogit-tracker is installed gets the hardware and rate tags, with no code change.

MLflow builds the provider once per process and calls `tags()` for every new fluent run, so
the work here is the cached probe plus reading a small cogit.toml. A bad rate or config must
not fail someone else's `start_run`: it becomes a warning and an `unknown` rate. A merely
missing rate is left to the `cogit.cost.rate_source=unknown` tag, without a warning: it would
repeat on every run, and a cogit campaign passing `usd_per_hour=` overrides our tag anyway.
"""
from __future__ import annotations

import warnings

from mlflow.tracking.context.abstract_context import RunContextProvider

from ..errors import BadInput
from ..machine.cost import UNKNOWN, resolve_rate
from ..machine.hardware import probe


class CogitContextProvider(RunContextProvider):
    def in_context(self) -> bool:
        return True

    def tags(self) -> dict[str, str]:
        profile = probe()
        try:
            rate = resolve_rate(gpu_key=profile.gpu_key, warn=False)
        except BadInput as exc:
            warnings.warn(f"cogit-tracker: {exc}; recording the rate as unknown", stacklevel=2)
            rate = UNKNOWN
        return {**profile.tags(), **rate.tags()}
