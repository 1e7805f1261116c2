"""What a measured campaign would take, and cost, on another catalog GPU (or, for a GPU-less
campaign, on its own host at another precision).

The researcher asked "what would Phase 3 cost on an H100?" and answered by hand. Here each
measured phase is classed and scaled by the figure that bounds it (`scaling.py`); cost is
projected time x the target's $/h x the campaign's GPU count (SkyPilot's rule). A
configuration that fails the fit check gets no estimate at all. `--log` keeps the projection
on the campaign run and records it as a prediction (`track.py`), so the campaign that later
runs that configuration shows how far off it was (`cogit-log report --accuracy`).
"""
from __future__ import annotations

import datetime as _dt
from dataclasses import asdict, dataclass

from .. import schema as s
from ..errors import BadInput
from ..reports.model import TOTAL, Campaign, Phase
from ..table import Column, Table
from . import scaling

PROJECTION_DIR = "cogit-projections"
#: Params the phases log that a projection reads: the planner's inputs and the weights' size.
PARAMS = ("quantum_dim", "n_params", "model_source")


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
    predicted_peak_gb: float | None = None


def project(campaign: Campaign, to: str, precision: str | None = None,
            params: dict[str, str] | None = None, gpus: int | str | None = None) -> dict:
    """The projection as a plain dict (what `--log` stores and `check_against` reads back),
    onto `gpus` of the target (default: as many as the campaign ran on). `params` (the
    phases' logged quantum_dim, n_params, model_source) let the memory planner check the fit
    and the weights' change move the peak."""
    mv = scaling.move(campaign, to, precision, params or {}, gpus)
    phases = [_phase(ph, mv) for ph in campaign.phases]
    all_fit = all(p.fits for p in phases)
    measured_s = sum(p.measured_s for p in phases if p.measured_s is not None)
    total_s = sum(p.projected_s for p in phases if p.projected_s is not None) if all_fit else None
    rate = mv.target.usd_per_hour
    usd = None if total_s is None or rate is None else total_s / 3600 * rate * mv.target_count
    peaks = [p.predicted_peak_gb for p in phases if p.predicted_peak_gb is not None]
    return {
        "kind": "cogit.projection", "version": 1,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "campaign": {"label": campaign.label, "run_id": campaign.run_id, "uid": campaign.uid,
                     "model": campaign.attr("model")},
        "source": {**mv.source.as_dict(), "precision": mv.old_precision, "gpu_count": mv.count},
        "target": {**mv.target.as_dict(), "precision": mv.new_precision,
                   "gpu_count": mv.target_count, "parallel": mv.layout},
        "phases": [asdict(p) for p in phases],
        "total": {"measured_s": measured_s, "projected_s": total_s, "projected_usd": usd,
                  "measured_usd": campaign.totals().cost_usd, "fits": all_fit,
                  "predicted_peak_gb": max(peaks) if peaks and all_fit else None},
        "assumptions": scaling.assumptions(mv),
    }


def _phase(ph: Phase, mv: scaling.Move) -> PhaseProjection:
    bound, reason = scaling.classify(ph, mv.on_cpu)
    plan = scaling.plan_for(mv, ph.name == "train")
    fits, note = scaling.fit(ph, mv, plan)
    factor = scaling.factor(bound, mv)
    t = ph.figures.duration_s
    projected = t * factor if fits and t is not None else None
    rate = mv.target.usd_per_hour
    usd = None if projected is None or rate is None else projected / 3600 * rate * mv.target_count
    return PhaseProjection(ph.name, ph.status_text, bound, reason, t, ph.figures.cost_usd,
                           factor if fits else None, projected, usd, fits, note,
                           scaling.predicted_peak(ph, mv, plan) if fits else None)


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
    title = (f"{doc['campaign']['label']}: {_gpus(src)}{src['key']} {src['precision']} -> "
             f"{_gpus(dst)}{dst['key']} {dst['precision']}")
    notes = ["Assumptions:"] + [f"  {a}" for a in doc["assumptions"]]
    return Table(title, columns, rows, notes,
                 data={k: doc[k] for k in ("campaign", "source", "target", "total",
                                           "assumptions")})


def _gpus(side: dict) -> str:
    """"2 x " before a key when a side has more than one GPU."""
    return f"{side['gpu_count']} x " if side["gpu_count"] > 1 else ""


def log(doc: dict, client) -> str:
    """Store the projection on the campaign run; returns the artifact URI a decision links."""
    t = doc["target"]
    path = f"{PROJECTION_DIR}/{t['key']}-{t['precision']}.json"
    client.log_dict(doc["campaign"]["run_id"], doc, path)
    return f"runs:/{doc['campaign']['run_id']}/{path}"


def logged_params(campaign: Campaign, client) -> dict[str, str]:
    """The `PARAMS` its phases logged (first phase that has each). Params are not part of the
    report's fast query, so they are read here, a few runs only."""
    found: dict[str, str] = {}
    for ph in campaign.phases:
        params = client.get_run(ph.run_id).data.params
        found.update({k: params[k] for k in PARAMS if k in params and k not in found})
    return found


def make_projection(uri: str, campaign: str, to: str, precision: str | None = None,
                    log_it: bool = False, experiments=(), client=None,
                    gpus: int | str | None = None) -> Table:
    """`cogit-log project`: project one campaign (onto `gpus` of the target); with `log_it`,
    store the JSON on its run and record it as a prediction for the track record."""
    from mlflow.tracking import MlflowClient

    from ..reports.model import load
    from . import track

    if precision is not None:
        precision = s.check_precision(precision)
    if gpus is not None:
        gpus = scaling.check_gpus(gpus)
    found = load(uri, experiments or None, [campaign], client=client)
    if len(found) > 1:
        raise BadInput(f"campaign {campaign!r} names {len(found)} runs; accepted: one run id "
                       f"or uid ({', '.join(c.run_id for c in found[:4])})")
    client = client or MlflowClient(tracking_uri=uri)
    doc = project(found[0], to, precision, logged_params(found[0], client), gpus)
    table = as_table(doc)
    if log_it:
        prediction = track.from_projection(doc)  # checked before anything is written
        uri_logged = log(doc, client)
        track.record(client, prediction)
        table.notes.append(f"Projection logged: {uri_logged} (and as a prediction, for "
                           f"`cogit-log report --accuracy`)")
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
