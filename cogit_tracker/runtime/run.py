"""What a campaign and a phase share: a uid, the writer, the live record, logging, the end.

Every value is checked where the experiment logs it (`store/values.py`): a key or a value the
store would refuse is dropped alone with one warning, never sent in a batch it would sink.
Then it is queued for the background writer (`store/writer.py`), so logging never waits on
the store. A run ends once, whoever ends it: its `with` block, or the budget stop.
"""
from __future__ import annotations

import json
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

from .. import schema, settings
from ..machine import cost
from ..redaction import redact, secret_name
from ..store import fluent_store, stash, values, writer
from ..store.ops import Op, now_ms
from . import monitor, ranks
from .budget import Reason
from .ending import classify, install_sigterm, quiet, sigterm_held


@dataclass
class Run:
    """One MLflow run in flight, named by its `cogit.uid`."""

    uid: str
    tracking_uri: str
    live: monitor.Live | None = field(default=None, init=False)
    _writer: writer.Writer = field(default=None, init=False, repr=False)
    _params: dict[str, str] = field(default_factory=dict, init=False, repr=False)
    _ended: bool = field(default=False, init=False, repr=False)
    _end_lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)
    rank: ranks.Rank | None = field(default=None, init=False)  # in a job of several ranks

    def __post_init__(self) -> None:
        self._writer = writer.get(self.tracking_uri)

    @property
    def run_id(self) -> str | None:
        """The MLflow run id (None while the store is unreachable and the run is spooled)."""
        return self._writer.run_id(self.uid)

    @property
    def _muted(self) -> bool:
        """A rank other than 0 writes no params, tags or artifacts of the user's, and metrics
        only under its prefix when every rank's are kept (`COGIT_ALL_RANKS`)."""
        return self.rank is not None and not self.rank.main

    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None
                    ) -> dict[str, float]:
        """Queue metric points; returns at once, with the points accepted. They reach the
        store within `COGIT_FLUSH_S`."""
        if self._muted:
            if not ranks.all_ranks():
                return {}
            metrics = {self.rank.prefix + str(k): v for k, v in metrics.items()}
        points, at = values.metrics(metrics, step)
        if points:
            self._writer.metrics(self.uid, points, at)
        return points

    def log_params(self, params: Mapping[str, Any]) -> None:
        """Params are write-once in MLflow: a changed value is reported and not logged."""
        if self._muted:
            return
        items = values.params(params, self._params)
        if items:
            self._writer.submit({"op": "params", "uid": self.uid, "params": items})

    def set_tags(self, tags: Mapping[str, Any]) -> None:
        if self._muted:
            return
        items = values.tags(tags)
        if items:
            self._writer.submit({"op": "tags", "uid": self.uid, "tags": items})

    def log_artifact(self, path: str | Path, artifact_path: str | None = None) -> None:
        """The file (or folder) as it is now: a copy is taken at once (`store/stash.py`), so
        a checkpoint rewritten next epoch or a temporary file deleted on return is stored as
        it was when logged. If no copy can be made (a full disk), the file is sent from
        where it is, later, and that is said once."""
        if self._muted or not values.artifact(path):
            return
        try:
            op = stash.take(self._writer.spool_dir, self.uid, path, artifact_path)
        except OSError as exc:
            values.warn_once(("artifact", "copy", str(path)), f"no copy of artifact "
                             f"{str(path)!r} could be taken ({exc}); it is sent as it is then")
            op = {"op": "artifact", "uid": self.uid, "path": str(path),
                  "artifact_path": artifact_path}
        self._writer.submit(op)

    def log_text(self, text: str, artifact_file: str) -> None:
        with tempfile.TemporaryDirectory(prefix="cogit-") as folder:
            target = Path(folder) / Path(artifact_file).name
            target.write_text(redact(text), encoding="utf-8")
            parent = str(Path(artifact_file).parent)
            self.log_artifact(target, None if parent == "." else parent)

    def log_dict(self, obj: Any, artifact_file: str) -> None:
        self.log_text(json.dumps(obj, indent=2, default=str), artifact_file)

    def log_table(self, data: Mapping[str, list], artifact_file: str) -> None:
        """Columns of equal length; shown as a table in `mlflow ui` (MLflow's `log_table`)."""
        if self._muted:
            return
        columns = {k: [redact(v, name=str(k)) if isinstance(v, str) or secret_name(str(k))
                       else v for v in col] for k, col in data.items()}
        self._writer.submit({"op": "table", "uid": self.uid, "file": artifact_file,
                             "data": columns})

    def _tracked(self, experiment: str, name: str | None,
                 keep: Callable[[dict[str, float]], None] | None = None) -> fluent_store.Tracked:
        """This run as MLflow's fluent API reaches it (`store/fluent_store.py`): its calls land
        here through the same writer, its params are checked against this run's, and its
        metrics pass through `keep` as `log_metrics` would pass them."""
        prefix = self.rank.prefix if self._muted and ranks.all_ranks() else ""
        return fluent_store.tracked(self.uid) or fluent_store.track(fluent_store.Tracked(
            self.uid, self._writer, experiment, owned=True, name=name, params=self._params,
            keep=None if self._muted else keep, muted=self._muted, prefix=prefix))

    def flush(self, timeout: float = 30.0) -> bool:
        return self._writer.flush(timeout)

    def _start(self, create: Op | None, rate: cost.Rate, gpu_count: int,
               budget: cost.BudgetGuard | None, offset_s: float = 0.0,
               rank: ranks.Rank | None = None) -> None:
        """Make (or, as a rank other than 0, join) the run and start watching it."""
        install_sigterm()
        self.rank = rank
        began = time.monotonic()  # a rank's time counts from here, its wait to join included
        if create and self._muted:
            ranks.join(self._writer, self.tracking_uri, self.uid, create)
        elif create:
            self._writer.submit(create)
        watch = ranks.JobStopWatch(self.tracking_uri, self.uid, self._writer) \
            if self._muted else None
        self.live = monitor.Live(self.uid, self._writer, rate, gpu_count,
                                 None if self._muted else budget, started=began,
                                 offset_s=offset_s, rank=rank, watch=watch)
        monitor.get().add(self.live)

    def _finish(self, exc: BaseException | None, stop: Reason | None = None,
                flush: bool = True) -> bool:
        """Record how the run ended, once; False if it had ended already. `stop`: why its
        campaign is stopping, if it is (`budget.py`)."""
        if self._writer.in_child:  # a forked child leaving the parent's `with` block: the
            return False           # runs are the parent's to end
        with self._end_lock:
            if self._ended or self.live is None:
                return False
            self._ended = True
        status, failure = classify(exc, stop)
        live = self.live
        monitor.get().remove(live)
        if self.rank is not None:
            with sigterm_held():
                return self._finish_in_job(status, failure, live, flush)
        return self._finish_run(status, failure, live, flush)

    def _finish_run(self, status: str, failure: dict[str, str], live: monitor.Live,
                    flush: bool, others: ranks.Others | None = None) -> bool:
        """The run's figures (peaks the largest over the job's ranks, `others`), its failure
        and its end."""
        if failure:
            self.set_tags(failure)
        figures = {schema.DURATION_S: live.duration_s, **live.figures(final=True)}
        if others is not None:
            for name in (schema.VRAM_PEAK_GB, schema.RAM_PEAK_GB):
                figures[name] = others.peak(name, figures[name])
        self.log_metrics(figures)
        if failure.get(schema.FAILURE) == "cuda_oom":
            self._log_memory_summary()
        with quiet(f"ending run {self.uid}"):
            self._ending(figures)
        self._writer.submit({"op": "end", "uid": self.uid, "status": status, "end": now_ms()})
        if flush:
            self._writer.flush(settings.END_FLUSH.get())
        return True

    def _finish_in_job(self, status: str, failure: dict[str, str], live: monitor.Live,
                       flush: bool) -> bool:
        """A rank's end in a job of several. It writes its own time and peaks first (the mark
        the others wait for), then learns what they left (`ranks.others`): a rank that failed
        names itself unless another already did; one that only witnessed a failure (torn down
        by the launcher, or a collective that lost its peer) waits for the others' ends, and
        a rank that wrote none was killed without a word: the lowest rank standing names it.
        Rank 0 then writes the job's figures and the end; another rank writes the end only
        when it is the one whose account stands."""
        stamp = now_ms()
        own = {self.rank.prefix + schema.DURATION_S: live.duration_s, **live.own_figures()}
        self._writer.submit({"op": "metrics", "uid": self.uid,
                             "metrics": [[k, v, stamp, 0] for k, v in own.items()]})
        self._writer.flush(settings.CONNECT_TIMEOUT.get())
        witness = ranks.witness(failure)
        own_fault = failure.get(schema.FAILURE) in ranks.OWN_FAILURES and not witness
        known = ranks.killed_in_job(self.rank)
        seen = None
        if witness or own_fault or not self._muted:
            seen = ranks.others(self.tracking_uri, self._writer.run_ids.get(self.uid),
                                self.rank, witnessing=witness,
                                wait=not own_fault and known is None)
        writes = not self._muted
        if seen is not None and seen.named and (witness or own_fault):
            status, failure = "FAILED", {}    # the rank that failed first has said so
        elif own_fault:
            failure = {**failure, schema.FAILURE_RANK: str(self.rank.rank),
                       schema.FAILURE_NODE: self.rank.node}
            writes = True
        elif witness and (known or (seen is not None and seen.missing)):
            status, failure = "FAILED", known or ranks.remember_killed(self.rank, seen.killed())
            writes = writes or (seen is not None and seen.records_killed())
        if not self._muted:
            return self._finish_run(status, failure, live, flush, seen)
        if writes and failure:
            self._writer.submit({"op": "tags", "uid": self.uid, "tags": values.tags(failure)})
            self._writer.submit({"op": "end", "uid": self.uid, "status": status, "end": stamp})
        if flush:
            self._writer.flush(settings.END_FLUSH.get())
        return True

    def end_stopped(self, reason: Reason) -> None:
        """End the run as stopped (budget, request) from the stop's own thread; the stop
        flushes once for all its runs."""
        self._finish(reason.kind.ending(reason.note), reason, flush=False)

    def _ending(self, figures: Mapping[str, float]) -> None:
        """What a kind of run does as it ends, before its end is written (phases roll up)."""

    @property
    def ended(self) -> bool:
        return self._ended

    def _log_memory_summary(self) -> None:
        import sys

        torch = sys.modules.get("torch")
        if torch is not None and torch.cuda.is_available():
            self.log_text(torch.cuda.memory_summary(), "cuda_memory_summary.txt")
