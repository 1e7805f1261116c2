"""The one search (`store/query.py`): labels a user types reach MLflow's filter strings only
through its quoting, and no search stops at the first page. Real sqlite stores."""
from __future__ import annotations

import pytest
from click.testing import CliRunner
from mlflow.tracking import MlflowClient

import cogit_tracker as ct
from cogit_tracker import schema
from cogit_tracker.cli import cli
from cogit_tracker.reports import fetch
from cogit_tracker.store import query

# a quote of each kind, both, a backslash, and one that would rewrite an unquoted filter
LABELS = ["it's", 'say "hi"', """both ' and \"""", "back\\slash", "x' or tags.`cogit.kind` = 'campaign"]


@pytest.mark.parametrize("value", LABELS + ["plain"])
def test_a_literal_reads_back_unchanged_or_is_refused(value):
    lit = query.literal(value)
    if lit is not None:
        assert lit[0] == lit[-1] and lit[1:-1] == value and lit[0] not in value
    else:
        assert "\\" in value or ("'" in value and '"' in value)


@pytest.fixture
def quoted(store):
    """One finished campaign per label, plus a plain one each label must not be taken for."""
    uids = {}
    for label in LABELS + ["plain"]:
        with ct.campaign(label, experiment="quotes", usd_per_hour=1.0) as camp:
            with camp.phase("train") as ph:
                ph.log_metrics({"fidelity": 0.9})
        uids[label] = camp.uid
    return uids


def test_quoted_labels_resume_their_own_campaign(quoted, store):
    for label in LABELS:
        with ct.campaign(label, resume=True) as camp:  # in any experiment
            assert camp.uid == quoted[label] and camp.resumed
            assert camp.finished_phase("train") is not None
        with ct.phase("reverse", campaign=label) as ph:  # joins it, makes no new campaign
            assert ph.campaign.uid == quoted[label]
    client = MlflowClient(store)
    for label in LABELS:
        assert [r.data.tags[schema.UID] for r in query.campaigns(client, label)] == [quoted[label]]


@pytest.mark.parametrize("label", LABELS)
def test_quoted_labels_list_report_and_compare(quoted, store, label):
    runner = CliRunner()
    listed = runner.invoke(cli, ["runs", "list", "--campaign", label, "--json"])
    assert listed.exit_code == 0, listed.output
    assert '"kind": "campaign"' in listed.output and "plain" not in listed.output
    assert listed.output.count(quoted[label]) == 1
    report = runner.invoke(cli, ["report", "--campaign", label, "--json"])
    assert report.exit_code == 0, report.output
    assert "1 campaign(s)" in report.output
    compared = runner.invoke(cli, ["compare", label, "plain", "--json"])
    assert compared.exit_code == 0, compared.output
    assert '"verdict"' in compared.output


def test_no_search_stops_at_the_first_page(two_campaigns, monkeypatch):
    """Pages of 2 runs: every search must follow the tokens to see all 10 of the store."""
    monkeypatch.setattr(query, "PAGE", 2)
    client, uri = two_campaigns["client"], two_campaigns["uri"]
    assert len(query.runs(client)) == 10
    assert len(query.runs(client, limit=3)) == 3
    listed = CliRunner().invoke(cli, ["runs", "list", "--limit", "100", "--json"])
    assert listed.output.count('"run_id"') == 10
    rest = fetch.fetch(uri, client=client)  # the REST path, as for an http store
    assert len(rest.runs) == 10
    for label in ("run-001", "run-002"):
        [camp] = query.campaigns(client, label)
        assert len(query.children(client, camp)) == 4
