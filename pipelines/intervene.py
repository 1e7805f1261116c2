"""Phase 3: generate on evaluation prompts with the layer hooked. Positive prompts are steered
pos->neg, negative ones neg->pos, neutral ones both ways, each against its own unsteered
continuation; once with the quantum operator at each blend and once with the classic
mean-difference steering vector at each multiplier, so the user sees what the operator adds.

Every generation is a row of `generations.json` (`mlflow ui` shows it as a table) with its
VADER compound and its fluency (perplexity under the unsteered model). Per setting, a shift
and a `fluency_ratio` against the baseline are logged (step = blend or multiplier x 100),
so the point where the text breaks shows in the sweep. The headline per method and
direction is the strongest setting whose fluency ratio stays within FLUENCY_LIMIT: the
setting is chosen by fluency alone, never by the sentiment it reaches.
"""
from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass

import torch

from cogit_tracker import schema
from cogit_tracker.planning.memory import place_operators

from . import artifacts, encode, models, prompts, quantum, steering, train
from .config import Config
from .progress import progress

PROMPTS = "prompts.json"
FLUENCY_LIMIT = 1.5  # issue 10: steered text may be at most 1.5x as perplexing as unsteered
# direction -> (operator key, polarities of the prompts steered that way)
DIRECTIONS = {"pos->neg": ("pos_to_neg", ("positive", "neutral")),
              "neg->pos": ("neg_to_pos", ("negative", "neutral"))}


@dataclass(frozen=True)
class Method:
    """A steering method's metric names: its shift, its fluency ratio, its setting."""

    shift: str
    fluency: str
    setting: str


METHODS = {"operator": Method("sentiment_shift", "fluency_ratio", "blend"),
           "vector": Method("vector_shift", "vector_fluency_ratio", "multiplier")}


@dataclass(frozen=True)
class Condition:
    direction: str   # baseline | pos->neg | neg->pos
    method: str      # none | operator | vector
    strength: float  # blend for the operator, multiplier for the vector, 0 for the baseline


@dataclass
class Steerers:
    """What steers: the operator of each direction with their encoder, and the
    mean-difference vector of pos->neg (neg->pos adds its negative)."""

    encoder: quantum.Encoder
    operators: dict[str, torch.Tensor]  # operator key -> U, on `device`
    vector: torch.Tensor
    device: str  # the operators'


def conditions(cfg: Config, polarity: str) -> list[Condition]:
    """A prompt's unsteered baseline, then every setting of each direction it is steered in."""
    out = [Condition("baseline", "none", 0.0)]
    for direction, (_, polarities) in DIRECTIONS.items():
        if polarity in polarities:
            out += [Condition(direction, "operator", b) for b in cfg.blends]
            out += [Condition(direction, "vector", m) for m in cfg.multipliers]
    return out


def run(cfg: Config, ph) -> dict:
    data = artifacts.fetch(cfg.encode_uid, encode.ARTIFACT, cfg, "phase 1's encoding")
    ops = train.load_operators(cfg)
    loaded = models.load_cached(cfg.model, cfg.precision, cfg.device)
    models.record(ph, loaded, cfg.precision)
    op_bytes = sum(u.numel() * u.element_size() for u in ops.values())
    op_device = place_operators(op_bytes, cfg.device)
    ph.set_tags({schema.OPERATOR_DEVICE: op_device})
    steer = Steerers(quantum.Encoder.from_state(data["encoder"]).to(op_device),
                     {k: u.to(op_device) for k, u in ops.items()},
                     data["negative"].mean(0) - data["positive"].mean(0), op_device)
    chosen = cfg.prompts or prompts.evaluation_prompts(loaded.tokenizer, cfg.eval_prompts,
                                                        cfg.seed + 1)
    ph.log_dict([asdict(p) for p in chosen], PROMPTS)
    start = time.perf_counter()
    with progress("generating", total=sum(len(conditions(cfg, p.polarity)) for p in chosen)) as bar:
        gens = generate_all(loaded.bridge, cfg, chosen, steer, bar)
    took = time.perf_counter() - start
    results = summarise(gens, cfg, ph)
    results.update({"generations": len(gens),
                    "tokens_per_s": sum(g.tokens for g in gens) / max(took, 1e-9)})
    ph.log_metrics(results)
    ph.log_params({"blends": _csv(cfg.blends), "multipliers": _csv(cfg.multipliers),
                   "eval_prompts": len(chosen), "prompts_source": cfg.prompts_file or "held-out",
                   "max_new_tokens": cfg.max_new_tokens, "decoding": "greedy",
                   "fluency": "perplexity under the unsteered model",
                   "fluency_limit": FLUENCY_LIMIT, "operator_bytes": op_bytes})
    table = [asdict(g) for g in gens]
    ph.log_table({k: [r[k] for r in table] for k in table[0]},
                 schema.GENERATIONS_TABLE)
    return results


def _csv(values) -> str:
    return ",".join(f"{v:g}" for v in values)


def _strengths(rows: list[tuple[prompts.EvalPrompt, Condition]], direction: str,
               method: str) -> torch.Tensor:
    return torch.tensor([c.strength if (c.direction, c.method) == (direction, method) else 0.0
                         for _, c in rows])


def _hook(steer: Steerers, rows: list[tuple[prompts.EvalPrompt, Condition]]) -> steering.Hook:
    """One hook for a batch whose rows are any mix of conditions: per row, each direction's
    operator at its blend (0 elsewhere) and the vector at a signed multiplier."""
    hooks = [steering.operator_hook(steer.encoder, steer.operators[key],
                                    _strengths(rows, direction, "operator"), steer.device)
             for direction, (key, _) in DIRECTIONS.items()]
    signed = _strengths(rows, "pos->neg", "vector") - _strengths(rows, "neg->pos", "vector")
    return steering.combined(*hooks, steering.vector_hook(steer.vector, signed))


def generate_all(bridge, cfg: Config, chosen: list[prompts.EvalPrompt], steer: Steerers,
              bar) -> list[steering.Generation]:
    """Every condition of every prompt of one token length in one batch: a generation step
    costs ~90 ms of overhead plus ~2 ms a row on 2 cores (SmolLM2), so rows are nearly free
    and batches are made as large as the prompts' lengths allow."""
    ids = steering.tokenize(bridge, [p.text for p in chosen])
    out = []
    for group in steering.by_length(ids):
        rows = [(chosen[i], c) for i in group for c in conditions(cfg, chosen[i].polarity)]
        texts = [p.text for p, _ in rows]
        conts = steering.generate(bridge, texts, _hook(steer, rows), cfg.layer,
                                  cfg.max_new_tokens, cfg.device, bar)
        ppl = steering.perplexity(bridge, texts, [c.ids for c in conts], cfg.device)
        out += [steering.Generation(p.text, p.polarity, c.direction, c.method, c.strength,
                                    cont.text, steering.compound(cont.text), f, len(cont.ids),
                                    cont.latency_s)
                for (p, c), cont, f in zip(rows, conts, ppl)]
    return out


@dataclass(frozen=True)
class Effect:
    """One setting's effect on a set of prompts, against their unsteered continuations."""

    shift: float           # mean VADER compound, steered minus unsteered
    fluency_ratio: float   # geometric mean perplexity, steered over unsteered


def effect(gens: list[steering.Generation], direction: str, method: str, strength: float,
           polarities: tuple[str, ...]) -> Effect | None:
    steered = [g for g in gens if g.direction == direction and g.method == method
               and g.blend == strength and g.polarity in polarities]
    if not steered:
        return None
    base = {g.prompt: g for g in gens if g.direction == "baseline"}
    pairs = [(g, base[g.prompt]) for g in steered]
    shift = sum(g.compound - b.compound for g, b in pairs) / len(pairs)
    log_ratio = sum(math.log(g.fluency / b.fluency) for g, b in pairs) / len(pairs)
    return Effect(shift, math.exp(log_ratio))


def fluent_setting(sweep: dict[float, Effect]) -> float:
    """The strongest setting within FLUENCY_LIMIT, else the gentlest one."""
    ok = [s for s, e in sweep.items() if e.fluency_ratio <= FLUENCY_LIMIT]
    return max(ok) if ok else min(sweep)


def summarise(gens: list[steering.Generation], cfg: Config, ph) -> dict:
    """Per direction and method: the sweep (logged per step) and the headline at the
    strongest fluent setting, on the polar prompts (the neutral ones under `neutral_`).
    `sentiment_shift` and `vector_shift` are the mean shift in the intended direction
    (positive = steered as intended); `fluency_ratio` and `vector_fluency_ratio` the mean of
    both directions' ratios."""
    out: dict[str, float] = {}
    for direction in DIRECTIONS:
        for method in METHODS:
            out.update(_headline(gens, cfg, ph, direction, method))
    for m in METHODS.values():
        if f"{m.shift}_pos_to_neg" in out and f"{m.shift}_neg_to_pos" in out:
            out[m.shift] = (out[f"{m.shift}_neg_to_pos"] - out[f"{m.shift}_pos_to_neg"]) / 2
            out[m.fluency] = (out[f"{m.fluency}_pos_to_neg"] + out[f"{m.fluency}_neg_to_pos"]) / 2
    for pol in prompts.POLARITIES:
        base = [g for g in gens if g.direction == "baseline" and g.polarity == pol]
        if base:
            out[f"baseline_compound_{pol}"] = steering.mean_compound(base)
    base = [g.fluency for g in gens if g.direction == "baseline"]
    out["baseline_perplexity"] = math.exp(sum(math.log(f) for f in base) / len(base))
    return out


def _headline(gens: list[steering.Generation], cfg: Config, ph, direction: str,
              method: str) -> dict[str, float]:
    """One direction and method: every setting's effect logged at step = strength x 100, and
    the effect at the strongest fluent setting of the polar prompts (of the neutral ones
    when there are no polar ones), the same setting for both groups."""
    key, (polar, neutral) = DIRECTIONS[direction]
    m = METHODS[method]
    strengths = cfg.blends if method == "operator" else cfg.multipliers
    sweeps = {group: {s: e for s in strengths if (e := effect(gens, direction, method, s, pols))}
              for group, pols in (("", (polar,)), ("neutral_", (neutral,)))}
    ref = sweeps[""] or sweeps["neutral_"]
    if not ref:
        return {}
    pick = fluent_setting(ref)
    out = {f"{m.setting}_{key}": pick}
    for group, sweep in sweeps.items():
        for s, e in sweep.items():
            ph.log_metrics({f"{group}{m.shift}_{key}": e.shift,
                            f"{group}{m.fluency}_{key}": e.fluency_ratio}, step=round(s * 100))
        if sweep:
            out[f"{group}{m.shift}_{key}"] = sweep[pick].shift
            out[f"{group}{m.fluency}_{key}"] = sweep[pick].fluency_ratio
    return out
