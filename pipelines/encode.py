"""Phase 1: residual activations of paired positive/negative prompts at one layer, and the
fixed encoder that maps them to quantum states. The activations go up as an artifact; the
states are recomputed from them (the encoder is deterministic), which keeps the file small."""
from __future__ import annotations

import torch

from . import artifacts, models, prompts, quantum, steering
from .config import Config

ARTIFACT = "encoding.pt"


def run(cfg: Config, ph) -> dict:
    loaded = models.load_cached(cfg.model, cfg.precision, cfg.device)
    models.record(ph, loaded, cfg.precision)
    pairs = prompts.training_pairs(loaded.tokenizer, cfg.encode_prompts, cfg.seed)
    pos, neg = steering.collect_pairs(loaded.bridge, cfg.layer, pairs, cfg.device)
    encoder = quantum.fit_encoder(torch.cat([pos, neg]), cfg.quantum_dim, cfg.seed)
    pos_states, _ = encoder.encode(pos)
    neg_states, _ = encoder.encode(neg)
    ph.log_params({"layer": cfg.layer, "quantum_dim": cfg.quantum_dim, "prompt_pairs": len(pairs),
                   "seed": cfg.seed, "hook": steering.hook_name(cfg.layer)})
    results = {"states": len(pos), "weight_mb": loaded.weight_bytes / 1e6,
               "fidelity_identity": quantum.fidelity(None, pos_states, neg_states)}
    ph.log_metrics(results)
    path = artifacts.save({"encoder": encoder.state_dict(), "positive": pos, "negative": neg,
                           "layer": cfg.layer}, cfg, f"{ph.uid}/{ARTIFACT}")
    ph.log_artifact(path)
    return results
