"""`/cogit/live` (issue 18, item 1): every running campaign and phase the reader may see, with
elapsed time, progress, ETA, cost so far, projected cost, budget spent and heartbeat age, and
what ended in the last few minutes; `/cogit/api/live` is the same board as JSON.

The figures are the library's (`runtime/board.py`, built on `runs watch`'s own), so the page,
its JSON and `cogit-log runs watch` agree.

The page updates itself by short polling: `static/live.js` fetches `/cogit/api/live` every
`POLL_S` seconds and rewrites the table in place, and between two answers it keeps elapsed
time, ETA and heartbeat age ticking from the last one. Polling rather than server-sent events
because the page runs inside MLflow's server: under uvicorn the Flask app sits behind an
ASGI-to-WSGI bridge and under gunicorn in sync workers, where an open event stream holds a
worker (or a bridge thread) per viewer for as long as the tab is open; each poll is one
ordinary GET that MLflow's basic-auth checks like any other request, and the data only
changes once a heartbeat (`COGIT_HEARTBEAT_S`, 15 s by default) anyway. No inline script: the
CSP (`views.CSP`) forbids it, and the JS builds its rows with `textContent` only.
"""
from __future__ import annotations

from flask import render_template, url_for

from ..runtime.board import board
from ..runtime.liveness import DEFAULT_STALE_AFTER_S
from . import access
from .views import _api, _args, _json, _one, _visible, blueprint

#: How often the page asks for the board again, in seconds.
POLL_S = 3
#: The paths MLflow's basic-auth must let through (it validates exact paths).
PATHS = ["/cogit/live", "/cogit/api/live", "/cogit/static/live.js"]


@blueprint.route("/live")
@blueprint.route("/api/live", endpoint="live_api")
def live():
    _args("campaign")
    from mlflow.tracking import MlflowClient

    uri, _, ids = _visible()
    found = board(MlflowClient(tracking_uri=uri), ids,
                  _one("campaign", required=False), DEFAULT_STALE_AFTER_S)
    data = {**found.data(), "poll_s": POLL_S}
    editable: dict[str, bool] = {}   # one permission lookup per experiment, not per row
    for row in data["running"]:
        exp = row["experiment_id"]
        if exp not in editable:
            editable[exp] = access.may_edit(exp)
        row["can_stop"] = row["status"] == "RUNNING" and editable[exp]
    if _api():
        return _json(data)
    return render_template("live.html", board=data, stop_url=url_for("cogit.stop_api"))
