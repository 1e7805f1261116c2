"""The experiment's settings, checked before any run exists, and what the phases hand on."""
from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Sequence

from cogit_tracker.errors import BadInput

from . import smollm2
from .prompts import EvalPrompt

PHASES = ("encode", "train", "intervene", "reverse")
DEFAULT_MODEL, DEFAULT_PRECISION = "tiny", "fp32"  # or, on --resume, the campaign's


@dataclass(frozen=True)
class Recipe:
    """What a campaign of one model runs with for every value `cogit-log run` is not given.
    Field names are the experiment's parameters (`--operator-rank`...); `--help` shows each
    model's."""

    layer: int | None = None          # None: the middle layer
    operator_rank: int = 0            # 0: U on the whole space; k: in a k-dim subspace
    lr: float = 0.002                 # Adam moves every entry of A by ~lr a step
    epochs: int = 80
    target_fidelity: float = 0.99     # training stops early once both operators reach it
    checkpoint_every: int = 20        # epochs between the checkpoints `--resume` goes on from
    encode_prompts: int = 200         # prompt pairs for the operators' training states
    eval_prompts: int = 12            # held-out prompts per polarity for phase 3
    max_new_tokens: int = 10
    blend: tuple[float, ...] = (0.25, 0.5, 0.75, 1.0)    # the operator's
    multipliers: tuple[float, ...] = (0.5, 1.0, 2.0, 4.0)  # the steering vector's; x4 breaks
    #                                                         SmolLM2's text


#: tiny, a save_pretrained folder, a hub name.
ANY_MODEL = Recipe()
#: The README's figures (`make demo`; decisions/0029): on SmolLM2-135M the operator trains in
#: the 16 directions where training targets differ most from their sources (seconds, fidelity
#: 0.90) instead of the whole 1152-dim space (~6 minutes an operator, 0.94), at lr 0.02.
RECIPES = {smollm2.NAME: Recipe(layer=12, operator_rank=16, lr=0.02, encode_prompts=400,
                                max_new_tokens=20)}
TUNABLE = tuple(f.name for f in fields(Recipe))


def recipe(model: str) -> Recipe:
    return RECIPES.get(model, ANY_MODEL)


def shown(name: str, unset: str = "none") -> str:
    """A parameter's default as `--help` says it: each model's where they differ (`unset`
    says what None means)."""
    def text(r: Recipe) -> str:
        value = getattr(r, name)
        return ", ".join(map(str, value)) if isinstance(value, tuple) else \
            unset if value is None else str(value)

    other = text(ANY_MODEL)
    own = [f"{text(r)} on {model}" for model, r in RECIPES.items() if text(r) != other]
    return "; ".join([*own, f"else {other}" if own else other])


@dataclass
class Config:
    model: str = DEFAULT_MODEL
    precision: str = DEFAULT_PRECISION
    layer: int | None = ANY_MODEL.layer
    quantum_dim: int | None = None    # default: 2 x d_model
    blends: tuple[float, ...] = ANY_MODEL.blend
    device: str = "cpu"               # where the model runs
    seed: int = 0
    encode_prompts: int = ANY_MODEL.encode_prompts
    eval_prompts: int = ANY_MODEL.eval_prompts
    max_new_tokens: int = ANY_MODEL.max_new_tokens
    prompts: list[EvalPrompt] | None = None  # the user's phase 3 prompts (--prompts FILE)
    prompts_file: str | None = None          # where they came from, recorded with the run
    epochs: int = ANY_MODEL.epochs
    operator_rank: int | None = None  # None: U on the whole space; k: in a k-dim subspace
    multipliers: tuple[float, ...] = ANY_MODEL.multipliers
    lr: float = ANY_MODEL.lr
    target_fidelity: float = ANY_MODEL.target_fidelity
    checkpoint_every: int = ANY_MODEL.checkpoint_every
    phases: tuple[str, ...] = PHASES  # the ones this campaign runs
    workdir: Path = field(default_factory=Path.cwd)  # files stay here until uploaded
    tracking_uri: str | None = None
    # uids of earlier phases' runs: phases 3 and 4 fetch their artifacts by these
    encode_uid: str | None = None
    train_uid: str | None = None


def _numbers(values: Sequence[float], flag: str, ok, accepted: str) -> tuple[float, ...]:
    """The values of a multiple option (`--blend 0.5 --blend 1.0`), each passing `ok`; one
    BadInput line otherwise."""
    try:
        numbers = tuple(float(v) for v in values)
    except (TypeError, ValueError):
        numbers = ()
    if not numbers or not all(ok(v) for v in numbers):
        shown = " ".join(map(str, values)) if isinstance(values, (list, tuple)) else values
        raise BadInput(f"{flag} {shown!r}: accepted {accepted}")
    return numbers


def parse_blends(values: Sequence[float]) -> tuple[float, ...]:
    return _numbers(values, "--blend", lambda b: 0.0 <= b <= 1.0,
                    "numbers in [0, 1], one per flag (e.g. --blend 0.5 --blend 1.0)")


def parse_multipliers(values: Sequence[float]) -> tuple[float, ...]:
    return _numbers(values, "--multipliers", lambda m: 0.0 < m <= 100.0,
                    "numbers in (0, 100], one per flag (e.g. --multipliers 0.5 --multipliers 4)")


def parse_lr(lr: float) -> float:
    if not 0 < lr <= 1:  # NaN fails too
        raise BadInput(f"--lr {lr}: accepted a learning rate in (0, 1], e.g. 0.002")
    return lr


def parse_rank(rank: int | None, quantum_dim: int) -> int | None:
    """`--operator-rank`: None or 0 for the whole space, else 1..quantum_dim."""
    if not rank:
        return None
    if not 0 < rank <= quantum_dim:
        raise BadInput(f"--operator-rank {rank}: accepted 0 (the whole space) or 1-{quantum_dim}")
    return rank


def parse_phases(text: str) -> tuple[int, ...]:
    """'1-4', '3', '3-4' or '1,3' -> phase numbers in order. Each end is checked before a
    range is made, so '1-999999999999' is refused at once instead of filling memory."""
    numbers: set[int] = set()
    try:
        for part in text.split(","):
            lo, _, hi = part.strip().partition("-")
            first, last = int(lo), int(hi or lo)
            if not 1 <= first <= last <= len(PHASES):
                raise ValueError(part)
            numbers.update(range(first, last + 1))
    except ValueError:
        numbers = set()
    if not numbers:
        raise BadInput(f"--phases {text!r}: accepted are phase numbers 1-4, e.g. 1-4, 3-4 or 1,3")
    return tuple(sorted(numbers))


def check_shape(cfg: Config, d_model: int, n_layers: int) -> None:
    """Fill the defaults that depend on the model and check layer and quantum_dim against it."""
    if cfg.layer is None:
        cfg.layer = n_layers // 2
    if not 0 <= cfg.layer < n_layers:
        raise BadInput(f"--layer {cfg.layer}: the model has {n_layers} layers, accepted 0-{n_layers - 1}")
    if cfg.quantum_dim is None:
        cfg.quantum_dim = 2 * d_model
    if cfg.quantum_dim < d_model:
        raise BadInput(f"--quantum-dim {cfg.quantum_dim}: must be at least d_model = {d_model}, "
                       "or the encoding loses information")
