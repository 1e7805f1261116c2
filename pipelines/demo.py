"""`make demo`: campaigns of all four phases on the real SmolLM2-135M (converted offline from
its GGUF) with its recipe (`config.RECIPES`: what `cogit-log run cogit-qmech --model
smollm2-135m` runs too), fp32 then int8 (the CPU path), their comparison (sentiment shift and fluency for
the operator and the mean-difference vector), and how to look at them in `mlflow ui`.

    python -m pipelines.demo [--tracking-uri URI] [--precisions fp32,int8,bf16]

Costs are at an example rate, said as such: $0.89/h, the RunPod RTX 5090 price of the
researcher's log, so tables and charts show what the same run would cost there.
"""
from __future__ import annotations

import argparse
import time

from rich.console import Console
from rich.table import Table

from cogit_tracker import schema
from cogit_tracker.errors import BadInput
from cogit_tracker.runtime import experiments
from cogit_tracker.store import uri as store_uri

from . import EXPERIMENT, intervene, smollm2
from .models import PRECISIONS

EXAMPLE_USD_PER_HOUR = 0.89  # the log's RunPod RTX 5090 price: an example, not this machine's
ROWS = (  # (phase, metric, label)
    ("encode", "weight_mb", "weights loaded (MB)"),
    ("train", "fidelity_identity", "fidelity of doing nothing"),
    ("train", "fidelity", "fidelity of the operators"),
    ("intervene", "baseline_compound_positive", "VADER, positive prompts, unsteered"),
    ("intervene", "baseline_compound_negative", "VADER, negative prompts, unsteered"),
    ("intervene", "baseline_perplexity", "perplexity, unsteered"),
    ("intervene", "blend_pos_to_neg", "operator pos->neg: blend"),
    ("intervene", "sentiment_shift_pos_to_neg", "  shift"),
    ("intervene", "fluency_ratio_pos_to_neg", "  fluency ratio"),
    ("intervene", "blend_neg_to_pos", "operator neg->pos: blend"),
    ("intervene", "sentiment_shift_neg_to_pos", "  shift"),
    ("intervene", "fluency_ratio_neg_to_pos", "  fluency ratio"),
    ("intervene", "multiplier_pos_to_neg", "vector pos->neg: multiplier"),
    ("intervene", "vector_shift_pos_to_neg", "  shift"),
    ("intervene", "vector_fluency_ratio_pos_to_neg", "  fluency ratio"),
    ("intervene", "multiplier_neg_to_pos", "vector neg->pos: multiplier"),
    ("intervene", "vector_shift_neg_to_pos", "  shift"),
    ("intervene", "vector_fluency_ratio_neg_to_pos", "  fluency ratio"),
    ("intervene", "tokens_per_s", "generation tokens/s"),
    ("reverse", "round_trip_fidelity", "round-trip fidelity"),
    ("reverse", "unitarity_error_pos_to_neg", "||U^H U - I||"),
)


def comparison(summaries: list[dict], seconds: list[float]) -> Table:
    table = Table(title=f"cogit-qmech on {smollm2.NAME}, held-out prompts, greedy: each "
                        f"method at its strongest setting with fluency ratio <= "
                        f"{intervene.FLUENCY_LIMIT}")
    table.add_column("")
    for s in summaries:
        table.add_column(f"{s['campaign']} ({s['precision']})", justify="right")
    for phase, metric, label in ROWS:
        table.add_row(label, *[_fmt(s["phases"].get(phase, {}).get(metric)) for s in summaries])
    table.add_row("wall time (s)", *[f"{t:.0f}" for t in seconds])
    return table


def _fmt(value) -> str:
    return "-" if value is None else f"{value:.3g}" if isinstance(value, float) else str(value)


def parse_precisions(text: str) -> list[str]:
    chosen = [p.strip() for p in text.split(",") if p.strip()]
    bad = [p for p in chosen if p not in PRECISIONS]
    if not chosen or bad:
        raise BadInput(f"--precisions {text!r}: accepted a comma-separated list of "
                       f"{', '.join(PRECISIONS)}")
    return chosen


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tracking-uri", default=None)
    ap.add_argument("--precisions", default="fp32,int8",
                    help="campaigns to run and compare, e.g. fp32,int8,bf16")
    args = ap.parse_args()
    try:
        precisions = parse_precisions(args.precisions)
    except BadInput as exc:
        ap.exit(2, f"error: {exc}\n")
    stamp = time.strftime("%H%M%S")
    summaries, seconds = [], []
    for precision in precisions:  # every other value: smollm2-135m's recipe (config.RECIPES)
        start = time.perf_counter()
        summaries.append(experiments.run(
            EXPERIMENT, model=smollm2.NAME, precision=precision,
            campaign=f"demo-{precision}-{stamp}", usd_per_hour=EXAMPLE_USD_PER_HOUR,
            tracking_uri=args.tracking_uri))
        seconds.append(time.perf_counter() - start)
    labels = [s["campaign"] for s in summaries]
    client = store_uri.client(args.tracking_uri)
    exp_id = client.get_experiment_by_name(EXPERIMENT.name).experiment_id
    console = Console()
    console.print(comparison(summaries, seconds))
    console.print(
        f"Costs are at an example rate of ${EXAMPLE_USD_PER_HOUR}/h (the log's RTX 5090 "
        "price), not this machine's.\n"
        "See the runs, their metrics, system metrics, charts and the generations tables with:\n"
        "    .venv/bin/mlflow ui --app-name cogit    (in this folder), then open\n"
        f"    http://127.0.0.1:5000{schema.mlflow_ui_path(exp_id)}    (MLflow's training view)\n"
        "    http://127.0.0.1:5000/cogit/    (cogit's pages: campaigns, compare, Captain's Log)\n"
        "Compare and project them with:\n"
        f"    .venv/bin/cogit-log compare {labels[0]} {labels[-1]}\n"
        f"    .venv/bin/cogit-log report {' '.join(f'--campaign {l}' for l in labels)}\n"
        f"    .venv/bin/cogit-log project {labels[0]} --to h100-sxm")


if __name__ == "__main__":
    main()
