"""The planner's track record: predictions held against what later happened.

Every plan or projection logged with `--log` (and the chosen option of a decision drafted from
`advise`) becomes a run of kind `prediction` in experiment `cogit-predictions`: the
configuration it predicts (model, precision, GPU key) as tags, the predicted time, cost and
peak memory as metrics, the whole document as `prediction.json`. `report --accuracy` pairs
each with the first campaign whose phases ran that configuration after the prediction was
made, and lists predicted against measured with the error in percent. Nobody checked the
reference log's "5-10 minutes" against the H100 run; this does.

A pair is judged on the phases the prediction covers (a plan covers the whole run), each the
first FINISHED run of that phase in the configuration after the prediction; a campaign in
which one of them has not finished yet does not match (yet).
"""
from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass, field

from .. import schema as s
from ..errors import BadInput
from ..reports.model import Campaign, Phase, load
from ..store import once, query
from ..table import Column, Table


@dataclass
class Prediction:
    """What was predicted for one configuration, and where the prediction came from."""

    source: str                  # plan | projection | advice
    model: str
    precision: str
    gpu_key: str
    phases: list[str]            # the phases it predicts; empty: the whole run (a plan)
    duration_s: float | None
    cost_usd: float | None
    peak_gb: float | None
    campaign: str | None = None  # the campaign it was projected from
    doc: dict = field(default_factory=dict)
    created_ms: int | None = None
    run_id: str | None = None

    def __post_init__(self) -> None:
        if not self.model:
            raise BadInput("a prediction needs the model's name, to be matched to the campaign "
                           "that later runs it; accepted: a plan with --model, or a campaign "
                           "that recorded cogit.model")


def from_projection(doc: dict, source: str = "projection") -> Prediction:
    """A projection document (`projection.project`) as a prediction of its target."""
    tot, target = doc["total"], doc["target"]
    if target["gpu_count"] != doc["source"]["gpu_count"]:
        raise BadInput(f"--log onto {target['gpu_count']} GPUs from "
                       f"{doc['source']['gpu_count']}: the track record matches a prediction "
                       f"by model, precision and GPU, not yet by GPU count; accepted: --log "
                       f"without --gpus")
    phases = [p["phase"] for p in doc["phases"] if p.get("projected_s") is not None]
    return Prediction(source, doc["campaign"].get("model") or "", target["precision"],
                      target["key"], phases, tot["projected_s"], tot["projected_usd"],
                      tot.get("predicted_peak_gb"), doc["campaign"]["label"], doc)


def log_plan(plan, model: str | None, uri: str | None = None) -> str:
    """Record a memory plan for one catalog GPU (`plan --gpu KEY --log`) as a prediction of
    the peak VRAM of a run of `model` (named as the campaign will name it) at its precision;
    returns the prediction's run id."""
    from ..store import uri as store_uri

    if len(plan.gpus) != 1:
        raise BadInput("--log: give one --gpu KEY (a plan is matched to a later campaign on "
                       "that GPU), not --all or none")
    if plan.gpu_count > 1:
        raise BadInput(f"--log with --gpus {plan.gpu_count}: the track record matches a plan "
                       f"to a later campaign by model, precision and GPU, not yet by GPU "
                       f"count; accepted: --log with --gpus 1")
    if not model or plan.arch is None:
        raise BadInput("--log: give --model NAME|DIR as the campaign will name it (a plan "
                       "from --params cannot be matched to a campaign)")
    fit = plan.gpus[0]
    pred = Prediction("plan", model, plan.precision, fit.key, [], None, None,
                      fit.gpu_bytes_placed / s.GB, doc=plan.to_dict())
    return record(store_uri.client(uri), pred)


def record(client, p: Prediction) -> str:
    """Store one prediction as a finished run; returns its run id."""
    exp = client.get_experiment_by_name(s.PREDICTION_EXPERIMENT)
    exp_id = exp.experiment_id if exp else client.create_experiment(s.PREDICTION_EXPERIMENT)
    tags = {s.UID: str(uuid.uuid4()), s.KIND: "prediction", s.PREDICTION_SOURCE: p.source,
            s.MODEL: p.model, s.PRECISION: p.precision, s.GPU_KEY: p.gpu_key,
            s.PREDICTION_PHASES: ",".join(p.phases)}
    if p.campaign:
        tags[s.PREDICTION_CAMPAIGN] = p.campaign
    name = f"{p.source}: {p.model} {p.precision} on {p.gpu_key}"
    run = once.create_run(client, exp_id, tags[s.UID], tags, run_name=name)   # never twice
    metrics = {s.PREDICTED_DURATION_S: p.duration_s, s.PREDICTED_COST_USD: p.cost_usd,
               s.PREDICTED_PEAK_GB: p.peak_gb}
    for key, value in metrics.items():
        if value is not None:
            client.log_metric(run.info.run_id, key, float(value))
    client.log_dict(run.info.run_id, p.doc, "prediction.json")
    client.set_terminated(run.info.run_id)
    return run.info.run_id


def predictions(client) -> list[Prediction]:
    """Every recorded prediction, oldest first."""
    exp = client.get_experiment_by_name(s.PREDICTION_EXPERIMENT)
    if exp is None:
        return []
    found = query.runs(client, f"tags.`{s.KIND}` = 'prediction'", [exp.experiment_id],
                       order_by=["attributes.start_time ASC"])
    out = []
    for run in found:
        t, m = run.data.tags, run.data.metrics
        phases = [p for p in t.get(s.PREDICTION_PHASES, "").split(",") if p]
        out.append(Prediction(t.get(s.PREDICTION_SOURCE, ""), t.get(s.MODEL, ""),
                              t.get(s.PRECISION, ""), t.get(s.GPU_KEY, ""), phases,
                              m.get(s.PREDICTED_DURATION_S), m.get(s.PREDICTED_COST_USD),
                              m.get(s.PREDICTED_PEAK_GB), t.get(s.PREDICTION_CAMPAIGN),
                              created_ms=run.info.start_time, run_id=run.info.run_id))
    return out


@dataclass
class Pair:
    """A prediction and the phases that later ran its configuration."""

    prediction: Prediction
    campaign: str
    phases: list[Phase]

    def measured(self) -> dict[str, float | None]:
        f = [p.figures for p in self.phases]
        peaks = [x.ram_peak_gb if self.prediction.gpu_key == s.NO_GPU else x.vram_peak_gb
                 for x in f]
        return {"duration_s": _sum(x.duration_s for x in f),
                "cost_usd": _sum(x.cost_usd for x in f),
                "peak_gb": max((v for v in peaks if v is not None), default=None)}


def _sum(values) -> float | None:
    present = [v for v in values if v is not None]
    return sum(present) if present else None


def _ran_it(pred: Prediction, ph: Phase) -> bool:
    a = ph.attrs
    return (ph.status == "FINISHED" and (ph.start_time or 0) >= (pred.created_ms or 0)
            and a.get(s.MODEL) == pred.model and a.get(s.PRECISION) == pred.precision
            and a.get(s.GPU_KEY) == pred.gpu_key)


def match(pred: Prediction, campaigns: list[Campaign]) -> Pair | None:
    """The first campaign (by start) whose phases ran the prediction's configuration after it
    was made: all the phases it predicts, or any for a plan."""
    for camp in sorted(campaigns, key=lambda c: c.start_time or 0):
        first: dict[str, Phase] = {}
        for ph in sorted(camp.phases, key=lambda p: p.start_time or 0):
            if _ran_it(pred, ph):
                first.setdefault(ph.name, ph)
        wanted = pred.phases or list(first)
        if wanted and all(name in first for name in wanted):
            return Pair(pred, camp.label, [first[name] for name in wanted])
    return None


COLUMNS = [
    Column("created", "predicted (UTC)", "when"), Column("source", "by"),
    Column("config", "configuration"), Column("from", "from"), Column("campaign", "ran as"),
    Column("time_pred", "time pred.", "seconds"), Column("time_meas", "measured", "seconds"),
    Column("time_err", "error", "error"),
    Column("cost_pred", "cost pred.", "usd"), Column("cost_meas", "measured", "usd"),
    Column("cost_err", "error", "error"),
    Column("peak_pred", "peak GB pred.", "gb"), Column("peak_meas", "measured", "gb"),
    Column("peak_err", "error", "error"),
]


def _error(predicted: float | None, measured: float | None) -> float | None:
    return (predicted - measured) / measured if predicted is not None and measured else None


def row(pair: Pair) -> dict:
    p, got = pair.prediction, pair.measured()
    model = p.model.rstrip("/").rsplit("/", 1)[-1]
    out = {"created": p.created_ms, "source": p.source, "from": p.campaign or "-",
           "config": f"{model} {p.precision} on {p.gpu_key}", "campaign": pair.campaign}
    for key, pred, meas in (("time", p.duration_s, got["duration_s"]),
                            ("cost", p.cost_usd, got["cost_usd"]),
                            ("peak", p.peak_gb, got["peak_gb"])):
        out.update({f"{key}_pred": pred, f"{key}_meas": meas if pred is not None else None,
                    f"{key}_err": _error(pred, meas)})
    return out


def _campaigns(uri: str) -> list[Campaign]:
    try:
        return load(uri)
    except BadInput:  # no campaign at all yet: nothing to match
        return []


def accuracy(uri: str, client=None, visible: list[str] | None = None) -> Table:
    """`cogit-log report --accuracy`: every prediction that a later campaign can be held
    against, predicted beside measured, with the error in percent. `visible`: the
    experiments a web reader may read (None: all); predictions and campaigns elsewhere are
    left out."""
    from mlflow.tracking import MlflowClient

    from ..reports.overview import visible_campaigns
    from ..store.uri import check

    client = client or MlflowClient(tracking_uri=check(uri, "read"))
    shown = visible is None or s.PREDICTION_EXPERIMENT in visible
    preds = predictions(client) if shown else []
    campaigns = ([] if not preds else _campaigns(uri) if visible is None
                 else visible_campaigns(uri, visible))
    pairs = [pair for pair in (match(p, campaigns) for p in preds) if pair is not None]
    notes = ["error = (predicted - measured) / measured, over the phases the prediction "
             "covers (a plan: the whole run); time and cost add those phases, peak is their "
             "maximum",
             "peak: VRAM on a GPU; on a GPU-less run the process's RAM (RSS: the interpreter "
             "and its libraries included, which a plan does not count)"]
    waiting = len(preds) - len(pairs)
    if waiting:
        notes.append(f"{waiting} of {len(preds)} prediction(s) not matched yet: no campaign "
                     f"ran their configuration (model, precision, GPU) to the end after them")
    return Table(f"Track record: {len(pairs)} prediction(s) against what ran",
                 list(COLUMNS), [row(pair) for pair in pairs], notes,
                 data={"pairs": [{"prediction": {k: v for k, v in asdict(pr.prediction).items()
                                                 if k != "doc"},
                                  "campaign": pr.campaign,
                                  "phases": [ph.name for ph in pr.phases],
                                  "measured": pr.measured()} for pr in pairs]})

