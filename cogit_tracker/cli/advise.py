"""`cogit-log advise`: continue, move or change precision, with time, cost and fit."""
from __future__ import annotations

import click

from ..planning.advise import advise, as_table
from ..planning.options import DEFAULT_SETUP_MIN
from ..schema import PRECISIONS
from ..store.uri import tracking_uri as resolve
from .group import cli, json_option, tracking_option
from .render import emit


@cli.command("advise")
@click.argument("campaign")
@click.option("--gpu", "gpus", multiple=True, metavar="KEY",
              help="Only these catalog GPUs (repeatable; default: the whole catalog).")
@click.option("--precision", "precisions", multiple=True, metavar="P",
              help=f"Only these precisions (repeatable; default: each lighter one). One of "
                   f"{', '.join(PRECISIONS)}. With --gpu, each GPU at each precision too.")
@click.option("--gpus", "counts", multiple=True, metavar="N",
              help="Also each GPU (--gpu, default the catalog) on N of them, at N x its rate "
                   "(repeatable).")
@click.option("--setup-min", default=DEFAULT_SETUP_MIN, show_default=True, type=float,
              metavar="N", help="Minutes to set up a new machine or precision, billed.")
@json_option
@tracking_option
def advise_cmd(campaign, gpus, precisions, counts, setup_min, as_json, tracking_uri):
    """The options for CAMPAIGN, running or ended: continue here (time and cost to finish
    from its ETA), move the remaining phases to another GPU (or N of them, priced at N x
    the rate), or change precision. Each with its fit (memory planner and measured peak),
    time and cost to finish, total cost, the quality change measured between precisions,
    and what it assumed. The cheapest and the
    fastest option that fit are marked.

    \b
    Example:
        cogit-log advise run-001
        cogit-log advise run-001 --gpu h100-sxm --gpu a100-80gb --setup-min 10
        cogit-log advise run-001 --precision int8 --json
        cogit-log advise run-001 --gpu h100-sxm --gpus 2
    """
    table = as_table(advise(resolve(tracking_uri, "read"), campaign, gpus, precisions, setup_min,
                            counts=counts))
    emit(table, "json" if as_json else "table")
