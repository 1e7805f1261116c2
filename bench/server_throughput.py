"""Metric points per second into a PostgreSQL-backed `mlflow server`, for 1, 4 and 16
concurrent writer processes, two ways (issue 6):

1. cogit-tracker: `ph.log_metrics` in a phase, until `ph.flush()` says every point is stored
2. plain synchronous `mlflow.log_metric`, one request per point, through the same server

Each writer is its own process (a pod); all start together at a barrier, after imports and run
creation, and throughput is all points over the time from the first start to the last finish.
Every point is counted back from the server before a figure is printed. Not a test: it prints
figures and ratios from one run.

    .venv/bin/python bench/server_throughput.py [--points 5000] [--plain-points 300]
"""
from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import tempfile
import time
import uuid
import warnings
from pathlib import Path

PG = os.environ.get("COGIT_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


def plugin_writer(url: str, label: str, points: int, barrier, out) -> None:
    warnings.simplefilter("ignore")
    import cogit_tracker as ct

    with ct.campaign(label, experiment="bench", usd_per_hour=0.0, tracking_uri=url) as camp:
        with camp.phase("log") as ph:
            ph.flush()
            barrier.wait()
            t0 = time.time()
            for i in range(points):
                ph.log_metrics({"loss": 1.0 / (i + 1)}, step=i)
            assert ph.flush(timeout=600), "points still queued after 600 s"
            out.put((t0, time.time(), ph.run_id))


def plain_writer(url: str, label: str, points: int, barrier, out) -> None:
    warnings.simplefilter("ignore")
    import mlflow

    mlflow.set_tracking_uri(url)
    mlflow.set_experiment("bench-plain")
    with mlflow.start_run(run_name=label) as run:
        barrier.wait()
        t0 = time.time()
        for i in range(points):
            mlflow.log_metric("loss", 1.0 / (i + 1), step=i)
        out.put((t0, time.time(), run.info.run_id))


def measure(target, url: str, writers: int, points: int) -> float:
    """Points per second for `writers` processes of `points` each; checks every point landed."""
    from mlflow.tracking import MlflowClient

    ctx = mp.get_context("spawn")
    barrier, out = ctx.Barrier(writers), ctx.Queue()
    procs = [ctx.Process(target=target, args=(url, f"w{writers}-{i}", points, barrier, out))
             for i in range(writers)]
    for p in procs:
        p.start()
    results = [out.get(timeout=900) for _ in procs]
    for p in procs:
        p.join(timeout=120)
        assert p.exitcode == 0, f"writer exited with {p.exitcode}"
    client = MlflowClient(url)
    for _, _, run_id in results:
        assert len(client.get_metric_history(run_id, "loss")) == points
    start, end = min(r[0] for r in results), max(r[1] for r in results)
    return writers * points / (end - start)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--points", type=int, default=5000, help="per plugin writer")
    parser.add_argument("--plain-points", type=int, default=300, help="per plain writer")
    parser.add_argument("--writers", default="1,4,16")
    parser.add_argument("--server-workers", type=int, default=2)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    from cogit_tracker.store import server, uri as store

    folder = Path(tempfile.mkdtemp(prefix="cogit-bench-"))
    os.environ["COGIT_SPOOL_DIR"] = str(folder / "spool")
    os.environ["MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT"] = "true"
    spec = server.ServerSpec(
        backend_uri=server.with_database(store.pg_driver(PG), f"cogit_bench_{uuid.uuid4().hex[:8]}"),
        artifacts=str(folder / "artifacts"), port=server.free_port(),
        workers=args.server_workers, state_dir=folder)
    rows = []
    try:
        with server.Server(spec, log_path=folder / "server.log") as srv:
            for n in [int(w) for w in args.writers.split(",")]:
                cogit = measure(plugin_writer, srv.url, n, args.points)
                plain = measure(plain_writer, srv.url, n, args.plain_points)
                rows.append((n, cogit, plain))
                print(f"{n:>2} writers: cogit {cogit:>9,.0f} points/s   "
                      f"mlflow.log_metric {plain:>7,.0f} points/s   ratio {cogit / plain:,.0f}x",
                      flush=True)
    finally:
        server.drop_database(spec.backend_uri)
    print(f"\nmlflow server, {args.server_workers} workers, PostgreSQL on loopback, "
          f"{os.cpu_count()} CPU cores; {args.points} points per cogit writer, "
          f"{args.plain_points} per plain writer")
    print("| writers | cogit ph.log_metrics (points/s) | mlflow.log_metric sync (points/s) | ratio |")
    print("|---|---|---|---|")
    for n, cogit, plain in rows:
        print(f"| {n} | {cogit:,.0f} | {plain:,.0f} | {cogit / plain:,.0f}x |")


if __name__ == "__main__":
    main()
