"""cogit-qmech, the reference experiment, written against cogit_tracker's public API.

Registered as `cogit-qmech = pipelines:EXPERIMENT` in the `cogit_tracker.pipelines`
entry-point group, with the options it takes; `cogit-log run` finds it there and builds its
flags from them. Modules: one per phase (encode, train, intervene, reverse), the embedded
model `tiny` and its corpus, the quantum encoding and operators, model loading, steering
hooks, and the `make demo` driver.
"""
from __future__ import annotations

from cogit_tracker import Experiment, Param

from .config import BLENDS, LR, MULTIPLIERS
from .models import PRECISIONS

__all__ = ["EXPERIMENT", "run_campaign"]


def run_campaign(**options) -> dict:
    """`experiment.run_campaign`, imported on call: torch and transformers load with the
    experiment, not with `cogit-log run --help`."""
    from .experiment import run_campaign as run

    return run(**options)


EXPERIMENT = Experiment(
    "cogit-qmech", run_campaign,
    help="quantum-inspired activation steering in four phases: encode, train, intervene, "
         "reverse.",
    params=(
        Param("model", str, None, "'tiny' (built and trained offline; the default), a "
              "save_pretrained folder, or a hub name. On --resume: the campaign's."),
        Param("precision", str, None, f"One of {', '.join(PRECISIONS)} (default fp32). On "
              "--resume: the campaign's."),
        Param("phases", str, "1-4", "Phases to run: 1 encode, 2 train, 3 intervene, 4 reverse "
              "(e.g. 1-4, 3-4)."),
        Param("layer", int, None, "Layer to hook (default: the middle one)."),
        Param("quantum_dim", int, None, "Dimension of the quantum states, >= d_model "
              "(default: 2 x d_model)."),
        Param("blend", str, BLENDS, "The operator's blend ratios in [0, 1], "
              "comma-separated."),
        Param("multipliers", str, MULTIPLIERS, "The steering vector's multipliers of the "
              "mean difference, comma-separated (the baseline the operator is judged against)."),
        Param("operator_rank", int, 0, "Train each operator in the k-dim subspace where "
              "training targets differ most from their sources (0: the whole space; make demo: "
              "16 of 1152 on smollm2-135m, with --lr 0.02)."),
        Param("lr", float, LR, "The operators' Adam learning rate (each step moves every "
              "entry of A by about this much)."),
        Param("prompts", str, None, "Phase 3 prompts: one a line (steered both ways), or a "
              "JSON list of strings or {\"text\", \"polarity\": positive|negative|neutral}."),
    ),
)
