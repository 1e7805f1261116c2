"""cogit-tracker: an MLflow plugin for multi-phase research experiments on rented GPUs.

    import cogit_tracker as ct
    with ct.campaign("run-002", experiment="sentiment", model="Qwen/Qwen2.5-7B-Instruct",
                     precision="int8") as camp:
        with camp.phase("train") as ph:
            ph.log_metrics({"fidelity": 0.93}, step=0)
"""
from __future__ import annotations

__all__ = ["Campaign", "Phase", "campaign", "phase", "find_run", "download_artifacts"]
__version__ = "0.1.0"


def __getattr__(name: str):
    # Lazy, so that `import cogit_tracker.schema` (the CLI, the MLflow context provider) does
    # not pay for importing the tracking machinery it does not use.
    if name in __all__:
        from . import tracking

        return getattr(tracking, name)
    raise AttributeError(name)
