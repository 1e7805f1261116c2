"""How fast is `cogit-log report` on many runs, against `mlflow.search_runs` into pandas?

Creates N phase runs (N/4 campaigns of four phases, plus the N/4 campaign runs) in a fresh
sqlite store, shaped like real cogit runs (every cogit tag, MLflow's own tags, a few params,
the phase metrics, a six-epoch fidelity history on train phases). The rows are written with
the store's own engine and table models (`SqlAlchemyStore`, `mlflow.store.tracking.dbmodels`)
as bulk inserts: the per-run client calls would take minutes on a shared 2-core machine and
are not what is being measured.

Then, in this one process, it times
  A. the report's query and aggregation (`reports.load` + `reports.report`, SQL fast path),
  B. `mlflow.search_runs` over the same runs into a pandas DataFrame,
and prints both and the ratio B / A (goal: >= 20x); and it times the whole
`cogit-log report` command in a subprocess (goal: < 3 s at 10,000 runs).

    python bench/report_scale.py                 # 10,000 and 100,000 phase runs
    python bench/report_scale.py --sizes 10000
"""
from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))  # the synthetic campaigns the tests use too

from cogit_tracker import schema as s  # noqa: E402
from support import synthetic as sy  # noqa: E402

GPUS = [("rtx-5090", 0.89, 1.0), ("h100-sxm", 2.99, 4.2), ("a100-80gb", 1.79, 2.6),
        ("rtx-4090", 0.69, 0.8)]
PRECISIONS = ["fp16", "bf16", "int8"]
CHUNK = 20_000


class _Bulk:
    """Rows for MLflow's own tables, inserted in chunks through the store's engine."""

    TABLES = ("runs", "tags", "params", "metrics", "latest_metrics")

    def __init__(self, path: Path):
        from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

        self.store = SqlAlchemyStore(f"sqlite:///{path}", str(path.parent / "mlruns"))
        self.exp_id = self.store.create_experiment("cogit-qmech")
        self.tables: dict[str, list[dict]] = {t: [] for t in self.TABLES}

    def flush(self, force: bool = False) -> None:
        from mlflow.store.tracking.dbmodels import models as m
        from sqlalchemy import insert

        if not force and sum(map(len, self.tables.values())) < CHUNK:
            return
        models = {"runs": m.SqlRun, "tags": m.SqlTag, "params": m.SqlParam,
                  "metrics": m.SqlMetric, "latest_metrics": m.SqlLatestMetric}
        with self.store.engine.begin() as conn:
            for name, model in models.items():
                if self.tables[name]:
                    conn.execute(insert(model.__table__), self.tables[name])
                    self.tables[name].clear()

    def add_run(self, run_id, name, start, end, status, tags, metrics, history=()) -> None:
        self.tables["runs"].append(dict(
            run_uuid=run_id, name=name, source_type="LOCAL", source_name="pipelines/run.py",
            entry_point_name="", user_id="researcher", status=status, start_time=start,
            end_time=end, source_version="", lifecycle_stage="active",
            artifact_uri=f"mlruns/{self.exp_id}/{run_id}/artifacts",
            experiment_id=int(self.exp_id)))
        tags = {**tags, s.RUN_NAME: name, "mlflow.user": "researcher",
                "mlflow.source.name": "pipelines/run.py", "mlflow.source.type": "LOCAL",
                s.HOST: "pod-17", s.CPU_MODEL: "AMD EPYC 7B13", s.CPU_CORES: "16",
                s.RAM_TOTAL_GB: "128", s.GPU_DRIVER: "570.86", s.CUDA: "12.8",
                s.RATE_SOURCE: "catalog", s.HEARTBEAT: str(end or start)}
        self.tables["tags"] += [dict(key=k, value=v, run_uuid=run_id) for k, v in tags.items()]
        self.tables["params"] += [dict(key=k, value=v, run_uuid=run_id) for k, v in
                                  {"layer": "16", "quantum_dim": "2000", "batch_size": "8",
                                   "lr": "0.001", "epochs": "6", "seed": "42"}.items()]
        points = [(k, v, 0) for k, v in metrics.items() if k != sy.FIDELITY]
        points += [(sy.FIDELITY, v, step) for step, v in enumerate(history)]
        self.tables["metrics"] += [dict(key=k, value=v, timestamp=start + st, step=st,
                                        is_nan=False, run_uuid=run_id) for k, v, st in points]
        latest = {k: (v, st) for k, v, st in points}  # last point per key wins
        self.tables["latest_metrics"] += [dict(key=k, value=v, timestamp=start + st, step=st,
                                               is_nan=False, run_uuid=run_id)
                                          for k, (v, st) in latest.items()]


def build(path: Path, phase_runs: int, seed: int = 7) -> float:
    """Fill a new sqlite store; returns the seconds it took."""
    t0 = time.perf_counter()
    bulk = _Bulk(path)
    rng = random.Random(seed)
    start = 1_760_000_000_000
    for i in range(phase_runs // 4):
        gpu, rate, speed = rng.choice(GPUS)
        spec = sy.CampaignSpec(f"run-{i:06d}", sy.reference_phases(
            speed * rng.uniform(0.8, 1.2), fidelity=round(rng.uniform(0.95, 0.99), 4)),
            gpu_key=gpu, usd_per_hour=rate, precision=rng.choice(PRECISIONS), start_ms=start)
        camp_id = uuid.uuid4().hex
        t = start
        for index, ph in enumerate(spec.phases, start=1):
            end = t + int(ph.duration_s * 1000)
            bulk.add_run(uuid.uuid4().hex, f"{spec.label}/{ph.name}", t, end, "FINISHED",
                         sy.phase_tags(spec, ph, index, camp_id), sy.phase_metrics(spec, ph),
                         ph.fidelity)
            t = end
        bulk.add_run(camp_id, spec.label, start, t, "FINISHED", sy.campaign_tags(spec), {})
        start = t + 60_000
        bulk.flush()
    bulk.flush(force=True)
    bulk.store.engine.dispose()
    return time.perf_counter() - t0


def timed(fn) -> tuple[float, float, object]:
    """(wall s, CPU s of this process, result). The machine is shared, so CPU time is
    printed beside wall time: it is what the other engineers' load does not inflate."""
    w, c = time.perf_counter(), time.process_time()
    out = fn()
    return time.perf_counter() - w, time.process_time() - c, out


def time_report(uri: str) -> tuple[float, float, int]:
    """Median of three runs of the report's query and aggregation."""
    from cogit_tracker.reports.model import load
    from cogit_tracker.reports.report import report

    runs = sorted(timed(lambda: report(load(uri))) for _ in range(3))
    wall, cpu, table = runs[1]
    return wall, cpu, len(table.rows)


def time_search_runs(uri: str) -> tuple[float, float, int]:
    import mlflow

    mlflow.set_tracking_uri(uri)
    exp = mlflow.get_experiment_by_name("cogit-qmech")
    wall, cpu, df = timed(lambda: mlflow.search_runs(
        [exp.experiment_id], max_results=1_000_000, output_format="pandas"))
    return wall, cpu, len(df)


def time_command(uri: str, *args: str) -> float:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "cogit_tracker.cli", "report", "--tracking-uri", uri,
                    *args], check=True, env=env, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="10000,100000", help="phase-run counts, comma-separated")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for n in (int(x) for x in args.sizes.split(",")):
            path = Path(tmp) / f"bench-{n}.db"
            built = build(path, n)
            uri = f"sqlite:///{path}"
            print(f"\n== {n:,} phase runs + {n // 4:,} campaign runs "
                  f"(store built in {built:.1f} s, {path.stat().st_size / 1e6:.0f} MB)")
            report_s, report_cpu, rows = time_report(uri)
            search_s, search_cpu, found = time_search_runs(uri)
            print(f"report query+aggregation (SQL path): {report_s:7.2f} s wall "
                  f"{report_cpu:7.2f} s CPU  ({rows:,} rows, median of 3)")
            print(f"mlflow.search_runs -> pandas:         {search_s:7.2f} s wall "
                  f"{search_cpu:7.2f} s CPU  ({found:,} runs)")
            print(f"ratio: {search_s / report_s:.1f}x faster by wall time, "
                  f"{search_cpu / report_cpu:.1f}x by CPU time (goal >= 20x); "
                  f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
            for extra in ([], ["--format", "csv"], ["--group-by", "gpu.key,precision"]):
                label = " ".join(["cogit-log report", *extra])
                print(f"whole command `{label}`: {time_command(uri, *extra):.2f} s "
                      f"(goal < 3 s at 10,000)")


if __name__ == "__main__":
    main()
