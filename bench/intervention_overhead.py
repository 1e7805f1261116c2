"""Tokens per second with the quantum intervention against plain generation on `tiny`, at
quantum_dim = 4 x d_model (goal: at most 1.3x slower). Prints both rates and their ratio.

    PYTHONPATH=. python bench/intervention_overhead.py [--repeats 5] [--prompts 16]

The operator is a random unitary (its values do not change the cost); encoding, the complex
matmul of the whole batch and decoding run on every position the hook sees, with the KV
cache on, exactly as in phase 3. Plain and hooked runs alternate so machine load hits both.
"""
from __future__ import annotations

import argparse
import time

import torch

from pipelines import corpus, models, quantum, steering


def rate(bridge, prompts, hook, layer, max_new_tokens) -> tuple[int, float]:
    start = time.perf_counter()
    # steering changes the text, hence its length: EOS is ignored so both make equal tokens
    out = steering.generate(bridge, prompts, hook, layer, max_new_tokens, stop_at_eos=False)
    return sum(len(c.ids) for c in out), time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--prompts", type=int, default=16)
    ap.add_argument("--max-new-tokens", type=int, default=12)
    args = ap.parse_args()

    loaded = models.load("tiny", "fp32")
    bridge, d = loaded.bridge, loaded.d_model
    layer, qd = loaded.n_layers // 2, 4 * d
    pairs = corpus.prompt_pairs(corpus.load_lexicon(), args.prompts, seed=11, held_out=True)
    prompts = [p.positive for p in pairs]
    g = torch.Generator().manual_seed(0)
    a = torch.randn(qd, qd, dtype=torch.complex64, generator=g) * 0.01
    u = torch.linalg.matrix_exp(a - a.conj().T)
    encoder = quantum.make_encoder(torch.zeros(d), qd, seed=0)
    hook = steering.operator_hook(encoder, u, 1.0, "cpu")
    rate(bridge, prompts, hook, layer, args.max_new_tokens)  # warm-up
    plain = [0, 0.0]
    hooked = [0, 0.0]
    for _ in range(args.repeats):
        for acc, h in ((plain, None), (hooked, hook)):
            n, s = rate(bridge, prompts, h, layer, args.max_new_tokens)
            acc[0] += n
            acc[1] += s
    plain_tps, hooked_tps = plain[0] / plain[1], hooked[0] / hooked[1]
    print(f"model tiny: d_model {d}, layer {layer}, quantum_dim {qd}, operator "
          f"{qd * qd * 8 / 1e6:.1f} MB complex64, {len(prompts)} prompts x "
          f"{args.max_new_tokens} tokens x {args.repeats} repeats, torch threads "
          f"{torch.get_num_threads()}")
    print(f"plain generation:      {plain_tps:8.1f} tokens/s")
    print(f"with the intervention: {hooked_tps:8.1f} tokens/s")
    print(f"slowdown: {plain_tps / hooked_tps:.2f}x (goal <= 1.3x)")


if __name__ == "__main__":
    main()
