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
        for group in by_length([pos_ids[i] for i in aligned]):
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


Strength = float | torch.Tensor  # one value, or one per batch row


def _per_row(strength, acts: torch.Tensor):
    """A blend or multiplier shaped to broadcast over (rows, positions, d_model): phase 3
    puts every condition of a prompt in one batch, since a generation step costs ~90 ms
    plus ~2 ms a row (SmolLM2, 2 cores)."""
    if isinstance(strength, torch.Tensor):
        return strength.to(device=acts.device, dtype=torch.float32).view(-1, 1, 1)
    return strength


def operator_hook(encoder: quantum.Encoder, u: torch.Tensor, blend: Strength, device: str) -> Hook:
    """Encode, apply U, decode, blend (per row if `blend` is a tensor): the batch's every
    position in one complex matmul on the operator's device, then back to the model's device
    and dtype. Activations beyond the encoder's `max_norm` are left as they are."""

    def fn(acts: torch.Tensor, hook=None) -> torch.Tensor:
        flat = acts.reshape(-1, acts.shape[-1]).to(device=device, dtype=torch.float32)
        psi, norm = encoder.encode(flat)
        steered = encoder.decode(quantum.apply(u, psi), norm).to(acts.device).view(acts.shape)
        orig = acts.float()
        weight = _per_row(blend, acts) * encoder.in_range(orig)
        mixed = orig + weight * (steered - orig)
        return mixed.to(dtype=acts.dtype)

    return fn


def vector_hook(vector: torch.Tensor, multiplier: Strength) -> Hook:
    """The classic baseline: add multiplier x (mean target activation - mean source
    activation), per row if `multiplier` is a tensor."""

    def fn(acts: torch.Tensor, hook=None) -> torch.Tensor:
        shift = _per_row(multiplier, acts) * vector.to(device=acts.device, dtype=torch.float32)
        return (acts.float() + shift).to(dtype=acts.dtype)

    return fn


def combined(*hooks: Hook) -> Hook:
    """Several hooks at one site: each one's change to the activation, added up. With
    per-row strengths that are zero where a hook does not apply, one batch holds the
    baseline, operator and vector rows together."""

    def fn(acts: torch.Tensor, hook=None) -> torch.Tensor:
        out = acts.float()
        for h in hooks:
            out = out + (h(acts, hook).float() - acts.float())
        return out.to(dtype=acts.dtype)

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
    polarity: str    # of the prompt: positive | negative | neutral
    direction: str   # baseline | pos->neg | neg->pos
    method: str      # none | operator | vector
    blend: float     # the operator's blend, or the vector's multiplier
    text: str        # the continuation only: what the steering changed
    compound: float
    fluency: float   # perplexity of the continuation under the unsteered model
    tokens: int
    latency_s: float


@dataclass
class Continuation:
    """What one prompt generated: its ids are kept so fluency scores exactly those tokens."""

    text: str
    ids: list[int]   # generated token ids, up to and including an end-of-sequence token
    latency_s: float


def by_length(ids: list[torch.Tensor]) -> Iterable[list[int]]:
    """Indices of equal-length token sequences, so batches need no padding."""
    by_len: dict[int, list[int]] = {}
    for i, t in enumerate(ids):
        by_len.setdefault(len(t), []).append(i)
    return by_len.values()


def generate(bridge, prompts: list[str], hook: Hook | None, layer: int, max_new_tokens: int,
             device: str = "cpu", bar=None, stop_at_eos: bool = True) -> list[Continuation]:
    """Greedy continuations, so runs are reproducible. Prompts of one token length share a
    batch; a per-row hook must therefore get prompts of one length (phase 3 groups them)."""
    tok = bridge.tokenizer
    ids = tokenize(bridge, prompts)
    out: list[Continuation | None] = [None] * len(prompts)
    hooks = [(hook_name(layer), hook)] if hook else []
    for group in by_length(ids):
        batch = torch.stack([ids[i] for i in group]).to(device)
        start = time.perf_counter()
        with bridge.hooks(fwd_hooks=hooks):
            seqs = bridge.generate(batch, max_new_tokens=max_new_tokens, do_sample=False,
                                   stop_at_eos=stop_at_eos, eos_token_id=tok.eos_token_id,
                                   use_past_kv_cache=True, verbose=False)
        took = (time.perf_counter() - start) / len(group)
        for row, i in zip(seqs[:, batch.shape[1]:].tolist(), group):
            if stop_at_eos and tok.eos_token_id in row:
                row = row[:row.index(tok.eos_token_id) + 1]
            out[i] = Continuation(tok.decode(row, skip_special_tokens=True), row, took)
        if bar:
            bar.advance(len(group))
    return out  # type: ignore[return-value]


@torch.no_grad()
def perplexity(bridge, prompts: list[str], continuations: list[list[int]], device: str = "cpu",
               batch: int = 32) -> list[float]:
    """Fluency: exp(mean negative log-likelihood) of each continuation's tokens given its
    prompt, under the model with no hook. Broken text scores high; the model's own greedy
    text scores low. Sequences are right-padded: a causal model's real positions never
    attend to the padding after them, and padded positions are left out of the mean."""
    pad = bridge.tokenizer.eos_token_id
    seqs = [torch.cat([p, torch.tensor(c, dtype=torch.long)])
            for p, c in zip(tokenize(bridge, prompts), continuations)]
    starts = [len(s) - len(c) for s, c in zip(seqs, continuations)]
    out = []
    for lo in range(0, len(seqs), batch):
        chunk, first = seqs[lo:lo + batch], starts[lo:lo + batch]
        width = max(len(s) for s in chunk)
        ids = torch.full((len(chunk), width), pad, dtype=torch.long)
        for r, s in enumerate(chunk):
            ids[r, :len(s)] = s
        logp = bridge(ids.to(device)).float().log_softmax(-1).cpu()
        for r, s in enumerate(chunk):
            pos = torch.arange(first[r] - 1, len(s) - 1)
            nll = -logp[r, pos, s[first[r]:]].mean()
            out.append(float(nll.exp()))
    return out


def mean_compound(gens: list[Generation]) -> float:
    return sum(g.compound for g in gens) / max(len(gens), 1)
