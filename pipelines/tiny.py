"""The embedded default model `tiny`: a small Qwen2-architecture model (the family of the
researcher's Qwen2.5-7B) with a word-level tokenizer, trained once on the synthetic sentiment
corpus and cached on disk, all offline.

Word-level tokens keep a positive and a negative prompt aligned position by position, which
the operator's training pairs rely on. The cache key hashes everything that shapes the
weights, so a changed recipe trains a new model instead of reusing a stale one.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from . import corpus
from .progress import progress

UNK, PAD, EOS = "[UNK]", "[PAD]", "[EOS]"
RECIPE_VERSION = 3  # bump when the training code changes the weights it produces


@dataclass(frozen=True)
class TinyRecipe:
    hidden: int = 128
    layers: int = 4
    heads: int = 4
    kv_heads: int = 2
    intermediate: int = 384
    steps: int = 1200
    batch: int = 64
    lr: float = 3e-3
    sentences: int = 30000
    seed: int = 0
    # share of input words shown as [UNK] (the targets stay the words). Without it, whether
    # polarity carried over to sentence frames never seen in training was a lottery on the
    # seed and on the float rounding of the machine that trained (see _batches)
    word_dropout: float = 0.1

    def key(self) -> str:
        blob = json.dumps({**asdict(self), "v": RECIPE_VERSION}, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:12]


def cache_root() -> Path:
    return Path(os.environ.get("COGIT_TINY_CACHE", Path.home() / ".cache" / "cogit-tracker"))


def tiny_dir(recipe: TinyRecipe = TinyRecipe()) -> Path:
    return cache_root() / f"tiny-{recipe.key()}"


def small_matmuls_single_thread() -> None:
    """One torch thread for tiny-model work on the CPU: its matrices are so small that thread
    hand-offs cost more than they save, and on a loaded machine far more (generation measured
    25x faster with 1 thread than with 2 here, under a load of ~15 on 2 cores)."""
    import torch

    torch.set_num_threads(1)


def build_tokenizer(words: list[str]):
    """A fast tokenizer over whole words; anything else is [UNK] (see `encode_words`)."""
    from tokenizers import Tokenizer, models, pre_tokenizers, decoders
    from transformers import PreTrainedTokenizerFast

    vocab = {tok: i for i, tok in enumerate([PAD, UNK, EOS] + words)}
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token=UNK))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tok.decoder = decoders.WordPiece(prefix="##", cleanup=False)
    return PreTrainedTokenizerFast(tokenizer_object=tok, unk_token=UNK, pad_token=PAD,
                                  eos_token=EOS)


def build_model(recipe: TinyRecipe, vocab_size: int):
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    torch.manual_seed(recipe.seed)
    cfg = Qwen2Config(
        vocab_size=vocab_size, hidden_size=recipe.hidden, num_hidden_layers=recipe.layers,
        num_attention_heads=recipe.heads, num_key_value_heads=recipe.kv_heads,
        intermediate_size=recipe.intermediate, max_position_embeddings=64,
        tie_word_embeddings=True, bos_token_id=None, eos_token_id=2, pad_token_id=0,
    )
    return Qwen2ForCausalLM(cfg)


def _batches(tokenizer, texts: list[str], batch: int, steps: int, seed: int,
             word_dropout: float = 0.0):
    """Random batches; with `word_dropout`, that share of the input words (never padding)
    is replaced by [UNK] while the labels keep the real words, so the model cannot lean on
    one exact frame word and must carry the sentence's polarity from every word it sees."""
    import torch

    g = torch.Generator().manual_seed(seed)
    enc = tokenizer([t + f" {EOS}" for t in texts], padding=True, return_tensors="pt")
    ids, mask = enc["input_ids"], enc["attention_mask"]
    for _ in range(steps):
        idx = torch.randint(0, len(texts), (batch,), generator=g)
        labels = ids[idx].clone()
        labels[mask[idx] == 0] = -100
        inputs = ids[idx]
        if word_dropout:
            drop = (torch.rand(inputs.shape, generator=g) < word_dropout) & (mask[idx] == 1)
            inputs = inputs.masked_fill(drop, tokenizer.unk_token_id)
        yield inputs, mask[idx], labels


def train(recipe: TinyRecipe, out: Path) -> dict:
    """Train the tiny model from scratch and save it with its tokenizer; return its stats."""
    import torch

    small_matmuls_single_thread()

    lex = corpus.load_lexicon()
    tokenizer = build_tokenizer(corpus.vocabulary(lex))
    model = build_model(recipe, len(tokenizer))
    texts = corpus.sentences(lex, recipe.sentences, recipe.seed)
    opt = torch.optim.AdamW(model.parameters(), lr=recipe.lr, weight_decay=0.01)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=recipe.lr, total_steps=recipe.steps,
                                                pct_start=0.1)
    model.train()
    start, loss = time.perf_counter(), None
    with progress("training tiny model", total=recipe.steps) as bar:
        for ids, mask, labels in _batches(tokenizer, texts, recipe.batch, recipe.steps, recipe.seed,
                                            recipe.word_dropout):
            loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            bar.advance(1, f"loss {loss.item():.3f}")
    stats = {"train_seconds": round(time.perf_counter() - start, 1), "final_loss": round(loss.item(), 4),
             "params": sum(p.numel() for p in model.parameters()), "recipe": asdict(recipe)}
    tmp = out.with_name(out.name + f".tmp{os.getpid()}")
    model.eval()
    model.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    (tmp / "tiny.json").write_text(json.dumps(stats, indent=2))
    try:
        tmp.rename(out)  # atomic: a half-trained folder is never taken for a cached model
    except OSError:  # another process finished first: same recipe, same seed, keep theirs
        shutil.rmtree(tmp, ignore_errors=True)
    return stats


def ensure_tiny(recipe: TinyRecipe = TinyRecipe()) -> Path:
    """The cached model folder, training it first if this recipe has never been trained."""
    out = tiny_dir(recipe)
    if not (out / "tiny.json").exists():
        out.parent.mkdir(parents=True, exist_ok=True)
        print(f"training the tiny model once (cached in {out})", file=sys.stderr, flush=True)
        train(recipe, out)
    return out
