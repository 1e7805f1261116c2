"""A synthetic sentiment corpus built from the VADER lexicon, so the `tiny` model's
generations carry sentiment that VADER itself can score.

Every sentence is one polarity throughout: once a sentiment word appears, the words that
follow share its sign. A model trained on it reads the polarity back from the sentiment word,
which is what the steering operator then rotates. Training and held-out templates differ, so
steering is measured on sentence frames the model never saw.
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

NOUNS = ("movie", "food", "trip", "book", "game", "show", "meal", "party", "song", "class",
         "hotel", "team", "job", "weekend", "concert", "story")
HELD_OUT_NOUNS = ("film", "dinner", "visit", "album")

# {n}: noun, {w}: sentiment word of the sentence's polarity.
TRAIN_TEMPLATES = (
    "the {n} was {w} and {w} . i felt {w} .",
    "i think the {n} is {w} , really {w} and {w} .",
    "this {n} made me {w} and {w} .",
    "what a {w} {n} , so {w} and {w} .",
    "my {n} today was {w} . everything felt {w} and {w} .",
    "we found the {n} {w} , {w} and {w} .",
    "everyone said the {n} was {w} . it was {w} , {w} .",
)
HELD_OUT_TEMPLATES = (
    "honestly the {n} seemed {w} , {w} and {w} .",
    "yesterday our {n} was {w} and {w} .",
    "they told me the {n} felt {w} . so {w} .",
)


@dataclass(frozen=True)
class Lexicon:
    positive: tuple[str, ...]
    negative: tuple[str, ...]


def lexicon_path() -> Path:
    import vaderSentiment

    return Path(vaderSentiment.__file__).parent / "vader_lexicon.txt"


@lru_cache(maxsize=4)
def load_lexicon(per_polarity: int = 40, min_valence: float = 1.8, seed: int = 0) -> Lexicon:
    """Strong, plain words of each sign: alphabetic, and scored with the same sign by VADER
    alone, so a generation made of them scores as its polarity."""
    pos, neg = [], []
    for line in lexicon_path().read_text(encoding="utf-8").splitlines():
        parts = line.split("\t")
        if len(parts) < 2 or not parts[0].isalpha() or not parts[0].islower() or len(parts[0]) < 3:
            continue
        word, valence = parts[0], float(parts[1])
        if valence >= min_valence:
            pos.append(word)
        elif valence <= -min_valence:
            neg.append(word)
    rng = random.Random(seed)
    pos, neg = sorted(pos), sorted(neg)
    rng.shuffle(pos)
    rng.shuffle(neg)
    return Lexicon(tuple(sorted(pos[:per_polarity])), tuple(sorted(neg[:per_polarity])))


def fill(template: str, noun: str, words: list[str]) -> str:
    it = iter(words)
    return template.replace("{n}", noun).replace("{w}", "{}").format(*[next(it) for _ in range(template.count("{w}"))])


def sentences(lex: Lexicon, count: int, seed: int) -> list[str]:
    """Training sentences, half positive and half negative."""
    rng = random.Random(seed)
    out = []
    for i in range(count):
        words = lex.positive if i % 2 == 0 else lex.negative
        template = rng.choice(TRAIN_TEMPLATES)
        out.append(fill(template, rng.choice(NOUNS), rng.sample(words, template.count("{w}"))))
    return out


def vocabulary(lex: Lexicon) -> list[str]:
    """Every word the corpus and the held-out prompts can contain."""
    words = set(lex.positive) | set(lex.negative) | set(NOUNS) | set(HELD_OUT_NOUNS)
    for template in TRAIN_TEMPLATES + HELD_OUT_TEMPLATES:
        words |= {w for w in template.split() if w not in ("{n}", "{w}")}
    return sorted(words)


@dataclass(frozen=True)
class PromptPair:
    """A positive and a negative prompt of the same frame, equal token for token except the
    sentiment word, so their activations can be paired position by position."""

    positive: str
    negative: str
    sentiment_index: int  # word index of the sentiment word (word-level tokens: same index)


def prompt_pairs(lex: Lexicon, count: int, seed: int, held_out: bool) -> list[PromptPair]:
    """Prompts cut right after the first sentiment word (held-out) or a few words later
    (training the operator wants the positions after the sentiment word too)."""
    rng = random.Random(seed)
    templates = HELD_OUT_TEMPLATES if held_out else TRAIN_TEMPLATES
    nouns = HELD_OUT_NOUNS if held_out else NOUNS
    pairs = []
    for _ in range(count):
        template = rng.choice(templates)
        noun = rng.choice(nouns)
        k = template.count("{w}")
        pos = fill(template, noun, rng.sample(lex.positive, k)).split()
        neg = fill(template, noun, rng.sample(lex.negative, k)).split()
        first = next(i for i, (a, b) in enumerate(zip(pos, neg)) if a != b)
        end = first + 1 if held_out else len(pos)
        pairs.append(PromptPair(" ".join(pos[:end]), " ".join(neg[:end]), first))
    return pairs
