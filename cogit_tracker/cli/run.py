"""`cogit-log run NAME`: one tracked campaign of a registered experiment. Each experiment is a
click command of its own, made from the parameters it declares (`runtime/experiments.py`)
beside cogit's options, which open the campaign; it is loaded only when named or listed."""
from __future__ import annotations

import inspect

import click

from ..runtime import experiments
from ..table import Column, Table
from .group import CogitGroup, cli, json_option, tracking_option
from .render import emit, emit_json

RUN_HELP = inspect.cleandoc("""Run an experiment's phases as one tracked campaign.

    EXPERIMENT is one registered under the cogit_tracker.pipelines entry points;
    `cogit-log run EXPERIMENT --help` shows its own options beside cogit's, which open the
    campaign. With one experiment installed its name may be left out.

    \b
    Example:
        cogit-log run cogit-qmech --model smollm2-135m
        cogit-log run cogit-qmech --campaign demo-int8 --precision int8 --blend 0.5 --blend 1.0
        cogit-log run cogit-qmech --resume demo-int8
    """)


class ExperimentGroup(CogitGroup):
    """The registered experiments as subcommands, found by entry point and loaded lazily.
    The spelling from before they were subcommands (`run --blend 1.0`, `run --experiment
    NAME ...`) still runs: it is routed to the named experiment, or to the only one."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(experiments.available())

    def get_command(self, ctx: click.Context, name: str) -> click.Command:
        return command(experiments.load(name))

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if not args or args[0].startswith("-") and args[0] not in ctx.help_option_names:
            args = _routed(args)
        return super().parse_args(ctx, args)


def _routed(args: list[str]) -> list[str]:
    """`--experiment NAME REST` as `NAME REST`; options with no name go to the only one."""
    if args and args[0] == "--experiment" and len(args) > 1:
        return [args[1], *args[2:]]
    if args and args[0].startswith("--experiment="):
        return [args[0].split("=", 1)[1], *args[1:]]
    return [experiments.default_name(), *args]


class OnePerFlag(click.ParamType):
    """A number of a multiple option; a comma list, the old spelling, is refused with what
    replaced it (`give --blend 0.5 --blend 1.0`)."""

    def __init__(self, inner: click.ParamType) -> None:
        self.inner, self.name = inner, inner.name

    def convert(self, value, param, ctx):
        if isinstance(value, str) and "," in value:
            self.fail(experiments.one_per_flag(param.opts[0], value), param, ctx)
        return self.inner.convert(value, param, ctx)


def _option(param: experiments.Param) -> click.Option:
    kind = None if param.type is bool else click.types.convert_type(param.type)
    if param.multiple and isinstance(kind, (click.types.IntParamType, click.types.FloatParamType)):
        kind = OnePerFlag(kind)
    return click.Option([param.flag, param.name], type=kind, default=param.default,
                        multiple=param.multiple, is_flag=param.type is bool, help=param.help,
                        show_default=param.shown or param.default is not None)


def cogit_options(fn):
    """cogit's own options (`experiments.Options`), on every experiment's command."""
    for decorate in reversed((
            click.option("--campaign", default=None, metavar="LABEL",
                         help="Campaign label.", show_default="model-precision-time"),
            click.option("--usd-per-hour", default=None, help="Hourly rate of the machine."),
            click.option("--budget-usd", default=None,
                         help="Stop the campaign when it has cost this much."),
            click.option("--resume", default=None, metavar="LABEL",
                         help="Continue this campaign: skip finished phases, reopen an "
                              "unfinished one."),
            click.option("--wait", is_flag=True,
                         help="With --resume: wait while another process holds the campaign, "
                              "instead of stopping with an error."),
            tracking_option, json_option)):
        fn = decorate(fn)
    return fn


def command(experiment: experiments.Experiment) -> click.Command:
    """The experiment as `cogit-log run NAME`: its own options, then cogit's."""

    @cogit_options
    def run_one(as_json: bool, **values) -> None:
        summary = experiments.run(experiment, **values)
        if as_json:
            emit_json(summary)
        else:
            emit(summary_table(summary))

    lines = (*experiment.examples, f"cogit-log run {experiment.name} --campaign c1 "
             "--usd-per-hour 0.89 --budget-usd 2", f"cogit-log run {experiment.name} --resume c1")
    help_ = (f"{experiment.help}\n\n" if experiment.help else "") + \
        "The options from --campaign on are cogit's: they open the campaign.\n\n\b\nExample:\n" + \
        "\n".join(f"    {line}" for line in lines)
    cmd = click.command(experiment.name, help=help_, short_help=experiment.help or None)(run_one)
    cmd.params[:0] = [_option(p) for p in experiment.params]
    return cmd


@cli.group("run", cls=ExperimentGroup, help=RUN_HELP, short_help="Run an experiment's phases "
           "as one tracked campaign.")
def run_group() -> None:
    pass


def summary_table(summary: dict) -> Table:
    """Each phase's headline numbers."""
    rows = []
    for phase, results in summary.get("phases", {}).items():
        if not isinstance(results, dict):  # e.g. "finished earlier"
            rows.append({"phase": phase, "metric": str(results)})
            continue
        for key, value in results.items():
            shown = f"{value:.4g}" if isinstance(value, float) else str(value)
            rows.append({"phase": phase if key == next(iter(results)) else "",
                         "metric": key, "value": shown})
    title = (f"campaign {summary.get('campaign')} ({summary.get('model')}, "
             f"{summary.get('precision')})")
    return Table(title, [Column("phase", "phase"), Column("metric", "metric"),
                         Column("value", "value")], rows)
