"""cogit-qmech, the reference experiment, written against cogit_tracker's public API.

Registered as `cogit-qmech = pipelines:EXPERIMENT` in the `cogit_tracker.pipelines`
entry-point group, with the parameters it takes; `cogit-log run cogit-qmech` finds it there,
builds its flags from them and opens the campaign it runs in. Modules: one per phase (encode,
train, intervene, reverse), the embedded model `tiny` and its corpus, the quantum encoding
and operators, model loading, steering hooks, and the `make demo` driver.
"""
from __future__ import annotations

import click

from cogit_tracker import Experiment, Param

from .config import shown
from .models import PRECISIONS
from .smollm2 import NAME as SMOLLM2

__all__ = ["EXPERIMENT"]

COUNT = click.IntRange(min=1)


def prepare(params, resumed):
    """`experiment.prepare`, imported on call: torch and transformers load with the
    experiment, not with `cogit-log run --help`."""
    from .experiment import prepare as checked

    return checked(params, resumed)


def run(camp, cfg):
    """`experiment.run`, imported on call (see `prepare`)."""
    from .experiment import run as phases

    return phases(camp, cfg)


def _tuned(name: str, kind, text: str, multiple: bool = False, unset: str = "none") -> Param:
    """A parameter whose default is the model's recipe (`config.RECIPES`)."""
    return Param(name, kind, None, text, multiple=multiple, shown=shown(name, unset))


EXPERIMENT = Experiment(
    "cogit-qmech", run, prepare=prepare,
    help="Quantum-inspired activation steering in four phases: encode, train, intervene, "
         "reverse. Values left out come from the model's recipe, shown as each option's "
         "default: on smollm2-135m, the one the README's figures come from.",
    examples=(f"cogit-log run cogit-qmech --model {SMOLLM2}",
              "cogit-log run cogit-qmech --precision int8 --blend 0.5 --blend 1.0"),
    # what reports show and compare judge by: fluency_ratio is steered over unsteered
    # perplexity, so lower is better
    metrics={"fidelity": "max", "sentiment_shift": "max", "fluency_ratio": "min",
             "tokens_per_s": "max"},
    params=(
        Param("model", str, None, "'tiny' (built and trained offline), 'smollm2-135m', a "
              "save_pretrained folder, or a hub name.", shown="tiny; on --resume the campaign's"),
        Param("precision", click.Choice(PRECISIONS), None, "Precision the weights load in.",
              shown="fp32; on --resume the campaign's"),
        Param("phases", str, "1-4", "Phases to run: 1 encode, 2 train, 3 intervene, 4 reverse "
              "(e.g. 1-4, 3-4)."),
        _tuned("layer", int, "Layer to hook.", unset="the middle one"),
        Param("quantum_dim", int, None, "Dimension of the quantum states, >= d_model.",
              shown="2 x d_model"),
        _tuned("blend", float, "The operator's blend ratios in [0, 1], once per value.",
               multiple=True),
        _tuned("multipliers", float, "The steering vector's multipliers of the mean "
               "difference, once per value (the baseline the operator is judged against).",
               multiple=True),
        _tuned("operator_rank", click.IntRange(min=0), "Train each operator in the k-dim "
               "subspace where training targets differ most from their sources (0: the whole "
               "space)."),
        _tuned("lr", float, "The operators' Adam learning rate (each step moves every entry "
               "of A by about this much)."),
        _tuned("epochs", COUNT, "Training epochs of each operator, at most."),
        _tuned("target_fidelity", click.FloatRange(min=0, min_open=True), "Training stops "
               "once an operator reaches this fidelity (above 1: never early)."),
        _tuned("checkpoint_every", COUNT, "Epochs between the checkpoints --resume continues "
               "from."),
        _tuned("encode_prompts", COUNT, "Prompt pairs whose activations train the operators."),
        _tuned("eval_prompts", COUNT, "Held-out prompts per polarity steered in phase 3."),
        _tuned("max_new_tokens", COUNT, "Tokens generated per phase 3 prompt."),
        Param("prompts", str, None, "Phase 3 prompts: one a line (steered both ways), or a "
              "JSON list of strings or {\"text\", \"polarity\": positive|negative|neutral}."),
    ),
)
