"""Models this experiment builds or converts (`tiny`, `smollm2-135m`), cached on disk under a
key of everything that shapes their weights: the recipe (or the source file's hash) and the
versions of torch and transformers that made them. A new release of either makes a new
folder rather than reusing weights it never produced.

A model is built in a folder beside its final name and renamed into place only once complete
(the marker file written last), so a killed build is never taken for a finished one; its
leftover folder is cleared by the next build. Builds of one model take turns under a file
lock beside it: the ranks of a job, or two campaigns started together on one pod, build it
once between them (the later ones wait, then find it made), not once each at full CPU.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Callable

ENV_VAR = "COGIT_MODEL_CACHE"
MARKER = "cogit-model.json"  # written last: its presence means the folder is complete


def cache_root() -> Path:
    """`COGIT_MODEL_CACHE`, else the user's cache folder."""
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "cogit-tracker"


def versions() -> dict[str, str]:
    """The releases that turn a recipe into weights."""
    return {name: metadata.version(name) for name in ("torch", "transformers")}


def folder(name: str, recipe: dict) -> Path:
    blob = json.dumps({**recipe, **versions()}, sort_keys=True)
    return cache_root() / f"{name}-{hashlib.sha256(blob.encode()).hexdigest()[:12]}"


def cached(name: str, recipe: dict, build: Callable[[Path], dict]) -> Path:
    """The folder of this model, built first with `build(folder) -> stats` if missing."""
    from filelock import FileLock

    out = folder(name, recipe)
    if (out / MARKER).is_file():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(out.with_name(f"{out.name}.lock")):
        if (out / MARKER).is_file():  # another process built it while this one waited
            return out
        _clear_leftovers(out)
        tmp = out.with_name(f"{out.name}.tmp{os.getpid()}")
        tmp.mkdir()
        print(f"building the {name} model once (cached in {out})", file=sys.stderr, flush=True)
        start = time.perf_counter()
        try:
            stats = build(tmp)
            stats = {**stats, "build_seconds": round(time.perf_counter() - start, 1),
                     "recipe": recipe, **versions()}
            (tmp / MARKER).write_text(json.dumps(stats, indent=2))
            tmp.rename(out)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return out


def _clear_leftovers(out: Path) -> None:
    """Half-built folders of builds that died (under the lock, no other build is running),
    and a final folder without its marker."""
    for tmp in [*out.parent.glob(f"{out.name}.tmp*"), out]:
        shutil.rmtree(tmp, ignore_errors=True)


def stats(model_dir: Path) -> dict:
    """What the build recorded (time, loss, recipe, versions)."""
    return json.loads((Path(model_dir) / MARKER).read_text())


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
