"""The on-disk spool: ops (`ops.py`) that could not reach their store, kept in order until it
answers again, then replayed by the live writer or by `cogit-log sync --spool`.

A spool file is made whole or not at all (written beside its name, then renamed), so there is
never a file without its header. The header names the store with its password masked (a
spool must not keep a secret); the live writer replays with the URI it holds, and
`sync --spool` takes the password from `--to` or `MLFLOW_TRACKING_URI`. The file starts with
the creation of every run its ops touch, so it can recreate them on a store that never saw
them (another store, or one restored from an older backup).
"""
from __future__ import annotations

import json
import os
import shutil
import time
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import BadInput
from ..redaction import REDACTED, redact
from . import uri as store_uri
from .ops import Applier, Op, apply_isolating, merged
from .quarantine import Quarantine, reason, rejected


def default_dir() -> Path:
    """Where a pod keeps what it could not send: `COGIT_SPOOL_DIR`, else the user cache."""
    env = os.environ.get("COGIT_SPOOL_DIR")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "cogit-tracker" / "spool"


def quarantine_dir(spool_dir: Path) -> Path:
    """Where refused ops are kept, beside the spool they came from."""
    return spool_dir / "quarantine"


@dataclass
class SpoolFile:
    """One append-only JSONL file of ops for one store, with a sidecar counting those applied.

    Artifacts are copied into the spool beside the file, since the original is often a temp
    file that is gone by the time the store answers again.
    """

    path: Path
    tracking_uri: str = ""   # as written in the header: password masked
    _applied_path: Path = field(init=False)

    def __post_init__(self) -> None:
        self._applied_path = self.path.with_suffix(".applied")

    @classmethod
    def create(cls, folder: Path, tracking_uri: str, first: Iterable[Op] = ()) -> "SpoolFile":
        """A new spool file holding its header and `first`, complete or not there at all."""
        folder.mkdir(parents=True, exist_ok=True)
        name = f"{time.strftime('%Y%m%dT%H%M%S')}-{os.getpid()}-{uuid.uuid4().hex[:6]}.jsonl"
        spool = cls(folder / name, redact(tracking_uri))
        header = json.dumps({"op": "header", "tracking_uri": spool.tracking_uri})
        tmp = folder / f".{name}.tmp"
        try:
            with tmp.open("w", encoding="utf-8") as fh:
                fh.write("\n".join([header, *spool._lines(first)]) + "\n")
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, spool.path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return spool

    def append(self, ops: Iterable[Op]) -> None:
        lines = self._lines(ops)
        if lines:
            with self.path.open("a", encoding="utf-8") as fh:
                fh.write("\n".join(lines) + "\n")
                fh.flush()
                os.fsync(fh.fileno())

    def _lines(self, ops: Iterable[Op]) -> list[str]:
        out = []
        for op in ops:
            if op["op"] == "artifact":
                op = dict(op, path=self._keep(op["path"]))
            out.append(redact(json.dumps(op, default=str)))
        return out

    def _keep(self, src: str) -> str:
        """A copy beside the spool; a file that is gone stays named, and is refused later."""
        if not Path(src).exists():
            return src
        dst = self.path.with_suffix("") / uuid.uuid4().hex / Path(src).name
        dst.parent.mkdir(parents=True, exist_ok=True)
        (shutil.copytree if Path(src).is_dir() else shutil.copy2)(src, dst)
        return str(dst)

    @classmethod
    def open(cls, path: Path) -> "SpoolFile":
        """An existing spool file, with the store it was meant for read from its header."""
        with path.open(encoding="utf-8", errors="replace") as fh:
            try:
                header = json.loads(fh.readline() or "{}")
            except ValueError:
                header = {}
        uri = header.get("tracking_uri", "") if header.get("op") == "header" else ""
        return cls(path, uri)

    def ops(self) -> Iterator[Op]:
        """The ops after the header; a line that is not JSON (a write cut short by a crash)
        comes out as an op no store applies, so it is quarantined, not fatal."""
        with self.path.open(encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if not line.strip():
                    continue
                try:
                    op = json.loads(line)
                except ValueError:
                    op = {"op": "unreadable", "line": line[:500]}
                if op.get("op") != "header":
                    yield op

    @property
    def applied(self) -> int:
        try:
            return int(self._applied_path.read_text())
        except (FileNotFoundError, ValueError):
            return 0

    def replay(self, applier: Applier, quarantine: Quarantine) -> int:
        """Apply what is not yet applied, in order; return how many ops that was. The counter
        is saved after each op, so an interrupted replay resumes where it stopped. An op the
        store refuses is quarantined and the replay goes on; a store that stops answering
        raises, and the rest waits for the next replay."""
        done = self.applied
        count = 0
        pending = (op for i, op in enumerate(self.ops()) if i >= done)
        for op, n in merged(pending):  # one request per 1,000 points, as when live
            apply_isolating(applier, op, lambda exc: rejected(exc, applier),
                            lambda item, exc: quarantine.add(item, reason(exc)))
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
    tracking_uri: str      # as shown: password masked
    refused: int = 0       # ops quarantined


def replay(folder: Path | None = None, tracking_uri: str | None = None) -> list[ReplayResult]:
    """Replay every spool file in `folder` to its own store (or to `tracking_uri`), oldest
    first. What `cogit-log sync --spool` runs. A file whose store cannot be named (no header,
    or a masked password and no URI given) is left for a later `--to`, and named once the
    others are replayed."""
    folder = Path(folder) if folder else default_dir()
    results: dict[str, ReplayResult] = {}
    unnamed: list[str] = []
    for path in sorted(folder.glob("*.jsonl")):
        spool = SpoolFile.open(path)
        uri = target_of(spool, tracking_uri)
        if uri is None:
            unnamed.append(path.name)
            continue
        shown = redact(uri)
        quarantine = Quarantine(quarantine_dir(folder), shown)
        n = spool.replay(Applier(uri), quarantine)
        res = results.setdefault(shown, ReplayResult(0, 0, shown))
        res.files, res.ops, res.refused = res.files + 1, res.ops + n, res.refused + quarantine.count
    if unnamed:
        raise BadInput(f"spool file(s) {', '.join(unnamed)} in {folder} name no store this "
                       "command can open (no header, or a masked password): replay them with "
                       "--to URI")
    return list(results.values())


def target_of(spool: SpoolFile, given: str | None) -> str | None:
    """The URI to replay `spool` to: the one given, else its header's, with the password
    from MLFLOW_TRACKING_URI when that names the same store; None when neither can."""
    if given:
        return store_uri.check(given, "write", "--to")
    if not spool.tracking_uri:
        return None
    if REDACTED not in spool.tracking_uri:
        return store_uri.check(spool.tracking_uri, "write", f"spool {spool.path.name}'s store")
    env = os.environ.get("MLFLOW_TRACKING_URI", "")
    if env and store_uri.identity(env) == store_uri.identity(spool.tracking_uri):
        return store_uri.check(env, "write", "MLFLOW_TRACKING_URI")
    return None
