"""While a phase is open, it is MLflow's active run, so the researcher's own code logs into it.

`with camp.phase("train") as ph:` makes the phase what `mlflow.active_run()` returns in the
thread that opened it and in threads that first touch MLflow while it is open (a data loader's,
a callback's pool), sets the fluent tracking URI to `cogit:<store>` (the store behind it is
`store/fluent_store.py`: non-blocking, spooled), and names the run to child processes with
`MLFLOW_RUN_ID`. All of it is put back as it was when the phase ends, however it ends.

Three choices, each forced by how the libraries read MLflow's state (NOTES, third look):
- the phase is pushed on MLflow's active-run stack of the opening thread, and new threads get
  it as their stack's first entry: MLflow keeps that stack per thread (`ThreadLocalVariable`,
  whose default we set while the phase is open; no MLflow function is replaced);
- `MLFLOW_RUN_ID` is set for child processes only (in the C environment, not `os.environ`):
  in this process transformers' `MLflowCallback` would otherwise call `start_run()` with a
  run active and fail, and `start_run(nested=True)` would resume the phase instead of nesting
  a new run under it;
- a campaign is never the active run: only phases do work, and a library that found the
  campaign active outside a phase would write its curves beside the phases' roll-ups.
"""
from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field

from ..settings import CONNECT_TIMEOUT
from ..store import fluent_store
from ..store import uri as uris

RUN_ID_ENV = "MLFLOW_RUN_ID"
URI_ENV = "MLFLOW_TRACKING_URI"


@dataclass
class Activation:
    """One open phase as MLflow's active run, and what to put back when it ends."""

    run: fluent_store.Tracked
    run_id: str
    active: object  # mlflow.ActiveRun
    closed: bool = field(default=False)


@dataclass(frozen=True)
class _Before:
    """MLflow's state before the first phase opened, put back when the last one ends."""

    uri: str | None
    env_uri: str | None
    default: object


_lock = threading.Lock()
_open: list[Activation] = []
_before: _Before | None = None


def warm() -> None:
    """Import now what `mlflow.set_tracking_uri` imports the first time (its tracing reset
    loads OpenTelemetry's SDK, seconds on a loaded machine): called before a campaign's clock
    starts, so the first phase does not start that much later, nor pay for it."""
    import mlflow.tracing.processor.base_mlflow  # noqa: F401


def activate(run: fluent_store.Tracked, store: str) -> Activation:
    """Make the tracked phase MLflow's active run (see the module doc)."""
    import mlflow
    from mlflow.tracking import fluent
    from mlflow.tracking._tracking_service import utils

    run_id = fluent_store.fluent_id(run, CONNECT_TIMEOUT.get())
    active = fluent.ActiveRun(fluent_store.FluentStore(uris.fluent(store)).get_run(run_id))
    global _before
    with _lock:
        if not _open:
            _before = _Before(utils._tracking_uri, os.environ.get(URI_ENV),
                              fluent._active_run_stack.default_factory)
        act = Activation(run, run_id, active)
        _open.append(act)
        mlflow.set_tracking_uri(uris.fluent(store))
        fluent._active_run_stack.get().append(active)
        fluent._active_run_stack.default_factory = lambda: [active]
        os.putenv(RUN_ID_ENV, run_id)
        os.environ[fluent_store.PHASE_ENV] = fluent_store.phase_env(run, run_id)
    return act


def deactivate(act: Activation) -> None:
    """Put back what `activate` changed: the phase leaves every thread's stack; the tracking
    URI, the thread default and the environment are those of the phase still open, if any,
    else what they were before the first."""
    import mlflow
    from mlflow.tracking import fluent

    with _lock:
        if act.closed:
            return
        act.closed = True
        _open.remove(act)
        for stack in fluent._active_run_stack.get_all_thread_values().values():
            stack[:] = [a for a in stack if a is not act.active]
        if _open:
            last = _open[-1]
            fluent._active_run_stack.default_factory = lambda: [last.active]
            os.putenv(RUN_ID_ENV, last.run_id)
            os.environ[fluent_store.PHASE_ENV] = fluent_store.phase_env(last.run, last.run_id)
            return
        fluent._active_run_stack.default_factory = _before.default
        mlflow.set_tracking_uri(_before.uri)
        if _before.env_uri is not None:
            os.environ[URI_ENV] = _before.env_uri
        _restore_run_id()
        os.environ.pop(fluent_store.PHASE_ENV, None)


def _restore_run_id() -> None:
    """MLFLOW_RUN_ID as this process's own environment has it (usually unset)."""
    if RUN_ID_ENV in os.environ:
        os.putenv(RUN_ID_ENV, os.environ[RUN_ID_ENV])
    else:
        os.unsetenv(RUN_ID_ENV)
