"""The planning pages (issue 18, item 3): `cogit-log advise`, `plan` and `report --accuracy`
in the browser, for the researcher who watches a pod from a laptop that has no command line
on the store.

Each page is a GET form whose fields are the command's options, so a result is a URL that can
be shared, and its JSON twin under `/cogit/api/` carries what the command prints with
`--json`. The library does the work and the tables are the CLI's own (`cli/plan.py`,
`planning/advise.py`, `planning/track.py`); a bad value is the library's `BadInput`, which
the blueprint's handler turns into a 400 naming it. Campaigns and predictions come only from
experiments the reader may read (`views._visible`).
"""
from __future__ import annotations

from flask import Response, redirect, render_template, url_for

from ..cli.plan import plan_tables
from ..cli.render import render
from ..decisions.from_advice import decide
from ..errors import BadInput, Denied
from ..machine import catalog
from ..planning import memory, parallel
from ..planning.advise import advise as advise_options, as_table
from ..planning.options import DEFAULT_SETUP_MIN
from ..planning.track import accuracy as track_record
from ..schema import DECISION_EXPERIMENT, PRECISIONS
from . import access
from .guard import check_origin, form_fields
from .views import _api, _args, _json, _many, _one, _visible, blueprint

PATHS = ["/cogit/advise", "/cogit/api/advise", "/cogit/plan", "/cogit/api/plan",
         "/cogit/accuracy", "/cogit/api/accuracy"]
POST_PATHS = ["/cogit/draft", "/cogit/api/draft"]
DRAFT_FIELDS = ("campaign", "choose", "setup_min")
#: the plan form's fields, each a `cogit-log plan` option of the same name
PLAN_FIELDS = ("model", "params", "precision", "quantum_dim", "operators", "train_operators",
               "gpu", "gpus", "parallel", "training", "lora_rank", "checkpointing",
               "seq_len", "batch")
#: the log's own case (Decision #001): Qwen2.5-7B in fp32 with two 9,333-dim operators
EXAMPLE_PLAN = {"model": "Qwen/Qwen2.5-7B-Instruct", "precision": "fp32",
                "quantum_dim": "9333", "gpu": "rtx-5090"}


def _flag(name: str) -> bool:
    """A checkbox: present (any value but an explicit off) is on."""
    value = _one(name, required=False)
    if value is None:
        return False
    if value.lower() in ("", "1", "on", "true", "yes"):
        return True
    if value.lower() in ("0", "off", "false", "no"):
        return False
    raise BadInput(f"query parameter {name!r} is {value!r}; accepted: on or off")


@blueprint.route("/plan")
@blueprint.route("/api/plan", endpoint="plan_api")
def plan():
    _args(*PLAN_FIELDS)
    asked = {k: v for k in PLAN_FIELDS if (v := _one(k, required=False)) not in (None, "")}
    form = {"fields": asked, "precisions": PRECISIONS, "modes": parallel.MODES,
            "gpus": list(catalog.load().values()), "example": EXAMPLE_PLAN}
    if not asked.get("model") and not asked.get("params"):
        if _api():
            raise BadInput("missing query parameter 'model' or 'params'")
        return render_template("plan.html", tables=None, **form)
    gpu = asked.get("gpu")
    result = memory.plan_for_gpus(memory.plan(
        model=asked.get("model"), params=asked.get("params"),
        precision=asked.get("precision", "fp32"), quantum_dim=asked.get("quantum_dim"),
        operators=asked.get("operators"), training=_flag("training"),
        seq_len=asked.get("seq_len", "512"), batch=asked.get("batch", "1"),
        lora_rank=asked.get("lora_rank"), checkpointing=_flag("checkpointing"),
        train_operators=_flag("train_operators"), gpus=asked.get("gpus", "1"),
        parallel=asked.get("parallel", "auto")), gpu=gpu, all_gpus=not gpu)
    if _api():
        return _json(result.to_dict())
    return render_template("plan.html", tables=plan_tables(result), result=result, **form)


def _minutes(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise BadInput(f"'setup_min' is {text!r}; accepted: minutes, such as 10") from None


@blueprint.route("/advise")
@blueprint.route("/api/advise", endpoint="advise_api")
def advise():
    _args("campaign", "gpu", "precision", "gpus", "setup_min")
    uri, names, _ = _visible()
    label = _one("campaign")
    setup = _one("setup_min", required=False)
    setup_min = _minutes(setup) if setup else DEFAULT_SETUP_MIN
    advice = advise_options(uri, label, _many("gpu"), _many("precision"), setup_min,
                            counts=_many("gpus"), visible=names)
    if _api():
        return Response(render(as_table(advice), "json"), mimetype="application/json")
    return render_template("advise.html", table=as_table(advice), label=label,
                           options=advice.options, setup_min=setup_min,
                           can_draft=_may_write_log(uri),
                           draft=f"cogit-log decision new --from-advice {label!r}")


def _may_write_log(uri: str) -> bool:
    """Whether this request may add to the Captain's Log: edit permission on its experiment,
    or, before it exists, anyone MLflow lets create experiments (a logged-in user)."""
    from mlflow.tracking import MlflowClient

    log = MlflowClient(tracking_uri=uri).get_experiment_by_name(DECISION_EXPERIMENT)
    return log is None or access.may_edit(log.experiment_id)


@blueprint.route("/draft", methods=["POST"])
@blueprint.route("/api/draft", methods=["POST"], endpoint="draft_api")
def draft():
    """The advise page's "Draft the decision": `decision new --from-advice CAMPAIGN --choose
    OPTION --no-input`, then the new decision's page (or its JSON). Refused across sites and
    without edit permission on the Captain's Log, as the Stop button is (`web/stop.py`)."""
    check_origin()
    fields = form_fields(DRAFT_FIELDS, required="campaign")
    uri, names, _ = _visible()
    if not _may_write_log(uri):
        raise Denied(f"drafting a decision needs permission to edit experiment "
                     f"{DECISION_EXPERIMENT!r}")
    setup = fields.get("setup_min")
    d = decide(uri, fields["campaign"], fields.get("choose") or None,
               _minutes(setup) if setup else DEFAULT_SETUP_MIN, visible=names)
    if _api():
        return _json(d.to_dict())
    return redirect(url_for("cogit.decision", number=d.number), 303)


@blueprint.route("/accuracy")
@blueprint.route("/api/accuracy", endpoint="accuracy_api")
def accuracy():
    _args()
    uri, names, _ = _visible()
    table = track_record(uri, visible=names)
    if _api():
        return Response(render(table, "json"), mimetype="application/json")
    return render_template("accuracy.html", table=table)
