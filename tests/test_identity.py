"""A campaign is one process's at a time; a label is only ever a value; a stale run is only
reaped after a real number of seconds. Real sqlite stores and real processes."""
from __future__ import annotations

import math
import os
import subprocess
import sys
import textwrap
import time
import warnings

import pytest
from mlflow.tracking import MlflowClient

import cogit_tracker as ct
from cogit_tracker import schema
from cogit_tracker.errors import BadInput
from cogit_tracker.runtime import liveness

from conftest import REPO

RESUMER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    import cogit_tracker as ct
    from cogit_tracker.errors import Conflict
    release = Path(sys.argv[2])
    try:
        with ct.campaign("shared", resume=True, wait=sys.argv[1] == "wait") as camp:
            print("holding", flush=True)
            if not camp.finished_phase("train"):
                with camp.phase("train") as ph:
                    for step in range(20):
                        ph.log_metrics({"x": float(step)}, step=step)
                    deadline = time.monotonic() + 60
                    while not release.exists() and time.monotonic() < deadline:
                        time.sleep(0.1)
            if not camp.finished_phase("reverse"):
                with camp.phase("reverse"):
                    pass
    except Conflict as exc:
        print(f"refused: {exc}", flush=True)
        sys.exit(3)
""")


@pytest.fixture
def interrupted(store):
    """Campaign 'shared' whose train phase failed: what two processes then both resume."""
    with pytest.raises(RuntimeError), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with ct.campaign("shared") as camp:
            with camp.phase("train") as ph:
                raise RuntimeError("pod died")
    return store, ph.run_id


def _start(store: str, mode: str, release, warn: bool = False) -> subprocess.Popen:
    env = dict(os.environ, MLFLOW_TRACKING_URI=store, PYTHONPATH=str(REPO),
               PYTHONWARNINGS="default" if warn else "ignore", COGIT_HEARTBEAT_S="1")
    return subprocess.Popen([sys.executable, "-c", RESUMER, mode, str(release)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _phase_runs(store: str) -> list:
    client = MlflowClient(store)
    found = client.search_runs([e.experiment_id for e in client.search_experiments()],
                               f"tags.`{schema.CAMPAIGN}` = 'shared' and tags.`{schema.KIND}` = 'phase'")
    return sorted(found, key=lambda r: r.data.tags[schema.PHASE])


@pytest.mark.slow
def test_two_processes_resuming_one_campaign_one_gets_a_clear_error(interrupted, tmp_path):
    store, train_id = interrupted
    release = tmp_path / "release"
    procs = [_start(store, "fail", release), _start(store, "fail", release)]
    deadline = time.monotonic() + 120
    while all(p.poll() is None for p in procs) and time.monotonic() < deadline:
        time.sleep(0.1)
    first_out = [p for p in procs if p.poll() is not None]
    assert first_out, "neither process was refused"
    refused = first_out[0]
    out, err = refused.communicate()
    assert refused.returncode == 3 and "is held by another process" in out, (out, err)
    assert "--wait" in out and out.count("\n") == 1
    release.write_text("")
    holder = next(p for p in procs if p is not refused)
    out, err = holder.communicate(timeout=120)
    assert holder.returncode == 0 and "holding" in out, err
    runs = _phase_runs(store)
    assert [r.data.tags[schema.PHASE] for r in runs] == ["reverse", "train"]  # no duplicates
    train = next(r for r in runs if r.data.tags[schema.PHASE] == "train")
    assert train.info.run_id == train_id and train.info.status == "FINISHED"
    steps = [m.step for m in MlflowClient(store).get_metric_history(train_id, "x")]
    assert sorted(steps) == list(range(20))   # one writer: each step once


@pytest.mark.slow
def test_with_wait_the_second_process_waits_its_turn(interrupted, tmp_path):
    store, train_id = interrupted
    release = tmp_path / "release"
    first = _start(store, "wait", release)
    assert first.stdout.readline().strip() == "holding"
    second = _start(store, "wait", release, warn=True)
    said = ""
    while "waiting" not in said:   # its one warning: the campaign is held, it waits its turn
        line = second.stderr.readline()
        assert line, (said, second.communicate())   # it ended instead of waiting
        said += line
    assert "is held" in said and second.poll() is None   # waiting, not refused
    release.write_text("")
    assert first.wait(timeout=120) == 0
    out, err = second.communicate(timeout=120)
    assert second.returncode == 0 and "holding" in out, err
    assert [r.data.tags[schema.PHASE] for r in _phase_runs(store)] == ["reverse", "train"]


def test_a_label_is_a_value_never_part_of_the_filter(store):
    """A label written to break out of its quotes names only the campaign that has it."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with ct.campaign("plain") as plain:
            pass
        sly = "x' or tags.`cogit.kind` = 'campaign"
        with ct.campaign(sly) as camp:
            pass
        with ct.campaign(sly, resume=True) as again:
            pass
    assert again.uid == camp.uid != plain.uid
    assert [r.uid for r in liveness.list_runs(store, campaign=sly)] == [camp.uid]
    assert MlflowClient().get_run(plain.run_id).data.tags.get(schema.SESSION_RELEASED) is None


@pytest.mark.parametrize("stale_after", [math.nan, math.inf, -1.0, 0.0])
def test_stale_after_must_be_a_finite_positive_number(store, stale_after):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        camp = ct.campaign("alive")
        with camp:
            with pytest.raises(BadInput, match="finite, positive number of seconds"):
                liveness.reap(store, stale_after_s=stale_after)
            assert MlflowClient().get_run(camp.run_id).info.status == "RUNNING"
    run = MlflowClient().get_run(camp.run_id)
    assert run.info.status == "FINISHED" and schema.FAILURE not in run.data.tags
