"""Tracking operations as plain records, and how to apply them to a store.

Every write the plugin makes (create a run, tags, params, metrics, an artifact, end a run) is
an `op`: a JSON-able dict that names its run by `cogit.uid`, never by MLflow run id. That one
choice makes the offline path the same as the online one: an op can be applied now, or written
to a spool file on the pod (`spool.py`) and applied later to a store that has never seen the
run, and applying it twice changes nothing (runs are found by uid before being created; SQL
stores drop a metric point identical to one they hold; tags and params are rewritten with the
same value).
"""
from __future__ import annotations

import posixpath
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from functools import cached_property
from pathlib import Path
from typing import Any

from .. import schema
from . import first_open, once, query
from . import uri as store_uri

Op = dict[str, Any]


def now_ms() -> int:
    return int(time.time() * 1000)


def ensure_experiment(client, name: str) -> str:
    """The id of experiment `name`, created if missing, as a training experiment.

    `mlflow ui` (3.x) opens an experiment without `mlflow.experimentKind` on its GenAI traces
    view, where cogit's runs sit one click away; so every experiment cogit creates carries
    the training kind, and one that exists gets it when cogit first writes to it, unless
    someone set another kind (the UI's own `_inferred` guesses do not count)."""
    exp = client.get_experiment_by_name(name)
    if exp is None:
        try:
            return client.create_experiment(
                name, tags={schema.EXPERIMENT_KIND: schema.TRAINING_KIND})
        except Exception:  # another process created it first
            exp = client.get_experiment_by_name(name)
            if exp is None:
                raise
    if exp.tags.get(schema.EXPERIMENT_KIND, schema.INFERRED_KINDS[0]) in schema.INFERRED_KINDS:
        client.set_experiment_tag(exp.experiment_id, schema.EXPERIMENT_KIND, schema.TRAINING_KIND)
    return exp.experiment_id


def chunks(items: list, size: int) -> Iterator[list]:
    """`items` in slices of at most `size`: what one `log_batch` request may carry."""
    for start in range(0, len(items), size):
        yield items[start:start + size]


class Applier:
    """Applies ops to one store, resolving `cogit.uid` to run ids as it goes. The client is
    made on first use, on the thread that writes: making one for a SQL store connects, with
    MLflow's retries, and on a new store creates its tables (one process at a time:
    `first_open.py`), which must never hold up the experiment."""

    def __init__(self, tracking_uri: str, run_ids: dict[str, str] | None = None):
        self.tracking_uri = tracking_uri
        self.run_ids: dict[str, str] = {} if run_ids is None else run_ids
        self._experiments: dict[str, str] = {}

    @cached_property
    def client(self):
        return first_open.client(self.tracking_uri)

    def open(self) -> None:
        """Make the client now, raising what the store said if it cannot be opened: a store
        that cannot be opened must not be taken for one that refuses the op in hand."""
        self.client

    def answers(self) -> bool:
        """Whether the store answers a trivial request now (its host first, in one try)."""
        if store_uri.answers(self.tracking_uri) is not None:
            return False
        try:
            self.client.search_experiments(max_results=1)
        except Exception:  # noqa: BLE001 - any failure means: not answering
            return False
        return True

    def run_id(self, uid: str) -> str:
        if uid not in self.run_ids:
            found = query.find(self.client, uid)
            if found is None:
                raise LookupError(f"no run with {schema.UID} {uid} in the store")
            self.run_ids[uid] = found.info.run_id
        return self.run_ids[uid]

    def experiment_id(self, name: str) -> str:
        if name not in self._experiments:
            self._experiments[name] = ensure_experiment(self.client, name)
        return self._experiments[name]

    def apply(self, op: Op) -> None:
        kind = op.get("op")
        if kind not in OPS:
            raise ValueError(f"not an op this version can apply: {str(op)[:200]}")
        getattr(self, "_" + kind)(op)

    def _create(self, op: Op) -> None:
        exp_id = self.experiment_id(op["experiment"])
        # A create that timed out may still have happened, and a replay may meet a run made
        # before: the uid decides, so no run is ever made twice.
        existing = query.find(self.client, op["uid"], [exp_id])
        if existing is None and op.get("join"):
            existing = self._joined(op)
        if existing is not None:
            self.run_ids[op["uid"]] = existing.info.run_id
            return
        tags = dict(op["tags"])
        if op.get("parent"):
            tags[schema.PARENT_RUN] = self.run_id(op["parent"])
        # sent once (no hidden HTTP retry), the uid looked up after any failure: `once.py`
        run = once.create_run(self.client, exp_id, op["uid"], tags, start_time=op["start"],
                              run_name=op.get("name"))
        self.run_ids[op["uid"]] = run.info.run_id
        if op.get("params"):
            self._params({"uid": op["uid"], "params": op["params"]})

    def _joined(self, op: Op):
        """The campaign a phase run alone meant to join (`ct.phase(..., campaign=L)` while
        the store was away): the newest with its label, in its experiment or in any."""
        where = None if op["join"] == "any" else [self.experiment_id(op["experiment"])]
        found = query.campaigns(self.client, op["tags"][schema.CAMPAIGN], where)
        return found[0] if found else None

    def _tags(self, op: Op) -> None:
        from mlflow.entities import RunTag

        items = [RunTag(k, str(v)) for k, v in op["tags"].items()]
        for chunk in chunks(items, schema.MAX_TAGS_PER_BATCH):
            self.client.log_batch(self.run_id(op["uid"]), tags=chunk)

    def _params(self, op: Op) -> None:
        from mlflow.entities import Param

        items = [Param(k, str(v)) for k, v in op["params"].items()]
        for chunk in chunks(items, schema.MAX_PARAMS_PER_BATCH):
            self.client.log_batch(self.run_id(op["uid"]), params=chunk)

    def _metrics(self, op: Op) -> None:
        from mlflow.entities import Metric

        points = [Metric(k, v, ts, step) for k, v, ts, step in op["metrics"]]
        for chunk in chunks(points, schema.MAX_METRICS_PER_BATCH):
            self.client.log_batch(self.run_id(op["uid"]), metrics=chunk)

    def _artifact(self, op: Op) -> None:
        """Straight to the run's own artifact store: MLflow caches one repository per run id
        for every client in the process, and while a phase is open that is the fluent one
        (`fluent_artifacts.py`), which would hand the file back to this writer."""
        from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository

        from . import stash

        run = self.client.get_run(self.run_id(op["uid"]))
        repo = get_artifact_repository(run.info.artifact_uri, tracking_uri=self.tracking_uri)
        if Path(op["path"]).is_dir():
            repo.log_artifacts(op["path"], posixpath.join(op.get("artifact_path") or "",
                                                          Path(op["path"]).name))
        else:
            repo.log_artifact(op["path"], op.get("artifact_path"))
        stash.sent(op)

    def _table(self, op: Op) -> None:
        self.client.log_table(self.run_id(op["uid"]), data=op["data"], artifact_file=op["file"])

    def _status(self, op: Op) -> None:
        self.client.update_run(self.run_id(op["uid"]), status=op["status"])

    def _end(self, op: Op) -> None:
        self.client.set_terminated(self.run_id(op["uid"]), op["status"], end_time=op["end"])


OPS = ("create", "tags", "params", "metrics", "artifact", "table", "status", "end")
#: where each kind of op keeps its items (a refused op is split along them)
ITEMS = {"metrics": "metrics", "params": "params", "tags": "tags"}


def halves(op: Op) -> list[Op]:
    """A multi-item op as two ops of half the items each; [] for a single item."""
    field = ITEMS.get(op.get("op", ""))
    items = op.get(field) if field else None
    if not items or len(items) < 2:
        return []
    if isinstance(items, dict):
        pairs = list(items.items())
        mid = len(pairs) // 2
        return [dict(op, **{field: dict(pairs[:mid])}), dict(op, **{field: dict(pairs[mid:])})]
    mid = len(items) // 2
    return [dict(op, **{field: items[:mid]}), dict(op, **{field: items[mid:]})]


def apply_isolating(applier: Applier, op: Op, rejected: Callable[[BaseException], bool],
                    set_aside: Callable[[Op, BaseException], None]) -> None:
    """Apply `op`; if the store rejects it, apply its halves, and so on, so that only the
    items it rejects are set aside (one bad point of 1,000 costs ~20 requests, not the other
    999). An exception `rejected` does not call a rejection (the store is away) propagates,
    and the caller keeps the whole op: applying a part twice changes nothing."""
    work = deque([op])
    while work:
        item = work.popleft()
        try:
            applier.apply(item)
        except Exception as exc:
            if not rejected(exc):
                raise
            parts = halves(item)
            if parts:
                work.extendleft(reversed(parts))
            else:
                set_aside(item, exc)


def coalesce(ops: Iterable[Op]) -> list[Op]:
    """Merge neighbouring metric ops of one run, so a flush costs one request per 1,000 points
    instead of one per `log_metrics` call; order across runs and kinds is kept."""
    return [op for op, _ in merged(ops)]


def merged(ops: Iterable[Op]) -> Iterator[tuple[Op, int]]:
    """`coalesce`, also saying how many original ops each merged op stands for (a replay
    counts originals, so that an interrupted one resumes at the right line)."""
    last: Op | None = None
    count = 0
    for op in ops:
        if (
            last is not None
            and op["op"] == last["op"] == "metrics"
            and op["uid"] == last["uid"]
            and len(last["metrics"]) < schema.MAX_METRICS_PER_BATCH
        ):
            last["metrics"] = last["metrics"] + op["metrics"]
            count += 1
            continue
        if last is not None:
            yield last, count
        last, count = dict(op), 1
    if last is not None:
        yield last, count
