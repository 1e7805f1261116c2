"""A job of 16 ranks logging 5,000 points each through one PostgreSQL-backed `mlflow server`,
from launch until every point is stored, two ways, in one run (issue 16):

A. cogit-tracker: every rank opens `ct.campaign(label)` and `camp.phase("train")` and logs
   with `ph.log_metrics`; `COGIT_ALL_RANKS=1`, so every rank's points are kept (rank 0's as
   `loss`, the others' as `rank<N>/loss`) in the job's one phase run.
B. plain MLflow: every rank `mlflow.start_run()`s its own run and calls the synchronous
   `mlflow.log_metric` once per point, against the same server.

Both sides are the same DDP-shaped job, launched the same way so that only the logging
differs: real `torchrun --standalone --nproc_per_node <ranks>` running this file, each rank
joining a gloo process group on the CPU. The clock starts before torchrun is launched and
stops when a SQL count on the server's own `metrics` table finds every point (distinct steps
per rank's series), so it includes the ranks' start, imports and run creation, on both sides.
The experiments exist before either clock starts. Points not stored when the launcher has
exited are waited for (bounded) and, if still missing, reported as lost; the ranks' stderr is
scanned for spool warnings and the spool folder for what was left in it.

Not a test: it prints figures and the ratio B/A from one run.

    .venv/bin/python bench/ranks_throughput.py [--ranks 16] [--points 5000] [--quick]
"""
from __future__ import annotations

import argparse
import json
import os
import shlex
import signal
import subprocess
import sys
import tempfile
import time
import uuid
import warnings
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PG = os.environ.get("COGIT_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
TORCHRUN = Path(sys.executable).with_name("torchrun")
EXPERIMENT = {"cogit": "ranks-bench-cogit", "plain": "ranks-bench-plain"}
TITLE = {"cogit": "A: cogit ph.log_metrics, one phase run",
         "plain": "B: mlflow.log_metric (sync), a run per rank"}
RANKS_VAR = "RANKS_BENCH_DIR"   # folder where each rank leaves its pid and its figures
QUICK = (4, 300)


# ---- what each rank runs: this file under torchrun, with --side ----------------------------


def cogit_rank(label: str, points: int) -> float:
    """The researcher's loop with cogit; the phase's exit waits for the writer's flush, so
    returning means this rank's points are stored (or spooled, which the parent reports)."""
    import cogit_tracker as ct

    with ct.campaign(label, experiment=EXPERIMENT["cogit"], usd_per_hour=0.0,
                     phases=["train"]) as camp:
        with camp.phase("train") as ph:
            t0 = time.perf_counter()
            for i in range(points):
                ph.log_metrics({"loss": 1.0 / (i + 1)}, step=i)
            return time.perf_counter() - t0


def plain_rank(label: str, points: int, rank: int) -> float:
    """The same loop as each rank of a DDP job would write it with MLflow alone: its own run,
    one synchronous request per point."""
    import mlflow

    mlflow.set_experiment(EXPERIMENT["plain"])
    with mlflow.start_run(run_name=f"{label}-rank{rank}"):
        t0 = time.perf_counter()
        for i in range(points):
            mlflow.log_metric("loss", 1.0 / (i + 1), step=i)
        return time.perf_counter() - t0


def rank_main(side: str, label: str, points: int) -> None:
    """One rank: leave its pid (torchrun starts each rank in a session of its own, so ending
    the launcher's group would not reach it), join the gloo group, log, leave its figures (a
    file each: the ranks' lines on a shared stdout interleave)."""
    folder = Path(os.environ[RANKS_VAR])
    (folder / f"{side}-{os.environ['RANK']}.pid").write_text(str(os.getpid()))
    warnings.simplefilter("ignore")
    import torch.distributed as dist

    dist.init_process_group("gloo")
    rank = dist.get_rank()
    loop = cogit_rank(label, points) if side == "cogit" else plain_rank(label, points, rank)
    (folder / f"{side}-{rank}.json").write_text(json.dumps({"rank": rank, "loop_s": loop}))
    dist.destroy_process_group()


# ---- the parent: server, launches, counts, table -------------------------------------------


@dataclass
class Result:
    side: str
    ranks: int
    points: int
    seconds: float | None    # launch until every point stored; None if some never were
    stored: int
    series: int              # one per rank is right
    slowest_loop_s: float | None
    returncode: int
    spool_lines: list[str]   # the ranks' stderr lines that mention the spool
    spooled_files: list[str]
    loads: tuple[float, float]   # 1-minute load average as the side started and ended

    @property
    def expected(self) -> int:
        return self.ranks * self.points

    @property
    def rate(self) -> float | None:
        return self.expected / self.seconds if self.seconds else None


def count_stored(engine, side: str) -> tuple[int, int]:
    """(points, series) of the side's experiment in the server's own tables: distinct steps of
    each run's `loss` and `<rank prefix>/loss`, so a point written twice counts once. The
    campaign run's roll-up (the last `loss`, one point) is not one of the points logged."""
    import sqlalchemy

    from cogit_tracker import schema

    query = sqlalchemy.text(
        "SELECT COUNT(DISTINCT m.step) FROM metrics m "
        "JOIN runs r ON r.run_uuid = m.run_uuid "
        "JOIN experiments e ON e.experiment_id = r.experiment_id "
        "LEFT JOIN tags t ON t.run_uuid = r.run_uuid AND t.key = :kind "
        "WHERE e.name = :exp AND (m.key = 'loss' OR m.key LIKE '%/loss') "
        "AND COALESCE(t.value, '') <> 'campaign' "
        "GROUP BY m.run_uuid, m.key")
    with engine.connect() as conn:
        counts = list(conn.execute(query, {"exp": EXPERIMENT[side], "kind": schema.KIND})
                      .scalars())
    return sum(counts), len(counts)


def wait_stored(engine, side: str, expected: int, deadline: float
                ) -> tuple[int, int, float | None]:
    """Poll the count until it is complete or `deadline` (monotonic) passes;
    (points, series, when complete)."""
    while True:
        stored, series = count_stored(engine, side)
        now = time.monotonic()
        if stored >= expected:
            return stored, series, now
        if now >= deadline:
            return stored, series, None
        time.sleep(0.5)


def end_launch(proc: subprocess.Popen, ranks: Path, side: str) -> None:
    """End torchrun by its pid (SIGTERM, then SIGKILL), then any rank still alive by the pid it
    left, checking that the pid is still one of ours."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=20)
    for pid_file in ranks.glob(f"{side}-*.pid"):
        pid = int(pid_file.read_text())
        try:
            ours = Path(__file__).name in Path(f"/proc/{pid}/cmdline").read_text()
        except OSError:
            continue
        if ours:
            os.kill(pid, signal.SIGKILL)


def rank_env(side: str, url: str, folder: Path) -> dict[str, str]:
    """The ranks' environment: the store's URL, a spool folder per side, and, for cogit,
    every rank's points kept."""
    env = {**os.environ, "MLFLOW_TRACKING_URI": url,
           "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
           "COGIT_SPOOL_DIR": str(folder / f"spool-{side}"), RANKS_VAR: str(folder / "ranks"),
           "MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT": "true", "PYTHONWARNINGS": "ignore"}
    if side == "cogit":
        env["COGIT_ALL_RANKS"] = "1"
    return env


def launch(side: str, url: str, engine, folder: Path, ranks: int, points: int,
           timeout: float) -> Result:
    """One side, from launch until every point is stored (or `timeout` passes)."""
    cmd = [str(TORCHRUN), "--standalone", f"--nproc_per_node={ranks}", str(Path(__file__)),
           "--side", side, "--label", f"job-{uuid.uuid4().hex[:8]}", "--points", str(points)]
    out, err = folder / f"{side}.stdout", folder / f"{side}.stderr"
    load_before = os.getloadavg()[0]
    with open(out, "w") as stdout, open(err, "w") as stderr:
        t0 = time.monotonic()
        proc = subprocess.Popen(cmd, env=rank_env(side, url, folder), cwd=folder, stdout=stdout,
                                stderr=stderr, start_new_session=True)
        try:
            returncode = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            returncode = -1
        finally:
            end_launch(proc, folder / "ranks", side)
    # the launcher is gone: what is not stored yet may still be in flight, briefly
    deadline = min(t0 + timeout, time.monotonic() + 60)
    stored, series, done = wait_stored(engine, side, ranks * points, deadline)
    loops = [json.loads(f.read_text())["loop_s"] for f in (folder / "ranks").glob(f"{side}-*.json")]
    spool_dir = folder / f"spool-{side}"
    return Result(side, ranks, points, done - t0 if done else None, stored, series,
                  max(loops) if len(loops) == ranks else None, returncode,
                  [line for line in err.read_text().splitlines() if "spool" in line.lower()],
                  sorted(p.name for p in spool_dir.rglob("*") if p.is_file() and p.stat().st_size)
                  if spool_dir.exists() else [], (load_before, os.getloadavg()[0]))


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f}, {five:.2f}, {fifteen:.2f}"


def report(results: list[Result], command: str, loads: tuple[str, str],
           server_workers: int, folder: Path) -> None:
    """A rich table, the ratio B/A, the conditions and the command; then a markdown table."""
    from rich.console import Console
    from rich.table import Table

    console = Console(width=max(Console().width, 180))
    table = Table(title=f"{results[0].ranks} ranks x {results[0].points:,} points, launch "
                        "until stored, one PostgreSQL-backed mlflow server")
    for column in ("side", "points stored", "launch to stored s", "points/s",
                   "slowest rank's loop s", "torchrun exit", "load at start, end"):
        table.add_column(column, justify="left" if column == "side" else "right")
    for r in results:
        table.add_row(TITLE[r.side], f"{r.stored:,} / {r.expected:,} in {r.series} series",
                      f"{r.seconds:.1f}" if r.seconds else "never",
                      f"{r.rate:,.0f}" if r.rate else "",
                      f"{r.slowest_loop_s:.3f}" if r.slowest_loop_s is not None else "",
                      str(r.returncode), f"{r.loads[0]:.1f}, {r.loads[1]:.1f}")
    console.print(table)
    ours, plain = results
    if ours.seconds and plain.seconds:
        console.print(f"ratio B/A (time until stored): {plain.seconds / ours.seconds:.1f}x")
    for r in results:
        if r.stored < r.expected or r.series != r.ranks:
            console.print(f"{r.side}: {r.expected - r.stored:,} points never stored, "
                          f"{r.series} series for {r.ranks} ranks")
        if r.spool_lines or r.spooled_files:
            console.print(f"{r.side}: {len(r.spool_lines)} spool lines on stderr, spool files "
                          f"left: {r.spooled_files or 'none'}; first: {r.spool_lines[:3]}")
    console.print(f"{os.cpu_count()} CPU cores; load average (1, 5, 15 min) {loads[0]} before, "
                  f"{loads[1]} after; mlflow server with {server_workers} workers, PostgreSQL "
                  f"on loopback; logs in {folder}")
    console.print(f"command: {command}")
    print("\n| side | points stored | launch to stored | points/s | slowest rank's loop | load |")
    print("|---|---|---|---|---|---|")
    for r in results:
        print(f"| {TITLE[r.side]} | {r.stored:,} / {r.expected:,} | "
              f"{f'{r.seconds:.1f} s' if r.seconds else 'never'} | "
              f"{f'{r.rate:,.0f}' if r.rate else ''} | "
              f"{f'{r.slowest_loop_s:.3f} s' if r.slowest_loop_s is not None else ''} | "
              f"{r.loads[0]:.1f}-{r.loads[1]:.1f} |")


def bench(args: argparse.Namespace) -> None:
    """Start the server on a throw-away database, run A then B, drop everything."""
    import sqlalchemy
    from mlflow.tracking import MlflowClient

    from cogit_tracker.store import server, uri as store

    folder = Path(tempfile.mkdtemp(prefix="cogit-ranks-bench-"))
    (folder / "ranks").mkdir()
    os.environ["MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT"] = "true"
    database = f"cogit_bench_{uuid.uuid4().hex[:8]}"
    spec = server.ServerSpec(
        backend_uri=server.with_database(store.pg_driver(PG), database),
        artifacts=str(folder / "artifacts"), port=server.free_port(),
        workers=args.server_workers, state_dir=folder)
    loads = [load()]
    results = []
    try:
        with server.Server(spec, log_path=folder / "server.log") as srv:
            for name in EXPERIMENT.values():    # made before either clock starts
                MlflowClient(srv.url).create_experiment(name)
            engine = sqlalchemy.create_engine(spec.backend_uri)
            try:
                for side in EXPERIMENT:
                    results.append(launch(side, srv.url, engine, folder, args.ranks,
                                          args.points, args.timeout))
            finally:
                engine.dispose()
    finally:
        server.drop_database(spec.backend_uri)
    loads.append(load())
    report(results, shlex.join([".venv/bin/python", "bench/ranks_throughput.py", *sys.argv[1:]]),
           tuple(loads), args.server_workers, folder)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ranks", type=int, help="torchrun --nproc_per_node (16)")
    parser.add_argument("--points", type=int, help="points per rank (5000)")
    parser.add_argument("--quick", action="store_true",
                        help=f"a smoke run: {QUICK[0]} ranks x {QUICK[1]} points")
    parser.add_argument("--timeout", type=float, default=1800,
                        help="seconds one side may take, launch until stored (1800)")
    parser.add_argument("--server-workers", type=int, default=2)
    parser.add_argument("--side", choices=list(EXPERIMENT), help=argparse.SUPPRESS)
    parser.add_argument("--label", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.side:
        return rank_main(args.side, args.label, args.points)
    args.ranks = args.ranks or (QUICK[0] if args.quick else 16)
    args.points = args.points or (QUICK[1] if args.quick else 5000)
    warnings.simplefilter("ignore")
    bench(args)


if __name__ == "__main__":
    main()
