"""`cogit-log server | sync`: beyond one machine. The shared `mlflow server`, and copying
runs (or a pod's spool) between stores."""
from __future__ import annotations

import os

import click

from ..redaction import redact
from ..store import server
from ..store import sync as sync_mod
from .group import cli, json_option
from .render import emit_json


@cli.command("server")
@click.option("--backend-store-uri", default=None, metavar="URI",
              help="PostgreSQL database for runs, created if missing "
                   "(default: postgresql://postgres@127.0.0.1:5432/cogit).")
@click.option("--artifacts-destination", "artifacts", default=None, metavar="URI",
              help="Where served artifacts go: a folder or s3://bucket/prefix "
                   "(default: .cogit/server/artifacts).")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to bind.")
@click.option("--port", default=5000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--workers", default=2, show_default=True, type=click.IntRange(1, 64))
@click.option("--auth", is_flag=True,
              help="MLflow basic auth; needs MLFLOW_AUTH_ADMIN_PASSWORD (12+ characters).")
@click.option("--log", "log_path", default=None, metavar="FILE",
              type=click.Path(dir_okay=False, writable=True),
              help="The server's own output (default: .cogit/server/server.log).")
def server_cmd(backend_store_uri, artifacts, host, port, workers, auth, log_path) -> None:
    """Run a shared mlflow server on PostgreSQL with served artifacts, until Ctrl-C.

    \b
    Example:
        cogit-log server --port 5000
        cogit-log server --port 5000 --log /var/log/mlflow-server.log
        MLFLOW_AUTH_ADMIN_PASSWORD=... cogit-log server --auth
    """
    where = {"backend_uri": backend_store_uri, "artifacts": artifacts}
    server.serve(server.ServerSpec(host=host, port=port, workers=workers, auth=auth,
                                   **{k: v for k, v in where.items() if v}), log_path)


@cli.command("sync")
@click.option("--from", "source", default=None, metavar="URI", help="Store to copy from.")
@click.option("--to", "target", default=None, metavar="URI",
              help="Store to copy to (with --spool: replay there instead of the spooled store).")
@click.option("--experiment", default=None, metavar="NAME", help="Only this experiment.")
@click.option("--spool", "spool_dir", is_flag=False, flag_value="-", default=None, metavar="[DIR]",
              help="Replay what a pod spooled while its store was away (default folder: "
                   "$COGIT_SPOOL_DIR, else ~/.cache/cogit-tracker/spool).")
@json_option
def sync_cmd(source, target, experiment, spool_dir, as_json) -> None:
    """Copy campaigns, phases and decisions to another store; twice copies nothing new.

    Runs are matched by cogit.uid: complete copies are skipped, interrupted ones finished,
    parent links remapped. Credentials come from MLFLOW_TRACKING_USERNAME/PASSWORD/TOKEN.
    With --spool, replays spooled operations in order instead.

    \b
    Example:
        cogit-log sync --from sqlite:///mlflow.db --to http://tracking.lab:5000
        cogit-log sync --from http://pod-7:5000 --to sqlite:///laptop.db --experiment cogit-qmech
        cogit-log sync --spool
    """
    from rich.progress import Progress

    if spool_dir is not None:
        results = sync_mod.replay_spool(None if spool_dir == "-" else spool_dir, source, target,
                                        experiment)
        if as_json:
            emit_json([vars(r) for r in results])
        elif not results:
            click.echo("nothing spooled")
        for r in [] if as_json else results:
            click.echo(f"replayed {r.ops} operations from {r.files} spool file(s) to "
                       f"{redact(r.tracking_uri)}")
        return
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")  # rich shows progress
    with Progress(transient=True, disable=as_json) as bar:
        task = bar.add_task("sync", total=None)

        def advance(done: int, total: int, what: str) -> None:
            bar.update(task, completed=done, total=total, description=what)

        result = sync_mod.sync(source, target, experiment, progress=advance)
    if as_json:
        emit_json(result.as_dict())
    else:
        r = result.as_dict()
        click.echo(f"copied {r['copied']} runs ({r['points']} metric points), repaired "
                   f"{r['repaired']}, updated {r['updated']}, unchanged {r['unchanged']}, "
                   f"skipped {r['foreign']} without cogit.uid")
