"""Reading a run's artifact as text, wherever the reader stands.

A client downloads through the tracking store (`client_reader`); inside the MLflow server,
where the store is a database URI and runs keep `mlflow-artifacts:/` locations, the `cogit`
web app reads them the way the server itself does (`web/artifacts.py`). Code that reads
artifacts (a decision's record, a phase's generations) takes a reader and does not care which.
"""
from __future__ import annotations

import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

from ..settings import environment

#: (run, artifact path) -> its text; raises if the run has no such artifact.
ArtifactReader = Callable[[object, str], str]


@contextmanager
def quiet_mlflow() -> Iterator[None]:
    """MLflow writes a download bar, and on HTTP stores a "View run" link, to stdout, which
    would corrupt `--json` output; both have an environment switch, set only meanwhile."""
    with environment({"MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
                      "MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT": "true"}):
        yield


def client_reader(client) -> ArtifactReader:
    """Read artifacts by downloading them through `client`'s tracking store."""
    def read(run, path: str) -> str:
        with tempfile.TemporaryDirectory() as tmp, quiet_mlflow():
            local = client.download_artifacts(run.info.run_id, path, tmp)
            return Path(local).read_text(encoding="utf-8")

    return read
