"""Writing a decision by hand: a prompt per section, or the template in `$EDITOR`. The
records package knows no terminal; this is where the CLI asks."""
from __future__ import annotations

import click

from ..decisions.compose import criterion_arg, editable, editor_template, from_text, now_utc
from ..decisions.model import Decision, Option, default_status, validate
from ..errors import BadInput


def from_editor() -> Decision:
    edited = click.edit(editor_template(), extension=".md", require_save=True)
    if edited is None:
        raise BadInput("--edit: the editor closed without saving; nothing recorded")
    return from_text(edited, "(editor)")


def edit_draft(draft: Decision) -> Decision:
    """A drafted record (`--from-advice`) in `$EDITOR`; kept as drafted if left unchanged."""
    text = editable(draft)
    edited = click.edit(text, extension=".md", require_save=False)
    return from_text(edited if edited is not None else text, "(editor)")


def interactive() -> Decision:
    """Ask for each section in turn; empty answers leave a section out."""
    date, time = now_utc()
    ask = lambda label, default="": click.prompt(label, default=default,  # noqa: E731
                                                 show_default=bool(default)).strip()
    d = Decision(title="")
    while not d.title:
        d.title = ask("Title")
    d.date = ask("Date", date)
    d.time = ask("Time", time)
    d.context = ask("Context (what was happening)")
    d.problem = ask("The problem")
    d.analysis = ask("Analysis (figures, estimates)")
    click.echo("Options considered (empty title to finish):")
    while True:
        label = chr(ord("A") + len(d.options)) if len(d.options) < 26 else str(len(d.options) + 1)
        title = ask(f"  Option {label} title")
        if not title:
            break
        opt = Option(label, title)
        opt.pros = _items(ask(f"  Option {label} pros (separate with ';')"))
        opt.cons = _items(ask(f"  Option {label} cons (separate with ';')"))
        d.options.append(opt)
    if d.options:
        labels = [o.label for o in d.options]
        d.chosen = click.prompt("Chosen option", type=click.Choice(labels, case_sensitive=False),
                                default=labels[0]).upper()
    d.reasoning = ask("Reasoning")
    d.tradeoffs = ask("Tradeoffs accepted")
    d.debt = ask("Technical debt created")
    click.echo("Validation criteria (empty to finish; add ':: expression' to make one checkable):")
    while True:
        text = ask(f"  Criterion {len(d.criteria) + 1}")
        if not text:
            break
        try:
            d.criteria.append(criterion_arg(text, where="criterion"))
        except BadInput as exc:
            click.echo(f"  {exc} — try again", err=True)
    d.implications = ask("Future implications")
    d.status = default_status(d.chosen)
    d.state_choice()
    validate(d, lambda f: f"(prompt) {f}")
    return d


def _items(text: str) -> list[str]:
    return [part.strip() for part in text.split(";") if part.strip()]
