"""`cogit-log`: the command line. Thin by rule: each command parses its options, calls one
library function, and prints. Bad values become one line and exit code 2 (see `errors.py`).
"""
from __future__ import annotations

import json
import os
import sys

import click

from .errors import BadInput, access_denied


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
        except Exception as exc:  # a refused credential: one line, exit 1 (see errors.py)
            denied = access_denied(exc)
            if denied is None:
                raise
            raise click.ClickException(str(denied)) from None


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


# --- issue 6: server and sync ---------------------------------------------------------------
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
def server_cmd(backend_store_uri, artifacts, host, port, workers, auth) -> None:
    """Run a shared mlflow server on PostgreSQL with served artifacts, until Ctrl-C.

    \b
    Example:
        cogit-log server --port 5000
        MLFLOW_AUTH_ADMIN_PASSWORD=... cogit-log server --auth
    """
    from . import server

    where = {"backend_uri": backend_store_uri, "artifacts": artifacts}
    server.serve(server.ServerSpec(host=host, port=port, workers=workers, auth=auth,
                                   **{k: v for k, v in where.items() if v}))


@cli.command("sync")
@click.option("--from", "source", required=True, metavar="URI", help="Store to copy from.")
@click.option("--to", "target", required=True, metavar="URI", help="Store to copy to.")
@click.option("--experiment", default=None, metavar="NAME", help="Only this experiment.")
@json_option
def sync_cmd(source, target, experiment, as_json) -> None:
    """Copy campaigns, phases and decisions to another store; twice copies nothing new.

    Runs are matched by cogit.uid: complete copies are skipped, interrupted ones finished,
    parent links remapped. Credentials come from MLFLOW_TRACKING_USERNAME/PASSWORD/TOKEN.

    \b
    Example:
        cogit-log sync --from sqlite:///mlflow.db --to http://tracking.lab:5000
        cogit-log sync --from http://pod-7:5000 --to sqlite:///laptop.db --experiment cogit-qmech
    """
    from rich.progress import Progress

    from .sync import sync

    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")  # rich shows progress
    with Progress(transient=True, disable=as_json) as bar:
        task = bar.add_task("sync", total=None)

        def advance(done: int, total: int, what: str) -> None:
            bar.update(task, completed=done, total=total, description=what)

        result = sync(source, target, experiment, progress=advance)
    if as_json:
        emit_json(result.as_dict())
    else:
        r = result.as_dict()
        click.echo(f"copied {r['copied']} runs ({r['points']} metric points), repaired "
                   f"{r['repaired']}, updated {r['updated']}, unchanged {r['unchanged']}, "
                   f"skipped {r['foreign']} without cogit.uid")
# --- end issue 6 ----------------------------------------------------------------------------


def main() -> None:
    cli(prog_name="cogit-log")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
