"""The `cogit` app: the campaigns report, one campaign, comparisons and the Captain's Log as
pages under `/cogit/` (and their JSON under `/cogit/api/`), served by the MLflow server on its
own port beside MLflow's UI.

MLflow's React UI has no extension point (mlflow#2440), but `mlflow server --app-name NAME`
serves the Flask app an `mlflow.app` entry point names. Only one app runs, and basic-auth is
itself one, so there are two entry points: `cogit` (MLflow's app plus these pages) and
`cogit-basic-auth` (the same, composed with MLflow's basic-auth: logins, and pages filtered by
what each user may read). `cogit-log server [--auth]` picks one. Like `cli/`, this package only
calls the library: `views.py` parses a request and renders what the library returns.
"""
from __future__ import annotations


def create_app():
    """Entry point `cogit`: MLflow's server app with the `cogit` pages."""
    from .app import compose

    return compose(auth=False)


def create_app_with_auth():
    """Entry point `cogit-basic-auth`: the same, behind MLflow's basic-auth."""
    from .app import compose

    return compose(auth=True)
