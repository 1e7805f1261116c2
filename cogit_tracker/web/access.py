"""Who may see what in the `cogit` pages, decided by MLflow's basic-auth itself.

Composed with basic-auth (`cogit-log server --auth`), a request reaches these pages only
after MLflow's own `before_request` has checked the login. MLflow then asks a validator for
the route, and denies a route it has none for (`MLFLOW_BASIC_AUTH_FAIL_CLOSED`, on by
default); ours lets every logged-in user in, because each page filters what it shows with
the predicate MLflow filters its own experiment searches with
(`mlflow.server.auth._role_based_read_predicate`, MLflow 3.17): a user who may not read an
experiment sees none of its runs here either. Admins see everything, as in MLflow. Those are
MLflow internals: if they are missing, the pages show nothing rather than everything.
"""
from __future__ import annotations

import logging

from flask import current_app, g

from ..store import query

AUTH_FLAG = "COGIT_AUTH"  # app.config key: set when composed with basic-auth
_log = logging.getLogger(__name__)


def allow_logged_in() -> bool:
    """Validator for the `cogit` routes: MLflow has authenticated the user by now."""
    return True


def register_validators(paths: list[str], method: str = "GET") -> None:
    """Tell MLflow's basic-auth that these routes (GET ones, or `method`) authorize inside
    their handlers."""
    from mlflow.server import auth

    auth.BEFORE_REQUEST_VALIDATORS.update({(path, method): allow_logged_in for path in paths})


def visible_experiments(client) -> list | None:
    """The active experiments this request may read, or None for all of them (no logins on
    this server, or an admin)."""
    if not current_app.config.get(AUTH_FLAG):
        return None
    try:
        from mlflow.server import auth

        user = g.mlflow_authenticated_user
        if auth.store.get_user(user).is_admin:
            return None
        can_read = auth._role_based_read_predicate(user, "experiment")
    except (ImportError, AttributeError) as exc:  # MLflow changed: fail closed
        _log.warning("cogit: cannot ask MLflow's basic-auth for permissions (%s); "
                     "showing no experiments", exc)
        return []
    return [e for e in query.experiments(client) if can_read(e.experiment_id)]


def may_edit(experiment_id: str) -> bool:
    """Whether this request may change runs of the experiment (MLflow's EDIT or MANAGE, as its
    own run-updating routes ask): always without logins, always for an admin. Asked of
    basic-auth's own permission lookup; if MLflow changed it, no one may (fail closed)."""
    if not current_app.config.get(AUTH_FLAG):
        return True
    try:
        from mlflow.server import auth

        user = g.mlflow_authenticated_user
        if auth.store.get_user(user).is_admin:
            return True
        return bool(auth._get_experiment_permission(experiment_id, user).can_update)
    except (ImportError, AttributeError) as exc:
        _log.warning("cogit: cannot ask MLflow's basic-auth for edit permission (%s); "
                     "allowing no one", exc)
        return False
