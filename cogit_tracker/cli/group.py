"""The `cogit-log` group, the options every command shares, and how a failure reads.

Every failure is one line on stderr, never a traceback or a Usage block:
- a bad value (`BadInput` from the library, or click's own usage errors: a missing argument,
  an unknown option, a wrong type or choice) exits 2, naming the value and what is accepted;
- a path the command was given that cannot be read or written exits 2 as well;
- what the command could not do through no fault of its input exits 1: a store that
  refuses the credentials or does not answer, a campaign another process holds, a corrupt
  record (`errors.Failure`, `errors.store_failure`).
Every line goes through `redaction.redact`: a URI's password never reaches the terminal.
"""
from __future__ import annotations

import click

from ..errors import BadInput, Failure, store_failure
from ..redaction import redact


class OneLine(click.ClickException):
    """`Error: <line>` on stderr with exit code 2."""

    exit_code = 2


class CogitGroup(click.Group):
    """Turns the library's and click's failures into one line, wherever they are raised."""

    group_class = type  # sub-groups (`runs`, `decision`) are CogitGroups too

    def make_context(self, info_name, args, parent=None, **extra):
        try:
            return super().make_context(info_name, args, parent=parent, **extra)
        except click.UsageError as exc:
            raise _one_line(exc) from None

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except BadInput as exc:
            raise OneLine(_line(exc)) from None
        except click.UsageError as exc:
            raise _one_line(exc) from None
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except Failure as exc:
            raise click.ClickException(_line(exc)) from None
        except Exception as exc:  # store refused us or is down: one line, exit 1 (errors.py)
            failure = store_failure(exc)
            if failure is not None:
                raise click.ClickException(_line(failure)) from None
            if isinstance(exc, OSError) and exc.filename:
                raise OneLine(_line(f"{exc.filename}: {exc.strerror or exc}; accepted: a path "
                                    "that exists and can be read or written")) from None
            if isinstance(exc, OSError):  # a write failed (a full disk: the output, a file)
                _drop_stdout()
                raise click.ClickException(_line(f"could not write: "
                                                 f"{exc.strerror or exc}")) from None
            raise


def _drop_stdout() -> None:
    """After a failed write to stdout, what is left in its buffer would fail again at exit,
    as a second message: it goes nowhere instead."""
    import os
    import sys

    try:
        sys.stdout.flush()
    except OSError:
        pass
    sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - lives until exit


def _one_line(exc: click.UsageError) -> OneLine:
    """Click's message, with where to read more instead of its multi-line Usage block."""
    where = exc.ctx.command_path if exc.ctx is not None else "cogit-log"
    return OneLine(_line(f"{exc.format_message()} (see '{where} --help')"))


def _line(text: object) -> str:
    """One line, secrets masked."""
    return " ".join(redact(str(text)).split())


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
