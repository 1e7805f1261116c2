"""The decision record: every field of the Captain's Log template, as plain dataclasses.

Kept free of MLflow and markdown so that the parser, the store and the CLI share one shape,
and `render` then `parse` can be checked for equality field by field.
"""
from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from typing import Callable

from ..errors import BadInput
from ..schema import DECISION_STATUSES, LINK_ROLES

# Known sections: key -> heading written by `render`. Order is the template's order, used
# whenever a record carries no layout of its own (one made with `decision new`).
SECTIONS: dict[str, str] = {
    "context": "Context",
    "problem": "The Problem",
    "analysis": "Full Strategic Analysis",
    "options": "Options Considered",
    "decision": "Decision Made",
    "reasoning": "Reasoning",
    "tradeoffs": "Tradeoffs Accepted",
    "debt": "Technical Debt Created",
    "criteria": "Validation Criteria",
    "implications": "Future Implications",
    "actions": "Actions Taken",
}

LABEL = re.compile(r"^(?:[A-Za-z]|\d{1,2})$")


@dataclass
class Option:
    label: str                       # "A", "B" ... or "1", "2" ...
    title: str
    pros: list[str] = field(default_factory=list)
    cons: list[str] = field(default_factory=list)
    other: list[str] = field(default_factory=list)   # neutral points, kept with their marker


@dataclass
class Criterion:
    text: str
    expr: str | None = None          # checkable expression (see verify.py); None = manual


@dataclass
class Extra:
    """A section the template does not know, kept verbatim."""

    heading: str
    body: str


@dataclass
class Decision:
    title: str
    number: int | None = None
    date: str = ""
    time: str = ""
    context: str = ""
    problem: str = ""
    analysis: str = ""
    options: list[Option] = field(default_factory=list)
    options_note: str = ""           # text in "Options Considered" that is not an option
    chosen: str | None = None        # label of the chosen option
    statement: str = ""              # the "Decision Made" text as written
    reasoning: str = ""
    tradeoffs: str = ""
    debt: str = ""
    criteria_note: str = ""          # text before the numbered criteria
    criteria: list[Criterion] = field(default_factory=list)
    implications: str = ""
    actions: str = ""
    status: str = "proposed"
    preamble: str = ""               # text under the heading that is not a **Field:** line
    extras: list[Extra] = field(default_factory=list)
    links: dict[str, str] = field(default_factory=dict)   # linked run uid -> role (store only)
    # linked run uid -> "experiment_id/run_id" it was resolved to when linked (store only; a
    # link made before pins existed has none until its first `verify`)
    pins: dict[str, str] = field(default_factory=dict)
    # (section key, heading as written) in the order read; lets a parsed log render back in
    # its own order and with its own headings. Not part of equality: it is presentation.
    layout: list[tuple[str, str]] = field(default_factory=list, compare=False)

    def __post_init__(self) -> None:
        self.state_choice()

    def state_choice(self) -> None:
        """Without a written statement, "Decision Made" says which option, as the log does."""
        opt = self.option(self.chosen) if self.chosen else None
        if opt is not None and not self.statement:
            self.statement = f"**Option {opt.label}: {opt.title}**"

    def option(self, label: str) -> Option | None:
        return next((o for o in self.options if o.label.lower() == label.lower()), None)

    @property
    def heading(self) -> str:
        num = f"#{self.number:03d}" if self.number is not None else "#new"
        return f"Decision {num}: {self.title}"

    def to_dict(self) -> dict:
        data = dataclasses.asdict(self)
        data["layout"] = [list(item) for item in self.layout]
        return data

    @classmethod
    def from_dict(cls, data: dict) -> "Decision":
        data = dict(data)
        data["options"] = [Option(**o) for o in data.get("options", [])]
        data["criteria"] = [Criterion(**c) for c in data.get("criteria", [])]
        data["extras"] = [Extra(**e) for e in data.get("extras", [])]
        data["layout"] = [tuple(item) for item in data.get("layout", [])]
        return cls(**data)


def default_status(chosen: str | None) -> str:
    """A record with a chosen option was decided; one without is still a proposal."""
    return "accepted" if chosen else "proposed"


#: the largest decision number (files are named NNNN-slug.md; a store's integers are 64-bit)
MAX_NUMBER = 999_999


def validate(decision: Decision, where: Callable[[str], str]) -> None:
    """Raise `BadInput` for the first thing that makes the record unusable.

    `where(field)` says where that field came from ("log.md:40" or "--chosen"), so the same
    checks serve the markdown importer and the command-line options.
    """
    from .verify import parse_criterion

    if not decision.title.strip():
        raise BadInput(f"{where('title')}: a decision needs a title (got an empty one)")
    if decision.number is not None and not 1 <= decision.number <= MAX_NUMBER:
        raise BadInput(f"{where('number')}: decision number {decision.number} is not accepted; "
                       f"accepted: 1 to {MAX_NUMBER:,}")
    if decision.status not in DECISION_STATUSES:
        raise BadInput(f"{where('status')}: status {decision.status!r} is not one of "
                       f"{', '.join(DECISION_STATUSES)}")
    seen: set[str] = set()
    for opt in decision.options:
        if not LABEL.match(opt.label):
            raise BadInput(f"{where('options')}: option label {opt.label!r} is not a letter or "
                           "a number (A, B, C or 1, 2, 3)")
        if opt.label.lower() in seen:
            raise BadInput(f"{where('options')}: option {opt.label!r} appears twice")
        seen.add(opt.label.lower())
    if decision.chosen is not None and decision.option(decision.chosen) is None:
        labels = ", ".join(o.label for o in decision.options) or "none given"
        raise BadInput(f"{where('decision')}: chosen option {decision.chosen!r} is not one of the "
                       f"options ({labels})")
    for crit in decision.criteria:
        if crit.expr is not None:
            parse_criterion(crit.expr, where=where("criteria"))
    for role in decision.links.values():
        check_role(role, where("links"))


def check_role(role: str, where: str = "--role") -> str:
    if role not in LINK_ROLES:
        raise BadInput(f"{where}: link role {role!r} is not one of {', '.join(LINK_ROLES)}")
    return role
