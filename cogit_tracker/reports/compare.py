"""Two campaigns (or two groups of campaigns) side by side, phase by phase, with one verdict.

A side is a campaign label, run id or uid, or a tag filter such as
`gpu.key=rtx-5090,precision=fp16` naming every campaign that matches; a group's figures are
medians across its campaigns, so one slow pod does not decide the comparison.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..errors import BadInput
from ..table import Column, Table, fmt_value
from .headline import Headline, apart_from, union
from .model import (GROUP_KEYS, TOTAL, Campaign, Figures, aggregate, change, load, ratio,
                    select, status_counts)
from .nodes import BRANCH, NodeLine, as_data

FILTER_KEYS = tuple(k for k in GROUP_KEYS if k != "phase")


@dataclass
class Side:
    name: str            # what the user typed
    members: list[Campaign]

    def status(self, statuses: list[str]) -> str:
        return statuses[0] if len(self.members) == 1 and len(statuses) == 1 \
            else status_counts(statuses)


def parse_filter(text: str) -> dict[str, str]:
    """`key=value,key=value` with keys from FILTER_KEYS; anything else is one BadInput line."""
    out: dict[str, str] = {}
    for item in text.split(","):
        key, eq, value = item.partition("=")
        key, value = key.strip(), value.strip()
        if not eq or not key or not value:
            raise BadInput(f"malformed filter item {item.strip()!r} in {text!r}; accepted: "
                           f"key=value[,key=value...] with keys {', '.join(FILTER_KEYS)}")
        if key not in FILTER_KEYS:
            raise BadInput(f"unknown filter key {key!r}; accepted: {', '.join(FILTER_KEYS)}")
        out[key] = value
    return out


def two_sides(a: str | None, b: str | None, a_filter: str | None,
              b_filter: str | None) -> tuple[str | dict, str | dict]:
    """The two sides from `compare A B`, `--a FILTER --b FILTER`, or one of each."""
    names = [x for x in (a, b) if x is not None]
    a_spec = parse_filter(a_filter) if a_filter else (names.pop(0) if names else None)
    b_spec = parse_filter(b_filter) if b_filter else (names.pop(0) if names else None)
    if a_spec is None or b_spec is None or names:
        raise BadInput("compare needs exactly two sides; accepted: A B, or --a FILTER --b "
                       "FILTER, or one of each")
    return a_spec, b_spec


def resolve(campaigns: list[Campaign], spec: str | dict[str, str]) -> Side:
    """A label, run id or uid; else a dict, or a string containing '=', is a tag filter (so a
    label that contains '=' still names its campaign)."""
    named = isinstance(spec, str) and any(spec in (c.label, c.run_id, c.uid) for c in campaigns)
    if named or isinstance(spec, str) and "=" not in spec:
        return Side(spec, select(campaigns, [spec]))
    wanted = parse_filter(spec) if isinstance(spec, str) else spec
    name = ",".join(f"{k}={v}" for k, v in wanted.items())
    members = [c for c in campaigns if all(c.attr(k) == v for k, v in wanted.items())]
    if not members:
        raise BadInput(f"no campaign matches filter {name!r}; accepted: a filter that matches "
                       f"at least one campaign")
    return Side(name, members)


OWN_COLUMNS = [Column("phase", "phase"), Column("a_status", "A status"),
               Column("b_status", "B status"), Column("a_time", "A time", "seconds"),
               Column("b_time", "B time", "seconds"), Column("x_time", "B/A time", "ratio"),
               Column("a_cost", "A cost", "usd"), Column("b_cost", "B cost", "usd"),
               Column("x_cost", "B/A cost", "ratio")]
#: What a metric's three columns are keyed by: A's value, B's, and B's change from A.
SIDES = {"a": "A {}", "b": "B {}", "p": "B/A {}"}


def _key(side: str, name: str) -> str:
    return f"{side}_{name}"


def compare(campaigns: list[Campaign], a_spec: str | dict, b_spec: str | dict) -> Table:
    """A and B phase by phase, then their totals, with one verdict line; the metric columns
    are both sides' headline metrics (A's declaration first)."""
    a, b = resolve(campaigns, a_spec), resolve(campaigns, b_spec)
    taken = {c.key[2:] for c in OWN_COLUMNS if c.key[:2] in ("a_", "b_")}
    headline, clash = apart_from(union(c.headline for c in a.members + b.members), taken)
    rows = []
    for name in _phase_names(a, b):
        rows.append(_row(name, a, b, headline))
        rows += _node_rows(name, a, b, rows[-1])
    a_tot = aggregate([c.totals() for c in a.members])
    b_tot = aggregate([c.totals() for c in b.members])
    total = _cells(TOTAL, a.status([c.status for c in a.members]), a_tot,
                   b.status([c.status for c in b.members]), b_tot, headline)
    rows.append({**total, "_section_end": True})
    notes = [verdict(a, b, a_tot, b_tot, headline)] + clash
    if len(a.members) > 1 or len(b.members) > 1:
        notes.append(f"Groups: A = {len(a.members)} campaign(s), B = {len(b.members)}; "
                     f"figures are medians across each group's campaigns.")
    columns = OWN_COLUMNS + [Column(_key(side, n), title.format(n),
                                    "change" if side == "p" else "number")
                             for n in headline.names for side, title in SIDES.items()]
    data = {"a": {"spec": a.name, "campaigns": [c.label for c in a.members]},
            "b": {"spec": b.name, "campaigns": [c.label for c in b.members]},
            "verdict": notes[0]}
    return Table(f"A = {a.name}  vs  B = {b.name}", columns, rows, notes, data=data)


def _phase_names(a: Side, b: Side) -> list[str]:
    order: dict[str, int] = {}
    for camp in a.members + b.members:
        for ph in camp.phases:
            order.setdefault(ph.name, ph.index if ph.index is not None else 1 << 30)
    return sorted(order, key=lambda n: (order[n], n))


def _row(name: str, a: Side, b: Side, headline: Headline) -> dict:
    a_ph = [p for c in a.members for p in c.phases if p.name == name]
    b_ph = [p for c in b.members for p in c.phases if p.name == name]
    return _cells(name, a.status([p.status_text for p in a_ph]) if a_ph else "absent",
                  aggregate([p.figures for p in a_ph]),
                  b.status([p.status_text for p in b_ph]) if b_ph else "absent",
                  aggregate([p.figures for p in b_ph]), headline)


def _nodes(side: Side, name: str) -> list[NodeLine]:
    """The node lines of a side's phase: a single campaign's (a group's medians have none)."""
    if len(side.members) != 1:
        return []
    return next((p.nodes for p in side.members[0].phases if p.name == name), [])


def _node_rows(name: str, a: Side, b: Side, row: dict) -> list[dict]:
    """Under a phase's `row`, one line a node, A's node beside B's node of the same key: its
    host, ranks, GPUs and peaks in the status columns, its time in the time columns. The
    row carries each side's lines as data (`a_nodes`, `b_nodes`) for json."""
    sides = {"a": _nodes(a, name), "b": _nodes(b, name)}
    row["_extra"] = {f"{k}_nodes": as_data(v) for k, v in sides.items() if v}
    by_key = {k: {ln.node: ln for ln in v} for k, v in sides.items()}
    keys = list(dict.fromkeys(ln.node for v in sides.values() for ln in v))
    out = []
    for key in keys:
        a_ln, b_ln = by_key["a"].get(key), by_key["b"].get(key)
        a_t = a_ln.duration_s if a_ln else None
        b_t = b_ln.duration_s if b_ln else None
        line = {"phase": BRANCH + (a_ln or b_ln).name, "_sub": True,
                "a_status": a_ln.describe({"duration_s"}, host=True) if a_ln else "",
                "b_status": b_ln.describe({"duration_s"}, host=True) if b_ln else "",
                "a_time": a_t, "b_time": b_t, "x_time": ratio(b_t, a_t)}
        if (a_ln and a_ln.failed) or (b_ln and b_ln.failed):
            line["_style"] = "red"
        out.append(line)
    if not row["_extra"]:
        del row["_extra"]
    return out


def _cells(name: str, a_status: str, a: Figures, b_status: str, b: Figures,
           headline: Headline) -> dict:
    cells = {"phase": name, "a_status": a_status, "b_status": b_status,
             "a_time": a.duration_s, "b_time": b.duration_s,
             "x_time": ratio(b.duration_s, a.duration_s),
             "a_cost": a.cost_usd, "b_cost": b.cost_usd, "x_cost": ratio(b.cost_usd, a.cost_usd)}
    for n in headline.names:
        cells.update({_key("a", n): a.get(n), _key("b", n): b.get(n),
                      _key("p", n): change(b.get(n), a.get(n))})
    return cells


def verdict(a: Side, b: Side, a_tot: Figures, b_tot: Figures, headline: Headline) -> str:
    """One line such as `B: 11.8x faster, 0.28x the cost, fidelity -0.4% (worse)`: each
    headline metric's change from A, judged by its declared direction."""
    parts = []
    speed = ratio(a_tot.duration_s, b_tot.duration_s)
    if speed is None:
        parts.append("time not comparable (not measured on both sides)")
    elif speed >= 1:
        parts.append(f"{speed:.1f}x faster")
    else:
        parts.append(f"{1 / speed:.1f}x slower")
    cost = ratio(b_tot.cost_usd, a_tot.cost_usd)
    parts.append(f"{cost:.2f}x the cost" if cost is not None
                 else "cost not comparable (not measured on both sides)")
    for m in headline.metrics:
        value = change(b_tot.get(m.name), a_tot.get(m.name))
        if value is not None:
            judged = m.judge(b_tot.get(m.name), a_tot.get(m.name))
            parts.append(f"{m.name} {fmt_value(value, 'change')}"
                         + (f" ({judged})" if judged else ""))
    line = f"B: {', '.join(parts)} (A = {a.name}, B = {b.name})"
    unfinished = [c.label for c in a.members + b.members
                  if c.status != "FINISHED" or any(p.status != "FINISHED" for p in c.phases)]
    if unfinished:
        line += f"; not finished: {', '.join(unfinished[:5])}, totals cover measured phases only"
    return line


def make_compare(uri: str, a_spec: str | dict, b_spec: str | dict, experiments=(),
                 client=None) -> Table:
    """`cogit-log compare`: load the store's campaigns and put A and B side by side."""
    return compare(load(uri, experiments or None, client=client), a_spec, b_spec)
