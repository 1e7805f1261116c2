"""How many directions the operator needs: for each rank, train U_pos->neg and U_neg->pos on
SmolLM2-135M's training pairs (layer 12, quantum_dim 1152, the demo's recipe) and steer
*dev* prompts, the training sentences cut after their sentiment word, never the held-out
evaluation prompts. Prints, per rank, the training time, the fidelity, and per direction
the shift at the strongest blend whose fluency ratio stays within the limit; the
mean-difference vector beside it. The demo's rank was chosen from this (decisions/).

    .venv/bin/python bench/operator_rank.py [--ranks 8,16,32,64] [--prompts 12]
"""
from __future__ import annotations

import argparse
import time

import torch

from pipelines import intervene, models, prompts, quantum, smollm2, steering
from pipelines.config import Config, recipe

QUANTUM_DIM = 1152  # 2 x d_model, the experiment's default


def train_pair(pos: torch.Tensor, neg: torch.Tensor, encoder: quantum.Encoder, rank: int,
               cfg: Config) -> tuple[dict[str, torch.Tensor], float]:
    ps, _ = encoder.encode(pos)
    ns, _ = encoder.encode(neg)
    ops, fids = {}, []
    for key, (src, tgt) in {"pos_to_neg": (ps, ns), "neg_to_pos": (ns, ps)}.items():
        op = quantum.UnitaryOperator(QUANTUM_DIM, quantum.sentiment_basis(src, tgt, rank)[0])
        quantum.train_operator(op, src, tgt, quantum.TrainConfig(cfg.epochs, cfg.lr, 1.1))
        ops[key] = op.matrix().detach()
        fids.append(quantum.fidelity(ops[key], src, tgt))
    return ops, sum(fids) / 2


def report(gens, cfg: Config, method: str, strengths) -> str:
    cells = []
    for direction in intervene.DIRECTIONS:
        sweep = {s: e for s in strengths
                 if (e := intervene.effect(gens, direction, method, s, ("positive", "negative")))}
        pick = intervene.fluent_setting(sweep)
        cells.append(f"{direction} {sweep[pick].shift:+.3f} at {pick:g} "
                     f"(fluency {sweep[pick].fluency_ratio:.2f})")
    return "; ".join(cells)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--ranks", default="8,16,64")
    ap.add_argument("--prompts", type=int, default=12, help="dev pairs (x2 prompts)")
    args = ap.parse_args()
    r = recipe(smollm2.NAME)
    cfg = Config(layer=r.layer, lr=r.lr, epochs=r.epochs, encode_prompts=r.encode_prompts,
                 max_new_tokens=r.max_new_tokens, blends=r.blend, multipliers=r.multipliers)
    loaded = models.load(smollm2.NAME, "fp32")
    pairs = prompts.training_pairs(loaded.tokenizer, cfg.encode_prompts, cfg.seed)
    pos, neg = steering.collect_pairs(loaded.bridge, cfg.layer, pairs)
    encoder = quantum.fit_encoder(torch.cat([pos, neg]), QUANTUM_DIM, cfg.seed)
    dev = prompts.dev_prompts(pairs, args.prompts, seed=5)
    vector = neg.mean(0) - pos.mean(0)
    for rank in (int(r) for r in args.ranks.split(",")):
        start = time.perf_counter()
        ops, fid = train_pair(pos, neg, encoder, rank, cfg)
        took = time.perf_counter() - start
        gens = intervene.generate_all(loaded.bridge, cfg, dev,
                                      intervene.Steerers(encoder, ops, vector, "cpu"), None)
        print(f"rank {rank}: training {took:.1f} s, fidelity {fid:.4f}; operator: "
              f"{report(gens, cfg, 'operator', cfg.blends)}")
    print(f"vector: {report(gens, cfg, 'vector', cfg.multipliers)}")


if __name__ == "__main__":
    main()
