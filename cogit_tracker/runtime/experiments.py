"""Experiments, found by name through the `cogit_tracker.pipelines` entry-point group.

cogit_tracker names no experiment: `cogit-log run` looks them up here, so the reference
experiment (in `pipelines/`) and a user's own register the same way, in their package
metadata, with the options they take:

    [options.entry_points]
    cogit_tracker.pipelines =
        my-sweep = my_package.sweep:EXPERIMENT

    EXPERIMENT = ct.Experiment("my-sweep", run=run_sweep, params=(
        ct.Param("layer", int, None, "Layer to hook (default: the middle one)."),))

`run(**options)` gets each declared parameter plus cogit's own (`campaign`, `usd_per_hour`,
`budget_usd`, `resume`, `tracking_uri`, `wait`) and returns a summary with at least its
`campaign` label. A bare callable registered there is an experiment with no parameters of
its own.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any, Callable

from ..errors import BadInput
from ..redaction import redact

GROUP = "cogit_tracker.pipelines"
#: What `cogit-log run` gives every experiment, whatever it declares.
COGIT_OPTIONS = ("campaign", "usd_per_hour", "budget_usd", "resume", "tracking_uri", "wait")
TYPES = (str, int, float, bool)


@dataclass(frozen=True)
class Param:
    """One option an experiment takes: `--quantum-dim` on `cogit-log run`, `quantum_dim=` in
    `run`. A bool is a flag."""

    name: str
    type: type = str
    default: Any = None
    help: str = ""

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")


@dataclass(frozen=True)
class Experiment:
    """What an experiment registers: its name, how to run one campaign, its options."""

    name: str
    run: Callable[..., dict]
    params: tuple[Param, ...] = ()
    help: str = ""

    def __post_init__(self) -> None:
        for p in self.params:
            if p.name in COGIT_OPTIONS or p.type not in TYPES:
                raise ValueError(f"experiment {self.name!r}: parameter {p.name!r} must not be "
                                 f"one of cogit's own ({', '.join(COGIT_OPTIONS)}) and its "
                                 f"type must be one of str, int, float, bool")


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
    raise BadInput(f"several experiments are installed ({', '.join(found)}): "
                   "give --experiment NAME")


def load(name: str | None = None) -> Experiment:
    """The registered experiment `name` (or the default); BadInput names the installed ones."""
    name = name or default_name()
    found = available()
    if name not in found:
        names = ", ".join(sorted(found)) or "none installed (reinstall the package)"
        raise BadInput(f"unknown experiment {name!r}; installed: {names}")
    obj = found[name].load()
    return obj if isinstance(obj, Experiment) else Experiment(name, run=obj)


def run(experiment: Experiment, **options) -> dict:
    """Run one campaign of the experiment, then put its charts on its campaign run. Cogit's
    own values are checked first, before the experiment loads a model for minutes only to
    have `ct.campaign` refuse them."""
    from ..machine import cost
    from ..store.uri import tracking_uri

    if options.get("usd_per_hour") is not None:
        cost.resolve_rate(options["usd_per_hour"])
    if options.get("budget_usd") is not None:
        cost.BudgetGuard(options["budget_usd"])
    tracking_uri(options.get("tracking_uri"))
    summary = experiment.run(**options)
    log_charts([summary["campaign"]], options.get("tracking_uri"))
    return summary


def log_charts(labels: list[str], tracking_uri: str | None = None) -> None:
    """Time per phase, cost and fidelity per epoch as images on each campaign's run (under
    `cogit-report/`), so `mlflow ui` shows them beside the numbers. Tracking must not break
    the experiment, which is over by now: a failure here only warns."""
    from ..reports.report import make_report
    from ..store.uri import tracking_uri as resolve

    try:
        make_report(resolve(tracking_uri), campaigns=labels, log=True)
    except Exception as exc:  # noqa: BLE001
        warnings.warn(redact(f"cogit-tracker: could not log the campaign charts: {exc}"),
                      stacklevel=2)
