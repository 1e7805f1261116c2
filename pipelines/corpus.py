"""A synthetic sentiment corpus built from the VADER lexicon, so the `tiny` model's
generations carry sentiment that VADER itself can score.

Every sentence is one polarity throughout. Besides words drawn from the lexicon ({w}), each
sentence has "echo" slots ({v} a verb such as loved/hated, {a} an adjective such as
happy/sad) filled from a few frequent words of the same polarity: their polarity is easy to
learn, and predicting them forces the model to read the polarity of the rarer lexicon words
before them, which is what the steering operator then rotates. Training and held-out
templates differ, so steering is measured on sentence frames the model never saw.
"""
from __future__ import annotations

import random
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

NOUNS = ("movie", "food", "trip", "book", "game", "show", "meal", "party", "song", "class",
         "hotel", "team", "job", "weekend", "concert", "story")
ECHO = {  # slot -> (positive words, negative words), all in the VADER lexicon
    "v": (("loved", "enjoyed", "adored"), ("hated", "dreaded", "despised")),
    "a": (("happy", "glad", "proud"), ("sad", "angry", "upset")),
}

# {n}: noun; {w}: lexicon word; {v}, {a}: echo words; all sentiment of one polarity.
TRAIN_TEMPLATES = (
    "the {n} was {w} . i {v} it and felt {a} .",
    "i think the {n} is {w} , really {w} . i {v} it .",
    "this {n} made me {a} , so {w} .",
    "what a {w} {n} . we {v} it , so {a} .",
    "my {n} today was {w} and {w} . i felt {a} .",
    "everyone said the {n} was {w} . they {v} it .",
    "we found the {n} {w} , {w} and {a} .",
)
# New frames made only of words the training sentences use: a word never seen in training
# keeps its random embedding, and a prompt made of those tests nothing but noise.
HELD_OUT_TEMPLATES = (
    "today the {n} was {w} . we {v} it .",
    "they found the {n} {w} and felt {a} .",
    "i felt the {n} was {w} , so {a} .",
    "we think this {n} is {w} . i {v} it .",
)
PROFANITY = ("fuck", "shit", "bitch", "bastard", "damn", "dick", "piss", "cock", "whore", "slut",
             "cunt", "ass", "crap", "hell")  # kept out of the demo's generations
SLOT = re.compile(r"\{([nwva])\}")


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
        if any(p in word for p in PROFANITY):
            continue
        if valence >= min_valence:
            pos.append(word)
        elif valence <= -min_valence:
            neg.append(word)
    rng = random.Random(seed)
    pos, neg = sorted(pos), sorted(neg)
    rng.shuffle(pos)
    rng.shuffle(neg)
    return Lexicon(tuple(sorted(pos[:per_polarity])), tuple(sorted(neg[:per_polarity])))


def fill(template: str, noun: str, lex: "Lexicon", positive: bool, rng: random.Random) -> str:
    """The template with every slot filled in one polarity; lexicon words do not repeat."""
    words = list(lex.positive if positive else lex.negative)
    rng.shuffle(words)
    pick = iter(words)

    def one(m: re.Match) -> str:
        slot = m.group(1)
        if slot == "n":
            return noun
        if slot == "w":
            return next(pick)
        return rng.choice(ECHO[slot][0 if positive else 1])

    return SLOT.sub(one, template)


def sentences(lex: Lexicon, count: int, seed: int) -> list[str]:
    """Training sentences, alternately positive and negative."""
    rng = random.Random(seed)
    return [fill(rng.choice(TRAIN_TEMPLATES), rng.choice(NOUNS), lex, i % 2 == 0, rng)
            for i in range(count)]


def vocabulary(lex: Lexicon) -> list[str]:
    """Every word the corpus and the held-out prompts can contain."""
    words = set(lex.positive) | set(lex.negative) | set(NOUNS)
    for pos, neg in ECHO.values():
        words |= set(pos) | set(neg)
    for template in TRAIN_TEMPLATES + HELD_OUT_TEMPLATES:
        words |= {w for w in template.split() if not SLOT.fullmatch(w)}
    return sorted(words)


@dataclass(frozen=True)
class PromptPair:
    """A positive and a negative prompt of the same frame, equal token for token except the
    sentiment word, so their activations can be paired position by position."""

    positive: str
    negative: str


def prompt_pairs(lex: Lexicon, count: int, seed: int, held_out: bool) -> list[PromptPair]:
    """Held-out prompts end right after their first sentiment word (generation continues
    from there); training prompts are whole sentences, since the operator is trained on every
    position from the sentiment word onward."""
    rng = random.Random(seed)
    templates = HELD_OUT_TEMPLATES if held_out else TRAIN_TEMPLATES
    pairs = []
    for _ in range(count):
        template, noun, state = rng.choice(templates), rng.choice(NOUNS), rng.random()
        # the same random draws for both sides keep the echo slots' positions aligned
        pos = fill(template, noun, lex, True, random.Random(state)).split()
        neg = fill(template, noun, lex, False, random.Random(state)).split()
        first = next(i for i, (a, b) in enumerate(zip(pos, neg)) if a != b)
        end = first + 1 if held_out else len(pos)
        pairs.append(PromptPair(" ".join(pos[:end]), " ".join(neg[:end])))
    return pairs
