"""Names every supported store keeps, and endings that must not leave a run RUNNING (issue 17,
item 7).

sqlite keeps any text as a run name; PostgreSQL's `runs.name` is VARCHAR(250) and its text
columns refuse NUL and lone surrogates, so a label sqlite took lost its runs there. Such a name
is BadInput at the call, before any run or store exists; the longest accepted one is written
to a real PostgreSQL store to show it fits. And an exception whose `__str__` raises still
ends its runs FAILED, the user's exception re-raised.
"""
from __future__ import annotations

import pytest
from mlflow.tracking import MlflowClient

import cogit_tracker as ct
from cogit_tracker import schema
from cogit_tracker.errors import BadInput


def run_count(uri: str) -> int:
    client = MlflowClient(uri)
    return len(client.search_runs([e.experiment_id for e in client.search_experiments()]))


@pytest.mark.parametrize("label, says", [
    ("x" * (schema.MAX_LABEL + 1), "at most 200"),
    ("run-\ud800", "lone surrogate"),
    ("run\x00002", "NUL"),
])
def test_a_label_a_store_would_refuse_is_one_line_before_anything(tmp_path, label, says):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    with pytest.raises(BadInput, match=says) as err:
        ct.campaign(label, tracking_uri=uri, usd_per_hour=1)
    assert "\n" not in str(err.value)
    assert not (tmp_path / "mlflow.db").exists()      # not even an empty store


def test_a_phase_name_too_long_for_the_run_name_is_refused_alone(store):
    with ct.campaign("names", usd_per_hour=1) as camp:
        with pytest.raises(BadInput, match="phase name"):
            camp.phase("p" * 248)
        with camp.phase("ok"):
            pass
    assert run_count(store) == 2                        # the campaign and its one phase


@pytest.mark.postgres
def test_the_longest_label_accepted_is_kept_by_postgres(tmp_path, pg_uri, monkeypatch):
    monkeypatch.setenv("COGIT_SPOOL_DIR", str(tmp_path / "spool"))
    label = "é" * schema.MAX_LABEL
    with ct.campaign(label, tracking_uri=pg_uri, usd_per_hour=1) as camp:
        with camp.phase("p" * (schema.MAX_RUN_NAME - schema.MAX_LABEL - 3)):
            pass
    runs = MlflowClient(pg_uri).search_runs(
        [e.experiment_id for e in MlflowClient(pg_uri).search_experiments()])
    assert sorted(r.data.tags[schema.KIND] for r in runs) == ["campaign", "phase"]
    assert all(r.info.status == "FINISHED" for r in runs)
    assert not list((tmp_path / "spool").rglob("*.jsonl"))   # nothing refused or spooled


class Unprintable(RuntimeError):
    def __str__(self) -> str:
        raise ValueError("no message for you")


def test_an_exception_whose_str_raises_still_ends_the_runs(store):
    with pytest.raises(Unprintable):
        with ct.campaign("unprintable", usd_per_hour=1) as camp:
            with camp.phase("p"):
                raise Unprintable()
    client = MlflowClient(store)
    runs = client.search_runs([e.experiment_id for e in client.search_experiments()])
    assert [r.info.status for r in runs] == ["FAILED", "FAILED"]
    assert all("could not be read" in r.data.tags[schema.FAILURE_MESSAGE] for r in runs)
