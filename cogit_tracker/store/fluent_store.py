"""The tracking store MLflow's fluent API talks to while a phase is open (`cogit:<store URI>`).

A phase is MLflow's active run (`runtime/active.py`), and the tracking URI in force is then
`cogit:` + the phase's store: MLflow finds this class through its own plugin entry point
(`mlflow.tracking_store`), so `mlflow.log_metric`, transformers' `Trainer`, accelerate,
Lightning and autolog write through it without any MLflow function being replaced.

What they write to a run cogit knows (the phase, its campaign, a run nested under them, all
named by `cogit.uid`) becomes ops for the phase's background writer, exactly as `ph.log_*`:
it returns at once, keeps MLflow's limits (`values.py`: a bad key is dropped alone with one
warning), and waits in the spool while the store is away. A run that MLflow makes inside a
phase (`mlflow.start_run(nested=True)`, a library's own child run) is a creation op too, so
it exists wherever its parent does, once the spool is replayed. The phase and the campaign
end as cogit ends them: a library that "ends" the run it found active (accelerate's
`end_training`, autolog) is ignored there.

Anything else (another run, searches, experiments, models, traces) goes to the real store as
MLflow would send it, after one TCP connect (`COGIT_CONNECT_TIMEOUT_S`) has said the store
answers: a read on a store that is down fails at once with MLflow's own exception type, and a
write that cannot be kept (a dataset input, a tag deleted) is dropped with one warning.

A run's id is its MLflow run id once the store has made it. While the store is away the
run has none yet, and MLflow is given a stand-in, `cogit-<uid>`, which this store (in this
process and in child processes, through `COGIT_PHASE`) maps back to the run.
"""
from __future__ import annotations

import os
import threading
import uuid
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Callable

from .. import schema
from ..redaction import redact
from ..settings import CONNECT_TIMEOUT
from . import uri as uris
from . import values
from . import writer as writers
from .ops import now_ms

STAND_IN = "cogit-"
ARTIFACT_SCHEME = "cogit-artifacts"
#: `<run id> <uid> <experiment>` of the open phase, for child processes (MLflow deletes
#: MLFLOW_RUN_ID from the environment of the process that resumes a run by it)
PHASE_ENV = "COGIT_PHASE"
TERMINAL = ("FINISHED", "FAILED", "KILLED")


@dataclass
class Tracked:
    """A run this process writes through its writer: a campaign, a phase, or one nested."""

    uid: str
    writer: writers.Writer
    experiment: str
    owned: bool  # cogit ends it: an end requested through MLflow's API is ignored
    name: str | None = None
    start: int = field(default_factory=now_ms)
    params: dict[str, str] = field(default_factory=dict)
    experiment_id: str = "0"
    keep: Callable[[dict[str, float]], None] | None = None  # a phase's headline roll-up
    muted: bool = False   # a rank other than 0: only its metrics, and only under `prefix`
    prefix: str = ""

    @property
    def run_id(self) -> str:
        """What MLflow is given: the real run id when the store has made the run."""
        return self.writer.run_ids.get(self.uid) or STAND_IN + self.uid


_runs: dict[str, Tracked] = {}
_lock = threading.Lock()


def track(run: Tracked) -> Tracked:
    with _lock:
        _runs[run.uid] = run
    return run


def tracked(uid: str) -> Tracked | None:
    with _lock:
        return _runs.get(uid)


def fluent_id(run: Tracked, timeout: float) -> str:
    """The run id MLflow's fluent API is given: the real one if the store makes the run
    within `timeout`, else the stand-in."""
    return run.writer.run_id(run.uid, timeout) or run.run_id


def phase_env(run: Tracked, run_id: str) -> str:
    return f"{run_id} {run.uid} {run.experiment}"


def _from_env(run_id: str, inner: str) -> Tracked | None:
    """The phase a parent process named in COGIT_PHASE, if that is the run asked for."""
    parts = os.environ.get(PHASE_ENV, "").split(" ", 2)
    if len(parts) == 3 and run_id in (parts[0], STAND_IN + parts[1]):
        run = Tracked(parts[1], writers.get(inner), parts[2], owned=True)
        if not parts[0].startswith(STAND_IN):
            run.writer.known(run.uid, parts[0], None)
        return track(run)
    return None


def resolve(run_id: str, inner: str) -> Tracked | None:
    """The tracked run MLflow names by `run_id` (a real id or a stand-in); None for a run
    this process does not write."""
    if run_id.startswith(STAND_IN):
        found = tracked(run_id[len(STAND_IN):])
        if found is not None:
            return found
    with _lock:
        for run in _runs.values():
            if run.writer.run_ids.get(run.uid) == run_id:
                return run
    return _from_env(run_id, inner)


def _mlflow_error(message: str):
    from mlflow.exceptions import MlflowException

    return MlflowException(f"cogit-tracker: {redact(message)}")


class FluentStore:
    """MLflow's tracking store for `cogit:` URIs (built by MLflow's store registry, once per
    URI)."""

    def __init__(self, store_uri: str, artifact_uri: str | None = None) -> None:
        self.uri = uris.inner(store_uri)
        self.shown = redact(self.uri)
        self.artifact_uri = artifact_uri

    # -- the real store, for what is not ours ------------------------------------------------
    @cached_property
    def _real(self):
        from mlflow.tracking._tracking_service.utils import _get_store

        return _get_store(self.uri, self.artifact_uri)

    def _answering(self, what: str):
        why = uris.answers(self.uri)
        if why:
            raise _mlflow_error(f"tracking store {self.shown} does not answer ({why}): "
                                f"{what} needs it")
        return self._real

    def __getattr__(self, name: str):
        if name.startswith("_"):
            raise AttributeError(name)

        def forward(*args, **kwargs):
            return getattr(self._answering(name), name)(*args, **kwargs)

        return forward

    def _lossy(self, what: str, method: str, *args, **kwargs) -> None:
        """A write we cannot keep offline: sent if the store answers, else said once."""
        try:
            getattr(self._answering(what), method)(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - tracking never breaks the experiment
            values.warn_once(("fluent", method), f"{what} not logged: {exc}")

    def _ours(self, run_id: str) -> Tracked | None:
        return resolve(run_id, self.uri)

    # -- runs --------------------------------------------------------------------------------
    def create_run(self, experiment_id, user_id, start_time, tags, run_name):
        from mlflow.utils.mlflow_tags import MLFLOW_PARENT_RUN_ID

        tags = {t.key: t.value for t in tags or []}
        parent = self._ours(tags.get(MLFLOW_PARENT_RUN_ID, "")) if tags.get(
            MLFLOW_PARENT_RUN_ID) else None
        if parent is None:
            return self._answering("creating a run outside a phase").create_run(
                experiment_id, user_id, start_time, [_tag(k, v) for k, v in tags.items()],
                run_name)
        return self._nested(parent, tags, start_time, run_name)

    def _nested(self, parent: Tracked, tags: dict, start_time, run_name):
        from mlflow.utils.mlflow_tags import MLFLOW_PARENT_RUN_ID

        run = track(Tracked(str(uuid.uuid4()), parent.writer, parent.experiment, owned=False,
                            name=run_name, start=start_time or now_ms(),
                            experiment_id=parent.experiment_id))
        tags = {k: v for k, v in values.tags(tags).items() if k != MLFLOW_PARENT_RUN_ID}
        tags[schema.UID] = run.uid
        run.writer.submit({"op": "create", "uid": run.uid, "experiment": run.experiment,
                           "name": run_name, "parent": parent.uid, "start": run.start,
                           "tags": tags})
        return self._entity(run, fluent_id(run, CONNECT_TIMEOUT.get()))

    def get_run(self, run_id):
        run = self._ours(run_id)
        if run is None:
            return self._answering("reading a run").get_run(run_id)
        real = run.writer.run_ids.get(run.uid)
        if real and uris.answers(self.uri) is None:
            try:
                return _with_artifacts(self._real.get_run(real), run, run_id)
            except Exception:  # noqa: BLE001 - not made yet, or gone again: what we know
                pass
        return self._entity(run, run_id)

    def _entity(self, run: Tracked, run_id: str):
        from mlflow.entities import Run, RunData, RunInfo

        info = RunInfo(run_id=run_id, experiment_id=run.experiment_id, user_id="",
                       status="RUNNING", start_time=run.start, end_time=None,
                       lifecycle_stage="active", artifact_uri=artifact_uri(run.uid),
                       run_name=run.name)
        return Run(info, RunData())

    def update_run_info(self, run_id, run_status, end_time, run_name):
        from mlflow.entities import RunStatus

        run = self._ours(run_id)
        if run is None:
            return self._answering("updating a run").update_run_info(
                run_id, run_status, end_time, run_name)
        status = RunStatus.to_string(run_status) if isinstance(run_status, int) else run_status
        if not run.owned:
            if status in TERMINAL:
                run.writer.submit({"op": "end", "uid": run.uid, "status": status,
                                   "end": end_time or now_ms()})
            elif status:
                run.writer.submit({"op": "status", "uid": run.uid, "status": status})
        return self._entity(run, run_id).info

    # -- what runs log -------------------------------------------------------------------------
    def log_batch(self, run_id, metrics, params, tags):
        run = self._ours(run_id)
        if run is None:
            return self._answering("logging to a run outside the phase").log_batch(
                run_id, metrics, params, tags)
        if run.muted and not run.prefix:
            return
        for metric in metrics or []:
            points, step = values.metrics({run.prefix + metric.key: metric.value}, metric.step)
            if points:
                run.writer.metrics(run.uid, points, step, metric.timestamp or None)
                if run.keep is not None:
                    run.keep(points)
        if run.muted:
            return
        items = values.params({p.key: p.value for p in params or []}, run.params)
        if items:
            run.writer.submit({"op": "params", "uid": run.uid, "params": items})
        items = values.tags({t.key: t.value for t in tags or []})
        if items:
            run.writer.submit({"op": "tags", "uid": run.uid, "tags": items})

    def log_metric(self, run_id, metric):
        self.log_batch(run_id, [metric], [], [])

    def log_param(self, run_id, param):
        self.log_batch(run_id, [], [param], [])

    def set_tag(self, run_id, tag):
        self.log_batch(run_id, [], [], [tag])

    def log_batch_async(self, run_id, metrics, params, tags):
        self.log_batch(run_id, metrics, params, tags)
        return _done()

    def log_metric_async(self, run_id, metric):
        return self.log_batch_async(run_id, [metric], [], [])

    def log_param_async(self, run_id, param):
        return self.log_batch_async(run_id, [], [param], [])

    def set_tag_async(self, run_id, tag):
        return self.log_batch_async(run_id, [], [], [tag])

    def flush_async_logging(self) -> None:
        """Nothing waits here: the writer flushes on its own timer and at exit."""

    end_async_logging = shut_down_async_logging = flush_async_logging

    def log_inputs(self, run_id, datasets=None, models=None):
        real = self._real_id(run_id)
        self._lossy("a dataset input", "log_inputs", real, datasets=datasets, models=models)

    def log_outputs(self, run_id, models):
        self._lossy("a model output", "log_outputs", self._real_id(run_id), models)

    def delete_tag(self, run_id, key):
        self._lossy(f"deleting tag {key!r}", "delete_tag", self._real_id(run_id), key)

    def _real_id(self, run_id: str) -> str:
        run = self._ours(run_id)
        return run.writer.run_ids.get(run.uid, run_id) if run is not None else run_id

    # -- experiments the phase's own may be asked for while the store is away -------------------
    def get_experiment_by_name(self, experiment_name):
        if uris.answers(self.uri) is None:
            return self._real.get_experiment_by_name(experiment_name)
        with _lock:
            known = [r for r in _runs.values() if r.experiment == experiment_name]
        if not known:
            raise _mlflow_error(f"tracking store {self.shown} does not answer: experiment "
                                f"{experiment_name!r} cannot be read")
        from mlflow.entities import Experiment

        return Experiment(known[0].experiment_id, experiment_name, "", "active")


def artifact_uri(uid: str) -> str:
    return f"{ARTIFACT_SCHEME}:/{uid}"


def _with_artifacts(real_run, run: Tracked, run_id: str):
    """The store's own run, with its artifacts sent through the writer (taken when logged)."""
    from mlflow.entities import Run, RunInfo

    i = real_run.info
    run.experiment_id = i.experiment_id
    info = RunInfo(run_id=run_id, experiment_id=i.experiment_id, user_id=i.user_id,
                   status=i.status, start_time=i.start_time, end_time=i.end_time,
                   lifecycle_stage=i.lifecycle_stage, artifact_uri=artifact_uri(run.uid),
                   run_name=i.run_name)
    return Run(info, real_run.data, real_run.inputs, real_run.outputs)


def _tag(key: str, value: Any):
    from mlflow.entities import RunTag

    return RunTag(key, value)


def _done():
    from mlflow.utils.async_logging.run_operations import RunOperations

    return RunOperations(operation_futures=[])
