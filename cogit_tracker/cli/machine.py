"""`cogit-log hardware | gpus`: this machine and the rate a run here records; the catalog."""
from __future__ import annotations

import warnings

import click

from ..machine import catalog
from ..machine.cost import resolve_rate
from ..machine.hardware import probe
from ..table import Column, Table
from .group import cli, json_option
from .render import emit, emit_json


@cli.command("hardware")
@json_option
@click.option("--usd-per-hour", default=None, metavar="X",
              help="Per-GPU hourly rate to use (default: $COGIT_USD_PER_HOUR, cogit.toml, "
                   "catalog price).")
def hardware_cmd(as_json: bool, usd_per_hour: str | None) -> None:
    """Show this machine's GPUs, host and the hourly rate a run here would record.

    \b
    Example:
        cogit-log hardware
        cogit-log hardware --usd-per-hour 0.89 --json
    """
    profile = probe()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        rate = resolve_rate(usd_per_hour, gpu_key=profile.gpu_key)
    for warning in caught:  # one plain line, not Python's file:line warning format
        click.echo(f"Warning: {warning.message}", err=True)
    tags = {**profile.tags(), **rate.tags()}
    if as_json:
        emit_json({"hardware": profile.as_dict(),
                   "rate": {"usd_per_hour": rate.usd_per_hour, "source": rate.source},
                   "tags": tags})
        return
    rows = [{"name": name, "value": value} for name, value in tags.items()]
    rows += [{"name": f"gpu {g.index}", "value": f"{g.name} ({g.key}), {g.vram_total_gb:g} GB, "
              f"sm {g.compute_capability}, {g.uuid}"} for g in profile.gpus]
    rows.append({"name": "os / python / torch",
                 "value": f"{profile.os} / {profile.python} / {profile.torch}"})
    emit(Table("Hardware", [Column("name", "tag"), Column("value", "value")], rows))


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
    specs = [catalog.get(key)] if key else list(catalog.load().values())
    if as_json:
        emit_json([spec.as_dict() for spec in specs])
        return
    figures = {"vram_gb": "VRAM GB", "bandwidth_gbs": "GB/s", "fp16_tflops": "TFLOPS",
               "usd_per_hour": "$/h"}
    columns = [Column("key", "key"), Column("name", "name"),
               *(Column(k, title) for k, title in figures.items()),
               Column("price_source", "price source")]
    rows = [{"key": spec.key, "name": spec.name, "price_source": spec.sources["usd_per_hour"],
             **{k: f"{getattr(spec, k):g}" for k in figures}} for spec in specs]
    notes = [f"{figure}: {source}" for figure, source in specs[0].sources.items()] if key else []
    emit(Table("GPU catalog (usd_per_hour is per GPU, on demand)", columns, rows, notes))
