"""Write a small real store with whatever MLflow is importable: a campaign of two phases with
metrics, params and a generations table, and a decision linked to it. The upgrade test runs it
under the MLflow of the previous lock, then reads the store with the one locked now.

    PYTHONPATH=<folder with the old mlflow> python tests/support/old_store.py FOLDER
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

LABEL = "old-run"
TITLE = "Keep the store through the MLflow upgrade"


def write(folder: Path) -> None:
    import mlflow
    from click.testing import CliRunner

    import cogit_tracker as ct
    from cogit_tracker.cli import cli

    os.chdir(folder)   # the store and its ./mlruns artifacts live here
    uri = "sqlite:///mlflow.db"
    with ct.campaign(LABEL, experiment="cogit-qmech", tracking_uri=uri, usd_per_hour=0.5,
                     model="HuggingFaceTB/SmolLM2-135M", precision="fp32") as camp:
        for name, fidelity in (("encode", 0.97), ("train", 0.99)):
            with camp.phase(name) as ph:
                ph.log_params({"layer": 3, "quantum_dim": 64})
                ph.log_metrics({"fidelity": fidelity})
                mlflow.log_metric("loss", 1.0 - fidelity)   # the researcher's own line
        with camp.phase("intervene") as ph:
            ph.log_table({"prompt": ["The service was"], "text": ["The service was kind."]},
                         "generations.json")
    result = CliRunner().invoke(cli, [
        "decision", "new", "--no-input", "--tracking-uri", uri, "--title", TITLE,
        "--option", "A: Stay on 3.17", "--option", "B: Upgrade", "--chosen", "B",
        "--reason", "3.18 retries CreateRun safely",
        "--criterion", "Train fidelity holds :: phase[train].fidelity > 0.9",
        "--link", f"{LABEL}:evidence"])
    if result.exit_code:
        sys.exit(f"decision new failed: {result.output}")
    print(f"mlflow {mlflow.__version__}: {folder / 'mlflow.db'}")


if __name__ == "__main__":
    write(Path(sys.argv[1]).resolve())
