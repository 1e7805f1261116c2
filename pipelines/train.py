"""Phase 2: train U_pos->neg and U_neg->pos on the encoded pairs, with per-epoch fidelity
beside what the identity scores, checkpoints every few epochs (so `--resume` continues the
same run), and the final operators uploaded with their sha256."""
from __future__ import annotations

import json

import torch

from . import artifacts, cache, encode, quantum
from .config import Config

DIRECTIONS = ("pos_to_neg", "neg_to_pos")
CHECKPOINT = "checkpoints/checkpoint.pt"
MANIFEST = "operators.json"


def operator_file(direction: str) -> str:
    return f"operators/U_{direction}.pt"


def states(cfg: Config) -> dict[str, tuple]:
    """(source, target) states per direction, from phase 1's artifact."""
    data = artifacts.fetch(cfg.encode_uid, encode.ARTIFACT, cfg, "phase 1's encoding")
    encoder = quantum.Encoder.from_state(data["encoder"])
    pos, _ = encoder.encode(data["positive"])
    neg, _ = encoder.encode(data["negative"])
    return {"pos_to_neg": (pos, neg), "neg_to_pos": (neg, pos)}


def _resume_point(cfg: Config, ph) -> dict:
    """The last checkpoint this phase run uploaded, or {} for a fresh start."""
    if not ph.resumed:
        return {}
    try:
        return artifacts.fetch(ph.uid, CHECKPOINT, cfg, "checkpoint")
    except Exception:  # noqa: BLE001 - no checkpoint uploaded yet: start over
        return {}


PARAMETRISATION = {True: "U = exp(A - A^H)",
                   False: "U = I + V (exp(A - A^H) - I) V^H, V: top singular vectors of "
                          "target - source"}


def _operator(cfg: Config, source, target, results: dict, direction: str
              ) -> quantum.UnitaryOperator:
    """The full operator, or one confined to the `operator_rank` directions where training
    targets differ from their sources (the share of that difference they hold is logged)."""
    if cfg.operator_rank is None:
        return quantum.UnitaryOperator(cfg.quantum_dim)
    basis, energy = quantum.sentiment_basis(source, target, cfg.operator_rank)
    results[f"subspace_energy_{direction}"] = energy
    return quantum.UnitaryOperator(cfg.quantum_dim, basis)


def run(cfg: Config, ph) -> dict:
    pairs = states(cfg)
    done = _resume_point(cfg, ph)
    tc = quantum.TrainConfig(cfg.epochs, cfg.lr, cfg.target_fidelity)
    if ph.resumed:  # params are write-once in MLflow: a resumed run logs where it restarted
        ph.log_metrics({f"resumed_from_epoch_{d}": done.get(d, {}).get("epoch", 0)
                        for d in DIRECTIONS})
    else:
        ph.log_params({"epochs_max": cfg.epochs, "lr": cfg.lr,
                       "target_fidelity": cfg.target_fidelity,
                       "parametrisation": PARAMETRISATION[cfg.operator_rank is None],
                       "operator_rank": cfg.operator_rank or cfg.quantum_dim})
    results: dict[str, float] = {}
    manifest = {}
    curves: dict[str, list[float]] = {d: [] for d in pairs}
    for turn, (direction, (source, target)) in enumerate(pairs.items()):
        op = _operator(cfg, source, target, results, direction)
        saved = done.get(direction, {})
        if saved:
            op.load_state_dict(saved["op"])

        def on_epoch(epoch: int, fid: float, loss: float, opt_state: dict) -> None:
            ph.log_metrics({f"fidelity_{direction}": fid, f"loss_{direction}": loss}, step=epoch)
            curves[direction].append(fid)
            if epoch % cfg.checkpoint_every == 0:
                done[direction] = {"op": op.state_dict(), "epoch": epoch, "opt": opt_state}
                ph.log_artifact(artifacts.save(done, cfg, f"{ph.uid}/{CHECKPOINT}"), "checkpoints")

        epochs = saved.get("epoch", 0)
        if not saved.get("finished"):
            epochs = quantum.train_operator(op, source, target, tc, start_epoch=epochs,
                                            optimizer_state=saved.get("opt"), on_epoch=on_epoch,
                                            label=f"training U_{direction}",
                                            offset=turn * cfg.epochs, of=len(pairs) * cfg.epochs)
            done[direction] = {"op": op.state_dict(), "epoch": epochs, "finished": True}
            ph.log_artifact(artifacts.save(done, cfg, f"{ph.uid}/{CHECKPOINT}"), "checkpoints")
        u = op.matrix().detach()
        results[f"fidelity_{direction}"] = quantum.fidelity(u, source, target)
        results[f"fidelity_identity_{direction}"] = quantum.fidelity(None, source, target)
        results[f"epochs_{direction}"] = epochs
        path = artifacts.save(u, cfg, f"{ph.uid}/{operator_file(direction)}")
        ph.log_artifact(path, "operators")
        manifest[direction] = {"file": operator_file(direction), "sha256": cache.sha256(path),
                               "bytes": path.stat().st_size, "quantum_dim": cfg.quantum_dim}
    results["fidelity"] = sum(results[f"fidelity_{d}"] for d in DIRECTIONS) / 2
    results["fidelity_identity"] = sum(results[f"fidelity_identity_{d}"] for d in DIRECTIONS) / 2
    # `fidelity` per epoch (DESIGN.md; what reports chart) is the mean of the two operators'
    # curves, which train one after the other; the final value comes last, at the last step.
    for epoch, fids in enumerate(zip(*curves.values())):
        ph.log_metrics({"fidelity": sum(fids) / len(fids)}, step=epoch)
    final_step = max((len(c) for c in curves.values()), default=0)
    # per-direction fidelity is already in the per-epoch history; a step-0 copy would muddle it
    ph.log_metrics({k: v for k, v in results.items() if not k.startswith("fidelity_pos")
                    and not k.startswith("fidelity_neg")}, step=final_step)
    ph.log_dict(manifest, MANIFEST)
    ph.log_params({f"sha256_{d}": manifest[d]["sha256"] for d in DIRECTIONS})  # final: once
    return results


def load_operators(cfg: Config) -> dict:
    """Phase 2's operators by its uid, each checked against the sha256 it was saved with."""
    manifest = json.loads(artifacts.fetch_path(cfg.train_uid, MANIFEST, cfg, "phase 2's operators")
                          .read_text())
    ops = {}
    for direction, entry in manifest.items():
        local = artifacts.fetch_path(cfg.train_uid, entry["file"], cfg, "operator")
        if cache.sha256(local) != entry["sha256"]:
            raise RuntimeError(f"operator {entry['file']} of run {cfg.train_uid} fails its "
                               "sha256 check")
        ops[direction] = torch.load(local, map_location="cpu", weights_only=True)
    return ops
