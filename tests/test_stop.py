"""Stopping a running campaign from elsewhere (issue 18, item 2): `cogit-log runs stop` and the
web's `POST /cogit/api/stop`, on real parts.

A real experiment process on a real sqlite store runs a phase that would take 90 s, with a
heartbeat a second (`COGIT_HEARTBEAT_S=1`) and `COGIT_ON_STOP` writing a marker file; the test
asks it to stop through the real command and watches it stop as a spent budget stops a
campaign. A process killed with -9 is reaped instead. Bad requests write nothing. The route is
exercised through Flask's test client (no logins) and on a real `mlflow server` with MLflow's
basic-auth, where a reader with READ only is refused, as is a request from another site.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
import urllib.error
import urllib.request

import pytest
from click.testing import CliRunner
from mlflow.tracking import MlflowClient

from cogit_tracker import schema
from cogit_tracker.cli import cli

from conftest import REPO, pages_on
from support import synthetic as sy

CHILD = textwrap.dedent("""
    import sys, time
    import cogit_tracker as ct
    with ct.campaign(sys.argv[1], usd_per_hour=1.0) as camp:
        with camp.phase("train") as ph:
            t0 = time.monotonic()
            while time.monotonic() - t0 < 90:
                ph.log_metrics({"loss": 1.0}, step=0)
                time.sleep(0.05)
""")
ASKER = "ana"


def start(store: str, tmp_path, label: str) -> subprocess.Popen:
    env = dict(os.environ, MLFLOW_TRACKING_URI=store, PYTHONPATH=str(REPO),
               PYTHONWARNINGS="ignore", COGIT_HEARTBEAT_S="1", COGIT_BUDGET_GRACE_S="5",
               COGIT_ON_STOP=f"echo stopping pod; echo stopped >> {tmp_path / 'pod-stopped'}")
    out = open(tmp_path / "child.log", "w")
    return subprocess.Popen([sys.executable, "-c", CHILD, label], env=env, stdout=out,
                            stderr=subprocess.STDOUT, cwd=tmp_path)


def runs_of(store: str, label: str) -> dict:
    client = MlflowClient(store)
    found = client.search_runs([e.experiment_id for e in client.search_experiments()],
                               f"tags.`{schema.CAMPAIGN}` = '{label}'")
    return {r.data.tags.get(schema.PHASE, "campaign"): r for r in found}


def wait_alive(store: str, label: str, proc: subprocess.Popen, tmp_path,
               log: str = "child.log") -> None:
    """Until the campaign and its phase exist and have beaten once."""
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        runs = runs_of(store, label)
        if len(runs) == 2 and all(
                schema.HEARTBEAT in r.data.tags for r in runs.values()):
            return
        assert proc.poll() is None, (tmp_path / log).read_text()
        time.sleep(0.2)
    raise AssertionError("the campaign never started: " + (tmp_path / log).read_text())


def stop(*args: str):
    return CliRunner().invoke(cli, ["runs", "stop", *args], prog_name="cogit-log")


@pytest.fixture
def asker(monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", ASKER)
    return ASKER


@pytest.mark.slow
def test_a_running_campaign_stops_within_heartbeats_as_a_spent_budget_does(store, tmp_path,
                                                                            asker):
    proc = start(store, tmp_path, "stop-me")
    try:
        wait_alive(store, "stop-me", proc, tmp_path)
        asked = time.monotonic()
        result = stop("stop-me")
        assert result.exit_code == 0, result.output
        assert f"stop requested by {asker}" in result.stdout
        code = proc.wait(timeout=60)
        took = time.monotonic() - asked
    finally:
        proc.kill()
    log = (tmp_path / "child.log").read_text()
    assert code == 1 and "StopRequested" in log, log      # the user's exception reached the top
    assert took < 10, (took, log)                          # a few heartbeats, not the 90 s
    runs = runs_of(store, "stop-me")
    for run in runs.values():
        assert run.info.status == "KILLED", log
        assert run.data.tags[schema.FAILURE] == "stopped"
        assert f"stop requested by {asker} at " in run.data.tags[schema.FAILURE_MESSAGE]
    camp = runs["campaign"].data.tags
    assert camp[schema.STOP_BY] == asker and camp[schema.STOP_AT].isdigit()
    assert (tmp_path / "pod-stopped").read_text() == "stopped\n", log   # on_stop ran once
    assert camp[schema.STOP_COMMAND_STATUS] == "0"
    assert camp[schema.STOP_COMMAND_OUTPUT] == "stopping pod\n"
    assert schema.BUDGET_COMMAND not in camp


@pytest.mark.slow
def test_a_campaign_whose_process_was_killed_is_reaped_instead(store, tmp_path, asker):
    proc = start(store, tmp_path, "stop-dead")
    wait_alive(store, "stop-dead", proc, tmp_path)
    proc.kill()
    proc.wait()
    time.sleep(2.2)  # no heartbeat for two of its seconds: gone
    result = stop("stop-dead", "--stale-after", "2", "--json")
    assert result.exit_code == 0, result.output
    outcome = json.loads(result.stdout)
    assert outcome["outcome"] == "reaped" and len(outcome["reaped"]) == 2
    for run in runs_of(store, "stop-dead").values():
        assert run.info.status == "KILLED"
        assert run.data.tags[schema.FAILURE] == "stale"
        assert schema.STOP_BY not in run.data.tags
    assert not (tmp_path / "pod-stopped").exists()


def _snapshot(store: str) -> list:
    client = MlflowClient(store)
    found = client.search_runs([e.experiment_id for e in client.search_experiments()])
    return sorted((r.info.run_id, r.info.status, sorted(r.data.tags.items())) for r in found)


@pytest.fixture
def lab(store):
    """A finished campaign (`run-001`) and a running one (`live-1`, beating now)."""
    client = MlflowClient(store)
    sy.make_campaign(client, "cogit-qmech", sy.CampaignSpec("run-001", sy.reference_phases()))
    beat = {schema.HEARTBEAT: str(int(time.time() * 1000))}
    sy.make_campaign(client, "cogit-qmech", sy.CampaignSpec(
        "live-1", sy.reference_phases()[:1], status="RUNNING", extra_tags=beat))
    return store


@pytest.mark.parametrize("args, named", [
    (["no-such"], "'no-such'"), (["run-001"], "'run-001' is finished"),
    (["live-1", "--experiment", "nope"], "'live-1'")])
def test_bad_stop_requests_are_one_line_and_write_nothing(lab, asker, args, named):
    before = _snapshot(lab)
    result = stop(*args)
    assert result.exit_code == 2, result.output
    assert len(result.stderr.strip().splitlines()) == 1 and named in result.stderr
    assert "Traceback" not in result.output
    assert _snapshot(lab) == before


def _post(client, origin: str | None = "http://localhost", **fields):
    headers = {"Origin": origin} if origin else {}
    return client.post("/cogit/api/stop", data=fields, headers=headers)


def test_the_stop_route_asks_the_campaign_and_refuses_other_sites(lab, monkeypatch):
    pages = pages_on(lab, monkeypatch)
    before = _snapshot(lab)
    for origin in (None, "http://evil.example", "http://localhost:8080", "null"):
        resp = _post(pages, origin, campaign="live-1")
        assert resp.status_code == 403 and "cross-site" in resp.get_json()["error"], origin
    assert pages.post("/cogit/api/stop", json={"campaign": "live-1"},
                      headers={"Referer": "http://evil.example/cogit/live"}).status_code == 403
    for fields, code in [({"campaign": "no-such"}, 404), ({"campaign": "run-001"}, 400),
                         ({}, 400), ({"campaign": "live-1", "colour": "red"}, 400)]:
        resp = _post(pages, **fields)
        assert resp.status_code == code and resp.get_json()["error"], (fields, resp.data)
    assert _snapshot(lab) == before                      # nothing written by any of them
    resp = pages.post("/cogit/api/stop", json={"campaign": "live-1"},
                      headers={"Referer": "http://localhost/cogit/live"})
    assert resp.status_code == 200, resp.data
    body = resp.get_json()
    assert body["outcome"] == "requested" and body["by"] == "anonymous"
    tags = runs_of(lab, "live-1")["campaign"].data.tags
    assert tags[schema.STOP_BY] == "anonymous" and tags[schema.STOP_AT] == str(body["at_ms"])


EDITOR = ("stop-editor", "stop-editor-password-1234")


@pytest.mark.slow
@pytest.mark.postgres
def test_under_logins_only_an_editor_may_stop_and_only_from_the_server(web_lab_auth):
    """On the shared lab server: a campaign of its own, deleted afterwards, so the other
    tests' pages read as before."""
    from mlflow.server import get_app_client

    from support.web_lab import QMECH, credentials

    lab = web_lab_auth
    with credentials(lab.auth):
        client = MlflowClient(lab.url)
        beat = {schema.HEARTBEAT: str(int(time.time() * 1000))}
        made, phases = sy.make_campaign(client, QMECH, sy.CampaignSpec(
            "live-auth", sy.reference_phases()[:1], status="RUNNING", extra_tags=beat))
        admin = get_app_client("basic-auth", tracking_uri=lab.url)
        admin.create_user(*EDITOR)
        admin.grant_user_permission(EDITOR[0], "experiment",
                                    client.get_experiment_by_name(QMECH).experiment_id, "EDIT")
    try:
        status, body = _post_as(lab.url, lab.reader, lab.url)   # READ on the experiment
        assert status == 403 and "permission to edit" in body, body
        status, body = _post_as(lab.url, lab.auth, "http://evil.example")  # even the admin
        assert status == 403, body
        with credentials(lab.auth):
            assert schema.STOP_BY not in client.get_run(made).data.tags
        status, body = _post_as(lab.url, EDITOR, lab.url)
        assert status == 200, body
        outcome = json.loads(body)
        assert outcome["outcome"] == "requested" and outcome["by"] == EDITOR[0]
        with credentials(lab.auth):
            assert client.get_run(made).data.tags[schema.STOP_BY] == EDITOR[0]
    finally:
        with credentials(lab.auth):
            for run_id in [*phases, made]:
                client.delete_run(run_id)


def _post_as(url: str, user: tuple[str, str], origin: str) -> tuple[int, str]:
    """(status, body) of the Stop button's POST for `live-auth`, as `user`, from `origin`."""
    import base64

    token = base64.b64encode(f"{user[0]}:{user[1]}".encode()).decode()
    request = urllib.request.Request(
        url + "/cogit/api/stop", method="POST", data=b"campaign=live-auth",
        headers={"Origin": origin, "Authorization": f"Basic {token}",
                 "Content-Type": "application/x-www-form-urlencoded"})
    try:
        with urllib.request.urlopen(request, timeout=60) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


@pytest.mark.slow
def test_every_rank_of_a_torchrun_job_stops_and_on_stop_runs_once(tmp_path, asker):
    """Two ranks (gloo on the CPU) of a 200 s job: rank 0 sees the request, every rank
    stops as for the job's budget, and the pod's stop command runs once, on rank 0."""
    pytest.importorskip("torch")
    from cogit_tracker.runtime.stop import request_stop

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    MlflowClient(uri).search_experiments()
    torchrun = os.path.join(os.path.dirname(sys.executable), "torchrun")
    env = dict(os.environ, MLFLOW_TRACKING_URI=uri, PYTHONPATH=str(REPO), STEPS="400",
               STEP_S="0.5", COGIT_HEARTBEAT_S="1", COGIT_BUDGET_GRACE_S="5",
               COGIT_SPOOL_DIR=str(tmp_path / "spool"), PYTHONWARNINGS="ignore",
               COGIT_ON_STOP=f"echo stopped >> {tmp_path / 'pod-stopped'}")
    job = REPO / "tests" / "support" / "ranks" / "job.py"
    with open(tmp_path / "job.log", "w") as out:
        proc = subprocess.Popen([torchrun, "--standalone", "--nproc_per_node=2", str(job)],
                                env=env, cwd=tmp_path, stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_alive(uri, "ddp-2", proc, tmp_path, log="job.log")
        request_stop(uri, "ddp-2", asker)
        proc.wait(timeout=90)
    finally:
        proc.kill()
    log = (tmp_path / "job.log").read_text()
    assert "rank 0 done" not in log and "rank 1 done" not in log, log
    for run in runs_of(uri, "ddp-2").values():
        assert run.info.status == "KILLED", log
        assert run.data.tags[schema.FAILURE] == "stopped", log
    assert (tmp_path / "pod-stopped").read_text() == "stopped\n", log


def first_read_done(look, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while look.looks == 0:
        assert time.monotonic() < deadline, "the look's read never finished"
        time.sleep(0.02)


def answer(look):
    """What a new look (`RequestWatch`) says from its first read: it reads on a thread of its
    own, and a call gives the latest finished read's answer."""
    assert look() is None  # starts the read: nothing read yet
    first_read_done(look)
    return look()


def test_the_running_side_ignores_an_old_request_and_a_store_that_is_away(store, tmp_path):
    """What the monitor's look does (`RequestWatch`), on a real store: a resumed campaign's
    request from the session it ended is not a new one; a new one is read with who and when;
    with the store gone the look says nothing and raises nothing. The writer is reduced to
    the one thing the look needs of it: the run id behind the campaign's uid."""
    from types import SimpleNamespace

    from cogit_tracker.runtime.stop import RequestWatch

    client = MlflowClient(store)
    run = client.create_run(client.create_experiment("watch"),
                            tags={schema.STOP_BY: "bo", schema.STOP_AT: "1000"})
    writer = SimpleNamespace(run_ids={"uid-1": run.info.run_id})

    def look():
        return RequestWatch(store, "uid-1", writer, every_s=0, seen="1000")

    assert answer(look()) is None
    client.set_tag(run.info.run_id, schema.STOP_AT, "1765155723000")
    reason = answer(look())
    assert reason.kind.failure == "stopped"
    assert reason.note == "stop requested by bo at 2025-12-08 01:02:03 UTC"
    gone = RequestWatch(f"sqlite:///{tmp_path / 'no' / 'such.db'}", "uid-1", writer, 0)
    assert answer(gone) is None


def test_a_store_that_never_answers_holds_the_look_not_the_monitor(monkeypatch):
    """The monitor asks for the look between sampling peaks and checking the budget: against a
    store that takes the connection and never answers (a socket nobody reads), the call comes
    back at once, with the read still under way on its own thread. A look that read in the
    caller's thread would return only when MLflow's request gave up."""
    import socket
    from types import SimpleNamespace

    from cogit_tracker.runtime.stop import RequestWatch

    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "3")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    mute = socket.create_server(("127.0.0.1", 0))  # listens; nothing ever reads or answers
    try:
        url = f"http://127.0.0.1:{mute.getsockname()[1]}"
        look = RequestWatch(url, "uid-1", SimpleNamespace(run_ids={"uid-1": "r" * 32}), 0)
        assert look() is None
        assert look.looks == 0, "the call waited for the store's answer"
        assert look() is None  # asked again while the read hangs: no second read, no wait
        first_read_done(look, timeout_s=60)  # MLflow gives up (3 s)
        assert look() is None  # the look says nothing, raises nothing
    finally:
        mute.close()
