"""A job of several ranks is one campaign (issue 16, items 1-4).

Real `torchrun` on the CPU with the gloo backend (a real all-reduce between the ranks), real
processes, a real sqlite store. This machine has no GPU: the job's GPU count is 0 and its cost
counts one unit per node, as a GPU-less campaign does.
"""
from __future__ import annotations

import os
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
TORCHRUN = Path(sys.executable).with_name("torchrun")


def made_store(tmp_path: Path) -> str:
    """A store that exists before the job (a brand-new one opened by every rank at once is
    the first test's, and tests/test_store_concurrency.py's)."""
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    MlflowClient(uri).search_experiments()
    return uri


def torchrun(tmp_path: Path, uri: str, ranks: int = 2, timeout: float = 240,
             **env: str) -> subprocess.CompletedProcess:
    full = {**os.environ, "MLFLOW_TRACKING_URI": uri, "PYTHONPATH": str(REPO),
            "COGIT_SPOOL_DIR": str(tmp_path / "spool"), "COGIT_HEARTBEAT_S": "1", **env}
    return subprocess.run([str(TORCHRUN), "--standalone", f"--nproc_per_node={ranks}",
                           str(JOB)], env=full, cwd=tmp_path, capture_output=True, text=True,
                          timeout=timeout)


def runs(uri: str) -> dict:
    client = MlflowClient(uri)
    exp = client.get_experiment_by_name("ranks")
    return {r.info.run_name: r for r in client.search_runs([exp.experiment_id])}


pytestmark = pytest.mark.slow


def test_two_ranks_are_one_campaign_with_one_run_per_phase(tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"    # brand new: both ranks open it at once
    done = torchrun(tmp_path, uri)
    assert done.returncode == 0, done.stderr[-3000:]
    assert not list((tmp_path / "spool").glob("*.jsonl")), done.stderr[-3000:]  # none spools
    assert "rank 0 done" in done.stdout and "rank 1 done" in done.stdout
    found = runs(uri)
    assert set(found) == {"ddp-2", "train · ddp-2"}          # not one of each per rank
    phase, camp = found["train · ddp-2"], found["ddp-2"]
    assert phase.info.status == camp.info.status == "FINISHED"
    assert camp.data.tags[schema.RANKS] == "2" and camp.data.tags[schema.NODES_COUNT] == "1"
    assert camp.data.tags[schema.JOB] == phase.data.tags[schema.JOB]
    assert any(k.startswith(schema.NODE_PREFIX) for k in camp.data.tags)
    for rank in (0, 1):   # each rank's own peaks; rank 1's heartbeat beside rank 0's
        assert f"rank{rank}/ram_peak_gb" in phase.data.metrics
    assert f"{schema.HEARTBEAT}.rank1" in phase.data.tags
    history = MlflowClient(uri).get_metric_history(phase.info.run_id, "loss")
    assert len(history) == 20            # rank 0's points only, not one set per rank
    assert "rank1/loss" not in phase.data.metrics
    # the cost is the job's, counted once: one node, GPU-less, at $3.60/h
    assert phase.data.metrics[schema.COST_USD] == pytest.approx(
        phase.data.metrics[schema.DURATION_S] * 3.6 / 3600, rel=0.05)


def test_every_ranks_metrics_under_its_prefix_when_asked(tmp_path):
    uri = made_store(tmp_path)
    done = torchrun(tmp_path, uri, COGIT_ALL_RANKS="1")
    assert done.returncode == 0, done.stderr[-3000:]
    phase = runs(uri)["train · ddp-2"]
    assert len(MlflowClient(uri).get_metric_history(phase.info.run_id, "rank1/loss")) == 20
    assert len(MlflowClient(uri).get_metric_history(phase.info.run_id, "loss")) == 20


def test_the_failing_rank_is_named_and_the_teardown_does_not_overwrite_it(tmp_path):
    uri = made_store(tmp_path)
    done = torchrun(tmp_path, uri, FAIL_RANK="1")
    assert done.returncode != 0
    phase = runs(uri)["train · ddp-2"]
    tags = phase.data.tags
    assert phase.info.status == "FAILED"
    assert tags[schema.FAILURE] == "exception" and tags[schema.FAILURE_RANK] == "1"
    assert "rank 1 hit a bad batch" in tags[schema.FAILURE_MESSAGE]
    assert tags[schema.FAILURE_NODE]


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
    assert camp.data.metrics[schema.COST_USD] < 0.01      # counted once, not per rank


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
    done = torchrun(tmp_path, uri, LABEL_PER_RANK="1")
    assert done.returncode != 0
    assert "every rank must open the same label" in done.stderr
    assert set(runs(uri)) <= {"ddp-2-rank0", "train · ddp-2-rank0"}   # rank 1 made none
