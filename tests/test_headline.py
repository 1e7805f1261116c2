"""An experiment that is not cogit-qmech, declaring its own headline metrics (`accuracy`,
better high; `eval_loss`, better low), gets them in the campaign's roll-ups, `report`'s
columns, `compare`'s verdict, the charts and the `/cogit/` campaign page; a campaign that
declares nothing shows what its phases logged. Real sqlite stores, the real CLI, the real
Flask app with the `cogit` blueprint."""
from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner
from mlflow.tracking import MlflowClient

import cogit_tracker as ct
from cogit_tracker import schema
from cogit_tracker.cli import cli
from cogit_tracker.errors import BadInput
from cogit_tracker.reports.headline import Headline, Metric, declare, from_tag
from cogit_tracker.reports.model import load
from cogit_tracker.runtime import experiments
from conftest import pages_on
from support import synthetic as sy

HEADLINE = {"accuracy": "max", "eval_loss": "min"}


def invoke(*args: str) -> dict:
    res = CliRunner().invoke(cli, [*args, "--json"])
    assert res.exit_code == 0, res.output
    return json.loads(res.output)


def fine_tune(label: str, accuracy: list[float], eval_loss: float, **kwargs) -> ct.Campaign:
    """A user's own fine-tune: a train phase that logs its curves every step, and an eval."""
    with ct.campaign(label, experiment="my-finetune", usd_per_hour=0.89, **kwargs) as camp:
        with camp.phase("train") as ph:
            for step, acc in enumerate(accuracy):
                ph.log_metrics({"accuracy": acc, "learning_rate": 1e-4 / (step + 1)}, step=step)
        with camp.phase("eval") as ph:
            ph.log_metrics({"eval_loss": eval_loss})
    return camp


@pytest.fixture
def two_finetunes(store):
    a = fine_tune("ft-a", [0.5, 0.7, 0.8], 0.40, headline=HEADLINE)
    b = fine_tune("ft-b", [0.6, 0.8, 0.84], 0.44, headline=HEADLINE)
    return {"uri": store, "a": a, "b": b}


# ---------------------------------------------------------------- the declaration

@pytest.mark.parametrize("spec", [HEADLINE, [("accuracy", "max"), ("eval_loss", "min")],
                                  (("accuracy", "max"), ["eval_loss", "min"])])
def test_each_accepted_form_declares_the_same(spec):
    found = declare(spec)
    assert found == Headline((Metric("accuracy", "max"), Metric("eval_loss", "min")), True)
    assert from_tag(found.tag()) == found
    assert declare(["accuracy", "bleu"]).metrics == (Metric("accuracy"), Metric("bleu"))
    assert declare(None) == declare({}) == Headline()


@pytest.mark.parametrize("spec, words", [
    (["accuracy", "accuracy"], ["'accuracy'", "twice", "each metric once"]),
    ([("accuracy", "max"), ("accuracy", "min")], ["'accuracy'", "twice"]),
    ({"accuracy": "up"}, ["'up'", "accepted: max or min"]),
    ({"accuracy": None}, ["None", "accepted: max or min"]),
    ({"duration_s": "min"}, ["'duration_s'", "cogit's own"]),
    ({"acc<1>": "max"}, ["'acc<1>'", "accepted: letters"]),
    ([("accuracy", "max", "fraction")], ["accepted: a metric name or a (name"]),
])
def test_a_bad_declaration_is_one_line_before_any_run_exists(store, spec, words):
    with pytest.raises(BadInput) as err:
        ct.campaign("never", experiment="my-finetune", headline=spec)
    line = str(err.value)
    assert "\n" not in line and all(w in line for w in words), line
    assert MlflowClient(store).get_experiment_by_name("my-finetune") is None
    with pytest.raises(BadInput):
        ct.Experiment("mine", run=lambda camp, params: {}, metrics=spec)


def test_an_experiment_that_declares_badly_is_exit_2_on_the_command_line(tmp_path, monkeypatch):
    info = tmp_path / "cogit_exp_bad-0.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: cogit-exp-bad\nVersion: 0.0\n")
    (info / "entry_points.txt").write_text(f"[{experiments.GROUP}]\nbad-exp = bad_exp:EXPERIMENT\n")
    (tmp_path / "bad_exp.py").write_text(textwrap.dedent('''
        from cogit_tracker import Experiment
        EXPERIMENT = Experiment("bad-exp", run=lambda camp, params: {},
                                metrics={"accuracy": "higher"})
    '''))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.chdir(tmp_path)
    res = CliRunner().invoke(cli, ["run", "bad-exp"])
    assert res.exit_code == 2, res.output
    lines = [ln for ln in res.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and "'higher'" in lines[0] and "max or min" in lines[0], res.output
    assert not (tmp_path / "mlflow.db").exists()


def test_the_reference_experiment_declares_its_own_like_any_other():
    assert experiments.load("cogit-qmech").metrics == {
        "fidelity": "max", "sentiment_shift": "max", "fluency_ratio": "min",
        "tokens_per_s": "max"}
    assert not hasattr(schema, "FIDELITY") and not hasattr(schema, "HEADLINE_METRICS")


# ---------------------------------------------------------------- what follows it

def test_roll_ups_follow_the_declaration_and_it_is_stored(two_finetunes):
    run = MlflowClient().get_run(two_finetunes["a"].run_id)
    assert json.loads(run.data.tags[schema.HEADLINE]) == [
        {"name": "accuracy", "better": "max"}, {"name": "eval_loss", "better": "min"}]
    metrics = run.data.metrics
    assert metrics["train/accuracy"] == metrics["accuracy"] == 0.8
    assert metrics["eval/eval_loss"] == metrics["eval_loss"] == 0.40
    assert "train/learning_rate" not in metrics and "learning_rate" not in metrics


def test_report_columns_are_the_declared_metrics(two_finetunes):
    doc = invoke("report", "--baseline", "ft-a")
    assert doc["columns"][-6:] == ["accuracy", "eval_loss", "x_time", "x_cost",
                                   "accuracy vs base", "eval_loss vs base"]
    assert "learning_rate" not in doc["columns"] and "fidelity" not in doc["columns"]
    rows = {(r["campaign"], r["phase"]): r for r in doc["rows"]}
    assert rows["ft-b", "total"]["accuracy"] == 0.84 and rows["ft-b", "total"]["eval_loss"] == 0.44
    assert rows["ft-b", "total"]["eval_loss vs base"] == pytest.approx(0.1)
    md = CliRunner().invoke(cli, ["report", "--format", "md"]).output
    assert "| accuracy | eval_loss |" in md and "| 0.84 | 0.44 |" in md


def test_compare_judges_each_metric_by_its_direction(two_finetunes):
    doc = invoke("compare", "ft-a", "ft-b")
    assert "accuracy +5.0% (better), eval_loss +10.0% (worse) (A = ft-a, B = ft-b)" \
        in doc["verdict"]
    assert [c for c in doc["columns"] if "eval_loss" in c] == \
        ["a_eval_loss", "b_eval_loss", "p_eval_loss"]
    reverse = invoke("compare", "ft-b", "ft-a")["verdict"]
    assert "accuracy -4.8% (worse), eval_loss -9.1% (better)" in reverse


def test_charts_follow_the_declaration(two_finetunes):
    res = CliRunner().invoke(cli, ["report", "--campaign", "ft-a", "--log"])
    assert res.exit_code == 0, res.output
    listed = MlflowClient().list_artifacts(two_finetunes["a"].run_id, "cogit-report")
    # accuracy has a history of three steps; eval_loss one point, learning_rate undeclared
    assert {Path(f.path).name for f in listed} == {
        "time_per_phase.png", "cost_per_campaign.png", "accuracy_per_step.png"}
    train = load(two_finetunes["uri"], campaigns=["ft-a"], history=True)[0].phases[0]
    assert train.history == {"accuracy": [(0, 0.5), (1, 0.7), (2, 0.8)]}


@pytest.fixture
def pages(store, monkeypatch):
    """The `cogit` blueprint on a Flask app of its own, reading `store` as the server would."""
    return pages_on(store, monkeypatch)


def test_campaign_page_columns_follow_the_declaration(two_finetunes, pages):
    page = pages.get("/cogit/campaign?campaign=ft-b")
    assert page.status_code == 200
    heads = page.get_data(as_text=True).split("<h2>Phases</h2>")[1].split("</thead>")[0]
    assert "<th>accuracy</th><th>eval_loss</th><th>failure</th>" in heads
    assert "learning_rate" not in heads
    api = pages.get("/cogit/api/campaign?campaign=ft-b").get_json()
    total = api["phases"]["rows"][-1]
    assert (total["accuracy"], total["eval_loss"]) == (0.84, 0.44)
    overview = pages.get("/cogit/").get_data(as_text=True)
    assert "<th>accuracy</th><th>eval_loss</th>" in overview


def test_a_stored_declaration_is_escaped_on_the_page(store, pages):
    """The tag is read back as it is stored, by anyone who can write one: never markup."""
    client = MlflowClient(store)
    sy.make_campaign(client, "foreign", sy.CampaignSpec(
        "odd", sy.reference_phases(), headline=None,
        extra_tags={schema.HEADLINE: '[{"name": "<i>x</i>", "better": "max"}]'}))
    body = pages.get("/cogit/campaign?campaign=odd").get_data(as_text=True)
    assert "<th>&lt;i&gt;x&lt;/i&gt;</th>" in body and "<i>x</i>" not in body


# ---------------------------------------------------------------- no declaration, or a kept one

def test_without_a_declaration_a_campaign_shows_what_its_phases_logged(store):
    fine_tune("plain-a", [0.5, 0.7], 0.40)
    fine_tune("plain-b", [0.5, 0.9], 0.30)
    run = MlflowClient().get_run(load(store, campaigns=["plain-a"])[0].run_id)
    assert schema.HEADLINE not in run.data.tags
    assert run.data.metrics["train/learning_rate"] == pytest.approx(5e-5)  # all rolled up
    doc = invoke("report")
    assert doc["columns"][-3:] == ["accuracy", "learning_rate", "eval_loss"]
    assert not any(c.startswith("system/") or c == "progress" for c in doc["columns"])
    verdict = invoke("compare", "plain-a", "plain-b")["verdict"]
    assert "accuracy +28.6%, learning_rate 0.0%, eval_loss -25.0% (A = plain-a" in verdict


def test_a_resumed_campaign_keeps_its_stored_declaration(store):
    with ct.campaign("kept", experiment="my-finetune", headline={"accuracy": "max"}):
        pass
    with ct.campaign("kept", experiment="my-finetune", resume=True,
                     headline={"eval_loss": "min"}) as camp:
        assert camp.headline.names == ["accuracy"]
        with camp.phase("train") as ph:
            ph.log_metrics({"accuracy": 0.9, "eval_loss": 0.2})
    run = MlflowClient().get_run(camp.run_id)
    assert run.data.tags[schema.HEADLINE] == declare({"accuracy": "max"}).tag()
    assert run.data.metrics["train/accuracy"] == 0.9 and "train/eval_loss" not in run.data.metrics


def test_a_metric_named_like_a_report_column_is_left_out_with_a_note(store):
    client = MlflowClient(store)
    phases = [sy.PhaseSpec("train", 60, metrics={"status": 1.0, "accuracy": 0.9})]
    sy.make_campaign(client, "odd", sy.CampaignSpec("clash", phases, headline=None))
    doc = invoke("report")
    assert "accuracy" in doc["columns"]
    assert doc["rows"][0]["status"] == "FINISHED"
    assert any("'status'" in note for note in doc["notes"])
