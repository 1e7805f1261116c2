"""A job of several ranks is one campaign (issue 16).

Real launchers on the CPU with the gloo backend (a real all-reduce between the ranks): torchrun
with 2 and 4 ranks, two torchrun agents on 127.0.0.1 as two nodes (c10d rendezvous),
`accelerate launch`, and a SLURM step simulated by srun's environment; real processes, a real
sqlite store and a real `mlflow server` on PostgreSQL. This machine has no GPU: without
`FAKE_GPUS` the job's GPU count is 0 and its cost counts one unit per node, as a GPU-less
campaign does; with it, pynvml is faked in every rank at its call level
(tests/support/ranks/fake_gpus/sitecustomize.py), and everything above it runs for real.
Every launch is bounded and its processes are killed by pid at the end.
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from cogit_tracker import schema
from cogit_tracker.errors import BadInput
from cogit_tracker.runtime.ranks import Rank

from conftest import REPO

JOB = REPO / "tests" / "support" / "ranks" / "job.py"
FAKE_GPUS = REPO / "tests" / "support" / "ranks" / "fake_gpus"
TORCHRUN = Path(sys.executable).with_name("torchrun")
ACCELERATE = Path(sys.executable).with_name("accelerate")
RATE = 3.6  # job.py's usd_per_hour
#: how long the ranks left wait for a killed one's end before naming it (default 10 s; the
#: others' ends arrive within a second or two here, loaded or not)
END_WAIT = "5"


def made_store(tmp_path: Path) -> str:
    """A store that exists before the job (a brand-new one opened by every rank at once is
    the first test's, and tests/test_store_concurrency.py's)."""
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    MlflowClient(uri).search_experiments()
    return uri


def job_env(tmp_path: Path, uri: str, **env: str) -> dict[str, str]:
    path = os.pathsep.join([str(FAKE_GPUS), str(REPO)] if "FAKE_GPUS" in env else [str(REPO)])
    return {**os.environ, "MLFLOW_TRACKING_URI": uri, "PYTHONPATH": path,
            "COGIT_SPOOL_DIR": str(tmp_path / "spool"), "COGIT_HEARTBEAT_S": "1", **env}


def torchrun(tmp_path: Path, uri: str, ranks: int = 2, timeout: float = 240,
             **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(TORCHRUN), "--standalone", f"--nproc_per_node={ranks}",
                           str(JOB)], env=job_env(tmp_path, uri, **env), cwd=tmp_path,
                          capture_output=True, text=True, timeout=timeout)


def together(commands: list[tuple[list[str], dict[str, str]]], folder: Path,
             timeout: float = 240) -> list[subprocess.CompletedProcess]:
    """Start every command at once (two launchers of one job), wait for all within
    `timeout`, and kill by pid whatever is left."""
    procs = []
    try:
        for i, (argv, env) in enumerate(commands):
            procs.append(subprocess.Popen(argv, env=env, cwd=folder, text=True,
                                          stdout=open(folder / f"out-{i}", "w"),
                                          stderr=open(folder / f"err-{i}", "w")))
        deadline = time.monotonic() + timeout
        codes = [p.wait(max(deadline - time.monotonic(), 1)) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    return [subprocess.CompletedProcess(p.args, code, (folder / f"out-{i}").read_text(),
                                        (folder / f"err-{i}").read_text())
            for i, (p, code) in enumerate(zip(procs, codes))]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def two_nodes(tmp_path: Path, uri: str, **env: str) -> list[subprocess.CompletedProcess]:
    """Two torchrun agents on 127.0.0.1, two ranks each, meeting by c10d rendezvous: what
    `torchrun --nnodes 2 --nproc_per_node 2` does on two hosts."""
    endpoint, run_id = f"127.0.0.1:{free_port()}", f"job-{tmp_path.name[-10:]}"
    argv = [str(TORCHRUN), "--nnodes=2", "--nproc_per_node=2", "--rdzv_backend=c10d",
            f"--rdzv_endpoint={endpoint}", f"--rdzv_id={run_id}"]
    return together([(argv + [f"--node_rank={node}", str(JOB)], job_env(tmp_path, uri, **env))
                     for node in (0, 1)], tmp_path)


def runs(uri: str, experiment: str = "ranks") -> dict:
    client = MlflowClient(uri)
    exp = client.get_experiment_by_name(experiment)
    return {r.info.run_name: r for r in client.search_runs([exp.experiment_id])}


def assert_one_job(found: dict, ranks: int, nodes: int, label: str = "ddp-2") -> None:
    """One campaign and one phase run for the whole job, finished, every rank visible on it
    with its node and its own end."""
    assert set(found) == {label, f"train · {label}"}
    phase, camp = found[f"train · {label}"], found[label]
    assert phase.info.status == camp.info.status == "FINISHED", phase.data.tags
    for run in (phase, camp):
        tags = run.data.tags
        assert (tags[schema.RANKS], tags[schema.NODES_COUNT]) == (str(ranks), str(nodes))
        assert {tags[schema.RANK_NODE_PREFIX + str(r)] for r in range(ranks)} == \
            {f"node{n}" for n in range(nodes)}
    for rank in range(1, ranks):
        assert f"rank{rank}/duration_s" in phase.data.metrics
    assert {f"{schema.NODE_PREFIX}node{n}" for n in range(nodes)} <= set(camp.data.tags)
    assert {f"{schema.HOST_PREFIX}node{n}" for n in range(nodes)} <= set(camp.data.tags)


pytestmark = pytest.mark.slow


def test_two_ranks_are_one_campaign_with_one_run_per_phase(tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"    # brand new: both ranks open it at once
    done = torchrun(tmp_path, uri)
    assert done.returncode == 0, done.stderr[-3000:]
    assert not list((tmp_path / "spool").glob("*.jsonl")), done.stderr[-3000:]  # none spools
    assert "rank 0 done" in done.stdout and "rank 1 done" in done.stdout
    found = runs(uri)
    assert_one_job(found, ranks=2, nodes=1)                # not one of each per rank
    phase, camp = found["train · ddp-2"], found["ddp-2"]
    assert camp.data.tags[schema.JOB] == phase.data.tags[schema.JOB]
    for rank in (0, 1):   # each rank's own peaks; rank 1's heartbeat beside rank 0's
        assert f"rank{rank}/ram_peak_gb" in phase.data.metrics
    assert f"{schema.HEARTBEAT}.rank1" in phase.data.tags
    history = MlflowClient(uri).get_metric_history(phase.info.run_id, "loss")
    assert len(history) == 20            # rank 0's points only, not one set per rank
    assert "rank1/loss" not in phase.data.metrics
    # the cost is the job's, counted once: one node, GPU-less, at $3.60/h
    assert phase.data.metrics[schema.COST_USD] == pytest.approx(
        phase.data.metrics[schema.DURATION_S] * 3.6 / 3600, rel=0.05)


def test_the_failing_rank_is_named_and_the_teardown_does_not_overwrite_it(tmp_path):
    uri = made_store(tmp_path)
    done = torchrun(tmp_path, uri, FAIL_RANK="1")
    assert done.returncode != 0
    phase = runs(uri)["train · ddp-2"]
    tags = phase.data.tags
    assert phase.info.status == "FAILED"
    assert tags[schema.FAILURE] == "exception" and tags[schema.FAILURE_RANK] == "1"
    assert "rank 1 hit a bad batch" in tags[schema.FAILURE_MESSAGE]
    assert tags[schema.FAILURE_NODE] == "node0"


def test_the_jobs_budget_stops_every_rank(tmp_path):
    """$3.60/h is $0.001 a second; a $0.003 budget is spent in ~3 s of a 200 s job."""
    uri = made_store(tmp_path)
    t0 = time.monotonic()
    done = torchrun(tmp_path, uri, BUDGET="0.003", STEPS="400", STEP_S="0.5",
                    COGIT_BUDGET_GRACE_S="5")
    took = time.monotonic() - t0
    assert took < 90, "every rank stops, not only the one that counts the cost"
    assert "rank 1 done" not in done.stdout and "rank 0 done" not in done.stdout
    found = runs(uri)
    phase, camp = found["train · ddp-2"], found["ddp-2"]
    assert phase.data.tags[schema.FAILURE] == camp.data.tags[schema.FAILURE] == "budget"
    assert phase.info.status == camp.info.status == "KILLED"
    assert camp.data.metrics[schema.COST_USD] == pytest.approx(   # once, not once per rank
        camp.data.metrics[schema.DURATION_S] * RATE / 3600, rel=0.05)


@pytest.mark.parametrize("env, named", [
    ({"RANK": "2", "WORLD_SIZE": "2"}, "RANK=2"),
    ({"RANK": "x", "WORLD_SIZE": "2"}, "RANK='x'"),
    ({"SLURM_PROCID": "4", "SLURM_NTASKS": "4", "SLURM_JOB_ID": "7"}, "SLURM_PROCID=4"),
])
def test_a_launcher_environment_that_contradicts_itself_is_one_line(env, named):
    with pytest.raises(BadInput, match=named):
        Rank.from_environment(env)


def test_launchers_are_recognised_by_their_environment():
    torch_env = {"RANK": "3", "WORLD_SIZE": "8", "LOCAL_RANK": "1", "LOCAL_WORLD_SIZE": "4",
                 "TORCHELASTIC_RUN_ID": "abc"}
    rank = Rank.from_environment(torch_env)
    assert (rank.rank, rank.world, rank.nodes, rank.job) == (3, 8, 2, "abc")
    assert rank.job_gpus(8) == 8 and rank.job_gpus(2) == 4   # 4 ranks a node, one GPU each
    slurm = Rank.from_environment({"SLURM_PROCID": "1", "SLURM_NTASKS": "2",
                                   "SLURM_LOCALID": "1", "SLURM_NTASKS_PER_NODE": "2",
                                   "SLURM_JOB_ID": "77"})
    assert slurm.job == "slurm-77.0" and slurm.nodes == 1
    assert rank.uid("run-1") == Rank.from_environment(torch_env).uid("run-1")
    assert Rank.from_environment({"WORLD_SIZE": "1", "RANK": "0"}) is None
    assert Rank.from_environment({}) is None


def test_a_job_lives_while_any_rank_beats():
    from cogit_tracker.runtime.ranks import latest_heartbeat

    tags = {schema.HEARTBEAT: "1000", f"{schema.HEARTBEAT}.rank3": "5000", "other": "9000"}
    assert latest_heartbeat(tags) == 5000
    assert latest_heartbeat({}) is None


def test_a_rank_that_opens_another_label_is_one_line_and_makes_nothing(tmp_path):
    uri = made_store(tmp_path)
    done = torchrun(tmp_path, uri, LABEL_PER_RANK="1", COGIT_RANKS_END_WAIT_S=END_WAIT)
    assert done.returncode != 0
    assert "every rank must open the same label" in done.stderr
    assert set(runs(uri)) <= {"ddp-2-rank0", "train · ddp-2-rank0"}   # rank 1 made none


def test_a_rank_killed_with_minus_9_is_named_not_the_teardown(tmp_path):
    """Rank 1 SIGKILLs itself mid-step, as the kernel's OOM killer would: it can say nothing;
    rank 0 sees gloo lose its peer, then torchrun's SIGTERM, and names rank 1."""
    uri = made_store(tmp_path)
    done = torchrun(tmp_path, uri, KILL_RANK="1", STEPS="40", STEP_S="0.1",
                    COGIT_RANKS_END_WAIT_S=END_WAIT)
    assert done.returncode != 0
    found = runs(uri)
    for run in (found["train · ddp-2"], found["ddp-2"]):
        tags = run.data.tags
        assert run.info.status == "FAILED", tags
        assert (tags[schema.FAILURE], tags[schema.FAILURE_RANK], tags[schema.FAILURE_NODE]) \
            == ("killed", "1", "node0"), tags
        assert "rank 1 on node0" in tags[schema.FAILURE_MESSAGE]


def test_four_ranks_on_eight_gpus_charge_four_and_keep_each_ranks_own_gpu(tmp_path):
    """Eight faked H100s, device i holding (i+1) x 10 GB: each rank reads its own GPU (its
    local rank's), the job's peak is the largest, and the job is charged for 4 GPUs, not
    4 ranks x 8 visible. With COGIT_ALL_RANKS every rank's metrics are kept."""
    uri = made_store(tmp_path)
    done = torchrun(tmp_path, uri, ranks=4, FAKE_GPUS="8", COGIT_ALL_RANKS="1")
    assert done.returncode == 0, done.stderr[-3000:]
    found = runs(uri)
    assert_one_job(found, ranks=4, nodes=1)
    phase, camp = found["train · ddp-2"], found["ddp-2"]
    client = MlflowClient(uri)   # every rank's own metrics kept, as COGIT_ALL_RANKS asks
    for key in ("loss", "rank1/loss", "rank3/loss"):
        assert len(client.get_metric_history(phase.info.run_id, key)) == 20, key
    assert camp.data.tags[schema.GPU_COUNT] == phase.data.tags[schema.GPU_COUNT] == "4"
    assert camp.data.tags[schema.NODE_PREFIX + "node0"] == "8 x NVIDIA H100 80GB HBM3"
    for rank in range(4):
        assert phase.data.metrics[f"rank{rank}/vram_peak_gb"] == pytest.approx(10 * (rank + 1))
    assert phase.data.metrics[schema.VRAM_PEAK_GB] == pytest.approx(40)
    assert phase.data.metrics[schema.COST_USD] == pytest.approx(
        phase.data.metrics[schema.DURATION_S] * 4 * RATE / 3600, rel=0.05)


def test_two_nodes_are_one_job_with_a_line_per_node(tmp_path):
    """`torchrun --nnodes 2 --nproc_per_node 2` as two agents: one campaign, four ranks on
    two nodes, 2 x 4 faked GPUs of which the job uses 2 a node, each node's system metrics
    under `system/<node>/`."""
    uri = made_store(tmp_path)
    done = two_nodes(tmp_path, uri, FAKE_GPUS="4")
    assert all(d.returncode == 0 for d in done), [d.stderr[-2000:] for d in done]
    found = runs(uri)
    assert_one_job(found, ranks=4, nodes=2)
    phase = found["train · ddp-2"]
    assert phase.data.tags[schema.GPU_COUNT] == "4"
    assert phase.data.metrics[schema.COST_USD] == pytest.approx(
        phase.data.metrics[schema.DURATION_S] * 4 * RATE / 3600, rel=0.05)
    for node in ("node0", "node1"):
        assert any(k.startswith(f"system/{node}/") for k in phase.data.metrics), node
    assert phase.data.metrics[schema.VRAM_PEAK_GB] == pytest.approx(20)   # local rank 1's


def test_on_two_nodes_a_killed_rank_is_named_with_its_node(tmp_path):
    uri = made_store(tmp_path)
    done = two_nodes(tmp_path, uri, KILL_RANK="3", STEPS="40", STEP_S="0.1",
                     COGIT_RANKS_END_WAIT_S=END_WAIT)
    assert any(d.returncode != 0 for d in done)
    phase = runs(uri)["train · ddp-2"]
    tags = phase.data.tags
    assert phase.info.status == "FAILED"
    assert (tags[schema.FAILURE], tags[schema.FAILURE_RANK], tags[schema.FAILURE_NODE]) == \
        ("killed", "3", "node1"), tags


def test_accelerate_launch_is_one_job_and_the_next_launch_another(tmp_path):
    """`accelerate launch` gives every job TORCHELASTIC_RUN_ID "none": a second launch of the
    same label is a second campaign of its own, never merged into the first."""
    uri = made_store(tmp_path)

    def launch() -> subprocess.CompletedProcess:
        argv = [str(ACCELERATE), "launch", "--multi_gpu", "--num_processes=2",
                "--num_machines=1", "--mixed_precision=no", "--dynamo_backend=no",
                f"--main_process_port={free_port()}", str(JOB)]
        return subprocess.run(argv, env=job_env(tmp_path, uri, LABEL="acc"), cwd=tmp_path,
                              capture_output=True, text=True, timeout=240)

    first = launch()
    assert first.returncode == 0, first.stderr[-3000:]
    assert_one_job(runs(uri), ranks=2, nodes=1, label="acc")
    second = launch()
    assert second.returncode == 0, second.stderr[-3000:]
    client = MlflowClient(uri)
    found = client.search_runs([client.get_experiment_by_name("ranks").experiment_id])
    camps = [r for r in found if r.data.tags[schema.KIND] == "campaign"]
    assert len(camps) == 2 and len({r.data.tags[schema.JOB] for r in camps}) == 2
    for camp in camps:   # each its own phase, each finished
        phases = [r for r in found if r.data.tags.get("mlflow.parentRunId") == camp.info.run_id]
        assert [p.info.status for p in phases] == ["FINISHED"]
        assert camp.info.status == "FINISHED"


def test_a_slurm_step_is_one_job(tmp_path):
    """Two tasks as `srun --ntasks 2` starts them: SLURM's variables only (no RANK), the
    process group made from SLURM_PROCID as SLURM scripts do."""
    uri = made_store(tmp_path)
    init = f"tcp://127.0.0.1:{free_port()}"
    envs = [job_env(tmp_path, uri, SLURM_JOB_ID="4242", SLURM_STEP_ID="0", SLURM_NTASKS="2",
                    SLURM_PROCID=str(r), SLURM_LOCALID=str(r), SLURM_NTASKS_PER_NODE="2",
                    SLURM_NODEID="0", INIT_METHOD=init) for r in (0, 1)]
    for env in envs:
        for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "TORCHELASTIC_USE_AGENT_STORE"):
            env.pop(name, None)
    done = together([([sys.executable, str(JOB)], env) for env in envs], tmp_path)
    assert all(d.returncode == 0 for d in done), [d.stderr[-2000:] for d in done]
    found = runs(uri)
    assert_one_job(found, ranks=2, nodes=1)
    assert found["ddp-2"].data.tags[schema.JOB] == "slurm-4242.0"


@pytest.mark.postgres
def test_two_ranks_through_a_shared_server(tmp_path, mlflow_server):
    experiment = f"ranks-{tmp_path.name[-12:]}"
    done = torchrun(tmp_path, mlflow_server.url, EXPERIMENT=experiment)
    assert done.returncode == 0, done.stderr[-3000:]
    assert_one_job(runs(mlflow_server.url, experiment), ranks=2, nodes=1)
    assert not list((tmp_path / "spool").glob("*.jsonl"))
