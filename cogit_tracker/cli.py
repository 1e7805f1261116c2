"""`cogit-log`: the command line. Thin by rule: each command parses its options, calls one
library function, and prints. Bad values become one line and exit code 2 (see `errors.py`).
"""
from __future__ import annotations

import json
import sys

import click

from .errors import BadInput


class _BadValue(click.ClickException):
    """Shown as `Error: <line>` with exit code 2, never a traceback."""

    exit_code = 2


class CogitGroup(click.Group):
    """Turns `BadInput` from the library into one line and exit 2, wherever it is raised."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except BadInput as exc:
            raise _BadValue(str(exc)) from None


def tracking_option(fn):
    """`--tracking-uri`, defaulting to `MLFLOW_TRACKING_URI`, then `sqlite:///mlflow.db`."""
    return click.option(
        "--tracking-uri",
        envvar="MLFLOW_TRACKING_URI",
        default=None,
        metavar="URI",
        help="MLflow tracking store (default: $MLFLOW_TRACKING_URI, else sqlite:///mlflow.db).",
    )(fn)


def json_option(fn):
    return click.option("--json", "as_json", is_flag=True, help="Print the data as JSON.")(fn)


def emit_json(data) -> None:
    click.echo(json.dumps(data, indent=2, default=str))


@click.group(cls=CogitGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="cogit-tracker")
def cli() -> None:
    """cogit-log: hardware, cost, liveness and decisions for multi-phase MLflow experiments.

    \b
    Example:
        cogit-log hardware
        cogit-log runs list
        cogit-log decision list
    """


# ----------------------------------------------------------------------------- run (pipelines)


@cli.command("run")
@click.option("--experiment", default="cogit-qmech", show_default=True,
              help="Experiment registered under the cogit_tracker.pipelines entry points.")
@click.option("--model", default="tiny", show_default=True,
              help="'tiny' (built and trained offline), a save_pretrained folder, or a hub name.")
@click.option("--precision", default="fp32", show_default=True, help="fp32, fp16, bf16 or int8.")
@click.option("--campaign", default=None, help="Campaign label (default: model-precision-time).")
@click.option("--phases", default="1-4", show_default=True,
              help="Phases to run: 1 encode, 2 train, 3 intervene, 4 reverse (e.g. 1-4, 3-4).")
@click.option("--layer", type=int, default=None, help="Layer to hook (default: the middle one).")
@click.option("--quantum-dim", type=int, default=None,
              help="Dimension of the quantum states, >= d_model (default: 2 x d_model).")
@click.option("--blend", default="0.25,0.5,0.75,1.0", show_default=True,
              help="Blend ratios in [0, 1], comma-separated.")
@click.option("--usd-per-hour", default=None, help="Hourly rate of the machine.")
@click.option("--budget-usd", default=None, help="Stop the campaign when it has cost this much.")
@click.option("--resume", default=None, metavar="LABEL",
              help="Continue this campaign: skip finished phases, reopen an unfinished one.")
@tracking_option
@json_option
def run_cmd(experiment, tracking_uri, as_json, **options) -> None:
    """Run an experiment's phases as one tracked campaign.

    \b
    Example:
        cogit-log run --campaign demo-fp32 --precision fp32
        cogit-log run --model tiny --precision int8 --phases 1-4 --blend 0.5,1.0
        cogit-log run --resume demo-fp32
    """
    from . import experiments

    summary = experiments.run(experiment, tracking_uri=tracking_uri, **options)
    if as_json:
        emit_json(summary)
    else:
        from rich.console import Console

        Console().print(experiments.summary_table(summary))


def main() -> None:
    cli(prog_name="cogit-log")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
