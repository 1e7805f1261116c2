"""Composing the `cogit` pages with MLflow's own server app.

`mlflow server --app-name X` hands the app the entry point names to its web server: under
uvicorn (MLflow's default) an ASGI app, elsewhere the Flask app. MLflow's server is a Flask app
(`mlflow.server.app`) that uvicorn serves wrapped in FastAPI (`create_fastapi_app`);
basic-auth's `create_app` takes that Flask app, adds its hooks and returns the wrapped one.
So the `cogit` blueprint is registered on MLflow's Flask app first, then the app goes through
basic-auth's factory (with logins) or the same FastAPI wrapping MLflow uses (without).
"""
from __future__ import annotations

from . import access, routes


def compose(auth: bool):
    from mlflow.environment_variables import _MLFLOW_SGI_NAME
    from mlflow.server import app as flask_app

    if "cogit" not in flask_app.blueprints:
        flask_app.register_blueprint(routes.blueprint)
    flask_app.config[access.AUTH_FLAG] = auth
    if auth:
        from mlflow.server.auth import create_app as basic_auth

        access.register_validators(routes.PATHS)
        access.register_validators(routes.POST_PATHS, "POST")
        return basic_auth(flask_app)
    if _MLFLOW_SGI_NAME.get() == "uvicorn":
        from mlflow.server.fastapi_app import create_fastapi_app

        return create_fastapi_app(flask_app)
    return flask_app
