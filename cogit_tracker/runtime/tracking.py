"""The public API: a campaign run with one child run per phase, each fully described.

    with ct.campaign("run-002", experiment="sentiment", model="Qwen/Qwen2.5-7B-Instruct",
                     precision="int8") as camp:
        with camp.phase("train") as ph:
            ph.log_metrics({"fidelity": 0.93}, step=epoch)

Every write goes through the background writer (`store/writer.py`), so logging never waits on
the store and survives it going away; the monitor (`monitor.py`) keeps heartbeat, peaks and
live cost; `ending.py` says how each run ended. What `mlflow ui` needs to show the runs as
training runs is here too: MLflow's context tags (`provenance.py`), its system metrics on each
phase (`system_metrics.py`), run names that say campaign and phase, the campaign's
configuration as params and, as each phase ends, its figures repeated on the campaign run.
"""
from __future__ import annotations

import json
import os
import tempfile
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Mapping

from .. import schema
from ..errors import BadInput
from ..machine import cost, hardware
from ..machine.config import load_config
from ..machine.environment import environment
from ..machine.host_speed import host_speed
from ..store import query, writer
from ..store import uri as store_uri
from ..store.ops import now_ms
from . import monitor, system_metrics
from .provenance import run_context_tags
from .ending import BudgetExceeded, classify, install_sigterm, quiet

#: MLflow's own default experiment, where a fluent `mlflow.start_run()` goes when nothing else
#: is set: a campaign that names no experiment goes there too (or to MLFLOW_EXPERIMENT_NAME).
DEFAULT_EXPERIMENT = "Default"


def experiment_name(explicit: str | None = None) -> str:
    """The experiment a new campaign goes to: the one given, else the one MLflow's fluent API
    would use (`MLFLOW_EXPERIMENT_NAME`), else MLflow's `Default`."""
    return explicit or os.environ.get("MLFLOW_EXPERIMENT_NAME") or DEFAULT_EXPERIMENT


@dataclass
class _Run:
    """What a campaign and a phase share: a uid, the writer, the live record, the logging."""

    uid: str
    tracking_uri: str
    live: monitor.Live | None = field(default=None, init=False)
    _writer: writer.Writer = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        self._writer = writer.get(self.tracking_uri)

    @property
    def run_id(self) -> str | None:
        """The MLflow run id (None while the store is unreachable and the run is spooled)."""
        return self._writer.run_id(self.uid)

    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        """Queue metric points; returns at once. They reach the store within `COGIT_FLUSH_S`."""
        self._writer.metrics(self.uid, metrics, step or 0)

    def log_params(self, params: Mapping[str, Any]) -> None:
        self._writer.submit({"op": "params", "uid": self.uid,
                             "params": {k: str(v) for k, v in params.items()}})

    def set_tags(self, tags: Mapping[str, Any]) -> None:
        self._writer.submit({"op": "tags", "uid": self.uid,
                             "tags": {k: str(v) for k, v in tags.items()}})

    def log_artifact(self, path: str | Path, artifact_path: str | None = None) -> None:
        self._writer.submit({"op": "artifact", "uid": self.uid, "path": str(path),
                             "artifact_path": artifact_path})

    def log_text(self, text: str, artifact_file: str) -> None:
        folder = Path(tempfile.mkdtemp(prefix="cogit-"))
        target = folder / Path(artifact_file).name
        target.write_text(text, encoding="utf-8")
        parent = str(Path(artifact_file).parent)
        self.log_artifact(target, None if parent == "." else parent)

    def log_dict(self, obj: Any, artifact_file: str) -> None:
        self.log_text(json.dumps(obj, indent=2, default=str), artifact_file)

    def log_table(self, data: Mapping[str, list], artifact_file: str) -> None:
        """Columns of equal length; shown as a table in `mlflow ui` (MLflow's `log_table`)."""
        self._writer.submit({"op": "table", "uid": self.uid, "file": artifact_file,
                             "data": {k: list(v) for k, v in data.items()}})

    def flush(self, timeout: float = 30.0) -> bool:
        return self._writer.flush(timeout)

    def _start(self, create: dict, rate: cost.Rate, gpu_count: int,
               budget: cost.BudgetGuard | None, offset_s: float = 0.0) -> None:
        install_sigterm()
        if create:
            self._writer.submit(create)
        self.live = monitor.Live(self.uid, self._writer, rate, gpu_count, budget,
                                 offset_s=offset_s)
        monitor.get().add(self.live)

    def _finish(self, exc: BaseException | None, over_budget: bool) -> dict[str, float]:
        """End the run with its status, failure class and final figures; returns those."""
        status, failure = classify(exc, over_budget)
        live = self.live
        monitor.get().remove(live)
        if failure:
            self.set_tags(failure)
        figures = {
            schema.DURATION_S: live.duration_s,
            schema.COST_USD: live.cost_usd,
            schema.VRAM_PEAK_GB: live.vram_peak / schema.GB,
            schema.RAM_PEAK_GB: live.ram_peak / schema.GB,
        }
        self.log_metrics(figures)
        if failure.get(schema.FAILURE) == "cuda_oom":
            self._log_memory_summary()
        self._writer.submit({"op": "end", "uid": self.uid, "status": status, "end": now_ms()})
        self._writer.flush()
        return figures

    def _log_memory_summary(self) -> None:
        import sys

        torch = sys.modules.get("torch")
        if torch is not None and torch.cuda.is_available():
            self.log_text(torch.cuda.memory_summary(), "cuda_memory_summary.txt")


def _base_tags(kind: str, label: str, model: str | None, precision: str,
               rate: cost.Rate, uid: str, provider: str | None) -> dict[str, str]:
    """What every campaign and phase run carries: ours over MLflow's context tags."""
    tags = {schema.UID: uid, schema.KIND: kind, schema.CAMPAIGN: label,
            schema.PRECISION: precision, **rate.tags(), **hardware.probe().tags()}
    if model:
        tags[schema.MODEL] = model
    if provider:
        tags[schema.PROVIDER] = provider
    return run_context_tags(tags)


@dataclass
class Phase(_Run):
    """A child run of a campaign: one phase of the experiment."""

    name: str = ""
    index: int | None = None
    campaign: "Campaign | None" = None
    resumed: bool = False
    _headline: dict[str, float] = field(default_factory=dict, repr=False)
    _system: Any = field(default=None, repr=False)

    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        """Queue metric points (returns at once), keeping the last value of each headline
        result (`schema.HEADLINE_METRICS`) for the campaign run."""
        super().log_metrics(metrics, step)
        for key in schema.HEADLINE_METRICS:
            if key in metrics:
                self._headline[key] = float(metrics[key])

    def __enter__(self) -> "Phase":
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        over = bool(self._budget_live() and self._budget_live().over_budget)
        with quiet(f"closing phase {self.name!r}"):
            if self._system is not None:
                self._system.finish()
            self._roll_up(self._finish(exc, over))
        if over and isinstance(exc, KeyboardInterrupt):
            raise BudgetExceeded(f"phase {self.name!r} stopped: budget exhausted") from exc
        return False

    def _roll_up(self, figures: Mapping[str, float]) -> None:
        """This phase's time, cost and VRAM peak as `<phase>/...` metrics of its campaign run,
        and its headline results both bare and under that prefix: a campaign run then
        compares with another in `mlflow ui` as it stands, phase by phase."""
        if self.campaign is None:
            return
        prefix = schema.metric_prefix(self.name) + "/"
        own = {**{k: figures[k] for k in schema.PHASE_ROLLUPS}, **self._headline}
        self.campaign.log_metrics({**{prefix + k: v for k, v in own.items()}, **self._headline})

    def _budget_live(self) -> monitor.Live | None:
        return self.campaign.live if self.campaign is not None else self.live


@dataclass
class Campaign(_Run):
    """The parent run of one experiment run (e.g. "run-002"), holding its phases."""

    label: str = ""
    experiment: str = DEFAULT_EXPERIMENT
    model: str | None = None
    precision: str = "fp32"
    provider: str | None = None
    rate: cost.Rate = field(default_factory=lambda: cost.UNKNOWN)
    budget: cost.BudgetGuard | None = None
    resumed: bool = False
    _phases: int = 0
    _existing_phases: dict[str, Any] = field(default_factory=dict)

    def phase(self, name: str, index: int | None = None, tags: Mapping[str, Any] | None = None,
              params: Mapping[str, Any] | None = None) -> Phase:
        """Open a child run for one phase. On a resumed campaign, an unfinished run of the same
        phase is reopened rather than duplicated."""
        self._phases += 1
        index = self._phases if index is None else index
        existing = self._existing_phases.get(name)
        gpu_count = max(hardware.probe().gpu_count, 1)
        if existing is not None and existing.info.status != "FINISHED":
            ph = Phase(existing.data.tags[schema.UID], self.tracking_uri, name=name,
                       index=index, campaign=self, resumed=True)
            self._writer.known(ph.uid, existing.info.run_id)
            ph._writer.submit({"op": "status", "uid": ph.uid, "status": "RUNNING"})
            offset = existing.data.metrics.get(schema.DURATION_S, 0.0)
            ph._start({}, self.rate, gpu_count, None, offset_s=offset)
        else:
            ph = Phase(str(uuid.uuid4()), self.tracking_uri, name=name, index=index, campaign=self)
            tags_ = _base_tags("phase", self.label, self.model, self.precision, self.rate,
                               ph.uid, self.provider)
            run_name = f"{name} · {self.label}"  # ten runs named `encode` read as one
            tags_.update({schema.PHASE: name, schema.PHASE_INDEX: str(index),
                          schema.RUN_NAME: run_name})
            tags_.update({k: str(v) for k, v in (tags or {}).items()})
            ph._start({"op": "create", "uid": ph.uid, "experiment": self.experiment,
                       "name": run_name, "parent": self.uid, "start": now_ms(),
                       "tags": tags_}, self.rate, gpu_count, None)
        ph._system = system_metrics.start(ph.uid, ph._writer, lambda: ph.live.duration_s)
        if params:
            ph.log_params(params)
        return ph

    def finished_phase(self, name: str) -> str | None:
        """uid of this campaign's FINISHED run of a phase (for `--resume`), else None."""
        run = self._existing_phases.get(name)
        if run is not None and run.info.status == "FINISHED":
            return run.data.tags[schema.UID]
        return None

    def __enter__(self) -> "Campaign":
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        over = bool(self.live and self.live.over_budget)
        with quiet(f"closing campaign {self.label!r}"):
            self._finish(exc, over or isinstance(exc, BudgetExceeded))
        return False


def campaign(label: str, experiment: str | None = None, model: str | None = None,
             precision: str = "fp32", provider: str | None = None,
             usd_per_hour: float | str | None = None, budget_usd: float | str | None = None,
             tracking_uri: str | None = None, resume: bool = False,
             tags: Mapping[str, Any] | None = None,
             params: Mapping[str, Any] | None = None) -> Campaign:
    """Open the parent run of one experiment run. Bad values raise `BadInput` before any run
    exists; `resume=True` reopens the campaign with this label (in `experiment`, or in any
    experiment when none is named) instead of making a new one.

    `params` are the experiment's own settings (layer, quantum_dim...): a new campaign run
    logs them beside its model, precision and GPU (`schema.CAMPAIGN_PARAMS`), so `mlflow ui`
    compares campaigns by them. A resumed one keeps those it was created with (MLflow refuses
    to change a param's value)."""
    if not label or not label.strip():
        raise BadInput("campaign label is empty: give a name such as 'run-002'")
    precision = schema.check_precision(precision)
    uri = store_uri.tracking_uri(tracking_uri)
    profile = hardware.probe()
    rate = cost.resolve_rate(usd_per_hour, profile.gpu_key)
    guard = cost.BudgetGuard(budget_usd) if budget_usd is not None else None
    gpu_count = max(profile.gpu_count, 1)
    provider = provider or load_config().provider
    if resume:
        return _resume(label, experiment, uri, rate, guard, gpu_count)
    experiment = experiment_name(experiment)
    camp = Campaign(str(uuid.uuid4()), uri, label=label, experiment=experiment, model=model,
                    precision=precision, provider=provider, rate=rate, budget=guard)
    tags_ = _base_tags("campaign", label, model, precision, rate, camp.uid, provider)
    tags_[schema.RUN_NAME] = label
    if profile.gpu_count == 0:
        tags_.update(host_speed())
    tags_.update({k: str(v) for k, v in (tags or {}).items()})
    camp._start({"op": "create", "uid": camp.uid, "experiment": experiment, "name": label,
                 "parent": None, "start": now_ms(), "tags": tags_}, rate, gpu_count, guard)
    config = {name: tags_[tag] for name, tag in schema.CAMPAIGN_PARAMS.items() if tag in tags_}
    camp.log_params({**(params or {}), **config})
    with quiet("recording the environment"):
        camp.log_dict(environment(), "environment.json")
    return camp


def _find_campaign(uri: str, label: str, experiment: str | None):
    """The newest campaign run with this label, in `experiment` or in any; None if none."""
    client = store_uri.client(uri)
    ids = None
    if experiment is not None:
        exp = client.get_experiment_by_name(experiment)
        if exp is None:
            return None, client
        ids = [exp.experiment_id]
    found = query.campaigns(client, label, ids)
    return (found[0] if found else None), client


def _resume(label: str, experiment: str | None, uri: str, rate: cost.Rate,
            guard: cost.BudgetGuard | None, gpu_count: int) -> Campaign:
    run, client = _find_campaign(uri, label, experiment)
    if run is None:
        where = f"experiment {experiment!r}" if experiment else "any experiment"
        raise BadInput(f"cannot resume campaign {label!r}: no such campaign in {where} at {uri}")
    tags = run.data.tags
    camp = Campaign(tags[schema.UID], uri, label=label,
                    experiment=client.get_experiment(run.info.experiment_id).name,
                    model=tags.get(schema.MODEL), precision=tags.get(schema.PRECISION, "fp32"),
                    provider=tags.get(schema.PROVIDER), rate=rate, budget=guard, resumed=True)
    for ph in reversed(query.children(client, run)):  # newest last, so it wins
        camp._existing_phases[ph.data.tags.get(schema.PHASE, "")] = ph
    camp._writer.known(camp.uid, run.info.run_id)
    camp._writer.submit({"op": "status", "uid": camp.uid, "status": "RUNNING"})
    camp._start({}, rate, gpu_count, guard,
                offset_s=run.data.metrics.get(schema.DURATION_S, 0.0))
    return camp


_open_campaign = campaign  # `phase()` takes a parameter named `campaign`


@contextmanager
def phase(name: str, campaign: str, experiment: str | None = None,
          **kwargs) -> Iterator[Phase]:
    """A phase on its own (e.g. on another machine): it joins the campaign with this label if
    the store has one (in `experiment`, or in any experiment when none is named), else opens
    that campaign for the length of the phase."""
    uri = store_uri.tracking_uri(kwargs.pop("tracking_uri", None))
    found, _ = _find_campaign(uri, campaign, experiment)
    with _open_campaign(campaign, experiment, tracking_uri=uri, resume=found is not None,
                        **kwargs) as camp:
        with camp.phase(name) as ph:
            yield ph


def find_run(uid: str, tracking_uri: str | None = None):
    """The MLflow run carrying this `cogit.uid`, in any experiment of the store."""
    client = store_uri.client(tracking_uri)
    run = query.find(client, uid)
    if run is None:
        raise BadInput(f"no run with {schema.UID} {uid!r} in "
                       f"{store_uri.tracking_uri(tracking_uri)}")
    return run


def download_artifacts(uid: str, path: str, dst: str | Path, tracking_uri: str | None = None) -> str:
    """Fetch an artifact of the run with this uid, so a later phase can run on another
    machine or store than the one that made it."""
    run = find_run(uid, tracking_uri)
    client = store_uri.client(tracking_uri)
    Path(dst).mkdir(parents=True, exist_ok=True)
    return client.download_artifacts(run.info.run_id, path, str(dst))
