"""`cogit-log advise CAMPAIGN`: the options a researcher has while a campaign runs (or after
it ran), side by side, each labelled A, B, C... as a decision will list them.

The cheapest option that fits and has a complete estimate is marked, as is the fastest; a
decision drafted from this table (`decisions/from_advice.py`) takes the cheapest unless told
otherwise. Every option lists what it assumed; what all options share is listed once.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

from .. import schema as s
from ..errors import BadInput
from ..table import Column, Table, fmt_value
from . import options as opts
from . import scaling
from .projection import logged_params
from .remaining import Situation, situation


@dataclass
class Advice:
    situation: Situation
    options: list[opts.Option]
    notes: list[str]
    params: dict[str, str]
    setup_s: float

    def pick(self, choose: str | None) -> opts.Option:
        """The option named by label or key; without one, the cheapest that fits."""
        if choose is None:
            best = [o for o in self.options if "cheapest" in o.marks]
            if not best:
                raise BadInput("no option has a complete cost estimate to choose by; "
                               "accepted: --choose LABEL|KEY (see `cogit-log advise`)")
            return best[0]
        for o in self.options:
            if choose.upper() == o.label or choose == o.key:
                return o
        gpu, precision, count = opts.parse_key(choose, self.situation)
        extra = opts.option(self.situation, gpu, precision, self.setup_s, self.params, count)
        for o in self.options:  # the same configuration under another spelling
            if (o.gpu, o.precision, o.gpus) == (extra.gpu, extra.precision, extra.gpus):
                return o
        self.options.append(extra)
        _label(self.options)
        return extra


def advise(uri: str, campaign: str, gpus: list[str] = (), precisions: list[str] = (),
           setup_min: float = opts.DEFAULT_SETUP_MIN, client=None,
           counts: list[int | str] = (), visible: list[str] | None = None) -> Advice:
    """Every option for `campaign` (label, run id or uid), with each GPU also on each of
    `counts` GPUs. Bad values fail before any work. `visible`: the experiments a web reader
    may read (None: all)."""
    from mlflow.tracking import MlflowClient

    setup_s = opts.check_setup(setup_min)
    for p in precisions:
        s.check_precision(p)
    counts = [scaling.check_gpus(n) for n in counts]
    clients = [client]

    def lazy():  # a client would create a missing sqlite store: made after the first read
        clients[0] = clients[0] or MlflowClient(tracking_uri=uri)
        return clients[0]

    sit = situation(uri, campaign, lazy, visible)
    params = logged_params(sit.campaign, lazy())
    found = [opts.option(sit, g, p, setup_s, params, n)
             for g, p, n in opts.targets(sit, list(gpus), list(precisions), counts)]
    _label(found)
    return Advice(sit, found, _notes(sit, params), params, setup_s)


def _label(found: list[opts.Option]) -> None:
    """A, B, C... in order (1, 2, 3... past 26 options), then mark the cheapest and fastest
    among the options that fit and have an estimate for every phase."""
    for i, o in enumerate(found):
        o.label = chr(ord("A") + i) if len(found) <= 26 else str(i + 1)
        o.marks = []
    complete = [o for o in found if o.fits and not o.unknown and o.time_s is not None]
    priced = [o for o in complete if o.total_usd is not None]
    if priced:
        min(priced, key=lambda o: (o.total_usd, o.time_s)).marks.append("cheapest")
    if complete:
        min(complete, key=lambda o: (o.time_s, o.total_usd or 0)).marks.append("fastest")


def _notes(sit: Situation, params: dict[str, str]) -> list[str]:
    camp = sit.campaign
    mv = scaling.move(camp, sit.gpu, None, params)
    state = "running" if sit.running else f"ended ({camp.status})"
    return [f"{camp.label}: {camp.attr('model')} {sit.precision} on {sit.gpu}, {state}; "
            f"spent so far {fmt_value(sit.spent_usd, 'usd')}",
            *(w.basis for w in sit.work if w.state != "done"),
            scaling.source_line(mv), *scaling.RULES]


COLUMNS = [Column("label", ""), Column("title", "option"), Column("fits", "fits"),
           Column("time_s", "time to finish", "seconds"),
           Column("cost_usd", "cost to finish", "usd"),
           Column("total_usd", "total cost", "usd"), Column("peak_gb", "peak GB", "gb"),
           Column("quality", "quality change"), Column("marks", "")]


def as_table(advice: Advice) -> Table:
    rows = []
    for o in advice.options:
        fits = "yes" if o.fits else "NO"
        rows.append({"label": o.label, "title": f"{o.title} [{o.key}]", "fits": fits,
                     "time_s": o.time_s, "cost_usd": o.cost_usd, "total_usd": o.total_usd,
                     "peak_gb": o.peak_gb, "quality": o.quality, "marks": ", ".join(o.marks),
                     "_style": None if o.fits else "red"})
    notes = ["Shared assumptions:"] + [f"  {n}" for n in advice.notes] + ["Each option assumes:"]
    for o in advice.options:
        notes.append(f"{o.label} [{o.key}]: " + "; ".join(o.assumptions)
                     + f"; fit: {o.fit_note}")
    camp = advice.situation.campaign
    return Table(f"Options for {camp.label}", list(COLUMNS), rows, notes,
                 data={"campaign": {"label": camp.label, "uid": camp.uid,
                                    "running": advice.situation.running,
                                    "spent_usd": advice.situation.spent_usd},
                       "options": [{**asdict(o), "time_s": o.time_s} for o in advice.options],
                       "shared_assumptions": advice.notes})
