"""Prompts for phase 1 (training pairs) and phase 3 (evaluation), for a real model with a
subword tokenizer, and the user's own evaluation prompts (`--prompts FILE`).

Training pairs are whole sentences, positive and negative, equal token for token except the
sentiment word: the encode phase pairs their activations position by position, so a pair
whose two words split into different numbers of subword tokens is left out here, by asking
the model's tokenizer. Evaluation prompts come from other templates and other sentiment
words than training ever saw (held out), and stop where the continuation has to choose its
sentiment; neutral ones carry no sentiment word and are steered both ways.

`tiny` has a word-level vocabulary that knows none of these words: it keeps its own
corpus (`corpus.py`), and `training_pairs` / `evaluation_prompts` choose by tokenizer.
"""
from __future__ import annotations

import itertools
import json
import random
from dataclasses import dataclass
from pathlib import Path

from cogit_tracker.errors import BadInput

from . import corpus

POLARITIES = ("positive", "negative", "neutral")
NOUNS = ("movie", "restaurant", "hotel", "concert", "book", "trip", "game", "party", "meal",
         "show", "class", "weekend", "film", "album", "museum", "dinner")
TRAIN_TEMPLATES = (
    "The {n} was {w}, and I told everyone about it.",
    "I thought the {n} was {w} from start to finish.",
    "Everyone agreed that the {n} was really {w}.",
    "What a {w} {n} that was, honestly.",
    "Our {n} last night was {w} and we talked about it all week.",
    "My sister said the {n} was {w}, and she was right.",
    "The {n} we saw on Friday was {w}.",
    "I have to say that the {n} was {w}.",
    "It was a {w} {n}, the kind you remember.",
    "People kept telling me the {n} was {w}.",
    "By the end, the {n} felt {w} to all of us.",
    "The whole {n} was {w}, from the first minute to the last.",
)
TRAIN_WORDS = (  # (positive, negative)
    ("great", "awful"), ("wonderful", "terrible"), ("excellent", "horrible"),
    ("lovely", "dreadful"), ("delightful", "miserable"), ("amazing", "boring"),
    ("good", "bad"), ("nice", "nasty"), ("pleasant", "unpleasant"), ("enjoyable", "painful"),
    ("fantastic", "disgusting"),
)
# Held out: neither these frames nor these words occur in training. Every frame is nine
# tokens under SmolLM2's tokenizer with any noun and word below (one token each), so phase 3
# generates all of them in one batch (a step costs ~90 ms however many rows it holds).
EVAL_POLAR_TEMPLATES = (
    "We left the {n} feeling {w}, because it",
    "My review of the {n}: {w}. The",
    "After the {n} I felt {w}, and I",
)
EVAL_WORDS = (("beautiful", "ugly"), ("perfect", "disappointing"), ("happy", "sad"),
              ("cheerful", "gloomy"), ("pleased", "annoyed"), ("thrilled", "angry"))
EVAL_NEUTRAL_TEMPLATES = (
    "Let me tell you about the {n}. It",
    "Last weekend I went to the {n}, and",
    "Yesterday we went to the {n} and it",
)


@dataclass(frozen=True)
class EvalPrompt:
    """A phase 3 prompt: positive ones are steered pos->neg, negative ones neg->pos, neutral
    ones both ways, each against its own unsteered continuation."""

    text: str
    polarity: str


def _token_count(tokenizer, text: str) -> int:
    return len(tokenizer(text, add_special_tokens=False)["input_ids"])


def sentence_pairs(tokenizer, count: int, seed: int) -> list[corpus.PromptPair]:
    """`count` training pairs drawn (seeded) from every template x noun x word pair whose two
    sides tokenize to the same length."""
    pairs = [corpus.PromptPair(t.format(n=n, w=p), t.format(n=n, w=q))
             for t, n, (p, q) in itertools.product(TRAIN_TEMPLATES, NOUNS, TRAIN_WORDS)]
    aligned = [p for p in pairs
               if _token_count(tokenizer, p.positive) == _token_count(tokenizer, p.negative)]
    random.Random(seed).shuffle(aligned)
    return aligned[:count]


def held_out_prompts(per_polarity: int, seed: int) -> list[EvalPrompt]:
    """`per_polarity` positive, negative and neutral prompts from the held-out templates; the
    positive and negative ones share frames and nouns, so they differ only in the word."""
    rng = random.Random(seed)
    polar = list(itertools.product(EVAL_POLAR_TEMPLATES, NOUNS, EVAL_WORDS))
    neutral = list(itertools.product(EVAL_NEUTRAL_TEMPLATES, NOUNS))
    chosen = rng.sample(polar, min(per_polarity, len(polar)))
    out = [EvalPrompt(t.format(n=n, w=words[i]), pol) for i, pol in enumerate(POLARITIES[:2])
           for t, n, words in chosen]
    out += [EvalPrompt(t.format(n=n), "neutral")
            for t, n in rng.sample(neutral, min(per_polarity, len(neutral)))]
    return out


def dev_prompts(pairs: list[corpus.PromptPair], count: int, seed: int) -> list[EvalPrompt]:
    """Prompts for choosing settings (`bench/operator_rank.py`) without touching the
    evaluation prompts: `count` training pairs cut right after their sentiment word, so
    they share the training frames and words and say nothing about held-out ones."""
    out = []
    for pair in random.Random(seed).sample(pairs, min(count, len(pairs))):
        pos, neg = pair.positive.split(), pair.negative.split()
        cut = next(i for i, (a, b) in enumerate(zip(pos, neg)) if a != b) + 1
        out += [EvalPrompt(" ".join(pos[:cut]), "positive"),
                EvalPrompt(" ".join(neg[:cut]), "negative")]
    return out


def word_level(tokenizer) -> bool:
    """Whether this tokenizer cannot read the subword sets: `tiny`'s word-level vocabulary
    maps their words to its unknown token, a subword tokenizer never does."""
    unk = tokenizer.unk_token_id
    probe = " ".join(t.format(n=NOUNS[0], w=TRAIN_WORDS[0][0]) for t in TRAIN_TEMPLATES)
    return unk is not None and unk in tokenizer(probe, add_special_tokens=False)["input_ids"]


def training_pairs(tokenizer, count: int, seed: int) -> list[corpus.PromptPair]:
    """Phase 1's pairs: tiny's own corpus for a word-level model, the sentences otherwise."""
    if word_level(tokenizer):
        return corpus.prompt_pairs(corpus.load_lexicon(), count, seed, held_out=False)
    return sentence_pairs(tokenizer, count, seed)


def evaluation_prompts(tokenizer, per_polarity: int, seed: int) -> list[EvalPrompt]:
    """Phase 3's default prompts (the user's `--prompts` replace them): tiny's held-out polar
    pairs for a word-level model (it has no neutral frames), the held-out templates
    otherwise."""
    if not word_level(tokenizer):
        return held_out_prompts(per_polarity, seed)
    held = corpus.prompt_pairs(corpus.load_lexicon(), per_polarity, seed, held_out=True)
    return ([EvalPrompt(p.positive, "positive") for p in held]
            + [EvalPrompt(p.negative, "negative") for p in held])


# ---------------------------------------------------------------- --prompts FILE

def read_prompts_file(path: str) -> list[EvalPrompt]:
    """`--prompts FILE`: one prompt a line (neutral: steered both ways), or a JSON list whose
    items are strings or {"text": ..., "polarity": positive|negative|neutral}. Every failure
    is one BadInput line naming the file and what is accepted, raised before any run exists."""
    file = Path(path).expanduser()
    try:
        text = file.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise BadInput(f"--prompts {path!r}: not UTF-8 text; accepted: a UTF-8 file, one "
                       "prompt a line or a JSON list") from None
    except OSError as exc:
        raise BadInput(f"--prompts {path!r}: cannot be read ({exc.strerror or exc}); accepted: "
                       "an existing UTF-8 file, one prompt a line or a JSON list") from None
    stripped = text.strip()
    prompts = _json_prompts(path, stripped) if stripped.startswith("[") else [
        EvalPrompt(line.strip(), "neutral") for line in text.splitlines() if line.strip()]
    if not prompts:
        raise BadInput(f"--prompts {path!r}: no prompt in the file; accepted: one prompt a "
                       "line or a JSON list of prompts")
    return prompts


def _json_prompts(path: str, text: str) -> list[EvalPrompt]:
    try:
        items = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BadInput(f"--prompts {path!r}: invalid JSON ({exc.msg}, line {exc.lineno}); "
                       "accepted: a JSON list of strings or {\"text\", \"polarity\"} objects, "
                       "or one prompt a line") from None
    return [_json_prompt(path, i, item) for i, item in enumerate(items)]


def _json_prompt(path: str, index: int, item) -> EvalPrompt:
    if isinstance(item, str):
        item = {"text": item}
    text = item.get("text") if isinstance(item, dict) else None
    if not isinstance(text, str) or not text.strip():
        raise BadInput(f"--prompts {path!r}: item {index} has no text; accepted: a string or "
                       "{\"text\": \"...\", \"polarity\": \"positive|negative|neutral\"}")
    polarity = item.get("polarity") or "neutral"
    if polarity not in POLARITIES:
        raise BadInput(f"--prompts {path!r}: item {index} has unknown polarity {polarity!r}; "
                       f"accepted: {', '.join(POLARITIES)} (or none: neutral)")
    return EvalPrompt(text.strip(), polarity)
