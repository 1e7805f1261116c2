"""A Captain's Log entry drafted from `advise`: the problem, every option with its figures, the
chosen one, and validation criteria derived from its projection, so that the run which follows
the decision can hold it to account (`decision verify`).

The reference log's Decision #002 promised "H100 Phase 3 completes in <15 min" and "Total cost
< $1.00" and nobody checked. Here each phase the chosen option runs gets a duration criterion,
and its runs together a cost criterion, restricted (`where`) to the configuration chosen, so
that the campaign which was abandoned does not count: e.g.
`phase[intervene].duration_s < 900 where gpu.key = h100-sxm and precision = fp16`.
"""
from __future__ import annotations

import math
from typing import Callable

from ..planning import track
from ..planning.advise import Advice, advise
from ..planning.options import DEFAULT_SETUP_MIN, Option
from ..table import fmt_value
from .compose import now_utc
from .model import Criterion, Decision
from .model import Option as Choice
from .verify import literal

#: Each limit is this multiple of the projection: the slack the reference log's own criterion
#: allowed ("<15 min" for an estimate of 5-10 min).
MARGIN = 1.5


def round_up(value: float, digits: int = 3) -> float:
    """`value` rounded up to `digits` significant digits, so a limit never falls below it."""
    if value <= 0:
        return 0.0
    scale = 10 ** (digits - 1 - math.floor(math.log10(value)))
    return math.ceil(value * scale - 1e-9) / scale


def scope(advice: Advice, opt: Option) -> str:
    """The `where` clause that selects the runs of the chosen configuration: the campaign
    itself when continuing, else the GPU and precision chosen."""
    if opt.kind == "continue":
        label = literal(advice.situation.campaign.label)
        return f" where campaign = {label}" if label else ""
    return f" where gpu.key = {opt.gpu} and precision = {opt.precision}"


def criteria(advice: Advice, opt: Option) -> list[Criterion]:
    """One duration criterion per phase the option runs (its whole run: a running phase
    continued here is judged on elapsed + ETA), one cost criterion for them all."""
    where = scope(advice, opt)
    whole = {w.name: w.full_s for w in advice.situation.work}
    found = []
    for name, sec in opt.phases.items():
        if opt.kind == "continue":
            sec = whole.get(name)
        if sec is None:
            continue
        limit = round_up(max(sec, 1.0) * MARGIN)
        expr = f"phase[{literal(name) or name}].duration_s < {limit:g}{where}"
        found.append(Criterion(f"{name} completes in under {fmt_value(limit, 'seconds')} "
                               f"(projected {fmt_value(sec, 'seconds')})", expr))
    usd = opt.total_usd if opt.kind == "continue" else opt.run_usd
    if usd:
        limit = round_up(usd * MARGIN)
        what = "the campaign costs" if opt.kind == "continue" else "its runs cost"
        found.append(Criterion(f"{what} under {fmt_value(limit, 'usd')} (projected "
                               f"{fmt_value(usd, 'usd')})", f"sum(cost_usd) < {limit:g}{where}"))
    return found


def _or(value: float | None, kind: str) -> str:
    """A figure as the tables show it, or `unknown`."""
    return fmt_value(value, kind) or "unknown"


def _choice(o: Option) -> Choice:
    pros = [f"the {mark} option that fits" for mark in o.marks]
    cons = [] if o.fits else [f"does not fit: {o.fit_note}"]
    cons += [f"no estimate for {', '.join(o.unknown)}"] if o.unknown else []
    other = [f"time to finish {_or(o.time_s, 'seconds')}, cost to finish "
             f"{_or(o.cost_usd, 'usd')} ({_or(o.total_usd, 'usd')} in all)",
             f"fit: {o.fit_note}", f"quality: {o.quality}",
             "assumes: " + "; ".join(o.assumptions)]
    return Choice(o.label, f"{o.title} [{o.key}]", pros, cons, other)


def _tradeoffs(advice: Advice, o: Option) -> list[str]:
    """What the chosen option gives up: work already done, set-up time, measured quality,
    phases it could not estimate."""
    if o.kind == "continue":
        return ["none beyond the time and cost to finish here"]
    out = []
    if advice.situation.running:
        out += [f"{w.name}'s {fmt_value(w.elapsed_s, 'seconds')} here is abandoned: it "
                f"restarts" for w in advice.situation.work if w.state == "running"]
    if o.setup_s:
        out.append(f"{fmt_value(o.setup_s, 'seconds')} of set-up, billed")
    if o.kind == "precision":
        out.append(f"quality at {o.precision}: {o.quality}")
    if o.unknown:
        out.append(f"no estimate for {', '.join(o.unknown)}: not in the figures")
    return out or ["none found in the figures"]


def _reasoning(advice: Advice, chosen: Option, given: bool) -> str:
    here = advice.options[0]
    why = (f"Chosen with --choose {chosen.key}." if given else
           "The lowest projected total cost among the options that fit.")
    lines = [f"1. {why}"]
    if chosen is not here and chosen.time_s is not None and here.time_s:
        lines.append(f"2. Time to finish {fmt_value(chosen.time_s, 'seconds')} against "
                     f"{fmt_value(here.time_s, 'seconds')} continuing; total cost "
                     f"{_or(chosen.total_usd, 'usd')} against {_or(here.total_usd, 'usd')}.")
    return "\n".join(lines)


def draft(advice: Advice, choose: str | None = None) -> tuple[Decision, Option]:
    """The decision record, chosen option and criteria included (not yet stored)."""
    sit, chosen = advice.situation, advice.pick(choose)
    here = advice.options[0]
    camp = sit.campaign
    date, time = now_utc()
    doing = f"Finishing {camp.label} here takes" if sit.running else \
        f"Running {camp.label} again here takes"
    problem = (f"{doing} {_or(here.time_s, 'seconds')} and {_or(here.cost_usd, 'usd')} "
               f"({_or(here.total_usd, 'usd')} with what was spent). Would another GPU or "
               f"precision be faster or cheaper?")
    d = Decision(
        title=f"{camp.label}: {chosen.title}", date=date, time=time,
        context=f"{advice.notes[0]} (drafted from `cogit-log advise {camp.label}`)",
        problem=problem,
        analysis="Shared assumptions:\n\n" + "\n".join(f"- {n}" for n in advice.notes[1:]),
        options=[_choice(o) for o in advice.options], chosen=chosen.label,
        reasoning=_reasoning(advice, chosen, choose is not None),
        tradeoffs="\n".join(f"- {t}" for t in _tradeoffs(advice, chosen)),
        criteria_note=(f"Derived from the projection of option {chosen.label}: each limit is "
                       f"{MARGIN:g}x the projected figure. Link the run(s) that carry the "
                       f"decision out as validation, then `cogit-log decision verify`."),
        criteria=criteria(advice, chosen), status="accepted")
    return d, chosen


def prediction(advice: Advice, opt: Option) -> track.Prediction | None:
    """The chosen option as a prediction for the track record; None for continuing (nothing
    new is predicted about another configuration)."""
    if opt.kind == "continue":
        return None
    camp = advice.situation.campaign
    known = {k: v for k, v in opt.phases.items() if v is not None}
    return track.Prediction("advice", camp.attr("model") or "", opt.precision, opt.gpu,
                            list(known), sum(known.values()) if known else None,
                            opt.run_usd, opt.peak_gb, camp.label,
                            {"option": {k: getattr(opt, k) for k in ("key", "title", "phases",
                                                                     "assumptions")}})


def decide(uri: str, campaign: str, choose: str | None = None,
           setup_min: float = DEFAULT_SETUP_MIN, links: list[tuple[str, str]] = (),
           edit: Callable[[Decision], Decision] | None = None,
           visible: list[str] | None = None) -> Decision:
    """`decision new --from-advice`: draft from the options, let `edit` change the draft (the
    CLI opens it in $EDITOR), store it linked to the campaign as context, and record the chosen
    option as a prediction for `report --accuracy`. `visible`: the experiments a web reader
    may read, outside which the campaign is unknown (None: all)."""
    from .store import DecisionLog

    advice = advise(uri, campaign, setup_min=setup_min, visible=visible)
    d, chosen = draft(advice, choose)
    predicted = prediction(advice, chosen)  # checked before anything is written
    if edit is not None:
        d = edit(d)
    log = DecisionLog(uri)
    # by run id: the advised run itself, whatever other run copies its uid
    d = log.create(d, [(advice.situation.campaign.run_id, "context"), *links])
    if predicted is not None:
        predicted.doc["decision"] = d.number
        track.record(log.client, predicted)
    return d
