"""`cogit-log report | compare | project`: cost and time across campaigns, side by side, and
on another GPU."""
from __future__ import annotations

import click

from ..planning import track
from ..planning.projection import make_projection
from ..reports.compare import make_compare, two_sides
from ..reports.report import make_report
from ..schema import PRECISIONS
from ..store.uri import tracking_uri as resolve
from .group import cli, json_option, tracking_option
from .render import FORMATS, check_alone, check_output, emit


def _report_output(fn):
    """`--format`, `--output` and `--json` shared by the three report commands."""
    fn = click.option("--output", "-o", default=None, metavar="FILE",
                      help="Write to FILE instead of printing.")(fn)
    fn = click.option("--format", "fmt", type=click.Choice(FORMATS), default="table",
                      show_default=True, help="Output format (html: one offline file).")(fn)
    return json_option(fn)


def _experiment_option(fn):
    return click.option("--experiment", "experiments", multiple=True, metavar="E",
                        help="Only this experiment (repeatable; default: every experiment "
                             "with campaigns).")(fn)


@cli.command("report")
@_experiment_option
@click.option("--campaign", "campaigns", multiple=True, metavar="L",
              help="Campaign label, run id or uid (repeatable; default: all).")
@click.option("--gpu", "gpus", multiple=True, metavar="KEY",
              help="Only campaigns on this catalog GPU key, e.g. h100-sxm (repeatable).")
@click.option("--group-by", default=None, metavar="KEYS",
              help="Comma-separated: gpu.key, gpu.name, gpu.count, precision, provider, model, "
                   "phase, experiment. Groups show medians.")
@click.option("--baseline", default=None, metavar="L",
              help="Add ratio columns against this campaign (or group, e.g. rtx-5090/fp16).")
@click.option("--log", "log_charts", is_flag=True,
              help="Also log each campaign's charts to its run (shown by mlflow ui).")
@click.option("--accuracy", is_flag=True,
              help="Instead: the track record, every plan or projection logged with --log "
                   "against the campaign that later ran it (time, cost, peak, % error).")
@_report_output
@tracking_option
def report_cmd(experiments, campaigns, gpus, group_by, baseline, log_charts, accuracy, fmt,
               output, as_json, tracking_uri):
    """Time, cost, VRAM and the headline metrics per campaign and phase, with totals.

    Reads only the columns a report needs straight from sqlite/PostgreSQL stores; uses
    the REST API for http(s) stores. RUNNING and FAILED runs show their status; totals add
    what was measured.

    \b
    Example:
        cogit-log report
        cogit-log report --campaign run-001 --campaign run-002 --baseline run-001
        cogit-log report --experiment cogit-qmech --gpu h100-sxm --json
        cogit-log report --group-by gpu.key,precision --format md
        cogit-log report --format html --output report.html
        cogit-log report --accuracy
    """
    check_output(output)
    if accuracy:
        check_alone("--accuracy", {"--experiment": experiments, "--campaign": campaigns,
                                   "--gpu": gpus, "--group-by": group_by, "--baseline": baseline,
                                   "--log": log_charts})
        emit(track.accuracy(resolve(tracking_uri, "read")), "json" if as_json else fmt, output)
        return
    table = make_report(resolve(tracking_uri, "read"), experiments, campaigns, group_by, baseline,
                        charts=fmt == "html" and not as_json, log=log_charts, gpus=gpus)
    emit(table, "json" if as_json else fmt, output)


@cli.command("compare")
@click.argument("a", required=False)
@click.argument("b", required=False)
@click.option("--a", "a_filter", default=None, metavar="FILTER",
              help="Side A as a tag filter, e.g. gpu.key=rtx-5090,precision=fp16.")
@click.option("--b", "b_filter", default=None, metavar="FILTER",
              help="Side B as a tag filter, e.g. gpu.key=h100-sxm.")
@_experiment_option
@_report_output
@tracking_option
def compare_cmd(a, b, a_filter, b_filter, experiments, fmt, output, as_json, tracking_uri):
    """Two campaigns (or groups) side by side per phase, with ratios and a verdict that
    judges each headline metric by its declared direction.

    A and B are campaign labels, run ids, uids, or tag filters (key=value,...); a group's
    figures are medians across its campaigns.

    \b
    Example:
        cogit-log compare run-001 run-002
        cogit-log compare --a gpu.key=rtx-5090,precision=fp16 --b gpu.key=h100-sxm
    """
    a_spec, b_spec = two_sides(a, b, a_filter, b_filter)
    check_output(output)
    table = make_compare(resolve(tracking_uri, "read"), a_spec, b_spec, experiments)
    emit(table, "json" if as_json else fmt, output)


@cli.command("project")
@click.argument("campaign")
@click.option("--to", "to", required=True, metavar="GPU_KEY",
              help="Target catalog GPU key (see `cogit-log gpus`); `none`: a GPU-less "
                   "campaign's own host (e.g. at another --precision).")
@click.option("--precision", default=None, metavar="P",
              help=f"Project at another precision ({', '.join(PRECISIONS)}).")
@click.option("--gpus", default=None, metavar="N",
              help="Onto N target GPUs, priced at N x the rate [as many as it ran on].")
@click.option("--log", "log_it", is_flag=True,
              help="Store the projection as JSON on the campaign run (for a decision to link).")
@_experiment_option
@_report_output
@tracking_option
def project_cmd(campaign, to, precision, gpus, log_it, experiments, fmt, output, as_json,
                tracking_uri):
    """Each phase's time and cost of CAMPAIGN on another catalog GPU, or on N of them.

    Each phase is classed from its measured figures: host-bound (tiny VRAM peak: unchanged),
    memory-bound (logged tokens/s: scaled by bandwidth) or compute-bound (scaled by dense
    FP16 TFLOPS); onto N GPUs, by the count, linearly at best (the memory planner's layout
    says which). A configuration that does not fit gets no estimate. Assumptions are
    printed beside the numbers.

    \b
    Example:
        cogit-log project run-001 --to h100-sxm
        cogit-log project run-001 --to rtx-4090 --precision int8 --log
        cogit-log project run-001 --to h100-sxm --gpus 2
        cogit-log project cpu-run --to none --precision int8 --log
    """
    check_output(output)
    table = make_projection(resolve(tracking_uri, "read"), campaign, to, precision, log_it,
                            experiments, gpus=gpus)
    emit(table, "json" if as_json else fmt, output)
