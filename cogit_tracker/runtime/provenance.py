"""Who and which code made a run: MLflow's own context tags on every run cogit creates.

cogit creates runs with `MlflowClient.create_run`, which consults no context provider, so
`mlflow ui` showed "Created by -" and "Source -" on them. This asks MLflow's own registry, the
one a plain `mlflow.start_run()` uses (user, source name and type, git commit, branch and repo
URL, and any plugin's), leaving out our own provider: a campaign's tags are the truth about it.

MLflow is imported only when a run is created: importing it loads the registry's entry points,
which import `runtime.context`, so this module must not be on that module's import path.
"""
from __future__ import annotations

import warnings
from collections.abc import Mapping

from ..redaction import redact


def run_context_tags(explicit: Mapping[str, str]) -> dict[str, str]:
    """`explicit` over MLflow's context tags for a new run. A repo URL may carry a password
    (`https://user:token@host/...`), so values are redacted; a failure warns and the run is
    created without them (tracking never breaks the experiment)."""
    try:
        from mlflow.tracking.context.registry import resolve_tags

        from .context import CogitContextProvider

        found = resolve_tags(ignore=[CogitContextProvider])
    except Exception as exc:  # noqa: BLE001 - see docstring
        warnings.warn(redact(f"cogit-tracker: MLflow's run context failed: {exc}"), stacklevel=2)
        found = {}
    return {**{k: redact(str(v), name=k) for k, v in found.items()}, **explicit}
