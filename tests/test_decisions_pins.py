"""Evidence that cannot be forged (issue 17, item 1), on a real sqlite store.

A link names its run by `cogit.uid`, which any writer can copy onto a run of their own. So a
link is pinned, when it is made, to the experiment and run id it resolved to; `verify` and
the pages count that run only and report every other run carrying the uid. The attack
replayed here: a decision refuted by its real campaign; a reader plants a run with the copied
uid (and a phase that would pass) in an experiment of their own; `verify` stays refuted and
names the plant.
"""
from __future__ import annotations

import json
import uuid

import pytest
from click.testing import CliRunner
from mlflow.tracking import MlflowClient

from cogit_tracker import schema as S
from cogit_tracker.cli import cli
from cogit_tracker.decisions.model import Criterion, Decision
from cogit_tracker.decisions.store import DecisionLog
from cogit_tracker.errors import BadInput
from support.decision_runs import make_campaign

CRITERION = "phase[intervene].duration_s < 900"
SLOW = {"train": {"fidelity": 0.99}, "intervene": {"duration_s": 7200.0}}  # refutes it
FAST = {"train": {"fidelity": 0.99}, "intervene": {"duration_s": 600.0}}   # would pass


def plant(uri: str, uid: str, experiment: str = "my-own", phases=FAST) -> str:
    """A campaign run carrying `uid` (copied) in an experiment of the planter's own, with a
    phase that would validate the decision; returns its run id."""
    client = MlflowClient(uri)
    exp = client.get_experiment_by_name(experiment)
    exp_id = exp.experiment_id if exp else client.create_experiment(experiment)
    camp = client.create_run(exp_id, run_name="forged", tags={
        S.UID: uid, S.KIND: "campaign", S.CAMPAIGN: "forged", S.GPU_KEY: "h100-sxm"})
    for index, (name, metrics) in enumerate(phases.items(), 1):
        ph = client.create_run(exp_id, run_name=f"forged/{name}", tags={
            S.UID: uuid.uuid4().hex, S.KIND: "phase", S.PHASE: name, S.PHASE_INDEX: str(index),
            S.CAMPAIGN: "forged", S.GPU_KEY: "h100-sxm", S.PARENT_RUN: camp.info.run_id})
        for key, value in metrics.items():
            client.log_metric(ph.info.run_id, key, value)
        client.set_terminated(ph.info.run_id)
    client.set_terminated(camp.info.run_id)
    return camp.info.run_id


def decided(uri: str, link: str = "run-002") -> DecisionLog:
    log = DecisionLog(uri)
    log.create(Decision("Migrate to H100", criteria=[Criterion("Phase 3 under 15 min",
                                                               CRITERION)]),
               [(link, "validation")])
    return log


def campaign_run(uri: str, uid: str):
    return MlflowClient(uri).search_runs(
        [e.experiment_id for e in MlflowClient(uri).search_experiments()],
        f"tags.`{S.UID}` = '{uid}'")


def unpin(uri: str, number: int, uid: str) -> None:
    """Make a link look as one made before pins existed: no `cogit.pin.` tag."""
    log = DecisionLog(uri)
    log.client.delete_tag(log._run(number).info.run_id, S.pin_tag(uid))


def test_a_planted_uid_is_reported_and_never_counted(store):
    uid = make_campaign(store, "run-002", "h100-sxm", "int8", SLOW)
    log = decided(store)
    genuine = campaign_run(store, uid)[0]
    d = log.load(1)
    assert d.pins == {uid: f"{genuine.info.experiment_id}/{genuine.info.run_id}"}
    assert log.verify(1).status == "refuted"

    forged = plant(store, uid)
    ver = log.verify(1)
    assert ver.status == "refuted"
    assert [o.state for _, o in ver.results] == ["fail"]
    assert [(c.what, c.run_id, c.experiment) for c in ver.claims] == \
        [("planted", forged, "my-own")]
    assert "not counted" in ver.claims[0].line and forged in ver.claims[0].line
    assert [r.run_id for r in log.linked_runs(log.load(1))] == [genuine.info.run_id]

    res = CliRunner().invoke(cli, ["decision", "verify", "1"])
    assert res.exit_code == 1, res.output   # still refuted
    assert f"run {forged} in experiment 'my-own' also claims cogit.uid {uid}" in res.output
    data = json.loads(CliRunner().invoke(cli, ["decision", "verify", "1", "--json"]).output)
    assert data["status"] == "refuted" and len(data["not_counted"]) == 1
    shown = json.loads(CliRunner().invoke(cli, ["decision", "show", "1", "--json"]).output)
    assert [r["run_id"] for r in shown["runs"]] == [genuine.info.run_id]
    assert forged in shown["not_counted"][0]


def test_a_planted_uid_cannot_be_linked_by_mistake(store):
    """Linking by a uid two runs carry is refused; by run id it pins the one named."""
    uid = make_campaign(store, "run-002", "h100-sxm", "int8", SLOW)
    forged = plant(store, uid)
    log = DecisionLog(store)
    with pytest.raises(BadInput, match="names 2 runs"):
        log.create(Decision("Migrate"), [(uid, "validation")])
    genuine = next(r for r in campaign_run(store, uid) if r.info.run_id != forged)
    log.create(Decision("Migrate", criteria=[Criterion("fast", CRITERION)]),
               [(genuine.info.run_id, "validation")])
    ver = log.verify(1)
    assert ver.status == "refuted" and [c.run_id for c in ver.claims] == [forged]


def test_a_pinned_run_deleted_or_stripped_of_its_uid_counts_nothing(store):
    uid = make_campaign(store, "run-002", "h100-sxm", "int8", FAST)
    log = decided(store)
    assert log.verify(1).status == "validated"
    genuine = campaign_run(store, uid)[0].info.run_id
    client = MlflowClient(store)
    client.set_tag(genuine, S.UID, "something-else")
    forged = plant(store, uid, phases=SLOW)
    ver = log.verify(1)
    assert {c.what for c in ver.claims} == {"changed", "planted"}
    assert [o.state for _, o in ver.results] == ["pending"]   # nothing counted
    assert ver.status == "validated"   # an undecided verify leaves the status as it was
    client.set_tag(genuine, S.UID, uid)
    client.delete_run(genuine)
    ver = log.verify(1)
    assert [(c.what, c.run_id) for c in ver.claims] == [("deleted", genuine),
                                                         ("planted", forged)]
    assert log.linked_runs(log.load(1)) == []


def test_a_link_made_before_pins_still_verifies_and_is_pinned_then(store):
    uid = make_campaign(store, "run-002", "h100-sxm", "int8", SLOW)
    log = decided(store)
    unpin(store, 1, uid)
    assert log.load(1).pins == {}
    ver = log.verify(1)
    assert ver.status == "refuted" and ver.claims == [] and ver.pinned == [uid]
    genuine = campaign_run(store, uid)[0]
    assert log.load(1).pins == {uid: f"{genuine.info.experiment_id}/{genuine.info.run_id}"}
    assert json.loads(log.read_artifact(log._run(1), "decision.json"))["pins"] == \
        log.load(1).pins
    plant(store, uid)   # too late: the link is pinned
    assert log.verify(1).status == "refuted"


def test_an_unpinned_link_with_a_plant_counts_neither_until_linked_by_run_id(store):
    uid = make_campaign(store, "run-002", "h100-sxm", "int8", SLOW)
    log = decided(store)
    assert log.verify(1).status == "refuted"
    unpin(store, 1, uid)
    forged = plant(store, uid)
    ver = log.verify(1)
    assert ver.status == "refuted"   # pending, so unchanged: never validated by the plant
    assert [o.state for _, o in ver.results] == ["pending"]
    assert {c.what for c in ver.claims} == {"ambiguous"} and len(ver.claims) == 2
    assert ver.pinned == [] and log.load(1).pins == {}
    genuine = next(r for r in campaign_run(store, uid) if r.info.run_id != forged)
    log.link(1, genuine.info.run_id, "validation")   # the owner says which run it is
    ver = log.verify(1)
    assert ver.status == "refuted" and [c.run_id for c in ver.claims] == [forged]


def test_a_reader_sees_only_links_they_may_read_and_counts_match(store):
    """What the pages pass for a reader (`experiment_ids`): the hidden link is not there,
    neither as a run nor in a claim, and the decision list counts what the page shows."""
    open_uid = make_campaign(store, "run-001", "rtx-5090", "fp16", SLOW)
    client = MlflowClient(store)
    secret_exp = client.create_experiment("private-sweep")
    uid = _campaign_in(store, "private-sweep", "secret-sweep")
    log = DecisionLog(store)
    log.create(Decision("Sweep privately"), [("secret-sweep", "evidence"),
                                             ("run-001", "context")])
    forged = plant(store, uid)
    everything = log.evidence(log.load(1))
    assert {r.campaign for r in everything.runs} == {"secret-sweep", "run-001"}
    assert [c.run_id for c in everything.claims] == [forged]
    reader = [e.experiment_id for e in client.search_experiments()
              if e.experiment_id != secret_exp]
    seen = log.evidence(log.load(1), reader)
    assert [r.uid for r in seen.runs] == [open_uid] and seen.claims == []
    assert uid not in json.dumps([r.tags for r in seen.runs])
    assert [e.links for e in log.entries(reader)] == [1]
    assert [e.links for e in log.entries()] == [2]


def _campaign_in(uri: str, experiment: str, label: str) -> str:
    client = MlflowClient(uri)
    exp_id = client.get_experiment_by_name(experiment).experiment_id
    uid = uuid.uuid4().hex
    run = client.create_run(exp_id, run_name=label, tags={
        S.UID: uid, S.KIND: "campaign", S.CAMPAIGN: label, S.GPU_KEY: "a100-80gb"})
    client.set_terminated(run.info.run_id)
    return uid


def test_a_synced_copy_counts_its_pinned_run_s_copy_only(store, tmp_path):
    """On another store the pin's run id is the source's; the copy of exactly that run (by
    `cogit.sync.source_run_id`) is counted there, a plant is not."""
    from cogit_tracker.store.sync import sync

    uid = make_campaign(store, "run-002", "h100-sxm", "int8", SLOW)
    decided(store)
    target = f"sqlite:///{tmp_path / 'copy.db'}"
    sync(store, target)
    there = DecisionLog(target)
    forged = plant(target, uid)
    ver = there.verify(1)
    assert ver.status == "refuted" and [c.run_id for c in ver.claims] == [forged]
    assert [r.campaign for r in there.linked_runs(there.load(1))] == ["run-002"]


# ---------------------------------------------------------------- the pages, behind basic-auth

@pytest.fixture(scope="module")
def auth_lab(tmp_path_factory):
    """The web lab on a server of its own behind MLflow's basic-auth (this module adds a
    decision and plants runs, which the shared lab's tests must not see); `.reader` may not
    read the private sweep's experiment."""
    pytest.importorskip("psycopg2")
    from conftest import SERVER_ADMIN_PASSWORD, serve_for_test
    from support import web_lab

    for srv in serve_for_test(tmp_path_factory.mktemp("pins-auth"), auth=True):
        lab = web_lab.populate(web_lab.Lab(srv.url, auth=("admin", SERVER_ADMIN_PASSWORD)))
        lab.reader = web_lab.add_reader(lab, web_lab.PRIVATE)
        yield lab


@pytest.mark.postgres
@pytest.mark.slow
def test_the_attack_through_the_pages_of_a_server_with_logins(auth_lab):
    """A reader who may not read the private sweep learns nothing of its link from the
    decision's page or JSON, and a run they plant with its uid does not turn the admin's
    verify from refuted into validated."""
    from support import web_lab

    lab = auth_lab
    with web_lab.credentials(lab.auth):
        admin = DecisionLog(lab.url)
        admin.create(Decision("Sweep verdict", criteria=[Criterion("fast", CRITERION)]),
                     [("secret-sweep", "validation")])
        secret_uid = MlflowClient(lab.url).get_run(lab.runs["secret-sweep"]).data.tags[S.UID]
        assert admin.verify(4).status == "refuted"
        qmech_uid = MlflowClient(lab.url).get_run(lab.runs["run-002"]).data.tags[S.UID]

    status, _, page = lab.get("/cogit/api/decision?number=4", user=lab.reader)
    assert status == 200 and secret_uid not in page and lab.runs["secret-sweep"] not in page
    data = json.loads(page)
    assert data["links"] == {} and data["pins"] == {} and data["runs"] == []
    assert data["not_counted"] == []
    _, _, html = lab.get("/cogit/decision?number=4", user=lab.reader)
    assert secret_uid not in html and "No linked runs." in html
    counts = {e["number"]: e["links"] for e in lab.json("/cogit/api/decisions", user=lab.reader)}
    assert counts[4] == 0 and counts[3] == 0 and counts[2] == 3   # 2 campaigns, decision #1
    assert {e["number"]: e["links"] for e in lab.json("/cogit/api/decisions")}[4] == 1

    with web_lab.credentials(lab.reader):   # the reader's own experiment, their own runs
        forged = plant(lab.url, secret_uid, "readers-own")
        copied = plant(lab.url, qmech_uid, "readers-own",
                       phases={"intervene": {"duration_s": 7200.0}})
    with web_lab.credentials(lab.auth):
        ver = admin.verify(4)
    assert ver.status == "refuted"
    assert [(c.what, c.run_id, c.experiment) for c in ver.claims] == \
        [("planted", forged, "readers-own")]

    # run-002 the reader may read: its page still counts the real run, and names the copy
    mine = lab.json("/cogit/api/decision?number=2", user=lab.reader)
    assert [c["state"] for c in mine["checks"]] == ["pass", "manual"]
    assert sorted(r["campaign"] or r["kind"] for r in mine["runs"]) == \
        ["decision", "run-001", "run-002"]
    assert len(mine["not_counted"]) == 1 and copied in mine["not_counted"][0]
    _, _, html = lab.get("/cogit/decision?number=2", user=lab.reader)
    assert "Not counted" in html and copied in html
    assert lab.json("/cogit/api/decision?number=4", user=lab.reader)["not_counted"] == []
    admin_view = lab.json("/cogit/api/decision?number=4")
    assert [r["run_id"] for r in admin_view["runs"]] == [lab.runs["secret-sweep"]]
    assert forged in admin_view["not_counted"][0]
