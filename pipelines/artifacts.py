"""Moving phase outputs through the tracking store, so a later phase can run on another
machine or store: files go up as artifacts of the phase run, come back by its `cogit.uid`."""
from __future__ import annotations

import os
from pathlib import Path

import torch

import cogit_tracker as ct

from .config import Config


def save(obj, cfg: Config, name: str) -> Path:
    """torch.save atomically into the work dir (the upload is asynchronous and may read the
    file later, so a half-written file must never be visible)."""
    path = cfg.workdir / name
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)
    return path


def fetch_path(uid: str | None, path: str, cfg: Config, what: str) -> Path:
    """Download `path` from the artifacts of the run with this uid."""
    if uid is None:
        raise RuntimeError(f"{what} is needed but no run made it: run its phase first")
    return Path(ct.download_artifacts(uid, path, cfg.workdir / "fetched" / uid,
                                      tracking_uri=cfg.tracking_uri))


def fetch(uid: str | None, path: str, cfg: Config, what: str):
    """Load a torch file from the artifacts of the run with this uid."""
    return torch.load(fetch_path(uid, path, cfg, what), map_location="cpu", weights_only=True)
