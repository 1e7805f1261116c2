"""The researcher's own training code, unchanged, logs into the open phase.

Each script in `tests/support/own_stack/` (and `examples/trainer_finetune.py`) is what a
researcher writes: plain `mlflow.*`, transformers' `Trainer` with `report_to=["mlflow"]`,
accelerate's `Accelerator(log_with="mlflow")`, Lightning's `MLFlowLogger` and
`mlflow.autolog()`, inside `ct.campaign` / `camp.phase`. They run as real processes against a
real sqlite store, a real `mlflow server` on PostgreSQL, and a store that refuses
connections (whose spool is then replayed); the tests read what arrived with MLflow's own
client. Nothing is faked.
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

from conftest import REPO

pytestmark = pytest.mark.slow

SCRIPTS = REPO / "tests" / "support" / "own_stack"
EXAMPLE = REPO / "examples" / "trainer_finetune.py"
REFUSING = "http://127.0.0.1:9"


def run_script(script: Path, tmp_path: Path, uri: str, *args: str,
               **env: str) -> subprocess.CompletedProcess:
    full = {**os.environ, "MLFLOW_TRACKING_URI": uri, "PYTHONPATH": str(REPO),
            "COGIT_SPOOL_DIR": str(tmp_path / "spool"), "COGIT_RETRY_S": "1",
            "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0", "TOKENIZERS_PARALLELISM": "false", **env}
    done = subprocess.run([sys.executable, str(script), *args], env=full, cwd=tmp_path,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr[-3000:]
    return done


def all_runs(uri: str) -> dict[str, object]:
    """Every run in the store, by name: a library's orphan run would show up here."""
    client = MlflowClient(uri)
    ids = [e.experiment_id for e in client.search_experiments()]
    return {r.info.run_name: r for r in client.search_runs(ids)}


def sync(spool: Path, to: str, cwd: Path) -> None:
    env = dict(os.environ, PYTHONPATH=str(REPO), PYTHONWARNINGS="ignore")
    done = subprocess.run([sys.executable, "-m", "cogit_tracker.cli", "sync", "--spool",
                           str(spool), "--to", to], env=env, cwd=cwd, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr


def sqlite(tmp_path: Path, name: str = "mlflow.db") -> str:
    return f"sqlite:///{tmp_path / name}"


def check_plain(uri: str, scratch: Path) -> None:
    runs = all_runs(uri)
    assert set(runs) == {"plain", "train · plain", "sweep-point"}
    phase, camp, child = runs["train · plain"], runs["plain"], runs["sweep-point"]
    client = MlflowClient(uri)
    assert phase.info.status == camp.info.status == "FINISHED"
    assert phase.data.tags[schema.PARENT_RUN] == camp.info.run_id
    assert child.data.tags[schema.PARENT_RUN] == phase.info.run_id    # nested under the phase
    assert child.info.status == "FINISHED" and child.data.metrics["child_loss"] == 0.25
    assert len(client.get_metric_history(phase.info.run_id, "loss")) == 50
    for key in ("accuracy", "eval_loss", "loader_batches", "from_child_process",
                "after_refusal", schema.DURATION_S):
        assert key in phase.data.metrics, key
    assert phase.data.params["lr"] == "0.01" and phase.data.tags["stage"] == "warmup"
    # no headline declared: what the phase logged rolls up onto the campaign, as with ph.log_*
    assert camp.data.metrics["train/accuracy"] == 0.5 and camp.data.metrics["eval_loss"] == 0.7
    scratch.mkdir()
    folder = Path(client.download_artifacts(phase.info.run_id, "", str(scratch)))
    assert (folder / "checkpoints" / "checkpoint.txt").read_text() == "epoch 1"
    assert '"layers": 2' in (folder / "config.json").read_text()
    table = (folder / "generations.json").read_text()
    assert all(p in table for p in ('"a"', '"b"', '"c"'))     # the second call appended


def test_plain_mlflow_calls_land_in_the_phase(tmp_path):
    done = run_script(SCRIPTS / "plain_mlflow.py", tmp_path, sqlite(tmp_path))
    assert "start_run refused: Run with UUID" in done.stdout    # MLflow's own words
    assert "after None None" in done.stdout    # active run and MLFLOW_RUN_ID put back
    check_plain(sqlite(tmp_path), tmp_path / "got")


def test_plain_mlflow_calls_with_the_store_down_are_spooled_and_arrive(tmp_path):
    t0 = time.monotonic()
    done = run_script(SCRIPTS / "plain_mlflow.py", tmp_path, REFUSING)
    assert time.monotonic() - t0 < 90, "a refusing store must not hold the loop up"
    assert "ops wait in" in done.stderr
    later = sqlite(tmp_path, "later.db")
    sync(tmp_path / "spool", later, tmp_path)
    check_plain(later, tmp_path / "got")


@pytest.mark.postgres
def test_plain_mlflow_calls_when_the_server_goes_away_mid_phase(tmp_path):
    """A server of its own, stopped after 50 points: the rest waits in the spool and the
    replay onto the restarted server completes the runs."""
    from conftest import serve_for_test

    servers = serve_for_test(tmp_path / "server")
    srv = next(servers)
    marker = tmp_path / "marker"
    env = {**os.environ, "MLFLOW_TRACKING_URI": srv.url, "PYTHONPATH": str(REPO),
           "COGIT_SPOOL_DIR": str(tmp_path / "spool"), "COGIT_RETRY_S": "1",
           "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0", "MARKER": str(marker)}
    proc = subprocess.Popen([sys.executable, str(SCRIPTS / "plain_mlflow.py")], env=env,
                            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        deadline = time.monotonic() + 180
        while not marker.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        assert marker.exists(), proc.communicate()[1]
        srv.stop()
        (tmp_path / "marker.gone").write_text("")
        t0 = time.monotonic()
        out, err = proc.communicate(timeout=180)
        assert proc.returncode == 0 and "done" in out, err
        assert time.monotonic() - t0 < 90
        srv.start()
        sync(tmp_path / "spool", srv.url, tmp_path)
        check_plain(srv.url, tmp_path / "got")
    finally:
        if proc.poll() is None:
            proc.kill()
        servers.close()


def test_trainer_example_puts_its_curves_in_the_phase(tmp_path, tiny_model):
    uri = sqlite(tmp_path)
    done = run_script(EXAMPLE, tmp_path, uri, "--usd-per-hour", "0.89", "--budget-usd", "1",
                      "--model", str(tiny_model))
    assert "train loss" in done.stdout
    phase = check_trainer(all_runs(uri), uri, "trainer-finetune")
    assert phase.data.tags[schema.USD_PER_HOUR] == "0.89"
    assert phase.data.metrics[schema.PROGRESS] == 1.0        # fed by the Trainer's callback


def check_trainer(runs: dict, uri: str, label: str):
    """The campaign and its phase, and nothing else: the Trainer's curves are in the phase."""
    assert set(runs) == {label, f"train · {label}"}     # no run of the Trainer's own
    phase, camp = runs[f"train · {label}"], runs[label]
    assert len(MlflowClient(uri).get_metric_history(phase.info.run_id, "loss")) == 12
    for key in ("grad_norm", "learning_rate", "train_loss", schema.COST_USD):
        assert key in phase.data.metrics, key
    assert phase.data.params["max_steps"] == "12"             # the Trainer's own params
    assert phase.info.status == camp.info.status == "FINISHED"
    # the example declares its headline: the Trainer's final loss rolls up, its curves do not
    assert "train/train_loss" in camp.data.metrics and "train/grad_norm" not in camp.data.metrics
    return phase


@pytest.mark.postgres
def test_trainer_example_on_a_shared_server(tmp_path, tiny_model, mlflow_server):
    label = f"ft-{tmp_path.name[-12:]}"
    run_script(EXAMPLE, tmp_path, mlflow_server.url, "--campaign", label,
               "--model", str(tiny_model), MLFLOW_EXPERIMENT_NAME=label)
    client = MlflowClient(mlflow_server.url)
    exp = client.get_experiment_by_name(label)
    runs = {r.info.run_name: r for r in client.search_runs([exp.experiment_id])}
    check_trainer(runs, mlflow_server.url, label)


def test_trainer_example_with_the_store_down_finishes_and_arrives_after_sync(
        tmp_path, tiny_model):
    t0 = time.monotonic()
    run_script(EXAMPLE, tmp_path, REFUSING, "--model", str(tiny_model))
    assert time.monotonic() - t0 < 120
    later = sqlite(tmp_path, "later.db")
    sync(tmp_path / "spool", later, tmp_path)
    check_trainer(all_runs(later), later, "trainer-finetune")


def test_accelerate_tracker_joins_the_phase(tmp_path):
    uri = sqlite(tmp_path)
    run_script(SCRIPTS / "accelerate_loop.py", tmp_path, uri)
    runs = all_runs(uri)
    assert set(runs) == {"accelerate", "train · accelerate"}
    phase = runs["train · accelerate"]
    assert len(MlflowClient(uri).get_metric_history(phase.info.run_id, "loss")) == 20
    assert phase.data.params["lr"] == "0.05"
    # accelerate's end_training "ends" the run it joined; the phase ends as cogit ends it
    assert phase.info.status == "FINISHED" and schema.DURATION_S in phase.data.metrics


def test_lightning_logger_and_autolog_land_in_their_phases(tmp_path):
    uri = sqlite(tmp_path)
    run_script(SCRIPTS / "lightning_fit.py", tmp_path, uri)
    runs = all_runs(uri)
    assert set(runs) == {"lightning", "logger · lightning", "autolog · lightning"}
    client = MlflowClient(uri)
    for name in ("logger · lightning", "autolog · lightning"):
        run = runs[name]
        assert run.info.status == "FINISHED", name
        assert client.get_metric_history(run.info.run_id, "train_loss_step"), name
    assert runs["autolog · lightning"].data.params["lr"] == "0.05"    # autolog's optimizer


def test_mlflow_state_is_put_back_however_the_phase_ends(store, monkeypatch):
    """In this process: the phase is the active run inside, and after an exception the
    active run, the tracking URI, the thread default and MLFLOW_RUN_ID are as before."""
    import threading

    import mlflow

    import cogit_tracker as ct

    monkeypatch.delenv("MLFLOW_RUN_ID", raising=False)
    before = mlflow.get_tracking_uri()
    seen = {}
    with pytest.raises(ZeroDivisionError):       # the user's exception, re-raised
        with ct.campaign("restore") as camp:
            assert mlflow.active_run() is None    # a campaign is never the active run
            with camp.phase("train") as ph:
                seen["inside"] = mlflow.active_run().info.run_id
                seen["uri"] = mlflow.get_tracking_uri()
                worker = threading.Thread(
                    target=lambda: seen.setdefault("thread", mlflow.active_run().info.run_id))
                worker.start()
                worker.join()
                seen["child"] = child_sees_run_id()
                1 / 0
    assert seen["inside"] == seen["thread"] == ph.run_id
    assert seen["uri"] == "cogit:" + store
    assert mlflow.active_run() is None and mlflow.get_tracking_uri() == before
    late = threading.Thread(target=lambda: seen.setdefault("late", mlflow.active_run()))
    late.start()
    late.join()
    assert seen["late"] is None and "MLFLOW_RUN_ID" not in os.environ
    assert seen["child"] == ph.run_id and child_sees_run_id() == ""   # set, then unset


def child_sees_run_id() -> str:
    """MLFLOW_RUN_ID as a child process started now gets it."""
    code = "import os; print(os.environ.get('MLFLOW_RUN_ID', ''))"
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True).stdout.strip()
    assert MlflowClient(store).get_run(ph.run_id).info.status == "FAILED"
