"""`cogit-log runs list | reap | watch | stop`: campaign and phase runs, the dead ones among
them, the running ones as they run, and stopping one from elsewhere."""
from __future__ import annotations

import dataclasses
import sys
import time

import click

from ..runtime import liveness, stop, watch
from ..table import Column, Table
from .group import cli, json_option, tracking_option
from .render import emit, emit_json, rich_view, row_groups, row_line


@cli.group()
def runs() -> None:
    """Campaign and phase runs: list them, reap the dead ones, watch the running ones, stop one.

    \b
    Example:
        cogit-log runs list --campaign run-002
        cogit-log runs reap --dry-run
        cogit-log runs watch --campaign run-002
        cogit-log runs stop run-002
    """


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
    rows = liveness.list_runs(tracking_uri, campaign=campaign, status=status, limit=limit)
    _show(rows, "Runs", as_json)


@runs.command("reap")
@tracking_option
@click.option("--stale-after", "stale_after", default=liveness.DEFAULT_STALE_AFTER_S,
              show_default=True, type=float, metavar="S",
              help="Seconds without a heartbeat after which a RUNNING run is dead.")
@click.option("--dry-run", is_flag=True, help="Show what would be reaped; change nothing.")
@json_option
def runs_reap(tracking_uri, stale_after, dry_run, as_json) -> None:
    """Mark RUNNING runs whose heartbeat stopped (killed with -9, OOM-killed, pod gone) as
    KILLED with cogit.failure=stale. Their metrics stay; runs without a heartbeat are left alone.

    \b
    Example:
        cogit-log runs reap --stale-after 60
    """
    rows = liveness.reap(tracking_uri, stale_after_s=stale_after, dry_run=dry_run)
    _show(rows, ("Would reap" if dry_run else "Reaped") + f" {len(rows)} run(s)", as_json)


@runs.command("watch")
@tracking_option
@click.option("--campaign", default=None, help="Only this campaign label.")
@click.option("--interval", default=2.0, show_default=True, type=float, metavar="S",
              help="Seconds between looks at the store.")
@click.option("--stale-after", "stale_after", default=liveness.DEFAULT_STALE_AFTER_S,
              show_default=True, type=float, metavar="S",
              help="Seconds without a heartbeat after which a running phase shows as stale.")
def runs_watch(tracking_uri, campaign, interval, stale_after) -> None:
    """Watch running phases: elapsed, progress, ETA, cost so far, projected cost, heartbeat
    age (a stale one stands out). Exits once they have all ended. On a terminal the table
    redraws in place; elsewhere (a pipe, a log) a line is printed when a phase's figures change.

    \b
    Example:
        cogit-log runs watch
        cogit-log runs watch --campaign run-002 --interval 5
    """
    snapshots = watch.watch(tracking_uri, campaign, interval, stale_after)
    if sys.stdout.isatty():
        _watch_live(snapshots)
    else:
        _watch_lines(snapshots)


@runs.command("stop")
@click.argument("campaign")
@click.option("--experiment", default=None, help="Only a campaign in this experiment.")
@tracking_option
@click.option("--stale-after", "stale_after", default=liveness.DEFAULT_STALE_AFTER_S,
              show_default=True, type=float, metavar="S",
              help="Seconds without a heartbeat after which its process is gone: reaped instead.")
@json_option
def runs_stop(campaign, experiment, tracking_uri, stale_after, as_json) -> None:
    """Ask a running campaign to stop, from any machine that reaches its store. Its process
    sees the request within one heartbeat and stops as a spent budget stops it
    (cogit.failure=stopped, on_stop / COGIT_ON_STOP run once); one whose process is gone is
    reaped instead. Who asked is $MLFLOW_TRACKING_USERNAME, else your OS user.

    \b
    Example:
        cogit-log runs stop run-002
        cogit-log runs stop run-002 --experiment cogit-qmech --json
    """
    outcome = stop.request_stop(tracking_uri, campaign, stop.asker(), experiment,
                                stale_after_s=stale_after)
    if as_json:
        emit_json(dataclasses.asdict(outcome))
    else:
        click.echo(outcome.message)


def _watch_live(snapshots) -> None:
    from rich import get_console
    from rich.live import Live

    console = get_console()

    def view(rows: list[watch.Watched]):  # the width asked anew: a terminal may be resized
        return rich_view(watch.as_table(rows), console.width)

    with Live(view([]), console=console, refresh_per_second=2) as live:
        for rows in snapshots:
            live.update(view(rows))


def _watch_lines(snapshots) -> None:
    printed: dict[str, tuple] = {}
    rows: list[watch.Watched] = []
    for rows in snapshots:
        table = watch.as_table(rows)
        for row, lines in zip(rows, row_groups(table)):
            if printed.get(row.run_id) != row.state():
                printed[row.run_id] = row.state()
                stamp = time.strftime('%H:%M:%S')
                for cells in lines:  # the phase, then a line a node of a multi-rank job
                    click.echo(f"{stamp}  {row_line(table, cells)}")
    click.echo("No phase is running." if not rows else "All watched phases have ended.")


def _show(rows: list[liveness.RunState], title: str, as_json: bool) -> None:
    if as_json:
        emit_json([dataclasses.asdict(r) for r in rows])
        return
    columns = [Column("start_ms", "started (UTC)", "when"), Column("campaign", "campaign"),
               Column("phase", "phase"), Column("status", "status", "status"),
               Column("gpu", "GPU"), Column("duration_s", "duration", "seconds"),
               Column("cost_usd", "cost", "usd"), Column("failure", "failure"),
               Column("run_id", "run id")]
    table_rows = [{**dataclasses.asdict(r), "phase": r.phase or f"({r.kind})"} for r in rows]
    emit(Table(title, columns, table_rows))
