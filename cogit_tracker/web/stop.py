"""`POST /cogit/api/stop`: the Stop button of a running campaign (the `/cogit/live` page's),
calling the same library as `cogit-log runs stop` (`runtime/stop.py`) and answering its
`StopOutcome` as JSON.

Fields (a form or a JSON object): `campaign` (its label), and `experiment` when a label is in
several. Under `--auth` the asker needs MLflow's EDIT (or MANAGE) permission on the campaign's
experiment (`access.may_edit`, as MLflow's own run-updating routes ask): a reader who may only
read it gets 403; one who may not even read it is told there is no such campaign (404), as
the pages hide it. Who asked is the logged-in user, or `anonymous` on a server without logins.

Cross-site requests are refused, and the fields checked, by `guard.py`.
"""
from __future__ import annotations

import dataclasses

from flask import current_app, g

from ..runtime.stop import request_stop
from . import access
from .guard import check_origin, form_fields
from .views import _json, _visible, blueprint

PATH = "/cogit/api/stop"
#: MLflow's basic-auth validates exact paths: this lets a logged-in user's POST reach the view,
#: which checks the permission itself (it needs the campaign's experiment).
POST_PATHS = [PATH]
FIELDS = ("campaign", "experiment")


def _asker() -> str:
    if current_app.config.get(access.AUTH_FLAG):
        return str(getattr(g, "mlflow_authenticated_user", "") or "unknown")
    return "anonymous"


@blueprint.route("/api/stop", methods=["POST"], endpoint="stop_api")
def stop():
    check_origin()
    fields = form_fields(FIELDS, required="campaign")
    uri, names, _ = _visible()
    outcome = request_stop(uri, fields["campaign"], _asker(), fields.get("experiment") or None,
                           visible=names, may_stop=access.may_edit)
    return _json(dataclasses.asdict(outcome))
