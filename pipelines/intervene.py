"""Phase 3: generate on held-out prompts with the layer hooked: a baseline, then each
direction at each blend, once with the quantum operator and once with the classic
mean-difference steering vector, so the user sees what the operator adds. Every generation
is a row of `generations.json`, which `mlflow ui` shows as a table."""
from __future__ import annotations

import time
from dataclasses import asdict

from cogit_tracker import schema
from cogit_tracker.planning.memory import place_operators

from . import artifacts, corpus, encode, models, quantum, steering, train
from .config import Config
from .progress import progress

TABLE = "generations.json"
# direction -> (prompt polarity, operator key)
DIRECTIONS = {"pos->neg": ("positive", "pos_to_neg"), "neg->pos": ("negative", "neg_to_pos")}


def run(cfg: Config, ph) -> dict:
    data = artifacts.fetch(cfg.encode_uid, encode.ARTIFACT, cfg, "phase 1's encoding")
    ops = train.load_operators(cfg)
    loaded = models.load_cached(cfg.model, cfg.precision, cfg.device)
    models.record(ph, loaded, cfg.precision)
    op_bytes = sum(u.numel() * u.element_size() for u in ops.values())
    op_device = place_operators(op_bytes, cfg.device)
    ph.set_tags({schema.OPERATOR_DEVICE: op_device})
    encoder = quantum.Encoder.from_state(data["encoder"]).to(op_device)
    ops = {k: u.to(op_device) for k, u in ops.items()}
    shift = data["negative"].mean(0) - data["positive"].mean(0)
    vectors = {"pos_to_neg": shift, "neg_to_pos": -shift}

    held = corpus.prompt_pairs(corpus.load_lexicon(), cfg.eval_prompts, cfg.seed + 1, held_out=True)
    prompts = {"positive": [p.positive for p in held], "negative": [p.negative for p in held]}
    runs = [("baseline", "none", 0.0, pol) for pol in prompts]
    runs += [(d, m, b, DIRECTIONS[d][0]) for d in DIRECTIONS for b in cfg.blends
             for m in ("operator", "vector")]
    gens: list[steering.Generation] = []
    start = time.perf_counter()
    with progress("generating", total=len(runs) * cfg.eval_prompts) as bar:
        for direction, method, blend, polarity in runs:
            key = DIRECTIONS.get(direction, (None, None))[1]
            hook = (steering.operator_hook(encoder, ops[key], blend, op_device)
                    if method == "operator" else
                    steering.vector_hook(vectors[key], blend) if method == "vector" else None)
            gens += steering.run_generations(loaded.bridge, prompts[polarity], polarity, direction,
                                             method, blend, hook, cfg.layer, cfg.max_new_tokens,
                                             cfg.device, bar)
    took = time.perf_counter() - start
    results = _shifts(gens, cfg.blends, ph)
    results.update({"generations": len(gens),
                    "tokens_per_s": sum(g.tokens for g in gens) / max(took, 1e-9)})
    ph.log_metrics(results)
    ph.log_params({"blends": ",".join(f"{b:g}" for b in cfg.blends), "eval_prompts": cfg.eval_prompts,
                   "max_new_tokens": cfg.max_new_tokens, "decoding": "greedy",
                   "operator_bytes": op_bytes})
    rows = [asdict(g) for g in gens]
    ph.log_table({k: [r[k] for r in rows] for k in rows[0]}, TABLE)
    return results


def _mean(gens, **match) -> float:
    sel = [g for g in gens if all(getattr(g, k) == v for k, v in match.items())]
    return steering.mean_compound(sel)


def _shifts(gens: list[steering.Generation], blends, ph) -> dict:
    """Mean VADER compound of the steered continuations minus the unsteered ones of the same
    prompts, per direction, method and blend (logged with step = blend x 100). Headline, at
    the largest blend: `sentiment_shift`, the operator's mean shift in the intended direction
    (positive = steered as intended), and `vector_shift`, the same for the steering vector."""
    base = {pol: _mean(gens, direction="baseline", polarity=pol) for pol in ("positive", "negative")}
    top: dict[str, float] = {}
    for blend in sorted(blends):
        step = {}
        for d, (pol, key) in DIRECTIONS.items():
            for method, prefix in (("operator", "sentiment_shift"), ("vector", "vector_shift")):
                step[f"{prefix}_{key}"] = _mean(gens, direction=d, method=method, blend=blend) - base[pol]
        ph.log_metrics(step, step=round(blend * 100))
        top = step
    return {**top,
            "sentiment_shift": (top["sentiment_shift_neg_to_pos"] - top["sentiment_shift_pos_to_neg"]) / 2,
            "vector_shift": (top["vector_shift_neg_to_pos"] - top["vector_shift_pos_to_neg"]) / 2,
            "baseline_compound_positive": base["positive"],
            "baseline_compound_negative": base["negative"]}
