"""cogit-tracker: an MLflow plugin for multi-phase research experiments on rented GPUs.

    import cogit_tracker as ct
    with ct.campaign("run-002", experiment="sentiment", model="Qwen/Qwen2.5-7B-Instruct",
                     precision="int8") as camp:
        with camp.phase("train") as ph:
            ph.log_metrics({"fidelity": 0.93}, step=0)

The package, by concern: `schema` (the names and units of the contract), `errors`,
`settings`, `redaction`, `table` (the shape of output); `store/` (URIs, search, writer,
spool, sync, server), `runtime/` (campaigns and phases in flight), `machine/` (hardware,
catalog, cost), `planning/` (memory, projection), `reports/`, `decisions/` (the Captain's
Log) and `cli/` (`cogit-log`).
"""
from __future__ import annotations

__version__ = "0.1.0"

# name -> module that defines it; imported on first use, so that `import cogit_tracker.schema`
# (the CLI, the MLflow context provider) does not pay for the tracking machinery
_API = {
    "Campaign": "runtime.tracking", "Phase": "runtime.tracking", "campaign": "runtime.tracking",
    "phase": "runtime.tracking", "find_run": "runtime.tracking",
    "download_artifacts": "runtime.tracking", "BudgetExceeded": "runtime.ending",
    "StopRequested": "runtime.ending", "CampaignStopped": "runtime.ending",
    "request_stop": "runtime.stop",
    "Experiment": "runtime.experiments", "Param": "runtime.experiments",
    "Plan": "runtime.experiments", "Resumed": "runtime.experiments",
}
__all__ = list(_API)


def __getattr__(name: str):
    if name in _API:
        from importlib import import_module

        return getattr(import_module(f".{_API[name]}", __name__), name)
    raise AttributeError(name)
