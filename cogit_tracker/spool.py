"""Tracking operations as plain records, how to apply them to a store, and the on-disk spool
that keeps them when the store does not answer.

Every write the plugin makes (create a run, tags, params, metrics, an artifact, end a run) is
an `op`: a JSON-able dict that names its run by `cogit.uid`, never by MLflow run id. That one
choice makes the offline path the same as the online one: an op can be applied now, or written
to a spool file on the pod and applied later to a store that has never seen the run, and
replaying it twice changes nothing (runs are found by uid before being created; SQL stores drop
a metric point identical to one they hold; tags and params are rewritten with the same value).
"""
from __future__ import annotations

import json
import os
import shutil
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator

from . import schema

Op = dict[str, Any]
BATCH_METRICS = 1000  # MLflow's per-request limit (mlflow/utils/validation.py)
BATCH_TAGS = 100


def default_dir() -> Path:
    """Where a pod keeps what it could not send: `COGIT_SPOOL_DIR`, else the user cache."""
    env = os.environ.get("COGIT_SPOOL_DIR")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "cogit-tracker" / "spool"


def now_ms() -> int:
    return int(time.time() * 1000)


class Applier:
    """Applies ops to one store, resolving `cogit.uid` to run ids as it goes."""

    def __init__(self, client):
        self.client = client
        self.run_ids: dict[str, str] = {}
        self._experiments: dict[str, str] = {}

    def run_id(self, uid: str) -> str:
        if uid not in self.run_ids:
            found = self._find(uid)
            if found is None:
                raise LookupError(f"no run with {schema.UID} {uid} in the store")
            self.run_ids[uid] = found
        return self.run_ids[uid]

    def _find(self, uid: str, experiment_ids: list[str] | None = None) -> str | None:
        ids = experiment_ids or [e.experiment_id for e in self.client.search_experiments()]
        if not ids:
            return None
        runs = self.client.search_runs(
            ids, f"tags.`{schema.UID}` = '{uid}'", max_results=1
        )
        return runs[0].info.run_id if runs else None

    def experiment_id(self, name: str) -> str:
        if name not in self._experiments:
            exp = self.client.get_experiment_by_name(name)
            if exp is None:
                try:
                    self._experiments[name] = self.client.create_experiment(name)
                except Exception:  # another process created it first
                    exp = self.client.get_experiment_by_name(name)
                    if exp is None:
                        raise
                    self._experiments[name] = exp.experiment_id
            else:
                self._experiments[name] = exp.experiment_id
        return self._experiments[name]

    def apply(self, op: Op) -> None:
        getattr(self, "_" + op["op"])(op)

    def _create(self, op: Op) -> None:
        exp_id = self.experiment_id(op["experiment"])
        # A create that timed out may still have happened, and a replay may meet a run made
        # before: the uid decides, so no run is ever made twice.
        existing = self._find(op["uid"], [exp_id])
        if existing:
            self.run_ids[op["uid"]] = existing
            return
        tags = dict(op["tags"])
        if op.get("parent"):
            tags["mlflow.parentRunId"] = self.run_id(op["parent"])
        run = self.client.create_run(
            exp_id, start_time=op["start"], tags=tags, run_name=op.get("name")
        )
        self.run_ids[op["uid"]] = run.info.run_id

    def _tags(self, op: Op) -> None:
        from mlflow.entities import RunTag

        items = [RunTag(k, str(v)) for k, v in op["tags"].items()]
        for i in range(0, len(items), BATCH_TAGS):
            self.client.log_batch(self.run_id(op["uid"]), tags=items[i : i + BATCH_TAGS])

    def _params(self, op: Op) -> None:
        from mlflow.entities import Param

        items = [Param(k, str(v)) for k, v in op["params"].items()]
        for i in range(0, len(items), BATCH_TAGS):
            self.client.log_batch(self.run_id(op["uid"]), params=items[i : i + BATCH_TAGS])

    def _metrics(self, op: Op) -> None:
        from mlflow.entities import Metric

        points = [Metric(k, v, ts, step) for k, v, ts, step in op["metrics"]]
        for i in range(0, len(points), BATCH_METRICS):
            self.client.log_batch(self.run_id(op["uid"]), metrics=points[i : i + BATCH_METRICS])

    def _artifact(self, op: Op) -> None:
        self.client.log_artifact(self.run_id(op["uid"]), op["path"], op.get("artifact_path"))

    def _table(self, op: Op) -> None:
        self.client.log_table(self.run_id(op["uid"]), data=op["data"], artifact_file=op["file"])

    def _status(self, op: Op) -> None:
        self.client.update_run(self.run_id(op["uid"]), status=op["status"])

    def _end(self, op: Op) -> None:
        self.client.set_terminated(self.run_id(op["uid"]), op["status"], end_time=op["end"])


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
            and len(last["metrics"]) < BATCH_METRICS
        ):
            last["metrics"] = last["metrics"] + op["metrics"]
            count += 1
            continue
        if last is not None:
            yield last, count
        last, count = dict(op), 1
    if last is not None:
        yield last, count


@dataclass
class SpoolFile:
    """One append-only JSONL file of ops for one store, with a sidecar counting those applied.

    Artifacts are copied into the spool beside the file, since the original is often a temp
    file that is gone by the time the store answers again.
    """

    path: Path
    tracking_uri: str = ""
    _applied_path: Path = field(init=False)

    def __post_init__(self) -> None:
        self._applied_path = self.path.with_suffix(".applied")

    @classmethod
    def create(cls, folder: Path, tracking_uri: str) -> "SpoolFile":
        folder.mkdir(parents=True, exist_ok=True)
        name = f"{time.strftime('%Y%m%dT%H%M%S')}-{os.getpid()}-{uuid.uuid4().hex[:6]}.jsonl"
        spool = cls(folder / name, tracking_uri)
        spool.path.write_text(json.dumps({"op": "header", "tracking_uri": tracking_uri}) + "\n")
        return spool

    def append(self, ops: Iterable[Op]) -> None:
        lines = []
        for op in ops:
            if op["op"] == "artifact":
                op = dict(op, path=self._keep(op["path"]))
            lines.append(json.dumps(op))
        if lines:
            with self.path.open("a", encoding="utf-8") as fh:
                fh.write("\n".join(lines) + "\n")
                fh.flush()
                os.fsync(fh.fileno())

    def _keep(self, src: str) -> str:
        dst = self.path.with_suffix("") / uuid.uuid4().hex / Path(src).name
        dst.parent.mkdir(parents=True, exist_ok=True)
        (shutil.copytree if Path(src).is_dir() else shutil.copy2)(src, dst)
        return str(dst)

    @classmethod
    def open(cls, path: Path) -> "SpoolFile":
        """An existing spool file, with the store it was meant for read from its header."""
        with path.open(encoding="utf-8") as fh:
            header = json.loads(fh.readline() or "{}")
        return cls(path, header.get("tracking_uri", ""))

    def ops(self) -> Iterator[Op]:
        with self.path.open(encoding="utf-8") as fh:
            for line in fh:
                if line.strip():
                    op = json.loads(line)
                    if op["op"] != "header":
                        yield op

    @property
    def applied(self) -> int:
        try:
            return int(self._applied_path.read_text())
        except (FileNotFoundError, ValueError):
            return 0

    def replay(self, applier: Applier) -> int:
        """Apply what is not yet applied, in order; return how many ops that was. The counter
        is saved after each op, so an interrupted replay resumes where it stopped."""
        done = self.applied
        count = 0
        pending = (op for i, op in enumerate(self.ops()) if i >= done)
        for op, n in merged(pending):  # one request per 1,000 points, as when live
            applier.apply(op)
            count += n
            self._applied_path.write_text(str(done + count))
        self.remove()
        return count

    def remove(self) -> None:
        shutil.rmtree(self.path.with_suffix(""), ignore_errors=True)
        self._applied_path.unlink(missing_ok=True)
        self.path.unlink(missing_ok=True)


@dataclass
class ReplayResult:
    files: int
    ops: int
    tracking_uri: str


def replay(folder: Path | None = None, tracking_uri: str | None = None) -> list[ReplayResult]:
    """Replay every spool file in `folder` to its own store (or to `tracking_uri`), oldest
    first. What `cogit-log sync --spool` runs; the live writer calls the same code."""
    from mlflow.tracking import MlflowClient

    folder = Path(folder) if folder else default_dir()
    results: dict[str, ReplayResult] = {}
    for path in sorted(folder.glob("*.jsonl")):
        spool = SpoolFile.open(path)
        uri = tracking_uri or spool.tracking_uri
        applier = Applier(MlflowClient(tracking_uri=uri))
        n = spool.replay(applier)
        res = results.setdefault(uri, ReplayResult(0, 0, uri))
        res.files += 1
        res.ops += n
    return list(results.values())
