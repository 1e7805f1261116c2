"""How fast and how big is the `/cogit/` campaigns page on a large store (issue 18, item 5)?

Builds the same store as `report_scale.py` (N phase runs in N/4 campaigns, bulk-inserted
through MLflow's own table models), then asks the blueprint for the campaigns page three times
through Flask's test client (the server's code path without its HTTP layer) and prints the
median time and the page's size, beside the whole report as JSON, which pages nothing.

    python bench/campaigns_page.py               # 10,000 phase runs (goal: < 2 s)
    python bench/campaigns_page.py --sizes 10000,40000
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from report_scale import build  # noqa: E402


def client(uri: str):
    from flask import Flask
    from mlflow.server import BACKEND_STORE_URI_ENV_VAR

    from cogit_tracker.web import routes

    os.environ[BACKEND_STORE_URI_ENV_VAR] = uri
    app = Flask("bench")
    app.register_blueprint(routes.blueprint)
    return app.test_client()


def timed_get(pages, path: str) -> tuple[float, int]:
    """(median seconds of three GETs, bytes of the answer)."""
    times, size = [], 0
    for _ in range(3):
        t0 = time.perf_counter()
        res = pages.get(path)
        times.append(time.perf_counter() - t0)
        assert res.status_code == 200, res.data[:500]
        size = len(res.data)
    return statistics.median(times), size


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="10000", help="phase-run counts, comma-separated")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for n in (int(x) for x in args.sizes.split(",")):
            path = Path(tmp) / f"page-{n}.db"
            built = build(path, n)
            pages = client(f"sqlite:///{path}")
            print(f"\n== {n:,} phase runs in {n // 4:,} campaigns (store built in {built:.0f} s)")
            for label, where in (("campaigns page, page 1", "/cogit/"),
                                 ("campaigns page, page 40", "/cogit/?page=40"),
                                 ("the whole report as JSON", "/cogit/api/campaigns")):
                seconds, size = timed_get(pages, where)
                print(f"{label:28} {seconds:6.2f} s  {size / 1024:8.0f} KiB  (median of 3; "
                      f"load {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")


if __name__ == "__main__":
    main()
