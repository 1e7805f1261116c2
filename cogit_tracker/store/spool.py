"""The on-disk spool: ops (`ops.py`) that could not reach their store, kept in order until it
answers again, then replayed by the live writer or by `cogit-log sync --spool`.
"""
from __future__ import annotations

import json
import os
import shutil
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator

from .ops import Applier, Op, merged


def default_dir() -> Path:
    """Where a pod keeps what it could not send: `COGIT_SPOOL_DIR`, else the user cache."""
    env = os.environ.get("COGIT_SPOOL_DIR")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "cogit-tracker" / "spool"


@dataclass
class SpoolFile:
    """One append-only JSONL file of ops for one store, with a sidecar counting those applied.

    Artifacts are copied into the spool beside the file, since the original is often a temp
    file that is gone by the time the store answers again.
    """

    path: Path
    tracking_uri: str = ""
    _applied_path: Path = field(init=False)

    def __post_init__(self) -> None:
        self._applied_path = self.path.with_suffix(".applied")

    @classmethod
    def create(cls, folder: Path, tracking_uri: str) -> "SpoolFile":
        folder.mkdir(parents=True, exist_ok=True)
        name = f"{time.strftime('%Y%m%dT%H%M%S')}-{os.getpid()}-{uuid.uuid4().hex[:6]}.jsonl"
        spool = cls(folder / name, tracking_uri)
        spool.path.write_text(json.dumps({"op": "header", "tracking_uri": tracking_uri}) + "\n")
        return spool

    def append(self, ops: Iterable[Op]) -> None:
        lines = []
        for op in ops:
            if op["op"] == "artifact":
                op = dict(op, path=self._keep(op["path"]))
            lines.append(json.dumps(op))
        if lines:
            with self.path.open("a", encoding="utf-8") as fh:
                fh.write("\n".join(lines) + "\n")
                fh.flush()
                os.fsync(fh.fileno())

    def _keep(self, src: str) -> str:
        dst = self.path.with_suffix("") / uuid.uuid4().hex / Path(src).name
        dst.parent.mkdir(parents=True, exist_ok=True)
        (shutil.copytree if Path(src).is_dir() else shutil.copy2)(src, dst)
        return str(dst)

    @classmethod
    def open(cls, path: Path) -> "SpoolFile":
        """An existing spool file, with the store it was meant for read from its header."""
        with path.open(encoding="utf-8") as fh:
            header = json.loads(fh.readline() or "{}")
        return cls(path, header.get("tracking_uri", ""))

    def ops(self) -> Iterator[Op]:
        with self.path.open(encoding="utf-8") as fh:
            for line in fh:
                if line.strip():
                    op = json.loads(line)
                    if op["op"] != "header":
                        yield op

    @property
    def applied(self) -> int:
        try:
            return int(self._applied_path.read_text())
        except (FileNotFoundError, ValueError):
            return 0

    def replay(self, applier: Applier) -> int:
        """Apply what is not yet applied, in order; return how many ops that was. The counter
        is saved after each op, so an interrupted replay resumes where it stopped."""
        done = self.applied
        count = 0
        pending = (op for i, op in enumerate(self.ops()) if i >= done)
        for op, n in merged(pending):  # one request per 1,000 points, as when live
            applier.apply(op)
            count += n
            self._applied_path.write_text(str(done + count))
        self.remove()
        return count

    def remove(self) -> None:
        shutil.rmtree(self.path.with_suffix(""), ignore_errors=True)
        self._applied_path.unlink(missing_ok=True)
        self.path.unlink(missing_ok=True)


@dataclass
class ReplayResult:
    files: int
    ops: int
    tracking_uri: str


def replay(folder: Path | None = None, tracking_uri: str | None = None) -> list[ReplayResult]:
    """Replay every spool file in `folder` to its own store (or to `tracking_uri`), oldest
    first. What `cogit-log sync --spool` runs; the live writer calls the same code."""
    from mlflow.tracking import MlflowClient

    folder = Path(folder) if folder else default_dir()
    results: dict[str, ReplayResult] = {}
    for path in sorted(folder.glob("*.jsonl")):
        spool = SpoolFile.open(path)
        uri = tracking_uri or spool.tracking_uri
        applier = Applier(MlflowClient(tracking_uri=uri))
        n = spool.replay(applier)
        res = results.setdefault(uri, ReplayResult(0, 0, uri))
        res.files += 1
        res.ops += n
    return list(results.values())
