"""Small faults, each a class (issue 17, item 7): names every supported store keeps, endings that
must not leave a run RUNNING, infinite metrics, forked children.

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


def test_an_infinite_metric_reads_as_inf_not_309_digits(store):
    """MLflow's SQL store keeps inf as the largest float; the report shows inf again, and
    its JSON says the figure is not finite."""
    import json
    import subprocess
    import sys

    with ct.campaign("infinite", usd_per_hour=1) as camp:
        with camp.phase("p") as ph:
            ph.log_metrics({"fidelity": float("inf"), "loss": float("-inf")})
    cli = [sys.executable, "-m", "cogit_tracker.cli", "report", "--tracking-uri", store]
    table = subprocess.run(cli, capture_output=True, text=True, check=True).stdout
    assert " inf " in table and " -inf " in table and "797,693" not in table
    row = json.loads(subprocess.run(cli + ["--json"], capture_output=True, text=True,
                                    check=True).stdout)["rows"][0]
    assert row["fidelity"] is None and "inf" in row["fidelity_reason"]


def test_a_forked_child_that_logs_says_once_that_it_is_not_recorded(store, tmp_path):
    """A child forked inside a phase (a data-loader worker, `os.fork`) holds the parent's
    writer without its thread: it warns once, drops what it logs, and exits at once (it does
    not wait 30 s on a thread that is not there, nor spool the parent's queue)."""
    import subprocess
    import sys
    import textwrap
    import time

    script = textwrap.dedent("""
        import os, sys, time
        import cogit_tracker as ct
        with ct.campaign("forked", usd_per_hour=1) as camp:
            with camp.phase("p") as ph:
                ph.log_metrics({"parent": 1.0})
                pid = os.fork()
                if pid == 0:
                    for i in range(3):
                        ph.log_metrics({"child": float(i)})
                    sys.exit(0)                     # atexit runs here, as in a plain fork
                os.waitpid(pid, 0)
                ph.log_metrics({"parent": 2.0})
        print("done", flush=True)
    """)
    t0 = time.monotonic()
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          cwd=tmp_path, timeout=120)
    assert done.returncode == 0 and "done" in done.stdout, done.stderr
    assert done.stderr.count("was forked from the one that opened its runs") == 1, done.stderr
    assert time.monotonic() - t0 < 60
    client = MlflowClient(store)
    runs = client.search_runs([e.experiment_id for e in client.search_experiments()],
                              f"tags.`{schema.KIND}` = 'phase'")
    assert runs[0].data.metrics["parent"] == 2.0 and "child" not in runs[0].data.metrics
    assert not list((tmp_path).rglob("*.jsonl")), "the child spooled nothing"


def test_overlapping_phases_total_their_wall_time_not_their_sum(store):
    """Two phases that run at once (here nested; on two machines alike) took the time they
    spanned: the report's total is not their sum. Sequential phases still add up."""
    import json
    import subprocess
    import sys
    import time

    from cogit_tracker.reports.model import overlap_s

    assert overlap_s([(0, 10_000), (10_000, 20_000)]) == 0            # one after the other
    assert overlap_s([(0, 10_000), (5_000, 20_000), (6_000, 7_000)]) == 6.0
    assert overlap_s([(0, None), (None, 5)]) == 0
    with ct.campaign("overlap", usd_per_hour=1) as camp:
        with camp.phase("a"):
            with camp.phase("b"):
                time.sleep(3)
    cli = [sys.executable, "-m", "cogit_tracker.cli", "report", "--json",
           "--tracking-uri", store]
    rows = json.loads(subprocess.run(cli, capture_output=True, text=True,
                                     check=True).stdout)["rows"]
    by_phase = {r["phase"]: r["duration_s"] for r in rows}
    assert by_phase["a"] >= 3 and by_phase["b"] >= 3
    assert by_phase["total"] < by_phase["a"] + 1 < by_phase["a"] + by_phase["b"]


@pytest.mark.postgres
def test_postgres_uris_without_or_with_a_missing_database_are_one_line(tmp_path):
    """A server URI naming no database would fill the server's default one with MLflow's
    tables: exit 2. One naming a database the server lacks: exit 1 at once (MLflow retried
    for 104 s, then printed a traceback)."""
    import subprocess
    import sys
    import time

    server = "postgresql://postgres@127.0.0.1:5432"
    cli = [sys.executable, "-m", "cogit_tracker.cli", "report", "--tracking-uri"]
    none = subprocess.run(cli + [server], capture_output=True, text=True, timeout=60)
    assert none.returncode == 2 and "no database named" in none.stderr
    t0 = time.monotonic()
    missing = subprocess.run(cli + [server + "/cogit_no_such_db"], capture_output=True,
                             text=True, timeout=120)
    assert time.monotonic() - t0 < 30
    assert missing.returncode == 1 and len(missing.stderr.strip().splitlines()) == 1
    assert "no database 'cogit_no_such_db'" in missing.stderr and "createdb" in missing.stderr
    with pytest.raises(BadInput, match="no database named"):
        ct.campaign("x", tracking_uri=server, usd_per_hour=1)


@pytest.mark.postgres
def test_a_database_name_with_a_quote_is_one_identifier():
    from cogit_tracker.store import server

    uri = 'postgresql://postgres@127.0.0.1:5432/cogit_q"uote'
    try:
        assert server.ensure_database(uri) is True
        assert server.ensure_database(uri) is False     # it exists, under exactly that name
    finally:
        server.drop_database(uri)
    assert server.ensure_database(uri) is True           # and it was dropped
    server.drop_database(uri)


def test_a_report_to_a_full_device_is_one_line(store):
    """Writing the output fails (ENOSPC, here /dev/full): exit 1 and one line, whether to a
    file or to stdout (it was a traceback)."""
    import subprocess
    import sys

    with ct.campaign("full", usd_per_hour=1) as camp:
        with camp.phase("p"):
            pass
    cli = [sys.executable, "-m", "cogit_tracker.cli", "report", "--tracking-uri", store]
    for extra, out in ((["--output", "/dev/full"], subprocess.PIPE), ([], None),
                       (["--json"], None)):
        with open("/dev/full", "w") as full:
            done = subprocess.run(cli + extra, stdout=out or full, stderr=subprocess.PIPE,
                                  text=True, timeout=120)
        assert done.returncode == 1, done.stderr
        assert done.stderr.strip().splitlines() == [
            "Error: could not write: No space left on device"], done.stderr


def test_the_campaign_page_of_a_campaign_two_decisions_link(store, monkeypatch):
    """Two decisions linking one campaign sorted two links that had no order: a 500."""
    import subprocess
    import sys

    from conftest import pages_on

    with ct.campaign("linked-twice", usd_per_hour=1) as camp:
        with camp.phase("p"):
            pass
    for title in ("First", "Second"):
        subprocess.run([sys.executable, "-m", "cogit_tracker.cli", "decision", "new",
                        "--no-input", "--title", title, "--option", "A: go", "--chosen", "A",
                        "--reason", "r", "--link", "linked-twice:evidence"],
                       check=True, capture_output=True, timeout=120)
    page = pages_on(store, monkeypatch).get("/cogit/campaign?campaign=linked-twice")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "#001" in text and "#002" in text
