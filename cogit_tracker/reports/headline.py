"""An experiment's headline metrics: the results it is judged by, and which way is better.

cogit names no experiment's results. An experiment declares them (`ct.Experiment(...,
metrics=...)`, `ct.campaign(..., headline=...)`) and the declaration is stored on the campaign
run as one tag (`schema.HEADLINE`, compact JSON in declaration order), so a reader without the
experiment installed (`report`, `compare`, `/cogit/`, another machine after a sync) shows the
same columns and the same verdict. A campaign that declared nothing shows what its phases
logged: every metric of theirs except cogit's own, with no direction.
"""
from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Union

from .. import schema
from ..errors import BadInput

#: What a declared direction may be: the better value is the larger or the smaller one.
DIRECTIONS = ("max", "min")
#: How many headline metrics get a chart of their history (and have it fetched): an
#: undeclared campaign's headline may be every curve a Trainer logs.
CHARTED = 4
#: What a declaration may be given as (`declare`).
Spec = Union[Mapping[str, str], Sequence[Union[str, tuple[str, str]]], None]


@dataclass(frozen=True)
class Metric:
    """One headline metric; `better` is None where nothing was declared."""

    name: str
    better: str | None = "max"

    def judge(self, b: float | None, a: float | None) -> str:
        """`better`, `worse` or `same` for B against A, as the direction reads it; empty
        when no direction is known or a side is missing."""
        if self.better is None or a is None or b is None:
            return ""
        if b == a:
            return "same"
        return "better" if (b > a) == (self.better == "max") else "worse"


@dataclass(frozen=True)
class Headline:
    """A campaign's headline metrics, in the order they were declared (or first logged)."""

    metrics: tuple[Metric, ...] = ()
    declared: bool = False

    @property
    def names(self) -> list[str]:
        return [m.name for m in self.metrics]

    @property
    def charted(self) -> list[str]:
        """The metrics whose history a report draws."""
        return self.names[:CHARTED]

    def rolls_up(self, name: str) -> bool:
        """Whether a phase's `name` is repeated on its campaign run: a declared metric, or,
        with no declaration, any metric that is not cogit's own."""
        return name in self.names if self.declared else not schema.is_cogit_metric(name)

    def tag(self) -> str:
        """The stored form: `[{"name": "accuracy", "better": "max"}, ...]`."""
        return json.dumps([{"name": m.name, "better": m.better} for m in self.metrics],
                          separators=(",", ":"))


def declare(spec: Spec) -> Headline:
    """The declaration `spec` names: a mapping name -> "max"|"min", or a sequence of names
    (each "max") or of (name, direction) pairs; None or empty declares nothing. A name given
    twice, an unknown direction, or a name that is not a metric the experiment logs itself is
    the user's bad input, said in one line."""
    if not spec:
        return Headline()
    if isinstance(spec, str):
        spec = [spec]
    pairs = list(spec.items()) if isinstance(spec, Mapping) else [_pair(item) for item in spec]
    seen: set[str] = set()
    metrics = []
    for name, better in pairs:
        _check_name(name, seen)
        if better not in DIRECTIONS:
            raise BadInput(f"headline metric {name!r}: direction {better!r} is not accepted; "
                           f"accepted: {' or '.join(DIRECTIONS)} (which value is better)")
        seen.add(name)
        metrics.append(Metric(name, better))
    found = Headline(tuple(metrics), declared=True)
    if len(found.tag()) > schema.MAX_TAG_VALUE:
        raise BadInput(f"headline of {len(metrics)} metrics is too long to store; accepted: "
                       f"at most {schema.MAX_TAG_VALUE} characters as {schema.HEADLINE}")
    return found


def _pair(item) -> tuple:
    if isinstance(item, str):
        return item, "max"
    if isinstance(item, (tuple, list)) and len(item) == 2:
        return tuple(item)
    raise BadInput(f"headline item {item!r} is not accepted; accepted: a metric name or a "
                   f"(name, {' | '.join(DIRECTIONS)}) pair")


def _check_name(name, seen: set[str]) -> None:
    if not isinstance(name, str) or not name.strip():
        raise BadInput(f"headline metric name {name!r} is not accepted; accepted: the name "
                       f"of a metric the experiment logs, such as 'accuracy'")
    if not re.match(schema.KEY_CHARACTERS, name):
        raise BadInput(f"headline metric name {name!r} is not a metric name MLflow keeps; "
                       f"accepted: {schema.KEY_CHARACTERS_SAID}")
    if name in seen:
        raise BadInput(f"headline metric {name!r} is named twice; accepted: each metric once")
    if schema.is_cogit_metric(name):
        raise BadInput(f"headline metric {name!r} is one of cogit's own, shown anyway; "
                       f"accepted: a metric the experiment logs itself")


def from_tag(text: str | None) -> Headline | None:
    """The declaration stored on a campaign; None when there is none or it cannot be read
    (a hand-edited tag), so the campaign shows what its phases logged instead."""
    if not text:
        return None
    try:
        items = json.loads(text)
        metrics = tuple(Metric(str(i["name"]), i["better"] if i.get("better") in DIRECTIONS
                               else None) for i in items)
    except (ValueError, TypeError, KeyError, AttributeError):
        return None
    return Headline(metrics, declared=True)


def logged(names: Iterable[str]) -> Headline:
    """An undeclared campaign's headline: the metrics its phases logged (`names`, in phase
    order), cogit's own left out, in the order first seen."""
    own = (n for n in names if not schema.is_cogit_metric(n))
    return Headline(tuple(Metric(n, None) for n in dict.fromkeys(own)))


def union(headlines: Iterable[Headline]) -> Headline:
    """The columns of a table over several campaigns: each metric once, where it first
    appears, with the first direction declared for it."""
    found: dict[str, Metric] = {}
    for head in headlines:
        for m in head.metrics:
            if m.name not in found or found[m.name].better is None:
                found[m.name] = m
    return Headline(tuple(found.values()))


def apart_from(headline: Headline, taken: Iterable[str]) -> tuple[Headline, list[str]]:
    """`headline` less any metric named like one of a table's own columns (whose cells it
    would overwrite), and the note that says so (none when nothing is left out)."""
    taken = set(taken)
    clash = [m.name for m in headline.metrics if m.name in taken]
    kept = Headline(tuple(m for m in headline.metrics if m.name not in taken), headline.declared)
    notes = [f"Not shown: metric(s) {', '.join(map(repr, clash))}, named like one of this "
             f"table's own columns."] if clash else []
    return kept, notes
