"""Reading run artifacts inside the MLflow server, as its own artifact handlers do.

The server's tracking store is a database URI, and runs logged through it keep
`mlflow-artifacts:/<experiment>/<run>/artifacts` locations, which a client would fetch over
HTTP from the server: that is, from this very process. So the `cogit` app resolves such a
location onto the server's artifact destination with the server's own helpers
(`mlflow.server.handlers`, MLflow 3.17), and reads any other location directly.
"""
from __future__ import annotations

import tempfile
from pathlib import Path


def read_artifact(run, path: str) -> str:
    """The text of artifact `path` of `run`: an `ArtifactReader` for the server side."""
    from mlflow.server import handlers
    from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository

    root = run.info.artifact_uri
    with tempfile.TemporaryDirectory() as tmp:
        if handlers._is_servable_proxied_run_artifact_root(root):
            where = handlers._get_proxied_run_artifact_destination_path(root, path)
            local = handlers._get_artifact_repo_mlflow_artifacts().download_artifacts(where, tmp)
        else:
            local = get_artifact_repository(root).download_artifacts(path, tmp)
        return Path(local).read_text(encoding="utf-8")
