"""Activations in, steered generations out: the model-facing half of the experiment.

Hooks act on every position they see, so they work the same with the KV cache on (the
prompt once, then one position per new token) as with it off. Prompts are generated in
groups of equal token length, so no padding position is ever steered or attended.
"""
from __future__ import annotations

import time
import warnings
from dataclasses import dataclass
from functools import lru_cache
from typing import Callable, Iterable

import torch

from . import quantum
from .corpus import PromptPair
from .progress import progress

Hook = Callable[[torch.Tensor, object], torch.Tensor]


def hook_name(layer: int) -> str:
    return f"blocks.{layer}.hook_resid_post"


def tokenize(bridge, texts: list[str]) -> list[torch.Tensor]:
    """Token ids per text, no BOS (Qwen2 does not prepend one); unknown words warn."""
    tok = bridge.tokenizer
    unk = tok.unk_token_id
    out = []
    for text in texts:
        ids = torch.tensor(tok(text, add_special_tokens=False)["input_ids"])
        if unk is not None and (ids == unk).any():
            missing = [w for w, i in zip(text.split(), ids.tolist()) if i == unk]
            warnings.warn(f"words outside the vocabulary map to {tok.unk_token}: {missing}",
                          stacklevel=2)
        out.append(ids)
    return out


def collect_pairs(bridge, layer: int, pairs: list[PromptPair], device: str = "cpu"
                  ) -> tuple[torch.Tensor, torch.Tensor]:
    """Residual activations of each positive and negative prompt at every position from the
    first token where they differ (the sentiment word) onward, paired position by position:
    (n, d_model) each. Pairs a subword tokenizer splits unequally are skipped with a warning."""
    name = hook_name(layer)
    pos_ids = tokenize(bridge, [p.positive for p in pairs])
    neg_ids = tokenize(bridge, [p.negative for p in pairs])
    aligned = [i for i in range(len(pairs)) if pos_ids[i].shape == neg_ids[i].shape]
    if len(aligned) < len(pairs):
        warnings.warn(f"{len(pairs) - len(aligned)} of {len(pairs)} prompt pairs differ in token "
                      "count and are left out", stacklevel=2)
    if not aligned:
        raise ValueError("no prompt pair is aligned token for token under this tokenizer")
    pos_rows, neg_rows = [], []
    with progress("collecting activations", total=len(aligned)) as bar:
        for group in _groups([pos_ids[i] for i in aligned]):
            idx = [aligned[g] for g in group]
            batch = torch.stack([pos_ids[i] for i in idx] + [neg_ids[i] for i in idx])
            _, cache = bridge.run_with_cache(batch.to(device), names_filter=name)
            acts = cache[name].float().cpu()
            for row, i in enumerate(idx):
                start = int((pos_ids[i] != neg_ids[i]).nonzero()[0])
                pos_rows.append(acts[row, start:])
                neg_rows.append(acts[len(idx) + row, start:])
            bar.advance(len(idx))
    return torch.cat(pos_rows), torch.cat(neg_rows)


def operator_hook(encoder: quantum.Encoder, u: torch.Tensor, blend: float, device: str) -> Hook:
    """Encode, apply U, decode, blend: the batch's every position in one complex matmul on
    the operator's device, then back to the model's device and dtype."""

    def fn(acts: torch.Tensor, hook=None) -> torch.Tensor:
        flat = acts.reshape(-1, acts.shape[-1]).to(device=device, dtype=torch.float32)
        psi, norm = encoder.encode(flat)
        steered = encoder.decode(quantum.apply(u, psi), norm)
        mixed = (1 - blend) * flat + blend * steered
        return mixed.reshape(acts.shape).to(device=acts.device, dtype=acts.dtype)

    return fn


def vector_hook(vector: torch.Tensor, blend: float) -> Hook:
    """The classic baseline: add blend x (mean target activation - mean source activation)."""

    def fn(acts: torch.Tensor, hook=None) -> torch.Tensor:
        return acts + blend * vector.to(device=acts.device, dtype=acts.dtype)

    return fn


@lru_cache(maxsize=1)
def _vader():
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    return SentimentIntensityAnalyzer()


def compound(text: str) -> float:
    return _vader().polarity_scores(text)["compound"]


@dataclass
class Generation:
    prompt: str
    polarity: str    # of the prompt: positive | negative
    direction: str   # baseline | pos->neg | neg->pos
    method: str      # none | operator | vector
    blend: float
    text: str        # the continuation only: what the steering changed
    compound: float
    tokens: int
    latency_s: float


def _groups(ids: list[torch.Tensor]) -> Iterable[list[int]]:
    """Indices of equal-length token sequences, so batches need no padding."""
    by_len: dict[int, list[int]] = {}
    for i, t in enumerate(ids):
        by_len.setdefault(len(t), []).append(i)
    return by_len.values()


def generate(bridge, prompts: list[str], hook: Hook | None, layer: int, max_new_tokens: int,
             device: str = "cpu", bar=None, stop_at_eos: bool = True
             ) -> list[tuple[str, int, float]]:
    """(continuation, new tokens, latency) per prompt; greedy, so runs are reproducible."""
    tok = bridge.tokenizer
    ids = tokenize(bridge, prompts)
    out: list[tuple[str, int, float] | None] = [None] * len(prompts)
    hooks = [(hook_name(layer), hook)] if hook else []
    for group in _groups(ids):
        batch = torch.stack([ids[i] for i in group]).to(device)
        start = time.perf_counter()
        with bridge.hooks(fwd_hooks=hooks):
            seqs = bridge.generate(batch, max_new_tokens=max_new_tokens, do_sample=False,
                                   stop_at_eos=stop_at_eos, eos_token_id=tok.eos_token_id,
                                   use_past_kv_cache=True, verbose=False)
        took = (time.perf_counter() - start) / len(group)
        for row, i in zip(seqs[:, batch.shape[1]:].tolist(), group):
            if stop_at_eos and tok.eos_token_id in row:
                row = row[:row.index(tok.eos_token_id)]
            out[i] = (tok.decode(row, skip_special_tokens=True), len(row), took)
        if bar:
            bar.advance(len(group))
    return out  # type: ignore[return-value]


def run_generations(bridge, prompts: list[str], polarity: str, direction: str, method: str,
                    blend: float, hook: Hook | None, layer: int, max_new_tokens: int,
                    device: str = "cpu", bar=None) -> list[Generation]:
    return [Generation(p, polarity, direction, method, blend, text, compound(text), n, lat)
            for p, (text, n, lat) in zip(prompts, generate(bridge, prompts, hook, layer,
                                                            max_new_tokens, device, bar))]


def mean_compound(gens: list[Generation]) -> float:
    return sum(g.compound for g in gens) / max(len(gens), 1)
