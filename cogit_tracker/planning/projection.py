"""What a measured campaign would take, and cost, on another catalog GPU.

The researcher asked "what would Phase 3 cost on an H100?" and answered by hand. Here each
measured phase is classed from its own figures, then scaled by the one catalog figure that
bounds it:

- host-bound: VRAM peak under HOST_VRAM_GB (or none logged): the phase barely used the GPU
  (CPU scoring, data preparation), so a faster GPU does not change its time.
- memory-bound: the phase logged `tokens_per_s`, i.e. autoregressive generation. Each new
  token reads every weight once: about 1 FLOP per byte at batch 1, far below the
  FLOP-per-byte ridge (dense TFLOPS / bandwidth, ~100-300) of every catalog GPU. Time scales by
  source bandwidth / target bandwidth, and by the bytes per weight when `--precision` changes.
- compute-bound: everything else (batched forward and backward passes over prompts): time
  scales by source dense FP16 TFLOPS / target dense FP16 TFLOPS.

Cost is projected time x the target's catalog $/h x the campaign's GPU count (SkyPilot's
rule). A configuration that fails the fit check gets no estimate at all.
"""
from __future__ import annotations

import datetime as _dt
from dataclasses import asdict, dataclass

from .. import schema as s
from ..errors import BadInput
from ..machine import catalog
from ..machine.catalog import GpuSpec
from ..reports.model import TOTAL, Campaign, Phase
from ..table import Column, Table
from . import memory

HOST_VRAM_GB = 1.0
PROJECTION_DIR = "cogit-projections"


@dataclass
class PhaseProjection:
    phase: str
    status: str
    bound: str             # compute | memory | host
    reason: str
    measured_s: float | None
    measured_usd: float | None
    factor: float | None   # projected time / measured time
    projected_s: float | None
    projected_usd: float | None
    fits: bool
    fit_note: str


def host_spec(campaign: Campaign) -> GpuSpec:
    """A GPU-less source, from the host speed the campaign measured at its start
    (`hardware.host_speed`): its float32 matmul rate stands where a GPU's TFLOPS would."""
    gflops = campaign.attrs.get(s.CPU_GFLOPS)
    bandwidth = campaign.attrs.get(s.CPU_BANDWIDTH_GBS)
    if not gflops or not bandwidth:
        raise BadInput(f"campaign {campaign.label!r} ran without a GPU and recorded no host "
                       f"speed ({s.CPU_GFLOPS}); accepted: a campaign measured on a catalog "
                       f"GPU, or a CPU campaign recorded by this version")
    name = campaign.attrs.get(s.CPU_MODEL) or "CPU"
    return GpuSpec("cpu", name, 0.0, float(bandwidth), float(gflops) / 1000, None)


def planner_fit(model: str | None, quantum_dim: int | None, precision: str | None,
                training: bool, target: GpuSpec) -> tuple[bool, str] | None:
    """The memory planner's verdict for this model, operators and precision on the target;
    None when the run did not record what the planner needs (model name, quantum_dim)."""
    if not model or not quantum_dim or not precision:
        return None
    try:
        plan = memory.plan(model=model, precision=precision, quantum_dim=quantum_dim,
                           training=training)
    except BadInput:  # e.g. a model the planner does not know and no local config.json
        return None
    fit = memory.gpu_fit(plan, target)
    need, have = plan.total_bytes / s.GB, target.vram_gb
    if fit.fits:
        return True, f"plan {need:.1f} of {have:g} GB"
    if fit.fits_placed:
        return True, f"plan {need:.1f} > {have:g} GB; fits with operators on CPU"
    return False, f"plan needs {fit.gpu_bytes_placed / s.GB:.1f} > {have:g} GB"


def fit_check(phase: Phase, target: GpuSpec, gpu_count: int, ratio: float,
              planned: tuple[bool, str] | None, on_cpu: bool = False) -> tuple[bool, str]:
    """The planner's verdict first; then the measured VRAM peak (for a CPU run, its RAM
    peak: an upper bound, it includes the interpreter), scaled by the bytes-per-weight ratio
    when the precision changes (conservative: activations do not shrink with the weights),
    must fit in the target's VRAM x GPU count."""
    notes = []
    if planned is not None:
        ok, note = planned
        if not ok:
            return False, note
        notes.append(note)
    peak = phase.figures.ram_peak_gb if on_cpu else phase.figures.vram_peak_gb
    have = target.vram_gb * gpu_count
    if peak is None:
        notes.append("no VRAM peak logged")
    elif peak * ratio > have:
        return False, f"measured peak x{ratio:g} needs ~{peak * ratio:.1f} GB > {have:g} GB"
    else:
        notes.append(f"measured ~{peak * ratio:.1f} of {have:g} GB")
    return True, "; ".join(notes)


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


def project(campaign: Campaign, to: str, precision: str | None = None,
            quantum_dim: int | None = None) -> dict:
    """The projection as a plain dict (what `--log` stores and `check_against` reads back).
    `quantum_dim` (the phases' logged param) lets the memory planner check the fit."""
    src_key = campaign.attr("gpu.key")
    on_cpu = not src_key or src_key == "none"
    source = host_spec(campaign) if on_cpu else catalog.get(src_key)
    target = catalog.get(to)
    # What the weights really were after loading beats what was asked for (the reference
    # log's "FP16" run had float32 weights).
    loaded = next((p.attrs[s.DTYPE_LOADED] for p in campaign.phases
                   if s.DTYPE_LOADED in p.attrs), None)
    raw = loaded or campaign.attr("precision")
    measured_prec = s.precision_of(raw) or raw
    precision = s.check_precision(precision) if precision is not None else measured_prec
    old_b, new_b = s.PRECISION_BYTES.get(measured_prec), s.PRECISION_BYTES.get(precision)
    w_ratio = new_b / old_b if old_b and new_b else 1.0
    count = max(int(campaign.attr("gpu.count") or 1), 1)  # a CPU run projects onto one GPU
    model = campaign.attr("model")
    phases = [_phase(ph, source, target, count, w_ratio,
                     planner_fit(model, quantum_dim, precision, ph.name == "train", target),
                     on_cpu)
              for ph in campaign.phases]
    all_fit = all(p.fits for p in phases)
    measured_s = sum(p.measured_s for p in phases if p.measured_s is not None)
    total_s = sum(p.projected_s for p in phases if p.projected_s is not None) if all_fit else None
    usd = None if total_s is None or target.usd_per_hour is None \
        else total_s / 3600 * target.usd_per_hour * count
    return {
        "kind": "cogit.projection", "version": 1,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "campaign": {"label": campaign.label, "run_id": campaign.run_id, "uid": campaign.uid},
        "source": {**source.as_dict(), "precision": measured_prec, "gpu_count": count},
        "target": {**target.as_dict(), "precision": precision, "gpu_count": count},
        "phases": [asdict(p) for p in phases],
        "total": {"measured_s": measured_s, "projected_s": total_s, "projected_usd": usd,
                  "measured_usd": campaign.totals().cost_usd, "fits": all_fit},
        "assumptions": assumptions(source, target, measured_prec, precision, w_ratio, count),
    }


def _phase(ph: Phase, source: GpuSpec, target: GpuSpec, count: int, w_ratio: float,
           planned: tuple[bool, str] | None, on_cpu: bool = False) -> PhaseProjection:
    bound, reason = classify(ph, on_cpu)
    fits, note = fit_check(ph, target, count, w_ratio, planned, on_cpu)
    factor = {"host": 1.0,
              "memory": source.bandwidth_gbs / target.bandwidth_gbs * w_ratio,
              "compute": source.fp16_tflops / target.fp16_tflops}[bound]
    t = ph.figures.duration_s
    projected = t * factor if fits and t is not None else None
    usd = None if projected is None or target.usd_per_hour is None \
        else projected / 3600 * target.usd_per_hour * count
    return PhaseProjection(ph.name, ph.status_text, bound, reason, t, ph.figures.cost_usd,
                           factor if fits else None, projected, usd, fits, note)


def assumptions(source: GpuSpec, target: GpuSpec, old_p, new_p, w_ratio: float, count: int
                ) -> list[str]:
    rate = "no catalog rate, cost not projected" if target.usd_per_hour is None \
        else f"${target.usd_per_hour:.2f}/h x {count} GPU(s)"
    src = (f"source cpu ({source.name}): {source.fp16_tflops * 1000:g} GFLOPS float32 matmul "
           f"and {source.bandwidth_gbs:g} GB/s copy, measured at campaign start; every phase "
           f"moves to the GPU; peak-rate ratios ignore fixed costs (Python, kernel launches, "
           f"transfers), so for small models the projection is a lower bound"
           if source.key == "cpu" else
           f"source {source.key}: {source.fp16_tflops:g} dense FP16 TFLOPS, "
           f"{source.bandwidth_gbs:g} GB/s, {source.vram_gb:g} GB")
    return [
        src,
        f"target {target.key}: {target.fp16_tflops:g} dense FP16 TFLOPS, "
        f"{target.bandwidth_gbs:g} GB/s, {target.vram_gb:g} GB, {rate}",
        f"compute-bound x{source.fp16_tflops / target.fp16_tflops:.3g} (TFLOPS ratio); "
        f"memory-bound x{source.bandwidth_gbs / target.bandwidth_gbs * w_ratio:.3g} "
        f"(bandwidth ratio x bytes/weight {old_p}->{new_p} = {w_ratio:g}); host-bound x1",
        f"host-bound: VRAM peak < {HOST_VRAM_GB:g} GB; memory-bound: logged tokens_per_s; "
        f"else compute-bound",
        "same batch sizes, code and GPU count; both GPUs reach the same fraction of their peak",
        "compute-bound phases run at the FP16 tensor rate whatever the precision "
        "(int8/int4 weights are dequantized to FP16 for the matmul)",
        "fit: the memory planner (model, quantum_dim, precision; the train phase with "
        "gradients and Adam) when the run recorded them, and the measured VRAM peak x "
        "bytes/weight ratio <= target VRAM x GPU count",
    ]


def as_table(doc: dict) -> Table:
    rows = [{"phase": p["phase"], "status": p["status"], "bound": p["bound"],
             "reason": p["reason"], "fit": p["fit_note"] if p["fits"] else "NO: " + p["fit_note"],
             "measured_s": p["measured_s"], "factor": p["factor"],
             "projected_s": p["projected_s"], "measured_usd": p["measured_usd"],
             "projected_usd": p["projected_usd"]} for p in doc["phases"]]
    tot = doc["total"]
    rows.append({"phase": TOTAL, "status": "", "bound": "", "reason": "",
                 "fit": "fits" if tot["fits"] else "DOES NOT FIT: no estimate",
                 "measured_s": tot["measured_s"], "projected_s": tot["projected_s"],
                 "factor": (tot["projected_s"] / tot["measured_s"]
                            if tot["projected_s"] is not None and tot["measured_s"] else None),
                 "measured_usd": tot["measured_usd"], "projected_usd": tot["projected_usd"],
                 "_section_end": True})
    columns = [Column("phase", "phase"), Column("status", "status"), Column("bound", "bound"),
               Column("reason", "why"), Column("fit", "fit"),
               Column("measured_s", "measured", "seconds"), Column("factor", "x", "ratio"),
               Column("projected_s", "projected", "seconds"),
               Column("measured_usd", "measured $", "usd"),
               Column("projected_usd", "projected $", "usd")]
    src, dst = doc["source"], doc["target"]
    title = (f"{doc['campaign']['label']}: {src['key']} {src['precision']} -> "
             f"{dst['key']} {dst['precision']}")
    notes = ["Assumptions:"] + [f"  {a}" for a in doc["assumptions"]]
    return Table(title, columns, rows, notes,
                 data={k: doc[k] for k in ("campaign", "source", "target", "total",
                                           "assumptions")})


def log(doc: dict, client) -> str:
    """Store the projection on the campaign run; returns the artifact URI a decision links."""
    t = doc["target"]
    path = f"{PROJECTION_DIR}/{t['key']}-{t['precision']}.json"
    client.log_dict(doc["campaign"]["run_id"], doc, path)
    return f"runs:/{doc['campaign']['run_id']}/{path}"


def _quantum_dim(campaign: Campaign, uri: str, client=None) -> int | None:
    """The operators' dimension as a phase logged it (param `quantum_dim`), if any. Params
    are not part of the report's fast query, so they are read here, a few runs only."""
    from mlflow.tracking import MlflowClient

    client = client or MlflowClient(tracking_uri=uri)
    for ph in campaign.phases:
        value = client.get_run(ph.run_id).data.params.get("quantum_dim")
        if value and value.isdigit():
            return int(value)
    return None


def make_projection(uri: str, campaign: str, to: str, precision: str | None = None,
                    log_it: bool = False, experiments=(), client=None) -> Table:
    """`cogit-log project`: project one campaign; with `log_it`, store the JSON on its run."""
    from ..reports.model import load

    if precision is not None:
        precision = s.check_precision(precision)
    found = load(uri, experiments or None, [campaign], client=client)
    if len(found) > 1:
        raise BadInput(f"campaign {campaign!r} names {len(found)} runs; accepted: one run id "
                       f"or uid ({', '.join(c.run_id for c in found[:4])})")
    doc = project(found[0], to, precision, _quantum_dim(found[0], uri, client))
    table = as_table(doc)
    if log_it:
        from mlflow.tracking import MlflowClient

        uri_logged = log(doc, client or MlflowClient(tracking_uri=uri))
        table.notes.append(f"Projection logged: {uri_logged}")
        table.data["artifact"] = uri_logged
    return table


def check_against(doc: dict, actual: Campaign, tolerance: float = 0.25) -> dict:
    """Hold a stored projection against the real run it predicted (for a decision's
    `verify`): per phase, projected and actual seconds and the relative error; `ok` when the
    projected total is within `tolerance` of the actual total."""
    measured = {p.name: p.figures.duration_s for p in actual.phases}
    phases = []
    for p in doc["phases"]:
        real = measured.get(p["phase"])
        err = (p["projected_s"] - real) / real if real and p["projected_s"] is not None else None
        phases.append({"phase": p["phase"], "projected_s": p["projected_s"],
                       "actual_s": real, "error": err})
    total_real = actual.totals().duration_s
    total_proj = doc["total"]["projected_s"]
    err = (total_proj - total_real) / total_real if total_real and total_proj else None
    return {"campaign": actual.label, "target": doc["target"]["key"], "phases": phases,
            "total": {"projected_s": total_proj, "actual_s": total_real, "error": err},
            "tolerance": tolerance, "ok": err is not None and abs(err) <= tolerance}
