"""`cogit-log run`: one tracked campaign of a registered experiment, with the options that
experiment declares (`runtime/experiments.py`) beside cogit's own."""
from __future__ import annotations

import inspect

import click

from ..errors import BadInput
from ..runtime import experiments
from ..table import Column, Table
from .group import cli, json_option, tracking_option
from .render import emit, emit_json

RUN_HELP = inspect.cleandoc("""Run an experiment's phases as one tracked campaign.

    The options after --json are the experiment's own: it declares them where it registers
    (the cogit_tracker.pipelines entry points). --experiment picks one; by default, the only
    one installed.

    \b
    Example:
        cogit-log run --campaign demo-fp32 --precision fp32
        cogit-log run --model tiny --precision int8 --phases 1-4 --blend 0.5,1.0
        cogit-log run --resume demo-fp32
    """)


class ExperimentCommand(click.Command):
    """A command whose options depend on the experiment named by `--experiment`: it finds
    the experiment before parsing, so `--help` and the parser both see its parameters."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.own_params = list(self.params)

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        name = _named_experiment(args)
        try:
            experiment = experiments.load(name)
        except BadInput:
            if name is not None or not set(args) & set(ctx.help_option_names):
                raise
            experiment = None  # `run --help` with several installed: cogit's options only
        ctx.meta["experiment"] = experiment
        declared = experiment.params if experiment else ()
        self.params = self.own_params + [_option(p) for p in declared]
        if experiment is not None and experiment.help:
            self.help = RUN_HELP.replace("\b\nExample:", f"{experiment.name}: "
                                         f"{experiment.help}\n\n\b\nExample:")
        return super().parse_args(ctx, args)


def _named_experiment(args: list[str]) -> str | None:
    """The value of `--experiment NAME` or `--experiment=NAME`, read ahead of the parser."""
    for i, arg in enumerate(args):
        if arg == "--experiment" and i + 1 < len(args):
            return args[i + 1]
        if arg.startswith("--experiment="):
            return arg.split("=", 1)[1]
    return None


def _option(param: experiments.Param) -> click.Option:
    kind = {str: click.STRING, int: click.INT, float: click.FLOAT}.get(param.type)
    return click.Option([param.flag, param.name], type=kind, default=param.default,
                        is_flag=param.type is bool, help=param.help,
                        show_default=param.default is not None)


@cli.command("run", cls=ExperimentCommand, help=RUN_HELP)
@click.option("--experiment", default=None, metavar="NAME",
              help="Experiment registered under the cogit_tracker.pipelines entry points.")
@click.option("--campaign", default=None, help="Campaign label (default: the experiment's).")
@click.option("--usd-per-hour", default=None, help="Hourly rate of the machine.")
@click.option("--budget-usd", default=None, help="Stop the campaign when it has cost this much.")
@click.option("--resume", default=None, metavar="LABEL",
              help="Continue this campaign: skip finished phases, reopen an unfinished one.")
@click.option("--wait", is_flag=True,
              help="With --resume: wait while another process holds the campaign, instead "
                   "of stopping with an error.")
@tracking_option
@json_option
@click.pass_context
def run_cmd(ctx, experiment, as_json, **options) -> None:
    summary = experiments.run(ctx.meta["experiment"], **options)
    if as_json:
        emit_json(summary)
    else:
        emit(summary_table(summary))


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
