"""Tokens per second with the quantum intervention against plain generation. Prints both
rates and their ratio; a benchmark, not a test: it asserts nothing.

    PYTHONPATH=. python bench/intervention_overhead.py [--model tiny|smollm2-135m]
        [--repeats 5] [--prompts N] [--max-new-tokens N] [--device cpu|cuda]

- `tiny`: the operator at quantum_dim = 4 x d_model, at the middle layer (goal: at most 1.3x
  slower), on tiny's held-out word-level prompts.
- `smollm2-135m`: the demo's setting (`pipelines.config.RECIPES`: its layer, its operator rank,
  quantum_dim left at the pipeline's default of 2 x d_model, its max_new_tokens), on the
  held-out evaluation prompts of phase 3 (goal: at most 1.1x slower, issue 10).

The operator is a random unitary (its values do not change the cost; for smollm2 it has the
demo's low-rank structure, I + V (R - I) V^H, as phase 2 saves it: a full quantum_dim^2
matrix); encoding, the complex matmul of the whole batch and decoding run on every position
the hook sees, with the KV cache on, exactly as in phase 3. Plain and hooked runs alternate
so machine load hits both; on a shared machine the best run of each and the median ratio of
adjacent pairs are steadier than the ratio of the totals, so all three are printed. The
time spent inside the hook is measured in the same runs, so load hits it and the rest alike:
its share of the hooked time gives the slowdown least moved by other work on the machine
(it leaves out the bridge's cost of calling a hook at all, which the A/B ratios include).
With `--device cuda` (bench/gpu_check.py) the model and the operator sit on the GPU, and the
hook's timer synchronizes the device before and after it, since CUDA launches return before
their kernels ran (that sync is inside the hooked runs, so it slows them a little too).
"""
from __future__ import annotations

import argparse
import os
import statistics
import time
from dataclasses import dataclass

import torch

from pipelines import config, corpus, models, prompts, quantum, smollm2, steering, tiny


@dataclass(frozen=True)
class Setting:
    layer: int
    quantum_dim: int
    rank: int | None      # None: a dense operator over the whole space
    max_new_tokens: int
    prompts: int          # tiny: prompts; smollm2: prompts per polarity, as phase 3 takes them
    goal: float           # at most this x slower than plain generation


def setting(model: str, loaded: models.Loaded, max_new_tokens: int | None,
            n_prompts: int | None) -> Setting:
    if model == smollm2.NAME:
        r = config.recipe(model)
        cfg = config.Config(model=model, layer=r.layer)
        config.check_shape(cfg, loaded.d_model, loaded.n_layers)  # the default quantum_dim
        return Setting(cfg.layer, cfg.quantum_dim, r.operator_rank,
                       max_new_tokens or r.max_new_tokens, n_prompts or r.eval_prompts, 1.1)
    return Setting(loaded.n_layers // 2, 4 * loaded.d_model, None, max_new_tokens or 12,
                   n_prompts or 16, 1.3)


def bench_prompts(model: str, loaded: models.Loaded, n: int) -> list[str]:
    if model == smollm2.NAME:  # phase 3's held-out templates, n per polarity
        return [p.text for p in prompts.evaluation_prompts(loaded.tokenizer, n, seed=11)]
    pairs = corpus.prompt_pairs(corpus.load_lexicon(), n, seed=11, held_out=True)
    return [p.positive for p in pairs]


def random_operator(dim: int, rank: int | None) -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    k = dim if rank is None else rank
    basis = None
    if rank is not None:
        z = torch.randn(dim, rank, dtype=torch.complex64, generator=g)
        basis = torch.linalg.qr(z).Q
    op = quantum.UnitaryOperator(dim, basis)
    with torch.no_grad():
        op.a.copy_(torch.randn(k, k, dtype=torch.complex64, generator=g) * 0.01)
        return op.matrix()


def rate(bridge, texts, hook, layer, max_new_tokens, device: str = "cpu") -> tuple[int, float]:
    start = time.perf_counter()
    # steering changes the text, hence its length: EOS is ignored so both make equal tokens
    out = steering.generate(bridge, texts, hook, layer, max_new_tokens, device,
                            stop_at_eos=False)
    return sum(len(c.ids) for c in out), time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default=tiny.NAME, choices=(tiny.NAME, smollm2.NAME))
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--prompts", type=int, default=None,
                    help="prompts (tiny, default 16), or prompts per polarity (smollm2-135m, "
                         "default the demo's)")
    ap.add_argument("--max-new-tokens", type=int, default=None)
    ap.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    args = ap.parse_args()

    loaded = models.load(args.model, "fp32", args.device)
    bridge, d = loaded.bridge, loaded.d_model
    s = setting(args.model, loaded, args.max_new_tokens, args.prompts)
    texts = bench_prompts(args.model, loaded, s.prompts)
    u = random_operator(s.quantum_dim, s.rank).to(args.device)
    encoder = quantum.make_encoder(torch.zeros(d), s.quantum_dim, seed=0).to(args.device)
    operator = steering.operator_hook(encoder, u, 1.0, args.device)
    in_hook = [0.0]
    sync = torch.cuda.synchronize if args.device == "cuda" else (lambda: None)

    def timed(acts, hook=None):  # the operator, timed: its share of the hooked runs' time
        sync()
        start = time.perf_counter()
        out = operator(acts, hook)
        sync()
        in_hook[0] += time.perf_counter() - start
        return out

    rate(bridge, texts, timed, s.layer, s.max_new_tokens, args.device)  # warm-up
    in_hook[0] = 0.0
    load_before = os.getloadavg()[0]
    runs: dict[str, list[tuple[int, float]]] = {"plain": [], "hooked": []}
    for _ in range(args.repeats):
        for key, h in (("plain", None), ("hooked", timed)):
            runs[key].append(rate(bridge, texts, h, s.layer, s.max_new_tokens, args.device))
    load_after = os.getloadavg()[0]
    total = {k: sum(n for n, _ in v) / sum(t for _, t in v) for k, v in runs.items()}
    best = {k: max(n / t for n, t in v) for k, v in runs.items()}
    hooked_s = sum(t for _, t in runs["hooked"])
    share = in_hook[0] / hooked_s
    paired = statistics.median(h[1] / p[1] for p, h in zip(runs["plain"], runs["hooked"]))
    batches = len(list(steering.by_length(steering.tokenize(bridge, texts))))
    print(f"model {args.model}: d_model {d}, layer {s.layer}, quantum_dim {s.quantum_dim}, "
          f"operator {'dense' if s.rank is None else f'rank {s.rank}'} "
          f"({s.quantum_dim ** 2 * 8 / 1e6:.1f} MB complex64), {len(texts)} prompts in "
          f"{batches} batches x {s.max_new_tokens} tokens x {args.repeats} repeats, torch "
          f"threads {torch.get_num_threads()}, {os.cpu_count()} CPUs, on {args.device}, "
          f"load average "
          f"{load_before:.2f} -> {load_after:.2f}")
    print(f"plain generation:      {total['plain']:8.1f} tokens/s (best run {best['plain']:.1f})")
    print(f"with the intervention: {total['hooked']:8.1f} tokens/s (best run {best['hooked']:.1f})")
    print(f"slowdown: {total['plain'] / total['hooked']:.2f}x over all runs, "
          f"{best['plain'] / best['hooked']:.2f}x best against best, {paired:.2f}x median of "
          f"adjacent pairs (goal <= {s.goal}x)")
    print(f"time inside the operator's hook: {in_hook[0]:.2f} s of {hooked_s:.2f} s hooked "
          f"({share:.1%}): {1 / (1 - share):.3f}x slower than the same runs without it")


if __name__ == "__main__":
    main()
