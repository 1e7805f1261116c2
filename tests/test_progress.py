"""`ph.progress(done, total)`: the live `progress`, `eta_s` and `projected_cost_usd` metrics,
refreshed with the heartbeat, and what an impossible report does (warns once; the run goes on).

The arithmetic is checked on `Progress` with the clock passed in; the metrics through a real
campaign on a real sqlite store, with the monitor's heartbeat shortened."""
from __future__ import annotations

import time
import warnings

import pytest
from mlflow.tracking import MlflowClient

import cogit_tracker as ct
from cogit_tracker import schema
from cogit_tracker.runtime import monitor
from cogit_tracker.runtime.progress import Progress


def test_eta_is_the_rate_since_the_count_began():
    p = Progress("intervene")
    assert p.eta_s(0.0) is None and p.fraction is None
    p.report(0, 45, now=100.0)          # the bar opens after the model loaded
    assert p.eta_s(100.0) is None       # no step counted yet: no rate
    p.report(9, 45, now=190.0)          # 9 generations in 90 s
    assert p.fraction == pytest.approx(0.2)
    assert p.eta_s(190.0) == pytest.approx(36 * 10.0)
    p.report(45, 45, now=500.0)
    assert p.eta_s(500.0) == 0.0


def test_a_new_total_or_a_smaller_count_starts_a_new_count():
    p = Progress("train")
    p.report(0, 10, now=0.0)
    p.report(10, 10, now=10.0)
    p.report(0, 50, now=20.0)           # a second bar in the same phase
    p.report(5, 50, now=30.0)
    assert p.eta_s(30.0) == pytest.approx(45 * 2.0)


def test_impossible_reports_warn_once_and_change_nothing():
    p = Progress("intervene")
    p.report(3, 10, now=0.0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        p.report(12, 10, now=1.0)
        p.report(-1, 10, now=2.0)
        p.report(float("nan"), 10, now=3.0)
    assert len(caught) == 1
    assert "'intervene'" in str(caught[0].message) and "done > total" in str(caught[0].message)
    assert (p.done, p.total) == (3.0, 10.0)


def _wait_for(client, run_id: str, done: float, timeout: float = 60.0) -> dict:
    """The run's metrics once a heartbeat has logged an ETA at progress `done`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        metrics = client.get_run(run_id).data.metrics
        if schema.ETA_S in metrics and metrics.get(schema.PROGRESS) == done:
            return metrics
        time.sleep(0.1)
    raise AssertionError(f"no heartbeat logged an ETA at progress {done}")


def test_heartbeat_logs_progress_eta_and_projected_cost(store, monkeypatch):
    mon = monitor.get()
    monkeypatch.setattr(mon, "sample_s", 0.05)
    monkeypatch.setattr(mon, "heartbeat_s", 0.1)
    client = MlflowClient(store)
    with ct.campaign("eta", usd_per_hour=3.6) as camp:
        with camp.phase("intervene") as ph:
            ph.progress(0, 40)
            for done in range(1, 11):
                time.sleep(0.05)
                ph.progress(done, 40)
            live = _wait_for(client, ph.run_id, 0.25)
    assert live[schema.ETA_S] > 0
    # logged together by one heartbeat: cost so far + $3.6/h x ETA
    assert live[schema.PROJECTED_COST_USD] == pytest.approx(
        live[schema.COST_USD] + live[schema.ETA_S] / 3600 * 3.6, rel=1e-6)
    final = client.get_run(ph.run_id).data.metrics
    assert final[schema.ETA_S] == 0.0
    assert final[schema.PROJECTED_COST_USD] == pytest.approx(final[schema.COST_USD])
    assert final[schema.PROGRESS] == pytest.approx(0.25)


def test_a_phase_that_miscounts_warns_once_and_finishes(store):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with ct.campaign("miscount") as camp:
            with camp.phase("intervene") as ph:
                ph.progress(5, 4)
                ph.progress(-2, 4)
                ph.progress(4, 4)
    about = [w for w in caught if "reported progress" in str(w.message)]
    assert len(about) == 1
    run = MlflowClient(store).get_run(ph.run_id)
    assert run.info.status == "FINISHED"
    assert run.data.metrics[schema.PROGRESS] == 1.0


def test_a_campaign_records_the_phases_it_plans(store):
    with ct.campaign("planned", phases=["encode", "train"]) as camp:
        pass
    tags = MlflowClient(store).get_run(camp.run_id).data.tags
    assert tags[schema.PHASES_PLANNED] == "encode,train"
