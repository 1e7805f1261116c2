"""Finding experiments by name through the `cogit_tracker.pipelines` entry-point group.

cogit_tracker never imports an experiment: `cogit-log run` looks it up here, so the reference
experiment (`cogit-qmech`, in `pipelines/`) and a user's own register the same way, in their
package metadata:

    [options.entry_points]
    cogit_tracker.pipelines =
        cogit-qmech = pipelines.experiment:run_campaign
"""
from __future__ import annotations

from importlib.metadata import entry_points
from typing import Callable

from .errors import BadInput

GROUP = "cogit_tracker.pipelines"
DEFAULT = "cogit-qmech"


def available() -> dict[str, object]:
    """Entry points by name (not loaded: loading imports the experiment's dependencies)."""
    return {ep.name: ep for ep in entry_points(group=GROUP)}


def load(name: str = DEFAULT) -> Callable[..., dict]:
    """The experiment's `run_campaign`-style callable; BadInput names the installed ones."""
    found = available()
    if name not in found:
        names = ", ".join(sorted(found)) or "none installed (reinstall the package)"
        raise BadInput(f"unknown experiment {name!r}; installed: {names}")
    return found[name].load()


def run(name: str = DEFAULT, **options) -> dict:
    """Load the experiment and run one campaign with these options, then put its charts on
    its campaign run."""
    summary = load(name)(**options)
    log_charts([summary["campaign"]], options.get("tracking_uri"))
    return summary


def log_charts(labels: list[str], tracking_uri: str | None = None) -> None:
    """Time per phase, cost and fidelity per epoch as images on each campaign's run (under
    `cogit-report/`), so `mlflow ui` shows them beside the numbers. Tracking must not break
    the experiment, which is over by now: a failure here only warns."""
    import warnings

    from . import reports, store

    try:
        reports.make_report(store.tracking_uri(tracking_uri), campaigns=labels, log=True)
    except Exception as exc:  # noqa: BLE001
        warnings.warn(f"cogit-tracker: could not log the campaign charts: {exc}", stacklevel=2)


def summary_table(summary: dict):
    """A rich table of each phase's headline numbers, for `cogit-log run`."""
    from rich.table import Table

    table = Table(title=f"campaign {summary.get('campaign')} ({summary.get('model')}, "
                        f"{summary.get('precision')})")
    for col in ("phase", "metric", "value"):
        table.add_column(col, justify="right" if col == "value" else "left")
    for phase, results in summary.get("phases", {}).items():
        if not isinstance(results, dict):
            table.add_row(phase, str(results), "")
            continue
        for key, value in results.items():
            shown = f"{value:.4g}" if isinstance(value, float) else str(value)
            table.add_row(phase, key, shown)
            phase = ""
    return table
