"""`/cogit/live` and `/cogit/api/live` (issue 18, item 1) over a real sqlite store: one campaign
running in a real experiment process (held halfway through its phase), one whose process was
SIGKILLed three minutes of heartbeat ago; the board's figures, the stale mark and its reason,
the phase that ends moving to "just ended" with how it ended, bad parameters, the CSP; and,
on the real server behind basic-auth, what a reader may see and stop.
(The page updating itself in a real browser: tests/test_web_browser.py.)"""
from __future__ import annotations

import re
import signal
import time
import uuid

import pytest
from support import live_lab

from cogit_tracker import schema
from conftest import pages_on

pytestmark = pytest.mark.slow


@pytest.fixture
def gate(tmp_path):
    """The file that lets a held worker finish; made in any case when the test ends."""
    path = tmp_path / "gate"
    yield path
    path.touch()


def _phase(board: dict, label: str) -> dict | None:
    rows = [p for c in board["running"] if c["campaign"] == label for p in c["phases"]]
    return rows[0] if rows else None


def _rewind_heartbeats(client, label: str, seconds: float) -> None:
    """As if the SIGKILLed process had died `seconds` ago: nothing beats for it any more."""
    then = str(int(time.time() * 1000 - seconds * 1000))
    for run in live_lab.campaign_runs(client, label):
        client.set_tag(run.info.run_id, schema.HEARTBEAT, then)


def test_the_board_its_stale_mark_and_just_ended(store, tmp_path, monkeypatch, gate):
    from mlflow.tracking import MlflowClient

    from cogit_tracker.runtime.board import JUST_ENDED_MIN
    from cogit_tracker.runtime.liveness import reap

    live = live_lab.launch(store, tmp_path, "live-one", "--points", "20", "--pause", "0.05",
                           "--gate", str(gate), "--budget-usd", "100", heartbeat_s=0.3)
    dead = live_lab.started(live_lab.launch(store, tmp_path, "dead-one", "--points", "20",
                                            "--gate", str(tmp_path / "never"), heartbeat_s=0.3))
    live_lab.started(live)
    dead.send_signal(signal.SIGKILL)
    dead.wait(timeout=30)
    client = MlflowClient(store)
    _rewind_heartbeats(client, "dead-one", 180)
    pages = pages_on(store, monkeypatch)

    def held(b: dict) -> bool:  # a heartbeat since the worker reached its gate, at 11 of 20
        phase = _phase(b, "live-one") or {}
        return phase.get("eta_s") is not None and (phase.get("progress") or 0) >= 0.55

    board = live_lab.until(lambda: pages.get("/cogit/api/live").get_json(), held)
    phase = _phase(board, "live-one")
    assert phase["status"] == "RUNNING" and phase["progress"] == pytest.approx(0.55)
    assert phase["eta_s"] >= 0 and phase["cost_usd"] > 0
    assert phase["projected_cost_usd"] >= phase["cost_usd"]
    assert 0 <= phase["heartbeat_age_s"] < 60 and not phase["stale"]
    camp = next(c for c in board["running"] if c["campaign"] == "live-one")
    assert camp["budget_usd"] == 100 and 0 < camp["budget_spent"] < 0.01
    assert camp["can_stop"] is True and camp["experiment"] == "load"
    dead_camp = next(c for c in board["running"] if c["campaign"] == "dead-one")
    for row in (dead_camp, _phase(board, "dead-one")):
        assert row["stale"] and row["heartbeat_age_s"] > 170
        assert "no heartbeat for 3m" in row["stale_reason"]
    assert board["just_ended_minutes"] == JUST_ENDED_MIN

    page = pages.get("/cogit/live")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'data-campaign="live-one"' in html and "RUNNING (stale)" in html
    assert "no heartbeat for 3m" in html and "of $100.00" in html
    assert 'data-stop="/cogit/api/stop"' in html  # the Stop route is there: buttons offered
    assert re.findall(r"<script[^>]*>", html) == ['<script src="/cogit/static/live.js" defer>']
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    script = pages.get("/cogit/static/live.js")
    assert script.status_code == 200 and "textContent" in script.get_data(as_text=True)
    assert "innerHTML" not in script.get_data(as_text=True)

    gate.touch()  # the phase finishes; the dead one is reaped: both move to "just ended"
    assert live.wait(timeout=60) == 0, live.stderr.read()
    assert [r.campaign for r in reap(store)] == ["dead-one", "dead-one"]
    board = pages.get("/cogit/api/live").get_json()
    assert board["running"] == []
    ended = {(e["campaign"], e["kind"]): e for e in board["just_ended"]}
    assert ended[("live-one", "phase")]["ending"] == "FINISHED"
    assert ended[("live-one", "phase")]["progress"] == 1.0
    assert ended[("dead-one", "phase")]["ending"] == "KILLED (stale)"
    assert "reaped" in ended[("dead-one", "campaign")]["failure_message"]
    html = pages.get("/cogit/live").get_data(as_text=True)
    assert "KILLED (stale)" in html and "No campaign is running." in html


def test_bad_parameters_and_the_csp_on_every_cogit_answer(store, monkeypatch):
    pages = pages_on(store, monkeypatch)
    answer = pages.get("/cogit/api/live?colour=red")
    assert answer.status_code == 400 and "'colour'" in answer.get_json()["error"]
    page = pages.get("/cogit/live?campaign=a&campaign=b")
    assert page.status_code == 400 and "given 2 times" in page.get_data(as_text=True)
    for path in ("/cogit/live?colour=red", "/cogit/", "/cogit/api/live", "/cogit/nowhere"):
        csp = pages.get(path).headers.get("Content-Security-Policy", "")
        assert "script-src 'self'" in csp and "'unsafe-inline'" not in csp.split("style-src")[0]
    assert pages.get("/cogit/api/live?campaign=nobody").get_json()["running"] == []


@pytest.mark.postgres
def test_a_reader_sees_only_what_they_may_read_and_may_not_stop(web_lab_auth):
    """Under basic-auth: a running campaign in the experiment the reader may not read is not
    on their board; one they may read is, without the right to stop it (they may only read);
    the admin sees both and may stop them."""
    from mlflow.tracking import MlflowClient
    from support.web_lab import PRIVATE, QMECH, credentials

    lab = web_lab_auth
    labels = {QMECH: f"live-seen-{uuid.uuid4().hex[:6]}", PRIVATE: f"live-hid-{uuid.uuid4().hex[:6]}"}
    with credentials(lab.auth):
        client = MlflowClient(lab.url)
        for experiment, label in labels.items():
            eid = client.get_experiment_by_name(experiment).experiment_id
            client.create_run(eid, run_name=label, tags={
                schema.KIND: "campaign", schema.CAMPAIGN: label, schema.UID: str(uuid.uuid4()),
                schema.HEARTBEAT: str(int(time.time() * 1000))})
    try:
        mine = {c["campaign"]: c for c in lab.json("/cogit/api/live", user=lab.reader)["running"]}
        assert labels[QMECH] in mine and labels[PRIVATE] not in mine
        assert mine[labels[QMECH]]["can_stop"] is False
        admin = {c["campaign"]: c for c in lab.json("/cogit/api/live")["running"]}
        assert admin[labels[QMECH]]["can_stop"] and admin[labels[PRIVATE]]["can_stop"]
        status, _, page = lab.get("/cogit/live", user=lab.reader)
        assert status == 200 and labels[PRIVATE] not in page
        assert lab.get("/cogit/static/live.js", user=lab.reader)[0] == 200
    finally:
        with credentials(lab.auth):
            for label in labels.values():
                live_lab.remove(client, label)


def test_a_job_of_several_ranks_shows_its_ranks_and_nodes(store, monkeypatch):
    """A torchrun job of 2 nodes x 2 ranks (the runs the ranks code writes, as
    tests/test_report_nodes.py makes them): the campaign says 4 ranks on 2 nodes, its running
    phase one line a node with that node's freshest heartbeat."""
    from test_report_nodes import running_job

    running_job(store)
    pages = pages_on(store, monkeypatch)
    board = pages.get("/cogit/api/live").get_json()
    (camp,) = board["running"]
    assert (camp["ranks"], camp["nodes_count"]) == (4, 2)
    (phase,) = camp["phases"]
    assert [n["node"] for n in phase["nodes"]] == ["node0 (gpu-a)", "node1 (gpu-b)"]
    assert [round(n["heartbeat_age_s"] / 50) for n in phase["nodes"]] == [2, 3]  # 100, 150 s
    assert "ranks 0-1" in phase["nodes"][0]["what"]
    html = pages.get("/cogit/live").get_data(as_text=True)
    assert "4 ranks on 2 nodes" in html and "node1 (gpu-b)" in html
