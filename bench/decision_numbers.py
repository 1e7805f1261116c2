"""Concurrent `cogit-log decision new --no-input`: 8 processes x 25 decisions on one store.

Prints the wall time on sqlite and on PostgreSQL and their ratio. Each forked process runs
the click command 25 times in-process (`cli.main(..., standalone_mode=False)`), so the figure
is the cost of allocating numbers and writing runs, not of 200 Python start-ups.

    PYTHONPATH=. python bench/decision_numbers.py [--processes 8] [--each 25]
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import uuid

def _writer(uri: str, name: str, each: int, go, errors) -> None:
    from cogit_tracker.cli import cli

    sys.stdout = open(os.devnull, "w")      # one "Recorded ..." line per decision otherwise
    go.wait()
    try:
        for i in range(each):
            cli.main(["decision", "new", "--no-input", "--title", f"{name} #{i}",
                      "--tracking-uri", uri], standalone_mode=False)
    except BaseException as exc:   # reported by the parent, which decides pass or fail
        errors.put(f"{name}: {exc!r}")
        raise


def run_writers(uri: str, processes: int = 8, each: int = 25) -> float:
    """Fork the writers (MLflow already imported, so no start-up cost), release them at
    once, and return the seconds until the last one has finished."""
    import multiprocessing as mp

    import cogit_tracker.decisions.store  # noqa: F401  (imported once, before the fork)
    import cogit_tracker.cli  # noqa: F401

    ctx = mp.get_context("fork")
    go, errors = ctx.Event(), ctx.Queue()
    procs = [ctx.Process(target=_writer, args=(uri, f"w{k}", each, go, errors))
             for k in range(processes)]
    for p in procs:
        p.start()
    from mlflow.tracking import MlflowClient

    MlflowClient(uri).search_experiments()   # schema migrations are not what we time
    start = time.perf_counter()
    go.set()
    for p in procs:
        p.join()
    elapsed = time.perf_counter() - start
    if any(p.exitcode != 0 for p in procs):
        raise RuntimeError(f"writers failed: {errors.get(timeout=5)}")
    return elapsed


def numbers(uri: str) -> list[int]:
    from cogit_tracker.decisions.store import DecisionLog

    return sorted(e.number for e in DecisionLog(uri).entries())


def main() -> None:
    import sqlalchemy as sa

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--processes", type=int, default=8)
    ap.add_argument("--each", type=int, default=25)
    ap.add_argument("--pg", default=os.environ.get(
        "COGIT_TEST_PG", "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"))
    args = ap.parse_args()
    total = args.processes * args.each
    with tempfile.TemporaryDirectory() as tmp:
        os.chdir(tmp)
        uri = f"sqlite:///{tmp}/mlflow.db"
        t_sqlite = run_writers(uri, args.processes, args.each)
        ok = numbers(uri) == list(range(1, total + 1))
        print(f"sqlite:     {total} decisions in {t_sqlite:.1f} s "
              f"({total / t_sqlite:.1f}/s), numbers 1..{total} without gaps: {ok}")
        name = f"cogit_bench_{uuid.uuid4().hex[:8]}"
        admin = sa.create_engine(args.pg, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        try:
            pg = args.pg.rsplit("/", 1)[0] + "/" + name
            t_pg = run_writers(pg, args.processes, args.each)
            ok = numbers(pg) == list(range(1, total + 1))
            print(f"postgresql: {total} decisions in {t_pg:.1f} s "
                  f"({total / t_pg:.1f}/s), numbers 1..{total} without gaps: {ok}")
            print(f"ratio sqlite/postgresql: {t_sqlite / t_pg:.2f}")
        finally:
            sa.create_engine(pg).dispose()
            with admin.connect() as conn:
                conn.exec_driver_sql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                     "WHERE datname = %s", (name,))
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}"')


if __name__ == "__main__":
    main()
