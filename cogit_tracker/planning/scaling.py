"""How a measured phase's time, memory and fit carry over to another GPU or precision: the
physics under `project` (one campaign onto one GPU) and `advise` (every option at once).

Each measured phase is classed from its own figures, then scaled by the one figure that bounds
it:

- host-bound: VRAM peak under HOST_VRAM_GB (or none logged): the phase barely used the GPU
  (CPU scoring, data preparation), so a faster GPU does not change its time.
- memory-bound: the phase logged `tokens_per_s`, i.e. autoregressive generation. Each new
  token reads every weight once: about 1 FLOP per byte at batch 1, far below the
  FLOP-per-byte ridge (dense TFLOPS / bandwidth, ~100-300) of every catalog GPU. Time scales by
  source bandwidth / target bandwidth, and by the bytes per weight when the precision changes.
- compute-bound: everything else (batched forward and backward passes over prompts): time
  scales by source dense FP16 TFLOPS / target dense FP16 TFLOPS.

A GPU-less campaign is scaled from the host speed it measured at its start; it can also be
"moved" onto its own host (`none`) at another precision, which is how CPU-only machines get
checkable predictions.

Onto another number of GPUs (`--gpus N`), each in the layout the memory planner picks for the
model (`parallel.py`): compute- and memory-bound time scale with the count ratio, linearly,
which is an upper bound on the speed-up (the all-reduces of tensor parallel are not counted);
under pipeline parallel not at all, since one batch passes the stages in turn (GPipe's
micro-batching recovers part of it, Huang et al. 2019; not modelled). Host-bound phases are
unchanged.
"""
from __future__ import annotations

from dataclasses import dataclass

from .. import schema as s
from ..errors import BadInput
from ..machine import catalog
from ..machine.catalog import GpuSpec
from ..reports.model import Campaign, Phase
from . import memory, parallel
from .architectures import resolve_model
from .inputs import parse_positive_int

HOST_VRAM_GB = 1.0


@dataclass(frozen=True)
class Move:
    """From where a campaign ran to where it would run, and what the planner needs."""

    source: GpuSpec
    target: GpuSpec
    old_precision: str
    new_precision: str
    count: int                   # GPUs it ran on (a CPU run counts as one)
    model: str | None            # what the planner reads: the logged model source, else name
    quantum_dim: int | None
    n_params: int | None
    target_count: int = 1        # GPUs it would run on
    layout: str = "single"       # how the planner splits the model over them (parallel.py)

    @property
    def on_cpu(self) -> bool:
        return self.source.key == s.NO_GPU

    @property
    def to_host(self) -> bool:
        return self.target.key == s.NO_GPU

    @property
    def w_ratio(self) -> float:
        old = s.PRECISION_BYTES.get(self.old_precision)
        new = s.PRECISION_BYTES.get(self.new_precision)
        return new / old if old and new else 1.0


def measured_precision(campaign: Campaign) -> str:
    """What the weights really were after loading beats what was asked for (the reference
    log's "FP16" run had float32 weights)."""
    loaded = next((p.attrs[s.DTYPE_LOADED] for p in campaign.phases
                   if s.DTYPE_LOADED in p.attrs), None)
    raw = loaded or campaign.attr("precision") or "fp32"
    return s.precision_of(raw) or raw


def host_spec(campaign: Campaign) -> GpuSpec:
    """A GPU-less campaign's host, from the speed it measured at its start
    (`hardware.host_speed`): its float32 matmul rate stands where a GPU's TFLOPS would, its
    RAM where the VRAM would, and the rate it paid where the catalog price would."""
    attrs = {**{k: v for p in campaign.phases for k, v in p.attrs.items()}, **campaign.attrs}
    gflops, bandwidth = attrs.get(s.CPU_GFLOPS), attrs.get(s.CPU_BANDWIDTH_GBS)
    if not gflops or not bandwidth:
        raise BadInput(f"campaign {campaign.label!r} ran without a GPU and recorded no host "
                       f"speed ({s.CPU_GFLOPS}); accepted: a campaign measured on a catalog "
                       f"GPU, or a CPU campaign recorded by this version")
    rate = attrs.get(s.USD_PER_HOUR)
    return GpuSpec(s.NO_GPU, attrs.get(s.CPU_MODEL) or "CPU", float(attrs.get(s.RAM_TOTAL_GB) or 0),
                   float(bandwidth), float(gflops) / 1000, float(rate) if rate else None)


def source_spec(campaign: Campaign) -> GpuSpec:
    key = campaign.attr("gpu.key")
    return host_spec(campaign) if not key or key == s.NO_GPU else catalog.get(key)


def target_spec(campaign: Campaign, to: str) -> GpuSpec:
    """A catalog GPU, or `none`: the GPU-less campaign's own host."""
    if to != s.NO_GPU:
        return catalog.get(to)
    source = source_spec(campaign)
    if source.key != s.NO_GPU:
        raise BadInput(f"--to {to!r}: only a campaign that ran without a GPU projects onto its "
                       f"own host; accepted: a catalog GPU key ({source.key}, ...)")
    return source


def move(campaign: Campaign, to: str, precision: str | None, params: dict[str, str],
         gpus: int | str | None = None) -> Move:
    """The move of `campaign` to GPU `to` (or `none`) at `precision` (default: as measured)
    on `gpus` of them (default: as many as it ran on); `params` are the phases' logged params
    (quantum_dim, n_params, model_source)."""
    old = measured_precision(campaign)
    new = s.check_precision(precision) if precision is not None else old
    count = max(int(campaign.attr("gpu.count") or 1), 1)
    target_count = count if gpus is None else check_gpus(gpus)
    target = target_spec(campaign, to)
    if target.key == s.NO_GPU and target_count != 1:
        raise BadInput(f"--gpus {target_count} with --to {to}: a host is one machine; "
                       f"accepted: --gpus with a catalog GPU key")
    number = lambda key: int(params[key]) if params.get(key, "").isdigit() else None  # noqa: E731
    model = params.get("model_source") or campaign.attr("model")
    return Move(source_spec(campaign), target, old, new, count, model,
                number("quantum_dim"), number("n_params"), target_count,
                layout_of(model, target_count))


def check_gpus(gpus: int | str) -> int:
    """A GPU count to project onto, refused in one line like every planner count."""
    return parse_positive_int("gpus", gpus)


def layout_of(model: str | None, gpus: int) -> str:
    """The planner's layout for `model` on `gpus` GPUs; `even` when it cannot read the model
    (or cannot split it that way), where the count ratio is all there is to go by."""
    try:
        return parallel.layout(resolve_model(model) if model else None, gpus).mode
    except BadInput:
        return "even"


def classify(phase: Phase, on_cpu: bool = False) -> tuple[str, str]:
    f = phase.figures
    if on_cpu:  # all of a CPU run's work would move to the GPU
        if f.tokens_per_s is not None:
            return "memory", f"generation at {f.tokens_per_s:.1f} tok/s on the CPU"
        return "compute", "ran on the CPU (no tokens/s logged)"
    if f.vram_peak_gb is None or f.vram_peak_gb < HOST_VRAM_GB:
        shown = "none" if f.vram_peak_gb is None else f"{f.vram_peak_gb:.1f} GB"
        return "host", f"VRAM peak {shown} < {HOST_VRAM_GB:g} GB"
    if f.tokens_per_s is not None:
        return "memory", f"generation at {f.tokens_per_s:.1f} tok/s"
    return "compute", "batched passes (no tokens/s logged)"


def factor(bound: str, mv: Move) -> float:
    """Projected time / measured time for a phase of this bound."""
    return {"host": 1.0,
            "memory": mv.source.bandwidth_gbs / mv.target.bandwidth_gbs * mv.w_ratio,
            "compute": mv.source.fp16_tflops / mv.target.fp16_tflops}[bound] * \
        gpu_factor(bound, mv)


def gpu_factor(bound: str, mv: Move) -> float:
    """What the change of GPU count does to a phase's time: the count ratio (linear, an upper
    bound on the speed-up), except for host-bound phases and under pipeline parallel, where
    one batch passes the stages in turn."""
    if bound == "host" or mv.layout == "pipeline":
        return 1.0
    return mv.count / mv.target_count


def plan_for(mv: Move, training: bool) -> memory.MemoryPlan | None:
    """The memory planner's plan for this model, operators and precision; None when the run
    did not record what the planner needs, or the target is a host (the planner sizes GPUs)."""
    if mv.to_host or not mv.model or not mv.quantum_dim:
        return None
    try:
        return memory.plan(model=mv.model, precision=mv.new_precision,
                           quantum_dim=mv.quantum_dim, train_operators=training,
                           gpus=mv.target_count)
    except BadInput:  # e.g. a model the planner does not know and no local config.json
        return None


def planner_verdict(plan: memory.MemoryPlan, target: GpuSpec) -> tuple[bool, str]:
    fit = memory.gpu_fit(plan, target)
    need, have = plan.fullest.total_bytes / s.GB, target.vram_gb
    each = f" per GPU ({plan.gpu_count}, {plan.parallel})" if plan.gpu_count > 1 else ""
    if fit.fits:
        return True, f"plan {need:.1f} of {have:g} GB{each}"
    if fit.fits_placed:
        return True, f"plan {need:.1f} > {have:g} GB{each}; fits with operators on CPU"
    return False, f"plan needs {fit.gpu_bytes_placed / s.GB:.1f} > {have:g} GB{each}"


def fit(phase: Phase, mv: Move, plan: memory.MemoryPlan | None) -> tuple[bool, str]:
    """The planner's verdict first; then the measured peak (VRAM, one GPU's: the largest over
    a job's ranks; for a CPU run its RAM peak, an upper bound that includes the interpreter),
    scaled by the bytes-per-weight ratio when the precision changes (conservative:
    activations do not shrink with the weights) and by source / target GPUs when the count
    changes (an even split), must fit in one target GPU's memory (a host's RAM)."""
    notes = []
    if plan is not None:
        ok, note = planner_verdict(plan, mv.target)
        if not ok:
            return False, note
        notes.append(note)
    peak = phase.figures.ram_peak_gb if mv.on_cpu else phase.figures.vram_peak_gb
    have, ratio = mv.target.vram_gb, mv.w_ratio * mv.count / mv.target_count
    unit = "GB RAM" if mv.to_host else "GB"
    if peak is None:
        notes.append("no peak logged")
    elif peak * ratio > have:
        return False, f"measured peak x{ratio:g} needs ~{peak * ratio:.1f} {unit} > {have:g} GB"
    else:
        notes.append(f"measured ~{peak * ratio:.1f} of {have:g} {unit}")
    return True, "; ".join(notes)


def predicted_peak(phase: Phase, mv: Move, plan: memory.MemoryPlan | None) -> float | None:
    """The peak this phase should reach after the move, GB, on one GPU: on the same kind of
    device, the measured peak changed by the weights' change (n_params x the bytes-per-weight
    difference; x the bytes ratio when n_params was not logged), spread over the target's
    GPUs when the count changes; from a CPU onto a GPU, what the planner puts on the fullest
    GPU once the operators are placed."""
    if mv.on_cpu and not mv.to_host:
        return memory.gpu_fit(plan, mv.target).gpu_bytes_placed / s.GB if plan else None
    peak = phase.figures.ram_peak_gb if mv.on_cpu else phase.figures.vram_peak_gb
    if peak is None:
        return None
    spread = mv.count / mv.target_count
    if mv.n_params is None:
        return peak * mv.w_ratio * spread
    change = mv.n_params * (s.PRECISION_BYTES[mv.new_precision]
                            - s.PRECISION_BYTES.get(mv.old_precision, 0.0))
    return (peak * mv.count + change / s.GB) / mv.target_count


#: How every projection scales and fits, whatever the GPUs.
RULES = [
    f"host-bound: VRAM peak < {HOST_VRAM_GB:g} GB; memory-bound: logged tokens_per_s; "
    f"else compute-bound",
    "same batch sizes and code; both devices reach the same fraction of their peak",
    "compute-bound phases run at the FP16 tensor rate whatever the precision "
    "(int8/int4 weights are dequantized to FP16 for the matmul)",
    "fit: the memory planner (model, quantum_dim, precision; the train phase with gradients "
    "and Adam; each GPU's share of a split) when the run recorded them, and the measured "
    "peak (one GPU's) x bytes/weight ratio x source/target GPUs <= one target GPU's memory",
    "predicted peak: the measured peak plus the weights' change (n_params x bytes/weight "
    "difference) on the same kind of device; from a CPU onto a GPU, the planner's total",
]


def source_line(mv: Move) -> str:
    src = mv.source
    if mv.on_cpu:
        return (f"source cpu ({src.name}): {src.fp16_tflops * 1000:g} GFLOPS float32 matmul "
                f"and {src.bandwidth_gbs:g} GB/s copy, measured at campaign start; peak-rate "
                f"ratios ignore fixed costs (Python, kernel launches, transfers), so for small "
                f"models a projection onto a GPU is a lower bound")
    return (f"source {src.key}: {src.fp16_tflops:g} dense FP16 TFLOPS, "
            f"{src.bandwidth_gbs:g} GB/s, {src.vram_gb:g} GB")


def target_line(mv: Move) -> str:
    dst = mv.target
    rate = "no rate known, cost not projected" if dst.usd_per_hour is None \
        else f"${dst.usd_per_hour:.2f}/h x {mv.target_count} GPU(s)"
    if mv.to_host:
        return f"target: the same host, {rate}"
    return (f"target {dst.key}: {dst.fp16_tflops:g} dense FP16 TFLOPS, "
            f"{dst.bandwidth_gbs:g} GB/s, {dst.vram_gb:g} GB, {rate}")


def factor_line(mv: Move) -> str:
    return (f"compute-bound x{factor('compute', mv):.3g} (TFLOPS ratio); memory-bound "
            f"x{factor('memory', mv):.3g} (bandwidth ratio x bytes/weight "
            f"{mv.old_precision}->{mv.new_precision} = {mv.w_ratio:g}); host-bound x1")


def gpus_line(mv: Move) -> str:
    """What the GPU count does, said whether or not it changes."""
    if mv.target_count == mv.count:
        return f"GPU count unchanged ({mv.count}): time not scaled for it"
    if mv.layout == "pipeline":
        how = ("x1 (pipeline parallel: one batch passes the stages in turn; GPipe's "
               "micro-batching, not modelled, recovers part of it)")
    else:
        known = "layout unknown" if mv.layout == "even" else f"{mv.layout} parallel"
        how = (f"x{mv.count}/{mv.target_count} ({known}): linear, an upper bound on the "
               f"speed-up (communication between GPUs not counted)")
    return (f"{mv.count} -> {mv.target_count} GPUs: compute- and memory-bound phases {how}; "
            f"host-bound x1")


def assumptions(mv: Move) -> list[str]:
    return [source_line(mv), target_line(mv), factor_line(mv), gpus_line(mv), *RULES]
