"""Experiments, found by name through the `cogit_tracker.pipelines` entry-point group, and
run as one campaign that cogit opens.

cogit_tracker names no experiment: `cogit-log run NAME` looks them up here, so the reference
experiment (in `pipelines/`) and a user's own register the same way, in their package
metadata, with the parameters they take:

    [options.entry_points]
    cogit_tracker.pipelines =
        my-sweep = my_package.sweep:EXPERIMENT

    def run_sweep(camp, params):
        for width in params["width"]:
            with camp.phase(f"width-{width}") as ph:
                ph.log_metrics({"accuracy": 0.9})
        return {}

    EXPERIMENT = ct.Experiment("my-sweep", run=run_sweep, params=(
        ct.Param("width", int, (8,), "Widths to sweep.", multiple=True),))

As accelerate's `Accelerator` owns its trackers, cogit owns its own options (`Options`: the
campaign's label, the rate, the budget, resuming, the store): `run` opens the campaign with
them and calls the experiment's `run(camp, config)` with the open campaign and its own
parameters only, so no experiment forwards cogit's options. `run` returns each phase's
results. An experiment that checks its values, or names the campaign's model, precision and
phases, before any run exists declares `prepare(params, resumed) -> Plan`; `config` is then
the Plan's.
"""
from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field, fields
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, Callable, Mapping

import click

from ..errors import BadInput
from ..reports.headline import declare
from ..redaction import redact

GROUP = "cogit_tracker.pipelines"
TYPES = (str, int, float, bool)


@dataclass(frozen=True)
class Options:
    """cogit's own options of `cogit-log run`: they open the campaign; the experiment never
    sees them."""

    campaign: str | None = None       # the label (default: model-precision-time)
    usd_per_hour: float | str | None = None
    budget_usd: float | str | None = None
    resume: str | None = None         # the label of a campaign to continue
    wait: bool = False                # with resume: wait while another process holds it
    tracking_uri: str | None = None


COGIT_OPTIONS = tuple(f.name for f in fields(Options))
#: Names an experiment's parameter may not take: cogit's options and `cogit-log run`'s flags.
RESERVED = COGIT_OPTIONS + ("json", "help")


@dataclass(frozen=True)
class Param:
    """One parameter an experiment takes: `--quantum-dim` on `cogit-log run NAME`,
    `params["quantum_dim"]` in its `prepare` and `run`. `type` is a Python type (a bool is a
    flag) or a click type (`click.Choice`, `click.Path`...); `multiple` takes the flag once
    per value (`--blend 0.5 --blend 1.0`) and gives a tuple. `shown` is what `--help` says
    the default is when it depends on other values (e.g. the model's recipe)."""

    name: str
    type: Any = str
    default: Any = None
    help: str = ""
    multiple: bool = False
    shown: str | None = None

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")


@dataclass(frozen=True)
class Resumed:
    """The stored campaign that `--resume` continues, as an experiment's `prepare` sees it."""

    label: str
    model: str | None
    precision: str | None
    params: Mapping[str, str]


@dataclass(frozen=True)
class Plan:
    """What an experiment tells cogit before its campaign opens: the campaign's model,
    precision and phases (so `advise` knows the work not yet started), the settings logged
    as the campaign run's params (compared in `mlflow ui`), and what `run` gets."""

    model: str | None = None
    precision: str = "fp32"
    phases: tuple[str, ...] = ()
    params: Mapping[str, Any] = field(default_factory=dict)
    config: Any = None


@dataclass(frozen=True)
class Experiment:
    """What an experiment registers: its name, how to run one campaign, its parameters."""

    name: str
    run: Callable[[Any, Any], dict]
    params: tuple[Param, ...] = ()
    help: str = ""
    prepare: Callable[[dict, Resumed | None], Plan] | None = None
    examples: tuple[str, ...] = ()    # command lines its `--help` shows
    # its headline metrics, name -> "max" | "min" (or names, or pairs): `ct.campaign`'s headline
    metrics: Mapping[str, str] | tuple = ()

    def __post_init__(self) -> None:
        declare(self.metrics)  # a bad declaration is BadInput when the experiment loads
        for p in self.params:
            if p.name in RESERVED or not (p.type in TYPES or isinstance(p.type, click.ParamType)):
                raise ValueError(f"experiment {self.name!r}: parameter {p.name!r} must not be "
                                 f"one of cogit's own ({', '.join(RESERVED)}) and its type must "
                                 "be one of str, int, float, bool or a click type")

    def complete(self, given: Mapping[str, Any]) -> dict[str, Any]:
        """Every declared parameter, the given value or its default; a multiple one as a
        tuple. A name it does not declare is BadInput naming those it does."""
        declared = {p.name: p for p in self.params}
        unknown = sorted(set(given) - set(declared))
        if unknown:
            raise BadInput(f"experiment {self.name!r} takes no parameter {unknown[0]!r}; "
                           f"accepted: {', '.join(declared) or 'none'}")
        return {name: _value(p, given.get(name, p.default)) for name, p in declared.items()}

    def plan(self, params: dict[str, Any], resumed: Resumed | None) -> Plan:
        """Its `prepare`'s Plan; without one, the parameters as they are."""
        if self.prepare is not None:
            return self.prepare(params, resumed)
        return Plan(params=recorded(params), config=params)


def _value(param: Param, value: Any) -> Any:
    if not param.multiple or value is None:
        return value
    if isinstance(value, str) and param.type in (int, float):
        raise BadInput(f"{param.flag} {one_per_flag(param.flag, value)}")
    return tuple(value) if isinstance(value, (list, tuple)) else (value,)


def one_per_flag(flag: str, text: str) -> str:
    """What replaced a comma list (the old spelling) of `flag`, said in one line."""
    spelled = " ".join(f"{flag} {v.strip()}" for v in text.split(",") if v.strip())
    return f"{text!r}: one value per flag, give {spelled}"


def recorded(params: Mapping[str, Any]) -> dict[str, Any]:
    """Parameters as campaign params: a tuple as `0.5,1.0`, None left out (never 'None')."""
    return {k: ",".join(map(str, v)) if isinstance(v, tuple) else v
            for k, v in params.items() if v is not None and v != ()}


def available() -> dict[str, object]:
    """Entry points by name (not loaded: loading imports the experiment's dependencies)."""
    return {ep.name: ep for ep in entry_points(group=GROUP)}


def default_name() -> str:
    """The experiment `cogit-log run` starts when none is named: the only one installed."""
    found = sorted(available())
    if len(found) == 1:
        return found[0]
    if not found:
        raise BadInput(f"no experiment is installed: register one under the {GROUP!r} entry "
                       "points (see `cogit-log run --help`)")
    raise BadInput(f"several experiments are installed ({', '.join(found)}): name one first, "
                   f"e.g. `cogit-log run {found[0]} --help`")


def load(name: str | None = None) -> Experiment:
    """The registered experiment `name` (or the default); BadInput names the installed ones."""
    name = name or default_name()
    found = available()
    if name not in found:
        names = ", ".join(sorted(found)) or "none installed (reinstall the package)"
        raise BadInput(f"unknown experiment {name!r}; installed: {names}")
    obj = found[name].load()
    return obj if isinstance(obj, Experiment) else Experiment(name, run=obj)


def run(experiment: Experiment, **given) -> dict:
    """Run one campaign of the experiment: cogit's options (`Options`' fields, by name) open
    it, the rest are the experiment's parameters. Every value is checked, cogit's first,
    before any run exists; the charts go on the campaign run once it is over. Returns
    {campaign, uid, model, precision, phases: what the experiment's run returned}."""
    from .tracking import campaign

    options = Options(**{k: given.pop(k) for k in COGIT_OPTIONS if k in given})
    params = experiment.complete(given)
    _check(options)
    resumed = stored(options.resume, options.tracking_uri) if options.resume else None
    plan = experiment.plan(params, resumed)
    label = options.resume or options.campaign or default_label(experiment, plan)
    with campaign(label, experiment=experiment.name, model=plan.model,
                  precision=plan.precision, usd_per_hour=options.usd_per_hour,
                  budget_usd=options.budget_usd, tracking_uri=options.tracking_uri,
                  resume=bool(options.resume), wait=options.wait, phases=plan.phases,
                  params=plan.params, headline=experiment.metrics) as camp:
        phases = experiment.run(camp, plan.config)
    log_charts([label], options.tracking_uri)
    return {"campaign": label, "uid": camp.uid, "model": camp.model,
            "precision": camp.precision, "phases": phases}


def _check(options: Options) -> None:
    """cogit's own values, checked before the experiment prepares (which may build or load a
    model) only to have the campaign refuse them."""
    from ..machine import cost
    from ..store.uri import tracking_uri
    from .tracking import check_label

    if options.usd_per_hour is not None:
        cost.resolve_rate(options.usd_per_hour)
    if options.budget_usd is not None:
        cost.BudgetGuard(options.budget_usd)
    if options.campaign is not None:
        check_label(options.campaign)
    if options.resume is not None:
        check_label(options.resume)
        if options.campaign not in (None, options.resume):
            raise BadInput(f"--campaign {options.campaign!r} and --resume {options.resume!r} "
                           "disagree: give one label")
    tracking_uri(options.tracking_uri)


def stored(label: str, tracking_uri: str | None = None) -> Resumed:
    """The campaign `--resume` names, as stored; BadInput when the store has none."""
    from .. import schema
    from . import liveness
    from .tracking import find_run

    rows = [r for r in liveness.list_runs(tracking_uri, campaign=label) if r.kind == "campaign"]
    if not rows:
        raise BadInput(f"--resume {label!r}: no such campaign in {tracking_uri or 'the store'}; "
                       "`cogit-log runs list` shows the campaigns")
    data = find_run(rows[0].uid, tracking_uri).data
    return Resumed(label, data.tags.get(schema.MODEL), data.tags.get(schema.PRECISION),
                   dict(data.params))


def default_label(experiment: Experiment, plan: Plan) -> str:
    """`model-precision-time` (the experiment's name when it names no model)."""
    return f"{Path(plan.model or experiment.name).name}-{plan.precision}-" \
           f"{time.strftime('%Y%m%d-%H%M%S')}"


def log_charts(labels: list[str], tracking_uri: str | None = None) -> None:
    """Time per phase, cost and fidelity per epoch as images on each campaign's
    run (under `cogit-report/`), so `mlflow ui` shows them beside the numbers. Tracking must
    not break the experiment, which is over by now: a failure here only warns."""
    from ..reports.report import make_report
    from ..store.uri import tracking_uri as resolve

    try:
        make_report(resolve(tracking_uri), campaigns=labels, log=True)
    except Exception as exc:  # noqa: BLE001
        warnings.warn(redact(f"cogit-tracker: could not log the campaign charts: {exc}"),
                      stacklevel=2)
