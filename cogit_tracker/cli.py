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


# ---- plan (memory planner; cogit_tracker/memory.py) -------------------------------------


@cli.command("plan")
@click.option("--model", metavar="NAME|DIR", help="A known model name or a dir with config.json.")
@click.option("--params", metavar="N", help="Parameter count instead of a model (7.6B, 124M).")
@click.option("--precision", default="fp32", show_default=True, metavar="P",
              help="fp32, fp16, bf16, int8 or int4.")
@click.option("--quantum-dim", metavar="D", help="Operator dimension (required).")
@click.option("--operators", default="2", show_default=True, metavar="K",
              help="How many operators are held at once.")
@click.option("--gpu", metavar="KEY", help="A catalog GPU (see `cogit-log gpus`).")
@click.option("--all", "all_gpus", is_flag=True, help="Every catalog GPU.")
@click.option("--training", is_flag=True, help="Add operator gradients and Adam state.")
@click.option("--seq-len", default="512", show_default=True, metavar="T",
              help="Tokens in flight (KV cache, activations).")
@click.option("--batch", default="1", show_default=True, metavar="B", help="Batch size.")
@json_option
def plan_cmd(model, params, precision, quantum_dim, operators, gpu, all_gpus, training,
             seq_len, batch, as_json) -> None:
    """Predict GPU memory for a model plus quantum operators, and where the operators go.

    \b
    Example:
        cogit-log plan --model Qwen/Qwen2.5-7B-Instruct --precision fp32 \\
            --quantum-dim 9333 --operators 2 --gpu rtx-5090
        cogit-log plan --params 7.6B --precision fp16 --quantum-dim 9333 --all --json
    """
    from rich.console import Console

    from . import memory

    result = memory.plan_for_gpus(
        memory.plan(model=model, params=params, precision=precision, quantum_dim=quantum_dim,
                    operators=operators, training=training, seq_len=seq_len, batch=batch),
        gpu=gpu, all_gpus=all_gpus)
    if as_json:
        emit_json(result.to_dict())
        return
    console = Console(width=max(Console().width, 110))
    for renderable in memory.renderables(result):
        console.print(renderable)


# ---- end plan ---------------------------------------------------------------------------


def main() -> None:
    cli(prog_name="cogit-log")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
