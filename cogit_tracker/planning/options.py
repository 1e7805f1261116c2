"""The options table of the reference log's Decision #002, computed: continue here, move the
remaining phases to another GPU, or change precision, each with the time and cost to finish,
whether it fits, the quality change measured between precisions, and what it assumed.

The log weighed "wait 2 hours, $1.78" against "H100, 5-10 min, ~$0.50" by hand. Here
"continue" comes from the running phase's own ETA (`remaining.py`); every other option scales
the phases it would run (`scaling.py`) and adds the set-up time. A move reruns the phase that
was running (its time so far is lost) and reuses the finished ones, as the log did; a change
of precision reruns every phase, since phase 1's activations come from the model's weights.
An option on N GPUs (`advise --gpus N`, key `NxGPU`) is priced at N x the GPU's rate, its
time scaled by the count as `project --gpus` scales it.
"""
from __future__ import annotations

import re
import statistics
from dataclasses import dataclass, field

from .. import schema as s
from ..errors import check_number
from ..machine import catalog
from ..reports.model import Campaign
from ..table import fmt_value
from . import scaling
from .remaining import Situation, Work

DEFAULT_SETUP_MIN = 5.0   # the log's H100 set-up ("setup: 5 min")


@dataclass
class Option:
    key: str                     # continue | [Nx]GPU | precision | [Nx]GPU/precision
    kind: str                    # continue | move | precision
    title: str
    gpu: str
    precision: str
    gpus: int = 1                # how many of `gpu`, each billed at its rate
    phases: dict[str, float | None] = field(default_factory=dict)  # seconds each, here or there
    setup_s: float = 0.0
    fits: bool = True
    fit_note: str = ""
    run_usd: float | None = None      # the phase runs only, what a validation run will log
    cost_usd: float | None = None     # to finish: the runs and the set-up
    total_usd: float | None = None    # what was spent plus that
    peak_gb: float | None = None
    quality: str = ""
    assumptions: list[str] = field(default_factory=list)
    label: str = ""
    marks: list[str] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)  # phases with no measurement to go by

    @property
    def time_s(self) -> float | None:
        """Time to finish, set-up included; None when it does not fit."""
        if not self.fits:
            return None
        return sum(sec for sec in self.phases.values() if sec is not None) + self.setup_s


#: `2xh100-sxm`: a GPU count before a catalog key.
_COUNT_KEY = re.compile(r"(\d+)x(.+)")


def parse_key(key: str, sit: Situation) -> tuple[str | None, str | None, int | None]:
    """`continue`, a GPU key (`NxGPU` for N of it), a precision or `GPU/precision` -> (GPU or
    None for here, precision or None for as measured, GPU count or None for as it ran);
    anything else is bad input."""
    if key == "continue":
        return None, None, None
    gpu, _, precision = key.partition("/")
    if not precision and s.precision_of(gpu):
        return None, s.check_precision(gpu, "--choose precision"), None
    counted = _COUNT_KEY.fullmatch(gpu)
    count = None
    if counted and gpu not in catalog.load():
        count, gpu = scaling.check_gpus(counted.group(1)), counted.group(2)
    gpu = None if gpu == sit.gpu and count is None else catalog.get(gpu).key
    return gpu, s.check_precision(precision, "--choose precision") if precision else None, count


def targets(sit: Situation, gpus: list[str], precisions: list[str],
            counts: list[int] = ()) -> list[tuple]:
    """(GPU or None, precision or None, GPU count or None) per option: continue; each
    precision here (given, or every one lighter than the campaign's); each GPU at this
    precision (given, or the whole catalog); each GPU at each precision when both were
    given; and each GPU (given, or the catalog) at each count given."""
    here = sit.gpu
    picked = [catalog.get(g).key for g in gpus]
    chosen = [s.check_precision(p) for p in precisions]
    lighter = [p for p, b in s.PRECISION_BYTES.items()
               if b < s.PRECISION_BYTES.get(sit.precision, 0)]
    out = [(None, None, None)]
    out += [(None, p, None) for p in (chosen or lighter) if p != sit.precision]
    out += [(g, None, None) for g in (picked or sorted(catalog.load())) if g != here]
    if picked and chosen:
        out += [(g, p, None) for g in picked for p in chosen
                if g != here and p != sit.precision]
    out += [(g, None, n) for n in counts for g in (picked or sorted(catalog.load()))
            if (g, n) != (here, sit.count)]
    return list(dict.fromkeys(out))


def option(sit: Situation, gpu: str | None, precision: str | None, setup_s: float,
           params: dict[str, str], gpus: int | None = None) -> Option:
    """One option, on `gpus` of the GPU (None: as many as the campaign ran on), with every
    figure and what it assumed."""
    if gpu is None and precision in (None, sit.precision) and gpus in (None, sit.count):
        return _continue(sit)
    here = sit.gpu if gpu is None else gpu
    mv = scaling.move(sit.campaign, here, precision, params, gpus)
    kind = "precision" if mv.new_precision != sit.precision else "move"
    works = sit.work if kind == "precision" else sit.left()
    rate = sit.rate if here == sit.gpu else mv.target.usd_per_hour  # per GPU
    where = f"{mv.target_count}x{here}" if mv.target_count != sit.count else gpu
    key = "/".join(k for k in (where, precision if kind == "precision" else None) if k)
    opt = Option(key, kind, _title(kind, _count_words(mv, here, gpu), mv.new_precision, sit),
                 here, mv.new_precision, gpus=mv.target_count, setup_s=setup_s)
    checked = []
    for w in works:
        sec, fits, note, peak = _scaled(w, mv)
        opt.phases[w.name] = sec
        opt.fits = opt.fits and fits
        if w.record is None or w.full_s is None:
            opt.unknown.append(w.name)
        checked.append((fits, -1.0 if peak is None else peak, f"{w.name}: {note}"))
    opt.fit_note = _binding(checked)
    opt.peak_gb = max((p for _, p, _ in checked if p >= 0), default=None)
    _cost(opt, sit, rate)
    opt.quality = quality(sit, mv.new_precision) if kind == "precision" else \
        "same precision: none expected"
    opt.assumptions = _assumed(opt, sit, mv, rate)
    return opt


def _scaled(w: Work, mv: scaling.Move) -> tuple[float | None, bool, str, float | None]:
    """(seconds, fits, fit note, predicted peak) of one phase after the move."""
    if w.record is None:
        return None, True, "not measured anywhere: no estimate, fit not checked", None
    plan = scaling.plan_for(mv, w.name == "train")
    fits, note = scaling.fit(w.record, mv, plan)
    bound, _ = scaling.classify(w.record, mv.on_cpu)
    sec = w.full_s * scaling.factor(bound, mv) if fits and w.full_s is not None else None
    peak = scaling.predicted_peak(w.record, mv, plan) if fits else None
    return sec, fits, (note if fits else "NO: " + note), peak


def _binding(checked: list[tuple[bool, float, str]]) -> str:
    """The fit note that decides: every phase that does not fit, else the one that needs the
    most memory."""
    failing = [note for fits, _, note in checked if not fits]
    if failing:
        return "; ".join(failing)
    return max(checked, key=lambda c: c[1])[2] if checked else "nothing left to run"


def _continue(sit: Situation) -> Option:
    ended = not sit.running
    opt = Option("continue", "continue", "run it again here" if ended else "continue here",
                 sit.gpu, sit.precision, gpus=sit.count, fit_note="as measured here")
    for w in sit.left():
        opt.phases[w.name] = w.full_s if ended else w.left_s
        if opt.phases[w.name] is None:
            opt.unknown.append(w.name)
    peaks = [w.record.figures.vram_peak_gb if sit.gpu != s.NO_GPU else
             w.record.figures.ram_peak_gb for w in sit.work if w.record is not None]
    opt.peak_gb = max((p for p in peaks if p is not None), default=None)
    _cost(opt, sit, sit.rate)
    opt.quality = "as measured"
    rate = "no rate recorded: cost unknown" if sit.rate is None else \
        f"${sit.rate:.2f}/h ({sit.rate_source}) x {sit.count} GPU(s)"
    opt.assumptions = [w.basis for w in sit.left() if w.state != "done"] + [rate]
    if ended:
        opt.assumptions.insert(0, "the campaign has ended: every phase runs again as measured")
    return opt


def _count_words(mv: scaling.Move, here: str, gpu: str | None) -> str | None:
    """The GPU as the title names it: `2 x h100-sxm` when the count changes."""
    if mv.target_count != mv.count:
        return f"{mv.target_count} x {here}"
    return gpu


def _cost(opt: Option, sit: Situation, rate: float | None) -> None:
    if rate is None or not opt.fits:
        return
    per_s = rate * opt.gpus / 3600
    opt.run_usd = sum(sec for sec in opt.phases.values() if sec is not None) * per_s
    opt.cost_usd = opt.run_usd + opt.setup_s * per_s
    opt.total_usd = sit.spent_usd + opt.cost_usd


def _title(kind: str, gpu: str | None, precision: str, sit: Situation) -> str:
    if kind == "precision" and gpu is None:
        where = "no GPU" if sit.gpu == s.NO_GPU else sit.gpu
        return f"switch to {precision} here ({where})"
    if kind == "precision" or not sit.running:
        return f"run on {gpu} at {precision}"
    return f"move the remaining phases to {gpu} ({precision})"


def _assumed(opt: Option, sit: Situation, mv: scaling.Move, rate: float | None) -> list[str]:
    out = []
    running = [w for w in sit.work if w.state == "running"]
    if opt.kind == "precision":
        out.append("every phase reruns: phase 1's activations come from the model's weights")
    elif sit.running:
        done = [w.name for w in sit.work if w.state == "done"]
        out.append(f"finished phases ({', '.join(done) or 'none'}) are reused, their outputs "
                   f"loaded by cogit.uid")
        out += [f"{w.name} restarts from its beginning: its "
                f"{fmt_value(w.elapsed_s, 'seconds')} here are lost" for w in running]
    else:
        out.append("the campaign has ended: every phase runs again")
    out.append(scaling.factor_line(mv))
    out.append(scaling.gpus_line(mv))
    money = "no rate known: cost not projected" if rate is None else f"${rate:.2f}/h"
    out.append(f"set-up {opt.setup_s / 60:g} min (--setup-min), billed at {money} x "
               f"{opt.gpus} GPU(s)")
    if opt.unknown:
        out.append(f"not counted (no measurement): {', '.join(opt.unknown)}")
    return out


def quality(sit: Situation, precision: str) -> str:
    """The quality change measured between the campaign's precision and `precision`: medians
    of its headline metrics over FINISHED campaigns of the same experiment and model, at
    each precision."""
    camp = sit.campaign
    peers = [c for c in sit.campaigns if c.status == "FINISHED"
             and c.experiment == camp.experiment and c.attr("model") == camp.attr("model")]
    at = {p: [c for c in peers if scaling.measured_precision(c) == p]
          for p in (sit.precision, precision)}
    if not at[sit.precision] or not at[precision]:
        missing = precision if not at[precision] else sit.precision
        return f"not measured: no finished campaign of this model at {missing}"
    parts = []
    for metric in camp.headline.names:
        before = _median(at[sit.precision], metric)
        after = _median(at[precision], metric)
        if before is not None and after is not None:
            parts.append(f"{metric} {before:.3f} -> {after:.3f} ({after - before:+.3f})")
    counts = f"{len(at[sit.precision])} vs {len(at[precision])} campaign(s)"
    return (", ".join(parts) + f"; {counts}") if parts else f"no quality metric logged; {counts}"


def _median(campaigns: list[Campaign], metric: str) -> float | None:
    values = []
    for camp in campaigns:
        found = [p.figures.get(metric) for p in camp.phases
                 if p.figures.get(metric) is not None]
        if found:
            values.append(found[-1])
    return statistics.median(values) if values else None


def check_setup(setup_min: float) -> float:
    return 60 * check_number("--setup-min", setup_min, 0, "minutes >= 0 (the time to set "
                             "up the new machine or precision, billed at its rate)",
                             low_included=True)
