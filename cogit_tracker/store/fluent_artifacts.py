"""The artifact repository of runs written through the fluent store (`cogit-artifacts:/<uid>`).

`mlflow.log_artifact(s)`, `log_dict`, `log_text`, `log_table`, `log_figure` and the libraries
that call them reach the run's repository by the artifact URI its `get_run` gives, and the
fluent store gives this one (entry point `mlflow.artifact_repository`): a file is taken when
it is logged (`stash.py`) and sent by the writer, so logging an artifact neither waits on the
store nor fails while it is away. Reads (listing, downloading) see what was logged here first,
then the run's own artifact store when it answers.
"""
from __future__ import annotations

import posixpath
import shutil
from pathlib import Path

from mlflow.store.artifact.artifact_repo import ArtifactRepository

from . import stash
from . import uri as uris
from .fluent_store import ARTIFACT_SCHEME, STAND_IN, resolve, tracked


class FluentArtifacts(ArtifactRepository):
    """MLflow's artifact repository for `cogit-artifacts:` URIs (MLflow's own download walk
    runs over `list_artifacts` and `_download_file`)."""

    def __init__(self, artifact_uri: str, tracking_uri: str | None = None,
                 registry_uri: str | None = None) -> None:
        super().__init__(artifact_uri, tracking_uri, registry_uri)
        self.uid = artifact_uri[len(ARTIFACT_SCHEME) + 2:].split("/")[0]
        self.store = uris.inner(tracking_uri or "")

    @property
    def _run(self):
        run = tracked(self.uid) or resolve(STAND_IN + self.uid, self.store)
        if run is None:
            from mlflow.exceptions import MlflowException

            raise MlflowException(f"cogit-tracker: no run with {self.uid} in this process")
        return run

    def log_artifact(self, local_file, artifact_path=None) -> None:
        run = self._run
        run.writer.submit(stash.take(run.writer.spool_dir, run.uid, local_file, artifact_path))

    def log_artifacts(self, local_dir, artifact_path=None) -> None:
        """A folder's content (not the folder itself) under `artifact_path`, as MLflow does."""
        for child in sorted(Path(local_dir).iterdir()):
            sub = artifact_path if child.is_file() else posixpath.join(artifact_path or "",
                                                                      child.name)
            if child.is_file():
                self.log_artifact(child, sub)
            else:
                self.log_artifacts(child, sub)

    def list_artifacts(self, path=None):
        """What was logged here, then what the store holds. In that order: the writer
        deletes a copy once the store has it, so a file missing from the first look is in
        the second (looked at the other way round, a file sent in between was in neither,
        and `log_table`'s append lost the rows before it)."""
        from mlflow.entities import FileInfo

        pending = {name: FileInfo(name, False, size)
                   for name, size in stash.listed_sizes(self.uid, path).items()}
        found = {f.path: f for f in self._real_list(path)}
        found.update(pending)
        return sorted(found.values(), key=lambda f: f.path)

    def _download_file(self, remote_file_path, local_path) -> None:
        copy = stash.latest(self.uid, remote_file_path)
        if copy is not None:
            shutil.copy2(copy, local_path)
            return
        self._real()._download_file(remote_file_path, local_path)

    def _real(self):
        """The run's own artifact repository (the store must answer)."""
        from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository
        from mlflow.tracking import MlflowClient

        why = uris.answers(self.store)
        if why:
            from mlflow.exceptions import MlflowException

            raise MlflowException(f"cogit-tracker: the tracking store does not answer ({why})")
        run = self._run
        real_id = run.writer.run_ids.get(run.uid)
        if real_id is None:
            from mlflow.exceptions import MlflowException

            raise MlflowException("cogit-tracker: the run is not in the store yet")
        info = MlflowClient(self.store).get_run(real_id).info
        return get_artifact_repository(info.artifact_uri, tracking_uri=self.store)

    def _real_list(self, path):
        try:
            return self._real().list_artifacts(path)
        except Exception:  # noqa: BLE001 - away, or not made yet: what was logged here
            return []
