"""The `cogit` pages and their JSON. Each view checks its query parameters, calls the library
and renders what it returns: HTML through `templates/`, JSON through `cli/render.py`, so
`/cogit/api/...` carries what the matching command prints with `--json`.

Every page takes its subject in the query string (`/cogit/campaign?campaign=run-002`): a label
may hold any character, a `/` included, and MLflow's basic-auth validates routes by their exact
path. An unknown campaign or decision is a 404 naming it; a malformed or unknown parameter a
400 naming it; anything else a 500 that says only that (the traceback goes to the log).
"""
from __future__ import annotations

import base64
import dataclasses
import json
import os
from urllib.parse import urlencode

from flask import Blueprint, Response, current_app, render_template, request, url_for
from werkzeug.exceptions import HTTPException

from .. import schema
from ..cli.render import render, to_json
from ..cli import decision_tables as tables
from ..decisions.model import SECTIONS
from ..decisions.store import DecisionLog, Verification, select_entries
from ..errors import BadInput, Denied, Unknown
from ..redaction import redact
from ..table import LEFT, fmt_value, row_class
from ..reports.compare import compare as compare_campaigns
from ..reports.detail import detail
from ..reports.overview import overview, visible_campaigns
from . import access
from .artifacts import read_artifact

blueprint = Blueprint("cogit", __name__, url_prefix="/cogit", template_folder="templates",
                      static_folder="static")  # /cogit/static/: the pages' own JS
#: Every route, for MLflow's basic-auth, which validates exact paths.
PATHS = ["/cogit", "/cogit/", "/cogit/api/campaigns", "/cogit/campaign", "/cogit/api/campaign",
         "/cogit/compare", "/cogit/api/compare", "/cogit/decisions", "/cogit/api/decisions",
         "/cogit/decision", "/cogit/api/decision"]


@blueprint.app_template_filter("png")
def _png(data: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(data).decode()


@blueprint.app_context_processor
def _helpers() -> dict:
    return {"fmt": fmt_value, "left": LEFT, "row_class": row_class, "mlflow_page": mlflow_page,
            "campaign_url": campaign_url,
            "campaign_link": lambda row: None if row.get("_sub")
            else campaign_url(row["campaign"]),
            "phase_link": _phase_link, "linked": _linked,
            "query": request.query_string.decode()}


def mlflow_page(experiment_id: str, run_id: str | None = None) -> str:
    """MLflow's own page of an experiment or a run, in its training view."""
    return schema.mlflow_ui_path(experiment_id, run_id)


def campaign_url(selector: str) -> str:
    return url_for("cogit.campaign", campaign=selector)


def _linked(run) -> tuple[str, str]:
    """(URL, text) of a decision's linked run: its campaign's page, or another decision's."""
    number = run.tags.get(schema.DECISION_NUMBER)
    if run.kind == "decision" and number:
        return (url_for("cogit.decision", number=int(number)),
                f"Decision #{number}: {run.tags.get(schema.DECISION_TITLE, '')}")
    label = run.campaign or run.uid
    return (campaign_url(run.uid if run.kind == "campaign" else label),
            label + (f" / {run.phase}" if run.phase else ""))


def _phase_link(found):
    """row -> the MLflow page of that phase's run, for a campaign page's phase table."""
    return lambda row: mlflow_page(found.experiment_id, found.run_ids[row["phase"]]) \
        if row.get("phase") in found.run_ids and not row.get("_section_end") \
        and not row.get("_sub") else None


# ---------------------------------------------------------------- query parameters

def _args(*accepted: str):
    unknown = [k for k in request.args if k not in accepted]
    if unknown:
        raise BadInput(f"unknown query parameter {unknown[0]!r}; accepted: "
                       f"{', '.join(accepted) or 'none'}")
    return request.args


def _many(name: str) -> list[str]:
    """Every value of a repeatable parameter; a blank one (a form's "all") is no value."""
    return [v for v in request.args.getlist(name) if v.strip()]


def _one(name: str, required: bool = True) -> str | None:
    values = _many(name)
    if len(values) > 1:
        raise BadInput(f"query parameter {name!r} is given {len(values)} times; accepted: once")
    if not values and required:
        raise BadInput(f"missing query parameter {name!r}")
    return values[0] if values else None


def _number(text: str) -> int:
    if not text.strip().isdigit():
        raise BadInput(f"query parameter 'number' is {text!r}; accepted: a decision number "
                       "such as 2")
    return int(text)


# ---------------------------------------------------------------- what the reader may see

def _store() -> str:
    from mlflow.server import BACKEND_STORE_URI_ENV_VAR

    return os.environ[BACKEND_STORE_URI_ENV_VAR]


def _visible() -> tuple[str, list[str] | None, list[str] | None]:
    """The store, and the names and ids of the experiments this request may read (None:
    all)."""
    from mlflow.tracking import MlflowClient

    uri = _store()
    found = access.visible_experiments(MlflowClient(tracking_uri=uri))
    if found is None:
        return uri, None, None
    return uri, [e.name for e in found], [e.experiment_id for e in found]


def _json(data) -> Response:
    return Response(to_json(data) + "\n", mimetype="application/json")


def _table_json(table) -> dict:
    return json.loads(render(table, "json"))


def _api() -> bool:
    return request.path.startswith("/cogit/api/")


# ---------------------------------------------------------------- campaigns

@blueprint.route("/", strict_slashes=False)
@blueprint.route("/api/campaigns", endpoint="campaigns_api")
def campaigns():
    _args("experiment", "gpu", "page")
    uri, names, _ = _visible()
    page = _one("page", required=False)
    if page is not None and not page.isdigit():
        raise BadInput(f"query parameter 'page' is {page!r}; accepted: a page number such as 2")
    if _api():  # every campaign, as `cogit-log report --json` prints them, unless a page
        ov = overview(uri, _many("experiment"), _many("gpu"), names, int(page) if page else None)
        return Response(render(ov.table, "json"), mimetype="application/json")
    ov = overview(uri, _many("experiment"), _many("gpu"), names, int(page or 1))
    return render_template("campaigns.html", ov=ov, experiments=_many("experiment"),
                           gpus=_many("gpu"), page_url=_page_url)


def _page_url(page: int) -> str:
    """This page's URL with its filters, on another page."""
    args = [(k, v) for k, v in request.args.items(multi=True) if k != "page"]
    return url_for("cogit.campaigns") + "?" + urlencode([*args, ("page", page)])


@blueprint.route("/campaign")
@blueprint.route("/api/campaign", endpoint="campaign_api")
def campaign():
    _args("campaign")
    uri, names, _ = _visible()
    found = detail(uri, _one("campaign"), names, read_artifact)
    if _api():
        return _json(_detail_json(found))
    return render_template("campaign.html", d=found)


def _detail_json(d) -> dict:
    camp = d.campaign
    return {"campaign": camp.label, "uid": camp.uid, "run_id": camp.run_id,
            "experiment": camp.experiment, "status": camp.status, "params": d.params,
            "phases": _table_json(d.phases), "run_ids": d.run_ids,
            "decisions": [dataclasses.asdict(x) for x in d.decisions],
            "generations": _table_json(d.generations) if d.generations else None}


@blueprint.route("/compare")
@blueprint.route("/api/compare", endpoint="compare_api")
def compare():
    _args("a", "b")
    uri, names, _ = _visible()
    found = visible_campaigns(uri, names)
    a, b = _one("a", required=False), _one("b", required=False)
    if a is None and b is None and not _api():
        return render_template("compare.html", table=None, campaigns=found)
    table = compare_campaigns(found, _one("a"), _one("b"))
    if _api():
        return Response(render(table, "json"), mimetype="application/json")
    return render_template("compare.html", table=table, campaigns=found, a=a, b=b)


# ---------------------------------------------------------------- the Captain's Log

def _log(names: list[str] | None) -> DecisionLog | None:
    """The Captain's Log, if this reader may read its experiment."""
    if names is not None and schema.DECISION_EXPERIMENT not in names:
        return None
    return DecisionLog(_store(), "read", read_artifact)


@blueprint.route("/decisions")
@blueprint.route("/api/decisions", endpoint="decisions_api")
def decisions():
    _args("status", "since", "text")
    status = _one("status", required=False)
    if status is not None and status not in schema.DECISION_STATUSES:
        raise BadInput(f"query parameter 'status' is {status!r}; accepted: "
                       f"{', '.join(schema.DECISION_STATUSES)}")
    _, names, ids = _visible()
    log = _log(names)
    entries = select_entries(log.entries(ids) if log else [], status,
                             _one("since", required=False), _one("text", required=False))
    if _api():
        return _json([dataclasses.asdict(e) for e in entries])
    return render_template("decisions.html", entries=entries, status=status,
                           statuses=schema.DECISION_STATUSES)


@blueprint.route("/decision")
@blueprint.route("/api/decision", endpoint="decision_api")
def decision():
    _args("number")
    number = _number(_one("number"))
    _, names, ids = _visible()
    log = _log(names)
    try:
        record = log.load(number) if log else None
    except Unknown:
        record = None
    if record is None:  # the store's URI is the server's business, not the page's
        raise Unknown(f"decision #{number:03d}: no such decision; accepted: a number from "
                      f"{url_for('cogit.decisions')}")
    ev = log.evidence(record, ids)
    runs = ev.runs
    if ids is not None:  # a reader sees only the links they may read, nothing of the others
        seen = {r.uid for r in runs} | {c.uid for c in ev.claims}
        record.links = {u: role for u, role in record.links.items() if u in seen}
        record.pins = {u: pin for u, pin in record.pins.items() if u in seen}
    checks = log.check(record, runs)
    chain = log.supersede_chain(number)
    if _api():
        return _json({**record.to_dict(), "runs": [dataclasses.asdict(r) for r in runs],
                      "checks": [{"text": c.text, "expr": c.expr, **dataclasses.asdict(o)}
                                 for c, o in checks],
                      "not_counted": [c.line for c in ev.claims],
                      "supersede_chain": [dataclasses.asdict(e) for e in chain]})
    return render_template(
        "decision.html", d=record, runs=runs, chain=chain, sections=SECTIONS,
        not_counted=[c.line for c in ev.claims],
        checks=tables.verification(Verification(record, checks, record.status, False)),
        runs_table=tables.linked_runs(runs) if runs else None,
        verification=log.entry(number).verification)


# ---------------------------------------------------------------- headers

#: No inline script, no script from elsewhere: a label or a generated text that slipped past
#: escaping still runs nothing. Charts are data: PNGs; the pages' styles are inline.
CSP = ("default-src 'self'; script-src 'self'; img-src 'self' data:; "
       "style-src 'self' 'unsafe-inline'; object-src 'none'; base-uri 'none'; "
       "form-action 'self'; frame-ancestors 'self'")


@blueprint.after_app_request
def _security_headers(response: Response) -> Response:
    """Every `/cogit/` answer (errors and unknown paths under it included) gets the CSP;
    MLflow's own pages keep theirs."""
    if request.path == "/cogit" or request.path.startswith("/cogit/"):
        response.headers["Content-Security-Policy"] = CSP
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
    return response


# ---------------------------------------------------------------- failures

@blueprint.errorhandler(Exception)
def failed(exc: Exception):
    if isinstance(exc, HTTPException):
        return exc
    if isinstance(exc, Unknown):
        code, line = 404, redact(str(exc))
    elif isinstance(exc, Denied):
        code, line = 403, redact(str(exc))
    elif isinstance(exc, BadInput):
        code, line = 400, redact(str(exc))
    else:
        current_app.logger.exception("cogit page %s failed", request.full_path)
        code, line = 500, f"internal error ({type(exc).__name__}); the server's log has more"
    if _api():
        return Response(to_json({"error": line}) + "\n", code, mimetype="application/json")
    return render_template("error.html", code=code, line=line), code
