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
# ---- hardware and GPU catalog (issue 2: hardware.py, catalog.py, cost.py) -------------------


@cli.command("hardware")
@json_option
@click.option(
    "--usd-per-hour",
    default=None,
    metavar="X",
    help="Per-GPU hourly rate to use (default: $COGIT_USD_PER_HOUR, cogit.toml, catalog price).",
)
def hardware_cmd(as_json: bool, usd_per_hour: str | None) -> None:
    """Show this machine's GPUs, host and the hourly rate a run here would record.

    \b
    Example:
        cogit-log hardware
        cogit-log hardware --usd-per-hour 0.89 --json
    """
    import warnings

    from .cost import resolve_rate
    from .hardware import probe

    profile = probe()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        rate = resolve_rate(usd_per_hour, gpu_key=profile.gpu_key)
    for warning in caught:  # one plain line, not Python's file:line warning format
        click.echo(f"Warning: {warning.message}", err=True)
    if as_json:
        emit_json({"hardware": profile.as_dict(), "rate": {"usd_per_hour": rate.usd_per_hour, "source": rate.source}, "tags": {**profile.tags(), **rate.tags()}})
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title="Hardware", show_header=False)
    for name, value in {**profile.tags(), **rate.tags()}.items():
        table.add_row(name, value)
    for gpu in profile.gpus:
        table.add_row(f"gpu {gpu.index}", f"{gpu.name} ({gpu.key}), {gpu.vram_total_gb:g} GB, "
                      f"sm {gpu.compute_capability}, {gpu.uuid}")
    table.add_row("os / python / torch", f"{profile.os} / {profile.python} / {profile.torch}")
    Console().print(table)


@cli.command("gpus")
@json_option
@click.argument("key", required=False)
def gpus_cmd(as_json: bool, key: str | None) -> None:
    """List the GPU catalog (with the user's cogit.toml applied), each figure with its source.
    Figures are dense FP16/BF16 TFLOPS and on-demand USD per hour per GPU.

    \b
    Example:
        cogit-log gpus
        cogit-log gpus h100-sxm --json
    """
    from . import catalog

    specs = [catalog.get(key)] if key else list(catalog.load().values())
    if as_json:
        emit_json([spec.as_dict() for spec in specs])
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title="GPU catalog (usd_per_hour is per GPU, on demand)")
    for column in ("key", "name", "VRAM GB", "GB/s", "TFLOPS", "$/h", "price source"):
        table.add_column(column, overflow="fold")
    for spec in specs:
        table.add_row(spec.key, spec.name, f"{spec.vram_gb:g}", f"{spec.bandwidth_gbs:g}",
                      f"{spec.fp16_tflops:g}", f"{spec.usd_per_hour:g}", spec.sources["usd_per_hour"])
    Console().print(table)
    if key:
        for figure, source in specs[0].sources.items():
            click.echo(f"{figure}: {source}")


# ---- end hardware and GPU catalog -----------------------------------------------------------


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
