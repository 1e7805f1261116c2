"""Artifacts are taken when they are logged, not when the writer gets round to them.

The writer sends an artifact seconds later, or after an outage, from its own thread: by then
a checkpoint rewritten every epoch holds the last epoch, and a file in a temporary folder
(MLflow's own `log_table`, `log_dict` and `log_text` write there and delete it on return) is
gone. So the file or folder is copied at once into the spool folder's `artifacts/`, one folder
per logging (`<uid>/<token>/`), the op names the copy, and the writer deletes the copy once
the store has it. A copy costs the file's size on disk for that while; it is what makes the
artifact the one that was logged.

The newest copy of each run's artifact path is also remembered for the life of the process,
so MLflow's read-before-write calls (`log_table` appends to a table it downloads first) see
what was logged here even while the store is away.
"""
from __future__ import annotations

import posixpath
import shutil
import threading
import uuid
from pathlib import Path
from typing import Any

Op = dict[str, Any]  # an op as in ops.py, which imports this module

FOLDER = "artifacts"

_latest: dict[tuple[str, str], Path] = {}  # (uid, artifact file path) -> its newest copy
_lock = threading.Lock()


def root(spool_dir: Path) -> Path:
    return Path(spool_dir) / FOLDER


def take(spool_dir: Path, uid: str, path: str | Path, artifact_path: str | None) -> Op:
    """Copy `path` (a file or a folder) now and return the op that sends the copy."""
    source = Path(path)
    folder = root(spool_dir) / uid / uuid.uuid4().hex[:12]
    folder.mkdir(parents=True, exist_ok=True)
    copy = folder / source.name
    if source.is_dir():
        shutil.copytree(source, copy)
        files = [f for f in copy.rglob("*") if f.is_file()]
        base = posixpath.join(artifact_path or "", source.name)
        names = {posixpath.join(base, f.relative_to(copy).as_posix()): f for f in files}
    else:
        shutil.copy2(source, copy)
        names = {posixpath.join(artifact_path or "", source.name): copy}
    with _lock:
        _latest.update({(uid, posixpath.normpath(k)): v for k, v in names.items()})
    return {"op": "artifact", "uid": uid, "path": str(copy), "artifact_path": artifact_path,
            "taken": True}


def latest(uid: str, artifact_file: str) -> Path | None:
    """The newest copy logged here of a run's artifact file, while it is still on disk."""
    with _lock:
        found = _latest.get((uid, posixpath.normpath(artifact_file)))
    return found if found is not None and found.exists() else None


def listed_sizes(uid: str, folder: str | None) -> dict[str, int]:
    """The artifact files logged here for a run directly under `folder` (None: the top) whose
    copy is still on disk, with their sizes."""
    base = posixpath.normpath(folder) if folder else ""
    with _lock:
        items = [(k[1], v) for k, v in _latest.items() if k[0] == uid]
    sizes = {}
    for name, path in items:
        if posixpath.dirname(name) == base:
            try:
                sizes[name] = path.stat().st_size
            except OSError:  # sent, and its copy deleted, since: the store lists it
                continue
    return sizes


def sent(op: Op) -> None:
    """The store holds the artifact: delete the copy taken for it, and the folders it leaves
    empty (up to the spool folder itself, which holds nothing else then)."""
    if not op.get("taken"):
        return
    folder = Path(op["path"]).parent
    shutil.rmtree(folder, ignore_errors=True)
    for parent in list(folder.parents)[:3]:  # <uid>/, artifacts/, the spool folder
        try:
            parent.rmdir()
        except OSError:
            return
