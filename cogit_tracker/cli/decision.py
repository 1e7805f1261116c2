"""`cogit-log decision ...`: the Captain's Log. Each command calls one method of
`decisions.store.DecisionLog` (imported when the command runs: it brings MLflow) and prints
what it returns."""
from __future__ import annotations

import dataclasses
import sys

import click

from ..errors import Failure
from ..redaction import redact
from ..schema import DECISION_STATUSES, LINK_ROLES
from . import decision_tables as tables
from . import prompts
from .group import cli, json_option, tracking_option
from .render import emit, emit_json, emit_markdown


@cli.group("decision")
def decision_group() -> None:
    """The Captain's Log: decisions stored as MLflow runs, linked to their evidence.

    \b
    Example:
        cogit-log decision new
        cogit-log decision list --status accepted
        cogit-log decision verify 2
    """


def _log(uri, mode: str = "read"):
    """The log on a checked store: `new` and `import` may make one, the others must find it."""
    from ..decisions.store import DecisionLog

    return DecisionLog(uri, mode)


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
@click.option("--from-advice", metavar="CAMPAIGN",
              help="Draft the record from `cogit-log advise CAMPAIGN`: options with their "
                   "figures, the chosen one, criteria from its projection; linked as context.")
@click.option("--choose", metavar="LABEL|KEY",
              help="With --from-advice: the option (default: the cheapest that fits).")
@click.option("--setup-min", type=float, metavar="N",
              help="With --from-advice: minutes of set-up, as for `advise`.")
@tracking_option
@json_option
def decision_new(no_input, edit, from_file, title, context, problem, analysis, options, chosen,
                 reason, tradeoffs, debt, implications, criteria, links, from_advice, choose,
                 setup_min, tracking_uri, as_json):
    """Record a new decision under the next free number.

    Interactive by default: one prompt per section, a loop for options and criteria. With
    --from-advice, the record is drafted from the options table and opened in $EDITOR
    (unless --no-input).

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
        cogit-log decision new --from-advice run-001 --choose h100-sxm --no-input
    """
    from ..decisions import compose

    given = {"--edit": edit, "--from-file": from_file, "--title": title, "--context": context,
             "--problem": problem, "--analysis": analysis, "--option": options,
             "--chosen": chosen, "--reason": reason, "--tradeoffs": tradeoffs, "--debt": debt,
             "--implications": implications, "--criterion": criteria, "--choose": choose,
             "--setup-min": setup_min is not None}
    compose.check_modes(from_advice, given)
    if from_advice:
        from ..store.uri import tracking_uri as resolve

        uri = resolve(tracking_uri, "write")
        _recorded(_from_advice(uri, from_advice, choose, setup_min, links, no_input), uri,
                  as_json)
        return
    if no_input:
        d = compose.from_options(title, context, problem, list(options), chosen, reason,
                                 list(criteria), analysis, tradeoffs, debt, implications)
    elif from_file:
        d = compose.from_file(from_file)
    elif edit:
        d = prompts.from_editor()
    else:
        d = prompts.interactive()
    log = _log(tracking_uri, "write")
    _recorded(log.create(d, [compose.link_arg(v) for v in links]), log.uri, as_json)


def _from_advice(uri, campaign, choose, setup_min, links, no_input):
    from ..decisions import compose, from_advice
    from ..planning.options import DEFAULT_SETUP_MIN

    return from_advice.decide(
        uri, campaign, choose, DEFAULT_SETUP_MIN if setup_min is None else setup_min,
        [compose.link_arg(v) for v in links], None if no_input else prompts.edit_draft)


def _recorded(d, uri: str, as_json) -> None:
    if as_json:
        emit_json(d.to_dict())
    else:
        click.echo(f"Recorded {d.heading} ({d.status}, {len(d.links)} links, "
                   f"{sum(c.expr is not None for c in d.criteria)} checkable criteria) "
                   f"in {redact(uri)}")


@decision_group.command("list")
@click.option("--status", type=click.Choice(DECISION_STATUSES))
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
    from ..decisions.store import select_entries

    entries = select_entries(_log(tracking_uri).entries(), status, since, text)
    if as_json:
        emit_json([dataclasses.asdict(e) for e in entries])
    else:
        emit(tables.entries(entries))


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
    log = _log(tracking_uri)
    d = log.load(number)
    ev = log.evidence(d) if runs or as_json else None
    linked = ev.runs if ev is not None else None
    if as_json:
        emit_json({**d.to_dict(), "runs": [dataclasses.asdict(r) for r in linked],
                   "not_counted": [c.line for c in ev.claims]})
        return
    emit_markdown(tables.record(d))
    for table in tables.evidence(d, linked):
        emit(table)
    _not_counted(ev.claims if ev is not None else [])


def _not_counted(claims) -> None:
    """A run a link does not count (a copied cogit.uid, a pinned run gone): one line each."""
    for claim in claims:
        click.echo(f"warning: {claim.line}", err=True)


@decision_group.command("link")
@click.argument("number", type=int)
@click.argument("run")
@click.option("--role", type=click.Choice(LINK_ROLES), default="evidence", show_default=True)
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


@decision_group.command("criterion")
@click.argument("number", type=int)
@click.argument("index", type=int)
@click.argument("expr")
@tracking_option
def decision_criterion(number, index, expr, tracking_uri):
    """Make criterion INDEX (1, 2, ...) of decision NUMBER checkable with EXPR, or manual
    again with '-'. Kept in the record and its markdown export; `verify` checks it.

    \b
    Example:
        cogit-log decision criterion 2 1 \\
            "phase[intervene].duration_s < 900 where gpu.key = h100-sxm"
        cogit-log decision criterion 2 5 "sum(cost_usd) < 1.00"
    """
    d = _log(tracking_uri).set_criterion(number, index, expr)
    crit = d.criteria[index - 1]
    click.echo(f"{d.heading}, criterion {index}: {crit.text} — "
               f"{crit.expr and f'`{crit.expr}`' or '(manual)'}")


@decision_group.command("verify")
@click.argument("number", type=int)
@tracking_option
@json_option
def decision_verify(number, tracking_uri, as_json):
    """Check a decision's criteria against its linked runs; exit 1 if refuted.

    Sets the status to validated or refuted once every checkable criterion is decided.
    Each link counts the run it was pinned to when it was made (by run id); any other run
    carrying the same cogit.uid is named on stderr and never counted. A link made before
    pins counts the one run carrying its uid and is pinned to it now.

    \b
    Example:
        cogit-log decision verify 2
    """
    ver = _log(tracking_uri).verify(number)
    if as_json:
        emit_json({"number": number, "status": ver.status, "changed": ver.changed,
                   "criteria": [{"text": c.text, "expr": c.expr, "state": o.state,
                                 "value": o.value, "runs": o.runs} for c, o in ver.results],
                   "not_counted": [c.line for c in ver.claims], "pinned": ver.pinned})
    else:
        emit(tables.verification(ver))
        _not_counted(ver.claims)
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
    from ..decisions.logfile import import_log

    report = import_log(_log(tracking_uri, "read" if dry_run else "write"), file, dry_run,
                        renumber)
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
    from ..decisions.logfile import export

    paths, problems = export(_log(tracking_uri), directory, single)
    for path in paths:
        click.echo(str(path))
    if problems:  # the others are exported; exit 1 says the export is not whole
        raise Failure(f"{len(problems)} decision(s) skipped: " + "; ".join(problems))
