"""The experiment's settings, checked before any run exists, and what the phases hand on."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from cogit_tracker.errors import BadInput

from .prompts import EvalPrompt

PHASES = ("encode", "train", "intervene", "reverse")
# Defaults of the options that `cogit-log run` declares (pipelines/__init__.py) and
# `run_campaign` takes, defined once.
BLENDS = "0.25,0.5,0.75,1.0"   # the operator's
MULTIPLIERS = "0.5,1,2,4"      # the steering vector's; x4 breaks SmolLM2's text
LR = 0.002                     # Adam moves every entry of A by ~lr a step


@dataclass
class Config:
    model: str = "tiny"
    precision: str = "fp32"
    layer: int | None = None          # default: the middle layer
    quantum_dim: int | None = None    # default: 2 x d_model
    blends: tuple[float, ...] = field(default_factory=lambda: parse_blends(BLENDS))
    device: str = "cpu"               # where the model runs
    seed: int = 0
    encode_prompts: int = 200         # prompt pairs for the operators' training states
    eval_prompts: int = 12            # held-out prompts per polarity for phase 3
    max_new_tokens: int = 10
    prompts: list[EvalPrompt] | None = None  # the user's phase 3 prompts (--prompts FILE)
    prompts_file: str | None = None          # where they came from, recorded with the run
    epochs: int = 80
    operator_rank: int | None = None  # None: U on the whole space; k: in a k-dim subspace
    multipliers: tuple[float, ...] = field(default_factory=lambda: parse_multipliers(MULTIPLIERS))
    lr: float = LR
    target_fidelity: float = 0.99
    checkpoint_every: int = 20
    workdir: Path = field(default_factory=Path.cwd)  # files stay here until uploaded
    tracking_uri: str | None = None
    # uids of earlier phases' runs: phases 3 and 4 fetch their artifacts by these
    encode_uid: str | None = None
    train_uid: str | None = None


def _numbers(text: str, flag: str, ok, accepted: str) -> tuple[float, ...]:
    """Comma-separated numbers for `flag`, each passing `ok`; one BadInput line otherwise."""
    try:
        values = tuple(float(b) for b in text.split(",") if b.strip())
    except ValueError:
        values = ()
    if not values or not all(ok(v) for v in values):
        raise BadInput(f"{flag} {text!r}: expected {accepted} separated by commas")
    return values


def parse_blends(text: str) -> tuple[float, ...]:
    return _numbers(text, "--blend", lambda b: 0.0 <= b <= 1.0,
                    "numbers in [0, 1], e.g. 0.25,0.5,0.75,1.0")


def parse_multipliers(text: str) -> tuple[float, ...]:
    return _numbers(text, "--multipliers", lambda m: 0.0 < m <= 100.0,
                    "numbers in (0, 100], e.g. 0.5,1,2,4")


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
