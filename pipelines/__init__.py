"""cogit-qmech, the reference experiment, written against cogit_tracker's public API.

Registered as `cogit-qmech = pipelines.experiment:run_campaign` in the
`cogit_tracker.pipelines` entry-point group; `cogit-log run` finds it there. Modules: one per
phase (encode, train, intervene, reverse), the embedded model `tiny` and its corpus, the
quantum encoding and operators, model loading, steering hooks, and the `make demo` driver.
"""
from __future__ import annotations

__all__ = ["run_campaign"]


def __getattr__(name: str):
    # Lazy: `import pipelines` stays cheap; torch and transformers load with the experiment.
    if name == "run_campaign":
        from .experiment import run_campaign

        return run_campaign
    raise AttributeError(name)
