"""A spent budget stops the campaign whatever the process does with its signals.

Each case is a real experiment process on a real sqlite store, started the ways jobs are left
running on a rented pod: under `nohup` in a script, with SIGINT ignored (`&` in a script),
with the user's own SIGINT handler; with the work in threads the phase started (the stop is
raised in them too) and in forked pool workers; and with phases that do not unwind when
interrupted (the exception caught, a long C call, the parent waiting on forked workers), where
the process must end after the grace period with its children. $3,600/h is $1/s, so a $4 budget is spent 4 s into the campaign;
each child would run for 90 s if nothing stopped it.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest
from mlflow.tracking import MlflowClient

from cogit_tracker import schema
from cogit_tracker.runtime.budget import EXIT_CODE

from conftest import REPO

pytestmark = pytest.mark.slow

CHILD = textwrap.dedent("""
    import signal, sys, threading, time
    import cogit_tracker as ct
    how = sys.argv[1]
    if how == "user-handler":
        signal.signal(signal.SIGINT, lambda s, f: print("user handler: Ctrl-C ignored", flush=True))
    t0 = time.monotonic()

    def work():
        while time.monotonic() - t0 < 90:
            time.sleep(0.01)

    def forked_work(i):
        import os
        open(f"worker-{os.getpid()}.pid", "w").close()
        time.sleep(90)

    with ct.campaign("pricey-" + how, usd_per_hour=3600, budget_usd=4.0) as camp:
        with camp.phase("train") as ph:
            print("phase started", flush=True)
            if how == "c-call":
                time.sleep(90)                      # one call into C, never back in Python
            elif how == "threads":
                worker = threading.Thread(target=work)
                worker.start()
                worker.join()                       # the main thread waits on the worker
            elif how == "workers":                  # a data loader's threads, logging
                def load():
                    step = 0
                    while time.monotonic() - t0 < 90:
                        ph.log_metrics({"batch": step}, step=step)
                        step += 1
                        time.sleep(0.01)
                workers = [threading.Thread(target=load) for _ in range(2)]
                for w in workers:
                    w.start()
                while any(w.is_alive() for w in workers):
                    time.sleep(0.05)                # the main thread polls, then unwinds
            elif how == "forked":                   # forked pool workers, the parent waiting
                import multiprocessing, os
                with multiprocessing.get_context("fork").Pool(2) as pool:
                    pool.map(forked_work, range(2))
            elif how == "catches":
                while time.monotonic() - t0 < 90:
                    try:
                        time.sleep(0.01)
                    except KeyboardInterrupt:       # a loop that swallows Ctrl-C
                        print("interrupt caught, going on", flush=True)
            else:
                step = 0
                while time.monotonic() - t0 < 90:
                    ph.log_metrics({"loss": 1.0 / (step + 1)}, step=step)
                    step += 1
                    time.sleep(0.01)
""")


def start(store: str, tmp_path, how: str, launch: str) -> subprocess.Popen:
    env = dict(os.environ, MLFLOW_TRACKING_URI=store, PYTHONPATH=str(REPO),
               PYTHONWARNINGS="ignore", COGIT_BUDGET_GRACE_S="3",
               COGIT_ON_BUDGET=f"echo stopping pod; touch {tmp_path / 'pod-stopped'}",
               CHILD=CHILD)
    out = open(tmp_path / "child.log", "w")
    if launch == "nohup":  # the shell leaves it running: SIGINT ignored, SIGHUP ignored
        cmd = ["bash", "-c", f'nohup "{sys.executable}" -c "$CHILD" {how} & wait $!']
        return subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT,
                                cwd=tmp_path)
    ignore = launch == "sigint-ignored"
    return subprocess.Popen(
        [sys.executable, "-c", CHILD, how], env=env, stdout=out, stderr=subprocess.STDOUT,
        cwd=tmp_path, preexec_fn=(lambda: signal.signal(signal.SIGINT, signal.SIG_IGN)) if ignore else None)


def finish(proc: subprocess.Popen, tmp_path) -> tuple[int, float, str]:
    t0 = time.monotonic()
    try:
        code = proc.wait(timeout=120)
    except subprocess.TimeoutExpired:
        proc.kill()
        code = proc.wait()
    return code, time.monotonic() - t0, (tmp_path / "child.log").read_text()


def runs_of(store: str, how: str) -> dict:
    client = MlflowClient(store)
    found = client.search_runs([e.experiment_id for e in client.search_experiments()],
                               f"tags.`{schema.CAMPAIGN}` = 'pricey-{how}'")
    return {r.data.tags.get(schema.PHASE, "campaign"): r for r in found}


def assert_stopped_by_budget(store: str, how: str, tmp_path, log: str) -> None:
    runs = runs_of(store, how)
    assert set(runs) == {"campaign", "train"}, log
    for run in runs.values():
        assert run.info.status == "KILLED", log
        assert run.data.tags[schema.FAILURE] == "budget"
        assert "budget $4.00 spent" in run.data.tags[schema.FAILURE_MESSAGE]
    camp = runs["campaign"].data
    # stopped within seconds of crossing $4, not after the child's 90 s ($90)
    assert 4.0 <= camp.metrics[schema.COST_USD] < 20.0, camp.metrics
    assert (tmp_path / "pod-stopped").exists(), log   # the on_budget command ran once
    assert camp.tags[schema.BUDGET_COMMAND_STATUS] == "0"
    assert camp.tags[schema.BUDGET_COMMAND_OUTPUT] == "stopping pod\n"
    assert "touch" in camp.tags[schema.BUDGET_COMMAND]


@pytest.mark.parametrize("launch, how", [
    ("nohup", "loop"),                 # nohup python phase3.py &
    ("sigint-ignored", "loop"),        # `&` in a non-interactive script
    ("user-handler", "user-handler"),  # the user's own SIGINT handler
    ("sigint-ignored", "threads"),     # the main thread joins a worker: the stop ends both
])
def test_a_phase_stops_within_seconds_however_sigint_is_set(store, tmp_path, launch, how):
    code, _, log = finish(start(store, tmp_path, how, launch), tmp_path)
    assert code == 1 and "BudgetExceeded" in log, log   # the exception reached the top
    assert "user handler" not in log                    # a stop is not a Ctrl-C
    assert_stopped_by_budget(store, how, tmp_path, log)


@pytest.mark.parametrize("how", ["catches", "c-call"])
def test_a_phase_that_does_not_unwind_ends_the_process_after_the_grace(store, tmp_path, how):
    code, _, log = finish(start(store, tmp_path, how, "sigint-ignored"), tmp_path)
    assert code == EXIT_CODE, log
    assert "did not stop within 3s" in log and "Traceback" not in log
    assert_stopped_by_budget(store, how, tmp_path, log)


def test_worker_threads_that_log_are_stopped_with_the_phase(store, tmp_path):
    """Two threads the phase started go on logging after the main thread unwinds: the stop
    is raised in them too, so the process ends in seconds, not when they finish (90 s)."""
    code, took, log = finish(start(store, tmp_path, "workers", "sigint-ignored"), tmp_path)
    assert took < 45 and code in (1, EXIT_CODE), log
    assert_stopped_by_budget(store, "workers", tmp_path, log)


def test_forked_workers_do_not_outlive_the_process(store, tmp_path):
    """The parent waits in `pool.map` (a C wait, no stop reaches it): after the grace the
    process ends with 124 and its forked workers end with it."""
    import psutil

    proc = start(store, tmp_path, "forked", "sigint-ignored")
    code, took, log = finish(proc, tmp_path)
    assert code == EXIT_CODE and took < 60, log
    assert_stopped_by_budget(store, "forked", tmp_path, log)
    pids = [int(p.stem.split("-")[1]) for p in tmp_path.glob("worker-*.pid")]
    assert len(pids) == 2, log
    time.sleep(0.5)
    assert not [p for p in pids if psutil.pid_exists(p) and
                psutil.Process(p).status() != psutil.STATUS_ZOMBIE], "a worker outlived it"
