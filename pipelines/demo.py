"""`make demo`: two campaigns of all four phases on `tiny` (fp32, then int8 on the CPU path),
their comparison, and how to look at them in `mlflow ui`.

    python -m pipelines.demo [--tracking-uri URI]
"""
from __future__ import annotations

import argparse
import time

from rich.console import Console
from rich.table import Table

from cogit_tracker import schema
from cogit_tracker.runtime import experiments
from cogit_tracker.store import uri as store_uri

from .experiment import EXPERIMENT, run_campaign

ROWS = (  # (phase, metric, label)
    ("encode", "weight_mb", "weights loaded (MB)"),
    ("train", "fidelity_identity", "fidelity of doing nothing"),
    ("train", "fidelity", "fidelity of the operators"),
    ("intervene", "baseline_compound_positive", "VADER, positive prompts, unsteered"),
    ("intervene", "baseline_compound_negative", "VADER, negative prompts, unsteered"),
    ("intervene", "sentiment_shift_pos_to_neg", "shift pos->neg, operator"),
    ("intervene", "vector_shift_pos_to_neg", "shift pos->neg, steering vector"),
    ("intervene", "sentiment_shift_neg_to_pos", "shift neg->pos, operator"),
    ("intervene", "vector_shift_neg_to_pos", "shift neg->pos, steering vector"),
    ("intervene", "tokens_per_s", "generation tokens/s"),
    ("reverse", "round_trip_fidelity", "round-trip fidelity"),
    ("reverse", "unitarity_error_pos_to_neg", "||U^H U - I||"),
)


def comparison(summaries: list[dict], seconds: list[float]) -> Table:
    table = Table(title="cogit-qmech on tiny: fp32 vs int8 (shifts at the largest blend)")
    table.add_column("")
    for s in summaries:
        table.add_column(f"{s['campaign']} ({s['precision']})", justify="right")
    for phase, metric, label in ROWS:
        table.add_row(label, *[_fmt(s["phases"].get(phase, {}).get(metric)) for s in summaries])
    table.add_row("wall time (s)", *[f"{t:.0f}" for t in seconds])
    return table


def _fmt(value) -> str:
    return "-" if value is None else f"{value:.3g}" if isinstance(value, float) else str(value)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--tracking-uri", default=None)
    args = ap.parse_args()
    stamp = time.strftime("%H%M%S")
    summaries, seconds = [], []
    for precision in ("fp32", "int8"):
        start = time.perf_counter()
        summaries.append(run_campaign(model="tiny", precision=precision,
                                      campaign=f"demo-{precision}-{stamp}",
                                      tracking_uri=args.tracking_uri))
        seconds.append(time.perf_counter() - start)
    labels = [s["campaign"] for s in summaries]
    experiments.log_charts(labels, args.tracking_uri)
    exp_id = store_uri.client(args.tracking_uri).get_experiment_by_name(EXPERIMENT).experiment_id
    console = Console()
    console.print(comparison(summaries, seconds))
    console.print(
        "See the runs, their metrics, system metrics, charts and the generations tables with:\n"
        "    .venv/bin/mlflow ui --app-name cogit    (in this folder), then open\n"
        f"    http://127.0.0.1:5000{schema.mlflow_ui_path(exp_id)}    (MLflow's training view)\n"
        "    http://127.0.0.1:5000/cogit/    (cogit's pages: campaigns, compare, Captain's Log)\n"
        "Compare and project them with:\n"
        f"    .venv/bin/cogit-log compare {labels[0]} {labels[1]}\n"
        f"    .venv/bin/cogit-log report --campaign {labels[0]} --campaign {labels[1]}\n"
        f"    .venv/bin/cogit-log project {labels[0]} --to h100-sxm")


if __name__ == "__main__":
    main()
