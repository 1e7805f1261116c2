"""`cogit-log`: the command line. Thin by rule: each command parses its options, calls one
library function, and prints. Bad values become one line and exit code 2 (see `errors.py`).
"""
from __future__ import annotations

import json
import os
import sys

import click

from .errors import BadInput, store_failure


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
        except Exception as exc:  # store refused us or is down: one line, exit 1 (errors.py)
            failure = store_failure(exc)
            if failure is None:
                raise
            raise click.ClickException(str(failure)) from None


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
@click.option("--model", default=None,
              help="'tiny' (built and trained offline; the default), a save_pretrained folder, "
                   "or a hub name. On --resume: the campaign's.")
@click.option("--precision", default=None,
              help="fp32 (the default), fp16, bf16 or int8. On --resume: the campaign's.")
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


# ---- end run (pipelines) ------------------------------------------------------------------


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

    from . import sync as sync_mod
    from .server import without_credentials

    if spool_dir is not None:
        results = sync_mod.replay_spool(None if spool_dir == "-" else spool_dir, source, target,
                                        experiment)
        if as_json:
            emit_json([vars(r) for r in results])
        elif not results:
            click.echo("nothing spooled")
        for r in [] if as_json else results:
            click.echo(f"replayed {r.ops} operations from {r.files} spool file(s) to "
                       f"{without_credentials(r.tracking_uri)}")
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
# --- end issue 6 ----------------------------------------------------------------------------


# ==== reports: report, compare, project (issue 5) ====================================
def _report_output(fn):
    """`--format`, `--output` and `--json` shared by the three report commands."""
    from .render import FORMATS

    fn = click.option("--output", "-o", default=None, metavar="FILE",
                      help="Write to FILE instead of printing.")(fn)
    fn = click.option("--format", "fmt", type=click.Choice(FORMATS), default="table",
                      show_default=True, help="Output format (html: one offline file).")(fn)
    return json_option(fn)


def _experiment_option(fn):
    return click.option("--experiment", "experiments", multiple=True, metavar="E",
                        help="Only this experiment (repeatable; default: every experiment "
                             "with campaigns).")(fn)


def _print_table(table, fmt: str, output: str | None, as_json: bool) -> None:
    import shutil

    from .render import emit

    text = emit(table, "json" if as_json else fmt, output,
                width=max(shutil.get_terminal_size((160, 40)).columns, 100))
    if text is not None:
        click.echo(text, nl=False)
    else:
        click.echo(f"wrote {output}", err=True)


@cli.command("report")
@_experiment_option
@click.option("--campaign", "campaigns", multiple=True, metavar="L",
              help="Campaign label, run id or uid (repeatable; default: all).")
@click.option("--group-by", default=None, metavar="KEYS",
              help="Comma-separated: gpu.key, gpu.name, gpu.count, precision, provider, model, "
                   "phase, experiment. Groups show medians.")
@click.option("--baseline", default=None, metavar="L",
              help="Add ratio columns against this campaign (or group, e.g. rtx-5090/fp16).")
@click.option("--log", "log_charts", is_flag=True,
              help="Also log each campaign's charts to its run (shown by mlflow ui).")
@_report_output
@tracking_option
def report_cmd(experiments, campaigns, group_by, baseline, log_charts, fmt, output, as_json,
               tracking_uri):
    """Time, cost, VRAM and fidelity per campaign and phase, with totals.

    Reads only the columns a report needs straight from sqlite/PostgreSQL stores; uses
    the REST API for http(s) stores. RUNNING and FAILED runs show their status; totals add
    what was measured.

    \b
    Example:
        cogit-log report
        cogit-log report --campaign run-001 --campaign run-002 --baseline run-001
        cogit-log report --group-by gpu.key,precision --format md
        cogit-log report --format html --output report.html
    """
    from .render import check_output
    from .reports import make_report
    from .store import tracking_uri as resolve

    check_output(output)
    table = make_report(resolve(tracking_uri), experiments, campaigns, group_by, baseline,
                        charts=fmt == "html" and not as_json, log=log_charts)
    _print_table(table, fmt, output, as_json)


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
    """Two campaigns (or groups) side by side per phase, with ratios and a verdict.

    A and B are campaign labels, run ids, uids, or tag filters (key=value,...); a group's
    figures are medians across its campaigns.

    \b
    Example:
        cogit-log compare run-001 run-002
        cogit-log compare --a gpu.key=rtx-5090,precision=fp16 --b gpu.key=h100-sxm
    """
    from .compare import make_compare, parse_filter
    from .render import check_output
    from .store import tracking_uri as resolve

    sides = [x for x in (a, b) if x is not None]
    a_spec = parse_filter(a_filter) if a_filter else (sides.pop(0) if sides else None)
    b_spec = parse_filter(b_filter) if b_filter else (sides.pop(0) if sides else None)
    if a_spec is None or b_spec is None or sides:
        raise BadInput("compare needs exactly two sides; accepted: A B, or --a FILTER --b "
                       "FILTER, or one of each")
    check_output(output)
    table = make_compare(resolve(tracking_uri), a_spec, b_spec, experiments)
    _print_table(table, fmt, output, as_json)


@cli.command("project")
@click.argument("campaign")
@click.option("--to", "to", required=True, metavar="GPU_KEY",
              help="Target catalog GPU key (see `cogit-log gpus`).")
@click.option("--precision", default=None, metavar="P",
              help="Project at another precision (fp32, fp16, bf16, int8, int4).")
@click.option("--log", "log_it", is_flag=True,
              help="Store the projection as JSON on the campaign run (for a decision to link).")
@_experiment_option
@_report_output
@tracking_option
def project_cmd(campaign, to, precision, log_it, experiments, fmt, output, as_json,
                tracking_uri):
    """Each phase's time and cost of CAMPAIGN on another catalog GPU.

    Each phase is classed from its measured figures: host-bound (tiny VRAM peak: unchanged),
    memory-bound (logged tokens/s: scaled by bandwidth) or compute-bound (scaled by dense
    FP16 TFLOPS). A configuration that does not fit gets no estimate. Assumptions are
    printed beside the numbers.

    \b
    Example:
        cogit-log project run-001 --to h100-sxm
        cogit-log project run-001 --to rtx-4090 --precision int8 --log
    """
    from .projection import make_projection
    from .render import check_output
    from .store import tracking_uri as resolve

    check_output(output)
    table = make_projection(resolve(tracking_uri), campaign, to, precision, log_it, experiments)
    _print_table(table, fmt, output, as_json)

# ==== end reports ===========================================================================


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


# ======================================================================= decision (issue 3)
# The Captain's Log. Library: cogit_tracker/decisions/. Each command calls one function there.


@cli.group("decision")
def decision_group() -> None:
    """The Captain's Log: decisions stored as MLflow runs, linked to their evidence.

    \b
    Example:
        cogit-log decision new
        cogit-log decision list --status accepted
        cogit-log decision verify 2
    """


def _log(uri):
    from .decisions.store import DecisionLog

    return DecisionLog(uri)


@decision_group.command("new")
@click.option("--no-input", is_flag=True, help="Take everything from the options; never prompt.")
@click.option("--edit", is_flag=True, help="Write the record in $EDITOR, from the template.")
@click.option("--from-file", type=click.Path(dir_okay=False), help="Read one record from F.md.")
@click.option("--title")
@click.option("--context", default="")
@click.option("--problem", default="")
@click.option("--analysis", default="")
@click.option("--option", "options", multiple=True, metavar="'A: title'",
              help="An option considered (repeatable).")
@click.option("--chosen", metavar="LABEL", help="Label of the chosen option.")
@click.option("--reason", default="", help="Why that option.")
@click.option("--tradeoffs", default="")
@click.option("--debt", default="", help="Technical debt created.")
@click.option("--implications", default="")
@click.option("--criterion", "criteria", multiple=True, metavar="'TEXT :: EXPR'",
              help="Validation criterion (repeatable); ':: expression' makes it checkable.")
@click.option("--link", "links", multiple=True, metavar="RUN[:ROLE]",
              help="Run id, cogit.uid or campaign label; role context|evidence|validation|"
                   "supersedes (default evidence).")
@tracking_option
@json_option
def decision_new(no_input, edit, from_file, title, context, problem, analysis, options, chosen,
                 reason, tradeoffs, debt, implications, criteria, links, tracking_uri, as_json):
    """Record a new decision under the next free number.

    Interactive by default: one prompt per section, a loop for options and criteria.

    \b
    Example:
        cogit-log decision new
        cogit-log decision new --edit
        cogit-log decision new --from-file abort-5090.md --link run-002:validation
        cogit-log decision new --no-input --title "Abort RTX 5090" \\
            --option "A: Wait for it" --option "C: Migrate to H100" --chosen C \\
            --reason "CPU operators too slow" \\
            --criterion "Phase 3 under 15 min :: phase[intervene].duration_s < 900" \\
            --link run-002:validation
    """
    from .decisions import compose

    if no_input:
        d = compose.from_options(title, context, problem, list(options), chosen, reason,
                                 list(criteria), analysis, tradeoffs, debt, implications)
    elif from_file:
        d = compose.from_file(from_file)
    elif edit:
        d = compose.from_editor()
    else:
        d = compose.interactive()
    log = _log(tracking_uri)
    d = log.create(d, [compose.link_arg(v) for v in links])
    if as_json:
        emit_json(d.to_dict())
    else:
        click.echo(f"Recorded {d.heading} ({d.status}, {len(d.links)} links) in {log.uri}")


@decision_group.command("list")
@click.option("--status", type=click.Choice(["proposed", "accepted", "superseded", "validated",
                                             "refuted"]))
@click.option("--since", metavar="YYYY-MM-DD", help="Only decisions dated on or after this day.")
@click.option("--text", help="Only decisions whose title contains this (case-insensitive).")
@tracking_option
@json_option
def decision_list(status, since, text, tracking_uri, as_json):
    """List decisions: number, date, title, status, links, verification.

    \b
    Example:
        cogit-log decision list --status accepted --since 2025-11-01
        cogit-log decision list --text h100 --json
    """
    from .decisions.view import console, entries_table
    from .decisions.store import select_entries

    entries = select_entries(_log(tracking_uri).entries(), status, since, text)
    if as_json:
        emit_json([e.__dict__ for e in entries])
    else:
        console().print(entries_table(entries))


@decision_group.command("show")
@click.argument("number", type=int)
@click.option("--runs", is_flag=True, help="Add a table of the linked runs (side by side for "
                                           "two or more campaigns).")
@tracking_option
@json_option
def decision_show(number, runs, tracking_uri, as_json):
    """Show one decision, and with --runs the runs it links to.

    \b
    Example:
        cogit-log decision show 2 --runs
    """
    import dataclasses

    from .decisions.view import console, show

    log = _log(tracking_uri)
    d = log.load(number)
    linked = log.linked_runs(d) if runs or as_json else None
    if as_json:
        emit_json({**d.to_dict(), "runs": [dataclasses.asdict(r) for r in linked]})
        return
    out = console()
    for part in show(d, linked):
        out.print(part)


@decision_group.command("link")
@click.argument("number", type=int)
@click.argument("run")
@click.option("--role", type=click.Choice(["context", "evidence", "validation", "supersedes"]),
              default="evidence", show_default=True)
@tracking_option
def decision_link(number, run, role, tracking_uri):
    """Link a decision to a run (run id, cogit.uid or campaign label), tagging both sides.

    \b
    Example:
        cogit-log decision link 2 run-002 --role validation
    """
    d = _log(tracking_uri).link(number, run, role)
    click.echo(f"Linked {d.heading} -> {run} as {role}")


@decision_group.command("status")
@click.argument("number", type=int)
@click.argument("status", type=click.Choice(["accepted", "superseded"]))
@click.option("--by", type=int, metavar="M", help="The decision that supersedes this one.")
@tracking_option
def decision_status(number, status, by, tracking_uri):
    """Mark a decision accepted, or superseded by a newer one.

    \b
    Example:
        cogit-log decision status 1 superseded --by 2
    """
    d = _log(tracking_uri).set_status(number, status, by)
    click.echo(f"{d.heading}: {d.status}" + (f" (by #{by:03d})" if by else ""))


@decision_group.command("verify")
@click.argument("number", type=int)
@tracking_option
@json_option
def decision_verify(number, tracking_uri, as_json):
    """Check a decision's criteria against its linked runs; exit 1 if refuted.

    Sets the status to validated or refuted once every checkable criterion is decided.

    \b
    Example:
        cogit-log decision verify 2
    """
    from .decisions.view import console, verification_table

    ver = _log(tracking_uri).verify(number)
    if as_json:
        emit_json({"number": number, "status": ver.status, "changed": ver.changed,
                   "criteria": [{"text": c.text, "expr": c.expr, "state": o.state,
                                 "value": o.value, "runs": o.runs} for c, o in ver.results]})
    else:
        console().print(verification_table(ver))
    if ver.status == "refuted":
        sys.exit(1)


@decision_group.command("import")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--dry-run", is_flag=True, help="Say what would be added; write nothing.")
@click.option("--renumber", is_flag=True,
              help="Give a record whose number another title holds the next free number.")
@tracking_option
@json_option
def decision_import(file, dry_run, renumber, tracking_uri, as_json):
    """Import a Captain's Log markdown file; importing it again adds nothing.

    \b
    Example:
        cogit-log decision import captains-log-2025-11.md --dry-run
        cogit-log decision import captains-log-2025-11.md
        cogit-log decision import other-team-log.md --renumber
    """
    from .decisions.logfile import import_log

    report = import_log(_log(tracking_uri), file, dry_run, renumber)
    for line in report.warnings:
        click.echo(f"warning: {line}", err=True)
    if as_json:
        emit_json({"dry_run": dry_run, "added": [d.number for d in report.added],
                   "skipped": [d.number for d in report.skipped], "warnings": report.warnings})
        return
    verb = "would add" if dry_run else "added"
    for d in report.added:
        click.echo(f"{verb} {d.heading}")
    for d in report.skipped:
        click.echo(f"already present {d.heading}")
    click.echo(f"{len(report.added)} {verb}, {len(report.skipped)} already present")


@decision_group.command("export")
@click.option("--dir", "directory", type=click.Path(file_okay=False), default="decisions",
              show_default=True, help="Write one NNNN-slug.md per decision here.")
@click.option("--single", type=click.Path(dir_okay=False),
              help="Write the whole log to this one file instead, in the log's own format.")
@tracking_option
def decision_export(directory, single, tracking_uri):
    """Export the decisions as markdown (clean UTF-8).

    \b
    Example:
        cogit-log decision export --dir decisions/
        cogit-log decision export --single captains-log.md
    """
    from .decisions.logfile import export

    for path in export(_log(tracking_uri), directory, single):
        click.echo(str(path))


# ================================================================== end decision (issue 3)


# -- entry point: keep last, so `python -m cogit_tracker.cli` sees every command above --------
def main() -> None:
    cli(prog_name="cogit-log")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
