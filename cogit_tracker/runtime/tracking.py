"""The public API: a campaign run with one child run per phase, each fully described.

    with ct.campaign("run-002", experiment="sentiment", model="Qwen/Qwen2.5-7B-Instruct",
                     precision="int8") as camp:
        with camp.phase("train") as ph:
            ph.log_metrics({"fidelity": 0.93}, step=epoch)

Every write goes through the background writer (`store/writer.py`), so logging never waits on
the store and survives it going away, at start as later: a new campaign's very creation is an
op like any other. `run.py` checks what is logged; the monitor (`monitor.py`) keeps
heartbeat, peaks and live cost; `budget.py` stops a campaign whose budget is spent or that
someone asked to stop (`stop.py`); `lease.py`
lets one process at a time resume a campaign; `ending.py` says how each run ended. What
`mlflow ui` needs to show the runs as training runs is here too: MLflow's context tags
(`provenance.py`), its system metrics on each phase (`system_metrics.py`), run names that say
campaign and phase, the campaign's configuration as params and, as each phase ends, its
figures repeated on the campaign run.
"""
from __future__ import annotations

import os
import time
import uuid
import warnings
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

from .. import schema, settings
from ..errors import BadInput, StoreFailure
from ..machine import cost, hardware
from ..machine.config import load_config
from ..machine.environment import environment
from ..machine.host_speed import host_speed
from ..redaction import redact
from ..reports.headline import Headline, Spec, declare, from_tag
from ..store import query, values
from ..store import uri as store_uri
from ..store.ops import Op, now_ms
from . import active, ranks
from . import lease as leases
from . import system_metrics
from .budget import BUDGET, REQUEST, Reason, Stopper, reason_of
from .ending import quiet, raise_held
from .progress import Progress
from .provenance import run_context_tags
from .run import Run
from .stop import RequestWatch

#: MLflow's own default experiment, where a fluent `mlflow.start_run()` goes when nothing else
#: is set: a campaign that names no experiment goes there too (or to MLFLOW_EXPERIMENT_NAME).
DEFAULT_EXPERIMENT = "Default"


def experiment_name(explicit: str | None = None) -> str:
    """The experiment a new campaign goes to: the one given, else the one MLflow's fluent API
    would use (`MLFLOW_EXPERIMENT_NAME`), else MLflow's `Default`."""
    return explicit or os.environ.get("MLFLOW_EXPERIMENT_NAME") or DEFAULT_EXPERIMENT


def _base_tags(kind: str, label: str, model: str | None, precision: str,
               rate: cost.Rate, uid: str, provider: str | None,
               rank: ranks.Rank | None = None, gpus: int = 0) -> dict[str, str]:
    """What every campaign and phase run carries: ours over MLflow's context tags; in a job
    of several ranks, the job and the GPUs it uses (not the GPUs one rank sees)."""
    profile = hardware.probe()
    tags = {schema.UID: uid, schema.KIND: kind, schema.CAMPAIGN: label,
            schema.PRECISION: precision, **rate.tags(), **profile.tags()}
    if rank is not None:
        tags.update(rank.tags())
        tags[schema.GPU_COUNT] = str(gpus if profile.gpu_count else 0)
    if model:
        tags[schema.MODEL] = model
    if provider:
        tags[schema.PROVIDER] = provider
    return run_context_tags(tags)


def recreate(run, experiment: str, parent: str | None) -> Op:
    """The creation op of a run that exists, so a spool can make it again on a store that
    lacks it (its parent named by uid, as in any op)."""
    tags = {k: v for k, v in run.data.tags.items()
            if k not in (schema.PARENT_RUN, schema.HEARTBEAT)}
    return {"op": "create", "uid": run.data.tags[schema.UID], "experiment": experiment,
            "name": run.info.run_name, "parent": parent, "start": run.info.start_time,
            "tags": tags}


@dataclass
class Phase(Run):
    """A child run of a campaign: one phase of the experiment."""

    name: str = ""
    index: int | None = None
    campaign: "Campaign | None" = None
    resumed: bool = False
    _headline: dict[str, float] = field(default_factory=dict, repr=False)
    _system: Any = field(default=None, repr=False)
    _active: Any = field(default=None, repr=False)

    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None
                    ) -> dict[str, float]:
        """Queue metric points (returns at once), keeping the last value of each of the
        campaign's headline metrics for its run (of the points accepted: a refused key is
        said once, not again in the roll-up)."""
        points = super().log_metrics(metrics, step)
        if not self._muted:
            self.keep_headline(points)
        return points

    def keep_headline(self, metrics: Mapping[str, Any]) -> None:
        """Keep the last value of each metric the campaign rolls up (`Headline.rolls_up`:
        its declared headline, else every metric but cogit's own), for `_ending`."""
        heads = self.campaign.headline if self.campaign is not None else Headline()
        for key, value in metrics.items():
            number = values.number(value)
            if number is not None and heads.rolls_up(str(key)):
                self._headline[str(key)] = number

    def _ending(self, figures: Mapping[str, float]) -> None:
        """Stop MLflow's system metrics (their last sample), then this phase's time, cost
        and VRAM peak as `<phase>/...` metrics of its campaign run, and its headline results
        both bare and under that prefix: a campaign run then compares with another in
        `mlflow ui` as it stands, phase by phase."""
        if self._system is not None:
            self._system.finish()
        if self.campaign is None:
            return
        prefix = schema.metric_prefix(self.name) + "/"
        own = {**{k: figures[k] for k in schema.PHASE_ROLLUPS}, **self._headline}
        self.campaign.log_metrics({**{prefix + k: v for k, v in own.items()}, **self._headline})

    def __enter__(self) -> "Phase":
        if self.campaign.stopper is not None:
            self.campaign.stopper.enter()
        try:
            with quiet(f"making phase {self.name!r} MLflow's active run"):
                run = self._tracked(self.campaign.experiment,
                                    f"{self.name} · {self.campaign.label}",
                                    keep=self.keep_headline)
                self._active = active.activate(run, self.tracking_uri)
        except BaseException as exc:  # a budget stop as the phase starts: Python calls no
            self.__exit__(type(exc), exc, exc.__traceback__)   # __exit__ after a failed
            raise                                              # __enter__, so record it here
        return self

    def _leave(self) -> None:
        """MLflow's active run, tracking URI and MLFLOW_RUN_ID back as they were."""
        if self._active is not None:
            with quiet(f"restoring MLflow's active run after phase {self.name!r}"):
                active.deactivate(self._active)

    def __exit__(self, exc_type, exc, tb) -> bool:
        camp = self.campaign
        self._leave()
        with _exiting(camp):
            with quiet(f"closing phase {self.name!r}"):
                self._finish(exc, camp.stopping)
        stop = camp.stopping
        if stop is not None and (exc is None or isinstance(exc, KeyboardInterrupt)):
            raise stop.exception(f"phase {self.name!r} stopped") from exc
        if exc is None:
            raise_held()
        return False

    def progress(self, done: float, total: float) -> None:
        """How far the phase has got (e.g. 12 of 45 generations); returns at once. The monitor
        turns it into the live metrics `progress`, `eta_s` and `projected_cost_usd` with each
        heartbeat. A report that cannot be true (done > total, a negative count) warns once
        and is ignored: the phase goes on."""
        live = self.live
        if live is None:
            return
        if live.progress is None:
            live.progress = Progress(self.name)
        live.progress.report(done, total, time.monotonic())


def _exiting(camp: "Campaign"):
    """Leaving one of the campaign's `with` blocks (see `Stopper.exiting`)."""
    return camp.stopper.exiting() if camp.stopper is not None else nullcontext()


@dataclass
class Campaign(Run):
    """The parent run of one experiment run (e.g. "run-002"), holding its phases."""

    label: str = ""
    experiment: str = DEFAULT_EXPERIMENT
    model: str | None = None
    precision: str = "fp32"
    provider: str | None = None
    rate: cost.Rate = field(default_factory=lambda: cost.UNKNOWN)
    budget: cost.BudgetGuard | None = None
    on_budget: str | None = None
    on_stop: str | None = None
    resumed: bool = False
    headline: Headline = field(default_factory=Headline)
    stopper: Stopper | None = field(default=None, init=False)
    lease: leases.Lease | None = field(default=None, init=False)
    _phases: int = 0
    _existing_phases: dict[str, Any] = field(default_factory=dict)
    _open: list[Phase] = field(default_factory=list)

    def phase(self, name: str, index: int | None = None, tags: Mapping[str, Any] | None = None,
              params: Mapping[str, Any] | None = None) -> Phase:
        """Open a child run for one phase. On a resumed campaign, an unfinished run of the same
        phase is reopened rather than duplicated."""
        if self.stopping is not None:
            raise self.stopping.exception(f"campaign {self.label!r} stopped, phase {name!r} "
                                          "not started")
        if not isinstance(name, str) or not name.strip():
            raise BadInput(f"phase name {name!r} is empty: give a name such as 'train'")
        check_name("phase name", name, schema.MAX_RUN_NAME - len(f" · {self.label}"))
        self._phases += 1
        index = self._phases if index is None else index
        existing = self._existing_phases.get(name)
        gpu_count = self.live.gpu_count
        if existing is not None and existing.info.status != "FINISHED":
            ph = self._reopen(existing, name, index, gpu_count)
        else:
            uid = self.rank.uid(self.label, name, str(index)) if self.rank else str(uuid.uuid4())
            ph = Phase(uid, self.tracking_uri, name=name, index=index, campaign=self)
            tags_ = _base_tags("phase", self.label, self.model, self.precision, self.rate,
                               ph.uid, self.provider, self.rank, gpu_count)
            run_name = f"{name} · {self.label}"  # ten runs named `encode` read as one
            tags_.update({schema.PHASE: name, schema.PHASE_INDEX: str(index),
                          schema.RUN_NAME: run_name, **values.tags(tags or {})})
            ph._start({"op": "create", "uid": ph.uid, "experiment": self.experiment,
                       "name": run_name, "parent": self.uid, "start": now_ms(),
                       "tags": tags_}, self.rate, gpu_count, None, rank=self.rank)
        if self.rank is not None and existing is None:
            ph._writer.submit({"op": "tags", "uid": ph.uid, "tags": self.rank.own_tags()})
        if self.rank is None or self.rank.node_main:  # each node's series, once
            node = self.rank.node if self.rank is not None and self.rank.nodes > 1 else None
            ph._system = system_metrics.start(ph.uid, ph._writer, lambda: ph.live.duration_s,
                                              node)
        self._open.append(ph)
        if params:
            ph.log_params(params)
        return ph

    def _reopen(self, existing, name: str, index: int, gpu_count: int) -> Phase:
        ph = Phase(existing.data.tags[schema.UID], self.tracking_uri, name=name, index=index,
                   campaign=self, resumed=True)
        ph._params.update(existing.data.params)
        self._writer.known(ph.uid, existing.info.run_id,
                           recreate(existing, self.experiment, self.uid))
        ph._writer.submit({"op": "status", "uid": ph.uid, "status": "RUNNING"})
        offset = existing.data.metrics.get(schema.DURATION_S, 0.0)
        ph._start(None, self.rate, gpu_count, None, offset_s=offset)
        return ph

    def finished_phase(self, name: str) -> str | None:
        """uid of this campaign's FINISHED run of a phase (for `--resume`), else None."""
        run = self._existing_phases.get(name)
        if run is not None and run.info.status == "FINISHED":
            return run.data.tags[schema.UID]
        return None

    def open_runs(self) -> list[Run]:
        """The runs not yet ended: phases first, then the campaign itself."""
        return [ph for ph in self._open if not ph.ended] + ([] if self.ended else [self])

    def _arm(self, seen_request: str | None = None) -> None:
        """Give the campaign its stop: for a spent budget, and for a stop asked for from
        elsewhere (`stop.py`), which rank 0 (or the only process) looks for once a heartbeat;
        the other ranks learn of either from rank 0's record (`ranks.JobStopWatch`). The
        commands run once per job, on rank 0. `seen_request`: the request (its `cogit.stop.at`)
        a resumed campaign already carries, from the session it ended."""
        main = self.rank is None or self.rank.main
        commands = {BUDGET.failure: self.on_budget, REQUEST.failure: self.on_stop} if main else {}
        self.stopper = Stopper(self.label, commands, self.open_runs)
        self.live.on_stop = self.stopper.stop
        if main:
            self.live.asked = RequestWatch(self.tracking_uri, self.uid, self._writer,
                                           settings.HEARTBEAT.get(), seen=seen_request)

    def __enter__(self) -> "Campaign":
        if self.stopper is not None:
            self.stopper.enter()
        return self

    @property
    def stopping(self) -> Reason | None:
        """Why the campaign is stopping (its budget spent, a stop asked for), if it is."""
        return self.live.stop if self.live is not None else None

    def __exit__(self, exc_type, exc, tb) -> bool:
        stop = self.stopping
        with _exiting(self), quiet(f"closing campaign {self.label!r}"):
            for ph in self._open:  # a phase whose own exit was cut short
                ph._leave()
                ph._finish(exc, stop)
            if self.lease is not None:
                self.set_tags(leases.release_tags(self.lease))
            self._finish(exc, stop or reason_of(exc))
        if self.stopper is not None:
            self.stopper.unwound()
        if exc is None:
            raise_held()
        return False


def check_label(label: str | None) -> str:
    """A campaign label that names something and that every supported store keeps (any
    printable character is fine, quotes included)."""
    if not label or not label.strip():
        raise BadInput(f"campaign label {label!r} is empty: give a name such as 'run-002'")
    return check_name("campaign label", label, schema.MAX_LABEL)


def check_name(what: str, text: str, limit: int) -> str:
    """A name that sqlite would take but PostgreSQL would refuse, losing the run there: too
    long for its VARCHAR column, a NUL, or a lone surrogate (not UTF-8). BadInput at the
    call, before any run exists."""
    shown = repr(text[:40] + ("..." if len(text) > 40 else ""))
    if len(text) > limit:
        raise BadInput(f"{what} {shown} has {len(text)} characters: accepted: at most {limit}")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise BadInput(f"{what} {shown} is not valid Unicode (a lone surrogate): accepted: "
                       "text that UTF-8 can encode") from None
    if "\x00" in text:
        raise BadInput(f"{what} {shown} holds a NUL character: accepted: text without NUL")
    return text


@dataclass
class _Setup:
    """A campaign's arguments, checked before any run exists."""

    label: str
    experiment: str | None
    uri: str
    model: str | None
    precision: str
    provider: str | None
    rate: cost.Rate
    guard: cost.BudgetGuard | None
    on_budget: str | None
    on_stop: str | None
    tags: dict[str, str]
    wait: bool
    gpu_count: int
    gpu_less: bool
    params: dict[str, Any] = field(default_factory=dict)
    headline: Headline = field(default_factory=Headline)
    rank: ranks.Rank | None = None


def _setup(label: str, experiment: str | None = None, model: str | None = None,
           precision: str = "fp32", provider: str | None = None,
           usd_per_hour: float | str | None = None, budget_usd: float | str | None = None,
           tracking_uri: str | None = None, tags: Mapping[str, Any] | None = None,
           on_budget: str | None = None, wait: bool = False,
           headline: Spec = None, on_stop: str | None = None) -> _Setup:
    check_label(label)
    heads = declare(headline)
    rank = ranks.Rank.from_environment()
    with quiet("preparing MLflow's fluent API"):
        active.warm()
    precision = schema.check_precision(precision)
    uri = store_uri.tracking_uri(tracking_uri)
    profile = hardware.probe()
    rate = cost.resolve_rate(usd_per_hour, profile.gpu_key)
    guard = cost.BudgetGuard(budget_usd) if budget_usd is not None else None
    command = on_budget if on_budget is not None else os.environ.get(settings.ON_BUDGET)
    on_stop = on_stop if on_stop is not None else os.environ.get(settings.ON_STOP)
    return _Setup(label, experiment, uri, model, precision,
                  provider or load_config().provider, rate, guard, command or None,
                  on_stop or None, values.tags(tags or {}), wait,
                  rank.job_gpus(profile.gpu_count) if rank else max(profile.gpu_count, 1),
                  profile.gpu_count == 0, headline=heads, rank=rank)


def campaign(label: str, experiment: str | None = None, model: str | None = None,
             precision: str = "fp32", provider: str | None = None,
             usd_per_hour: float | str | None = None, budget_usd: float | str | None = None,
             tracking_uri: str | None = None, resume: bool = False,
             tags: Mapping[str, Any] | None = None, on_budget: str | None = None,
             wait: bool = False, phases: Sequence[str] | None = None,
             params: Mapping[str, Any] | None = None, headline: Spec = None,
             on_stop: str | None = None) -> Campaign:
    """Open the parent run of one experiment run. Bad values raise `BadInput` before any run
    exists. `resume=True` reopens the campaign with this label (in `experiment`, or in any
    experiment when none is named) instead of making a new one; it needs the store, and
    raises `Conflict` while another process holds the campaign (`wait=True` waits instead).
    `on_budget` (else `COGIT_ON_BUDGET`) is a shell command run once if `budget_usd` is
    spent, e.g. the provider's command that stops this pod; `on_stop` (else `COGIT_ON_STOP`)
    one run once if someone asks the campaign to stop (`cogit-log runs stop`, the web's Stop
    button), which it sees within a heartbeat and obeys as a spent budget, raising
    `StopRequested` out of the phase. `phases` names the phases it
    means to run, so that while it runs the work not yet started is known (`advise`).

    `params` are the experiment's own settings (layer, quantum_dim...): a new campaign run
    logs them beside its model, precision and GPU (`schema.CAMPAIGN_PARAMS`), so `mlflow ui`
    compares campaigns by them. A resumed one keeps those it was created with (MLflow refuses
    to change a param's value).

    `headline` names the experiment's headline metrics and which value is better: a mapping
    name -> "max" | "min", or a sequence of names ("max") or of (name, direction) pairs.
    Stored on the campaign run (`schema.HEADLINE`), it decides what its roll-ups, `report`,
    `compare`, the charts and `/cogit/` show; with none, they show every metric its phases
    log. A resumed campaign keeps the declaration it was created with."""
    if phases:
        tags = {**(tags or {}), schema.PHASES_PLANNED: ",".join(phases)}
    setup = _setup(label, experiment, model, precision, provider, usd_per_hour, budget_usd,
                   tracking_uri, tags, on_budget, wait, headline, on_stop)
    setup.params = dict(params or {})
    return _resume(setup) if resume else _new(setup)


def _new(s: _Setup, join: str | None = None) -> Campaign:
    experiment = experiment_name(s.experiment)
    uid = s.rank.uid(s.label) if s.rank else str(uuid.uuid4())
    camp = Campaign(uid, s.uri, label=s.label, experiment=experiment,
                    model=s.model, precision=s.precision, provider=s.provider, rate=s.rate,
                    budget=s.guard, on_budget=s.on_budget, on_stop=s.on_stop,
                    headline=s.headline)
    tags_ = _base_tags("campaign", s.label, s.model, s.precision, s.rate, camp.uid, s.provider,
                       s.rank, s.gpu_count)
    tags_[schema.RUN_NAME] = s.label
    if s.headline.declared:
        tags_[schema.HEADLINE] = s.headline.tag()
    tags_.update(_budget_tags(s.guard))
    if s.gpu_less:
        tags_.update(host_speed())
    tags_.update(s.tags)
    create = {"op": "create", "uid": camp.uid, "experiment": experiment, "name": s.label,
              "parent": None, "start": now_ms(), "tags": tags_}
    if join:
        create["join"] = join
    camp._start(create, s.rate, s.gpu_count, s.guard, rank=s.rank)
    camp._tracked(experiment, s.label)
    camp._arm()
    if s.rank is not None:  # each rank says its node; each node what it has
        node = {schema.NODE_PREFIX + s.rank.node: hardware.probe().summary()} \
            if s.rank.node_main else {}
        camp._writer.submit({"op": "tags", "uid": camp.uid,
                             "tags": {**s.rank.own_tags(), **node}})
    config = {name: tags_[tag] for name, tag in schema.CAMPAIGN_PARAMS.items() if tag in tags_}
    camp.log_params({**s.params, **config})
    with quiet("recording the environment"):
        camp.log_dict(environment(), "environment.json")
    return camp


def _budget_tags(guard: cost.BudgetGuard | None) -> dict[str, str]:
    """The budget as a tag on the campaign run: only the process holds the guard, and the
    live page (`runtime/board.py`) shows how much of it is spent."""
    return {schema.BUDGET_USD: repr(guard.budget_usd)} if guard is not None else {}


def _find_campaign(uri: str, label: str, experiment: str | None):
    """The newest campaign run with this label, in `experiment` or in any; None if none.
    StoreFailure, in at most COGIT_CONNECT_TIMEOUT_S, when the store does not answer."""
    from mlflow.tracking import MlflowClient

    why = store_uri.answers(uri)
    if why:
        raise StoreFailure(f"tracking store {redact(uri)} does not answer ({why}): a campaign "
                           "is resumed or joined only while its store answers")
    client = MlflowClient(tracking_uri=uri)
    ids = None
    if experiment is not None:
        exp = client.get_experiment_by_name(experiment)
        if exp is None:
            return None, client
        ids = [exp.experiment_id]
    found = query.campaigns(client, label, ids)
    return (found[0] if found else None), client


def _resume(s: _Setup) -> Campaign:
    run, client = _find_campaign(s.uri, s.label, s.experiment)
    if run is None:
        where = f"experiment {s.experiment!r}" if s.experiment else "any experiment"
        raise BadInput(f"cannot resume campaign {s.label!r}: no such campaign in {where} at "
                       f"{redact(s.uri)}")
    lease = leases.acquire(client, run.info.run_id, s.label, s.wait)
    try:
        return _reopened(s, run, client, lease)
    except BaseException:
        client.set_tag(run.info.run_id, schema.SESSION_RELEASED, str(lease.session))
        raise


def _reopened(s: _Setup, run, client, lease: leases.Lease) -> Campaign:
    tags = run.data.tags
    experiment = client.get_experiment(run.info.experiment_id).name
    camp = Campaign(tags[schema.UID], s.uri, label=s.label, experiment=experiment,
                    model=tags.get(schema.MODEL), precision=tags.get(schema.PRECISION, "fp32"),
                    provider=tags.get(schema.PROVIDER), rate=s.rate, budget=s.guard,
                    on_budget=s.on_budget, on_stop=s.on_stop, resumed=True,
                    headline=from_tag(tags.get(schema.HEADLINE)) or Headline())
    camp.lease = lease
    camp._params.update(run.data.params)
    for ph in reversed(query.children(client, run)):  # newest last, so it wins
        camp._existing_phases[ph.data.tags.get(schema.PHASE, "")] = ph
    camp._writer.known(camp.uid, run.info.run_id, recreate(run, experiment, None))
    camp._writer.submit({"op": "status", "uid": camp.uid, "status": "RUNNING"})
    if s.guard is not None:  # this session's budget is the one that stops it now
        camp._writer.submit({"op": "tags", "uid": camp.uid, "tags": _budget_tags(s.guard)})
    camp._start(None, s.rate, s.gpu_count, s.guard,
                offset_s=run.data.metrics.get(schema.DURATION_S, 0.0))
    camp._tracked(experiment, s.label)
    camp._arm(seen_request=tags.get(schema.STOP_AT))
    return camp


@contextmanager
def phase(name: str, campaign: str, experiment: str | None = None,
          **kwargs) -> Iterator[Phase]:
    """A phase on its own (e.g. on another machine): it joins the campaign with this label if
    the store has one (in `experiment`, or in any experiment when none is named), else opens
    that campaign for the length of the phase. With the store away, the phase runs and its
    campaign joins the one with this label when the spool is replayed."""
    s = _setup(campaign, experiment, **kwargs)
    try:
        found, _ = _find_campaign(s.uri, campaign, experiment)
        camp = _resume(s) if found is not None else _new(s)
    except StoreFailure as exc:
        warnings.warn(f"cogit-tracker: {exc}; the phase runs, and joins campaign "
                      f"{campaign!r} when the store answers", stacklevel=3)
        camp = _new(s, join=experiment or "any")
    with camp:
        with camp.phase(name) as ph:
            yield ph


def find_run(uid: str, tracking_uri: str | None = None):
    """The MLflow run carrying this `cogit.uid`, in any experiment of the store."""
    client = store_uri.client(tracking_uri)
    run = query.find(client, uid)
    if run is None:
        raise BadInput(f"no run with {schema.UID} {uid!r} in "
                       f"{redact(store_uri.tracking_uri(tracking_uri))}")
    return run


def download_artifacts(uid: str, path: str, dst: str | Path, tracking_uri: str | None = None) -> str:
    """Fetch an artifact of the run with this uid, so a later phase can run on another
    machine or store than the one that made it."""
    run = find_run(uid, tracking_uri)
    client = store_uri.client(tracking_uri)
    Path(dst).mkdir(parents=True, exist_ok=True)
    return client.download_artifacts(run.info.run_id, path, str(dst))
