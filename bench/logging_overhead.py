"""Caller-side cost of 10,000 metric points, four ways, on one sqlite store (issues 2, 20).

1. `ph.log_metrics` (cogit-tracker: queued, batched by the background writer)
2. plain `mlflow.log_metric` inside a phase (the phase is MLflow's active run: the same queue)
3. `mlflow.log_metric` synchronous outside a phase, one request per point
4. `mlflow.log_metric(..., synchronous=False)` (MLflow's own async logging)

For each: the time the experiment's loop spends in the calls, and the time until every point
is in the store. Not a test: it prints figures and ratios from one run.

    .venv/bin/python bench/logging_overhead.py [--points 10000]
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time
import warnings


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--points", type=int, default=10_000)
    n = parser.parse_args().points
    warnings.simplefilter("ignore")
    os.chdir(tempfile.mkdtemp(prefix="cogit-bench-"))
    uri = "sqlite:///bench.db"
    os.environ["MLFLOW_TRACKING_URI"] = uri

    import mlflow
    from mlflow.tracking import MlflowClient

    import cogit_tracker as ct

    mlflow.set_tracking_uri(uri)
    client = MlflowClient(uri)
    rows = []

    with ct.campaign("bench", usd_per_hour=0.0) as camp:
        with camp.phase("log") as ph:
            ph.flush()
            t0 = time.perf_counter()
            for i in range(n):
                ph.log_metrics({"loss": 1.0 / (i + 1)}, step=i)
            caller = time.perf_counter() - t0
            end = time.perf_counter()
        stored = time.perf_counter() - end  # the phase's exit waits for the flush
    assert len(client.get_metric_history(ph.run_id, "loss")) == n
    rows.append(("cogit ph.log_metrics", caller, caller + stored, stored))

    with ct.campaign("bench-fluent", usd_per_hour=0.0) as camp:
        with camp.phase("log") as ph:
            ph.flush()
            t0 = time.perf_counter()
            for i in range(n):
                mlflow.log_metric("loss", 1.0 / (i + 1), step=i)
            caller = time.perf_counter() - t0
            end = time.perf_counter()
        stored = time.perf_counter() - end
    assert len(client.get_metric_history(ph.run_id, "loss")) == n
    rows.append(("mlflow.log_metric in a phase", caller, caller + stored, stored))

    with mlflow.start_run(run_name="sync") as run:
        t0 = time.perf_counter()
        for i in range(n):
            mlflow.log_metric("loss", 1.0 / (i + 1), step=i)
        caller = time.perf_counter() - t0
    assert len(client.get_metric_history(run.info.run_id, "loss")) == n
    rows.append(("mlflow.log_metric (sync)", caller, caller, 0.0))

    with mlflow.start_run(run_name="async") as run:
        t0 = time.perf_counter()
        for i in range(n):
            mlflow.log_metric("loss", 1.0 / (i + 1), step=i, synchronous=False)
        caller = time.perf_counter() - t0
        mlflow.flush_async_logging()
        total = time.perf_counter() - t0
    assert len(client.get_metric_history(run.info.run_id, "loss")) == n
    rows.append(("mlflow.log_metric (async)", caller, total, total - caller))

    print(f"{n:,} metric points on {uri} ({os.cpu_count()} cores)")
    print(f"{'method':28} {'caller s':>10} {'until stored s':>15} {'after end s':>12}")
    for name, caller, total, after in rows:
        print(f"{name:28} {caller:10.3f} {total:15.3f} {after:12.3f}")
    ours, fluent, sync, unsync = (row[1] for row in rows)
    print(f"caller-time ratio: sync/cogit = {sync / ours:.0f}x, "
          f"async/cogit = {unsync / ours:.0f}x")
    print(f"mlflow.log_metric outside a phase / inside one = {sync / fluent:.1f}x "
          f"(inside: {fluent / n * 1e6:.0f} us a call)")
    print(f"goal: caller < 0.1 s -> {'met' if ours < 0.1 else 'NOT met'}; "
          f"stored within 2 s of the phase's end -> {'met' if rows[0][3] < 2 else 'NOT met'}")


if __name__ == "__main__":
    main()
