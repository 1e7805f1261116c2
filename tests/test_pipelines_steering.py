"""The science goal of issue 4, on the real default `tiny` (trained once and cached in
~/.cache/cogit-tracker, or $COGIT_MODEL_CACHE, an empty one under CI): on held-out prompts,
the pos->neg operator at blend 1.0 lowers the mean VADER compound by at least 0.8 and neg->pos
raises it by at least 0.8. Real model, real sqlite store, real tracking; slow on first use
(training)."""
from __future__ import annotations

import pytest

from cogit_tracker.runtime import experiments
from pipelines import EXPERIMENT


@pytest.mark.slow
def test_operator_moves_sentiment_by_at_least_0_8_both_ways(store):
    summary = experiments.run(EXPERIMENT, model="tiny", precision="fp32", campaign="goal",
                              blend=(1.0,), tracking_uri=store)
    shifts = summary["phases"]["intervene"]
    assert shifts["sentiment_shift_pos_to_neg"] <= -0.8, shifts
    assert shifts["sentiment_shift_neg_to_pos"] >= 0.8, shifts
    train = summary["phases"]["train"]
    assert train["fidelity"] > train["fidelity_identity"], train
