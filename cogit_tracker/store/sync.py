"""Copy campaigns, phases and decisions between tracking stores, idempotently.

A run's identity across stores is its `cogit.uid`, not its run_id (a store gives every run
it creates a new id). So:

- A source run whose uid has a *complete* copy on the target is skipped: a second sync copies
  nothing. Complete means the copy carries `cogit.sync.complete`, which is written last, after
  params, tags, every metric point, the artifacts and the final status.
- A copy without that tag is what an interrupted sync left: it is repaired in place (params and
  tags rewritten, only the metric points it lacks added, artifacts re-uploaded), never
  duplicated.
- A complete copy whose source tags have changed since (a decision linked to it later, a
  decision's new status) gets the changed tags and its artifacts again; nothing else.
- A source run still RUNNING is copied but not marked complete, so the next sync brings its
  new points and its final status.
- `mlflow.parentRunId` is remapped to the parent's copy (parents are copied first); decision
  links are tags naming uids, so they survive as they are.
- Runs without a `cogit.uid` are not ours and are skipped: with no stable identity a copy could
  not be recognised the next time, and giving them one would mean writing to the source.

Credentials come only from MLflow's own variables, for both stores; the source URI recorded on
a copy has any password masked.
"""
from __future__ import annotations

import math
import tempfile
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from .. import schema
from ..errors import BadInput
from ..redaction import redact
from . import once, query
from . import uri as store_uri
from .ops import chunks, ensure_experiment

KIND_ORDER = {kind: i for i, kind in enumerate(schema.KINDS)}  # campaigns before their phases
TERMINAL = ("FINISHED", "FAILED", "KILLED")

Progress = Callable[[int, int, str], None]  # (done, total, what) after each run


@dataclass
class SyncResult:
    copied: list[str] = field(default_factory=list)    # uids newly copied
    repaired: list[str] = field(default_factory=list)  # uids whose partial copy was finished
    updated: list[str] = field(default_factory=list)   # uids of complete copies given new tags
    unchanged: int = 0   # already complete on the target
    foreign: int = 0     # runs without cogit.uid: not ours, skipped
    points: int = 0      # metric points written

    def as_dict(self) -> dict:
        return {"copied": len(self.copied), "repaired": len(self.repaired),
                "updated": len(self.updated),
                "unchanged": self.unchanged, "foreign": self.foreign, "points": self.points}


@dataclass
class _Item:
    run: object          # mlflow.entities.Run on the source
    experiment: object   # mlflow.entities.Experiment on the source

    @property
    def uid(self) -> str:
        return self.run.data.tags[schema.UID]

    @property
    def label(self) -> str:
        tags = self.run.data.tags
        return f"{tags.get(schema.KIND)} {self.run.info.run_name or self.uid}"


def sync(source: str, target: str, experiment: str | None = None,
         progress: Progress | None = None) -> SyncResult:
    """Copy every cogit run of `source` (or of one experiment) to `target`; see the module doc."""
    from mlflow.tracking import MlflowClient

    source, target = _stores(source, target)
    src = MlflowClient(source)
    result = SyncResult()
    items: list[_Item] = []
    for exp in _source_experiments(src, experiment):
        for run in query.runs(src, experiment_ids=[exp.experiment_id]):
            if schema.UID in run.data.tags:
                items.append(_Item(run, exp))
            else:
                result.foreign += 1
    items.sort(key=lambda it: (KIND_ORDER.get(it.run.data.tags.get(schema.KIND), 9),
                               it.run.info.start_time or 0))
    source_uid = {it.run.info.run_id: it.uid for it in items}
    dst = MlflowClient(target)  # only now: a source that fails leaves no target behind
    copies: dict[str, object] = {}     # uid -> target Run
    target_exp: dict[str, str] = {}    # source experiment name -> target experiment id
    label = redact(source)
    for done, item in enumerate(items, 1):
        name = item.experiment.name
        if name not in target_exp:
            target_exp[name] = _target_experiment(dst, name)
            copies.update(_copies(dst, target_exp[name]))
        existing = copies.get(item.uid)
        parent = source_uid.get(item.run.data.tags.get(schema.PARENT_RUN, ""))
        tags = _tags(item.run, copies[parent].info.run_id if parent in copies else None, label)
        if existing is not None and schema.SYNC_COMPLETE in existing.data.tags:
            if _refresh(src, dst, item.run, existing, tags):
                result.updated.append(item.uid)
            else:
                result.unchanged += 1
        else:
            copy, points = _copy_run(src, dst, item.run, target_exp[name], existing, tags)
            copies[item.uid] = copy
            result.points += points
            (result.repaired if existing is not None else result.copied).append(item.uid)
        if progress:
            progress(done, len(items), item.label)
    return result


def _stores(source: str | None, target: str | None) -> tuple[str, str]:
    """Both URIs, checked: the source must exist (reading never creates a store), the target
    may be made; one store under two spellings is refused, or sync would write into its
    own source."""
    if not source or not target:
        raise BadInput("give both --from URI and --to URI (or --spool [DIR])")
    source = store_uri.check(source, "read", "--from")
    target = store_uri.check(target, "write", "--to")
    if store_uri.identity(source) == store_uri.identity(target):
        raise BadInput(f"--from {redact(source)!r} and --to {redact(target)!r} are the same "
                       "store; accepted: two different stores")
    return source, target


def replay_spool(folder: str | None, source: str | None, target: str | None,
                 experiment: str | None) -> list:
    """`sync --spool`: replay a pod's spool (the writer's write-ahead files) in order, each
    file to the store it was meant for, or all to `target`."""
    from pathlib import Path

    from . import spool

    if source or experiment:
        raise BadInput("--spool replays whole spool files: it takes --to URI, "
                       "not --from or --experiment")
    path = Path(folder) if folder else spool.default_dir()
    if not path.is_dir():
        raise BadInput(f"--spool {str(path)!r}: no such folder")
    return spool.replay(path, target)


def _source_experiments(src, name: str | None) -> list:
    if name is None:
        return query.experiments(src)
    exp = src.get_experiment_by_name(name)
    if exp is None:
        raise BadInput(f"--experiment {name!r}: no such experiment in the source store")
    return [exp]


def _target_experiment(dst, name: str) -> str:
    exp = dst.get_experiment_by_name(name)
    if exp is not None and exp.lifecycle_stage != "active":
        raise BadInput(f"experiment {name!r} is deleted on the target store; restore it "
                       "(mlflow experiments restore) or purge it first")
    return ensure_experiment(dst, name)


def _copies(dst, experiment_id: str) -> dict:
    """uid -> the target run holding it; a complete copy wins over an incomplete one."""
    found: dict[str, object] = {}
    for run in query.runs(dst, f"tags.`{schema.UID}` LIKE '%'", [experiment_id]):
        uid = run.data.tags[schema.UID]
        if uid not in found or schema.SYNC_COMPLETE in run.data.tags:
            found[uid] = run
    return found


def _tags(run, parent_id: str | None, source_label: str) -> dict[str, str]:
    """The tags a copy carries: the source's, the parent remapped, our bookkeeping replaced."""
    tags = {k: v for k, v in run.data.tags.items()
            if not k.startswith(schema.SYNC_PREFIX) and k != schema.PARENT_RUN}
    tags[schema.SYNC_SOURCE] = source_label
    tags[schema.SYNC_SOURCE_RUN] = run.info.run_id
    if parent_id:
        tags[schema.PARENT_RUN] = parent_id
    return tags


def _refresh(src, dst, run, copy, tags: dict[str, str]) -> bool:
    """Bring a complete copy's changed tags (and with them its artifacts) up to date."""
    from mlflow.entities import RunTag

    stale = [RunTag(k, v) for k, v in tags.items()
             if not k.startswith(schema.SYNC_PREFIX) and copy.data.tags.get(k) != v]
    for chunk in chunks(stale, schema.MAX_TAGS_PER_BATCH):
        dst.log_batch(copy.info.run_id, tags=chunk)
    if stale:
        _copy_artifacts(src, dst, run.info.run_id, copy.info.run_id)
    return bool(stale)


def _copy_run(src, dst, run, experiment_id: str, existing, tags: dict[str, str]):
    """Write one run onto the target (new, or finishing a partial copy); return (Run, points)."""
    from mlflow.entities import Param, RunTag

    info = run.info
    if existing is None:
        # the uid goes on at creation, so even a copy interrupted right here is found next time
        # ... and it is sent once, looked up by uid after a lost reply (`once.py`)
        uid = run.data.tags[schema.UID]
        existing = once.create_run(dst, experiment_id, uid, {schema.UID: uid},
                                   start_time=info.start_time, run_name=info.run_name)
    run_id = existing.info.run_id
    for chunk in chunks([Param(k, v) for k, v in run.data.params.items()
                         if existing.data.params.get(k) != v], schema.MAX_PARAMS_PER_BATCH):
        dst.log_batch(run_id, params=chunk)
    for chunk in chunks([RunTag(k, v) for k, v in tags.items()], schema.MAX_TAGS_PER_BATCH):
        dst.log_batch(run_id, tags=chunk)
    points = 0
    for chunk in chunks(_missing_points(src, dst, info.run_id, run_id, run.data.metrics,
                                        repairing=bool(existing.data.metrics)),
                        schema.MAX_METRICS_PER_BATCH):
        dst.log_batch(run_id, metrics=chunk)
        points += len(chunk)
    _copy_artifacts(src, dst, info.run_id, run_id)
    if info.status in TERMINAL:
        dst.set_terminated(run_id, status=info.status, end_time=info.end_time)
        dst.set_tag(run_id, schema.SYNC_COMPLETE, "true")
    return dst.get_run(run_id), points


def _missing_points(src, dst, source_id: str, target_id: str, keys: Iterable[str],
                    repairing: bool) -> list:
    """Every source point the target lacks, as a multiset: a repair never writes a point twice."""
    out = []
    for key in keys:
        history = src.get_metric_history(source_id, key)
        have = Counter(_identity(m) for m in dst.get_metric_history(target_id, key)) \
            if repairing else Counter()
        for metric in history:
            ident = _identity(metric)
            if have[ident]:
                have[ident] -= 1
            else:
                out.append(metric)
    return out


def _identity(metric) -> tuple:
    value = "nan" if math.isnan(metric.value) else metric.value
    return metric.key, metric.timestamp, metric.step, value


def _copy_artifacts(src, dst, source_id: str, target_id: str) -> None:
    if not src.list_artifacts(source_id):
        return
    with tempfile.TemporaryDirectory(prefix="cogit-sync-") as tmp:
        local = src.download_artifacts(source_id, "", tmp)
        dst.log_artifacts(target_id, local)
