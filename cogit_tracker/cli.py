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


def main() -> None:
    cli(prog_name="cogit-log")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())


# -- runs: list and reap ---------------------------------------------------------------------
@cli.group()
def runs() -> None:
    """Campaign and phase runs: list them, reap the dead ones."""


@runs.command("list")
@tracking_option
@click.option("--campaign", default=None, help="Only this campaign label.")
@click.option("--status", default=None, help="RUNNING, FINISHED, FAILED or KILLED.")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(min=1))
@json_option
def runs_list(tracking_uri, campaign, status, limit, as_json) -> None:
    """List campaign and phase runs, newest first: campaign, phase, status, GPU, duration, cost.

    \b
    Example:
        cogit-log runs list
        cogit-log runs list --campaign run-002 --json
    """
    from . import runs as runs_mod
    from .views import runs_table

    rows = runs_mod.list_runs(tracking_uri, campaign=campaign, status=status, limit=limit)
    if as_json:
        emit_json([r.__dict__ for r in rows])
    else:
        runs_table(rows, "Runs")


@runs.command("reap")
@tracking_option
@click.option("--stale-after", "stale_after", default=120.0, show_default=True, type=float,
              metavar="S", help="Seconds without a heartbeat after which a RUNNING run is dead.")
@click.option("--dry-run", is_flag=True, help="Show what would be reaped; change nothing.")
@json_option
def runs_reap(tracking_uri, stale_after, dry_run, as_json) -> None:
    """Mark RUNNING runs whose heartbeat stopped (killed with -9, OOM-killed, pod gone) as
    KILLED with cogit.failure=stale. Their metrics stay; runs without a heartbeat are left alone.

    \b
    Example:
        cogit-log runs reap --stale-after 60
    """
    from . import runs as runs_mod
    from .views import runs_table

    rows = runs_mod.reap(tracking_uri, stale_after_s=stale_after, dry_run=dry_run)
    if as_json:
        emit_json([r.__dict__ for r in rows])
    else:
        runs_table(rows, ("Would reap" if dry_run else "Reaped") + f" {len(rows)} run(s)")
