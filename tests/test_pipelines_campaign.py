"""The four phases as one tracked campaign, end to end: a real (small) tiny transformer, a
real sqlite store in a temp dir, the real tracking layer. Sizes are cut down (few prompts,
few epochs) so the plumbing is checked in seconds; the science is checked in
test_pipelines_steering.py."""
from __future__ import annotations

import _thread
import json
import math
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from cogit_tracker import schema
from cogit_tracker.errors import BadInput
from cogit_tracker.runtime import experiments
from pipelines import EXPERIMENT, cache, intervene

REPO = Path(__file__).resolve().parents[1]
SMALL = dict(encode_prompts=12, eval_prompts=2, epochs=6, checkpoint_every=3, blend=(0.5, 1.0),
             max_new_tokens=4)


def _runs(uri: str, campaign: str) -> dict[str, object]:
    client = MlflowClient(uri)
    exp = client.get_experiment_by_name("cogit-qmech")
    runs = client.search_runs([exp.experiment_id], f"tags.`{schema.CAMPAIGN}` = '{campaign}'")
    return {r.data.tags.get(schema.PHASE, "campaign"): r for r in runs}


@pytest.fixture(scope="module")
def campaign_run(tiny_model, tmp_path_factory):
    """One full campaign, shared by the tests that only read it."""
    folder = tmp_path_factory.mktemp("store")
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    summary = experiments.run(EXPERIMENT, model=str(tiny_model), precision="fp32",
                              campaign="t-fp32", tracking_uri=uri, **SMALL)
    return uri, summary


def test_campaign_has_four_finished_phase_runs(campaign_run):
    uri, summary = campaign_run
    runs = _runs(uri, "t-fp32")
    assert set(runs) == {"campaign", "encode", "train", "intervene", "reverse"}
    parent = runs["campaign"].info.run_id
    for name in ("encode", "train", "intervene", "reverse"):
        assert runs[name].info.status == "FINISHED"
        assert runs[name].data.tags["mlflow.parentRunId"] == parent
    assert summary["uid"] == runs["campaign"].data.tags[schema.UID]


def test_campaign_run_carries_its_configuration_as_params(campaign_run):
    """What tells two campaigns apart in mlflow ui's compare view, with no code."""
    uri, _ = campaign_run
    params = _runs(uri, "t-fp32")["campaign"].data.params
    assert params["model"] and params["precision"] == "fp32" and params["gpu.key"] == "none"
    assert params["epochs"] == str(SMALL["epochs"])
    assert params["multipliers"] and params["phases"] == "1-4"
    assert "prompts" not in params and "None" not in params.values()


def test_model_load_is_recorded(campaign_run):
    uri, _ = campaign_run
    enc = _runs(uri, "t-fp32")["encode"].data
    assert enc.tags[schema.DTYPE_LOADED] == "float32"
    assert int(enc.params["weight_bytes"]) == 4 * int(enc.params["n_params"])


def test_training_logs_fidelity_per_epoch_beside_identity(campaign_run):
    uri, summary = campaign_run
    run = _runs(uri, "t-fp32")["train"]
    history = MlflowClient(uri).get_metric_history(run.info.run_id, "fidelity_pos_to_neg")
    epochs = summary["phases"]["train"]["epochs_pos_to_neg"]
    assert sorted(m.step for m in history) == list(range(1, epochs + 1))
    assert "fidelity_identity" in run.data.metrics and "fidelity" in run.data.metrics


def test_operators_are_artifacts_with_their_checksum(campaign_run, tmp_path):
    uri, _ = campaign_run
    run = _runs(uri, "t-fp32")["train"]
    client = MlflowClient(uri)
    manifest = json.loads(Path(client.download_artifacts(run.info.run_id, "operators.json",
                                                         str(tmp_path))).read_text())
    for direction in ("pos_to_neg", "neg_to_pos"):
        local = client.download_artifacts(run.info.run_id, manifest[direction]["file"], str(tmp_path))
        assert cache.sha256(Path(local)) == manifest[direction]["sha256"]
        assert run.data.params[f"sha256_{direction}"] == manifest[direction]["sha256"]


def test_generations_are_a_table_and_shifts_are_logged(campaign_run, tmp_path):
    uri, summary = campaign_run
    run = _runs(uri, "t-fp32")["intervene"]
    client = MlflowClient(uri)
    table = json.loads(Path(client.download_artifacts(run.info.run_id, "generations.json",
                                                      str(tmp_path))).read_text())
    columns = table["columns"]
    rows = [dict(zip(columns, r)) for r in table["data"]]
    # 2 prompts per polarity (tiny has no neutral ones), each: its baseline, then its one
    # direction at 2 blends (operator) and 4 multipliers (vector)
    assert len(rows) == 2 * 2 * (1 + 2 + 4) == run.data.metrics["generations"]
    assert {"prompt", "direction", "blend", "text", "compound", "fluency", "tokens",
            "latency_s"} <= set(columns)
    assert run.data.tags[schema.OPERATOR_DEVICE] == "cpu"
    assert run.data.metrics["tokens_per_s"] > 0
    blend = summary["phases"]["intervene"]["blend_pos_to_neg"]  # the strongest fluent one
    steered = [r for r in rows if r["direction"] == "pos->neg" and r["method"] == "operator"
               and r["blend"] == blend]
    base = {r["prompt"]: r for r in rows if r["direction"] == "baseline"}
    assert run.data.metrics["sentiment_shift_pos_to_neg"] == pytest.approx(
        sum(r["compound"] - base[r["prompt"]]["compound"] for r in steered) / len(steered))
    ratio = math.exp(sum(math.log(r["fluency"] / base[r["prompt"]]["fluency"]) for r in steered)
                     / len(steered))
    assert run.data.metrics["fluency_ratio_pos_to_neg"] == pytest.approx(ratio)
    assert (ratio <= intervene.FLUENCY_LIMIT) or blend == 0.5


def test_reverse_measures_round_trip_and_unitarity(campaign_run):
    uri, _ = campaign_run
    metrics = _runs(uri, "t-fp32")["reverse"].data.metrics
    assert 0.0 <= metrics["round_trip_fidelity"] <= 1.0 + 1e-6
    assert metrics["unitarity_error_pos_to_neg"] < 1e-3


def test_int8_campaign_records_int8_weights(tiny_model, store):
    summary = experiments.run(EXPERIMENT, model=str(tiny_model), precision="int8",
                              campaign="t-int8", phases="1", tracking_uri=store, **SMALL)
    enc = _runs(store, "t-int8")["encode"].data
    assert enc.tags[schema.DTYPE_LOADED] == "int8"
    assert enc.params["int8_path"] == "torch-dynamic"
    assert summary["phases"]["encode"]["states"] > 0


@pytest.mark.parametrize("kwargs, match", [
    (dict(layer=7), "--layer 7"),
    (dict(blend=(0.5, 1.5)), "--blend '0.5 1.5'"),
    (dict(blend="0.5,1.0"), "give --blend 0.5 --blend 1.0"),
    (dict(quantum_dim=8), "--quantum-dim 8"),
    (dict(multipliers=(0, 2)), "--multipliers"),
    (dict(operator_rank=5000), "--operator-rank 5000"),
    (dict(lr=float("nan")), "--lr nan"),
    (dict(precision="int4"), "int4"),
    (dict(precision="fp64"), "precision"),
    (dict(phases="3-4"), "encode, train must run"),
    (dict(phases="5"), "--phases"),
    (dict(resume="never-ran"), "never-ran"),
    (dict(campaign="a", resume="b"), "disagree"),
    (dict(usd_per_hour=-1), "-1"),
])
def test_bad_values_leave_no_run(tiny_model, store, kwargs, match):
    with pytest.raises(BadInput, match=match):
        experiments.run(EXPERIMENT, model=str(tiny_model), tracking_uri=store,
                        **{**SMALL, **kwargs})
    db = Path(store[len("sqlite:///"):])
    if db.exists():  # opening a missing store would create it: only look when it is there
        exp = MlflowClient(store).get_experiment_by_name("cogit-qmech")
        assert exp is None or not MlflowClient(store).search_runs([exp.experiment_id])


def test_cli_bad_input_is_one_line_exit_2(tiny_model, tmp_path):
    """`cogit-log run` through the real CLI entry (python -m), so the exit code and the
    single error line are what a user sees. Needs the package installed with this branch's
    setup.cfg, which registers the experiment under the cogit_tracker.pipelines group."""
    if "cogit-qmech" not in experiments.available():
        pytest.skip("cogit-qmech entry point not installed (reinstall the package)")
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'm.db'}",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    proc = subprocess.run([sys.executable, "-m", "cogit_tracker.cli", "run", "cogit-qmech",
                           "--model", str(tiny_model), "--blend", "0.5", "--blend", "2"],
                          capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 2
    lines = [l for l in proc.stderr.splitlines() if l.strip()]
    assert len(lines) == 1 and "--blend '0.5 2.0'" in lines[0], proc.stderr
    assert not (tmp_path / "m.db").exists()


@pytest.fixture
def ctrl_c_interrupts():
    """Ctrl-C raises KeyboardInterrupt in this process, as in a terminal, even when the suite
    itself was started with SIGINT ignored (`make test &` from a script), where
    `_thread.interrupt_main()` would do nothing."""
    import signal

    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, before)


@pytest.mark.slow
def test_resume_continues_the_interrupted_training_run(tiny_model, store, ctrl_c_interrupts):
    """A real Ctrl-C (interrupt_main) once phase 2 has uploaded a checkpoint; `--resume`
    must reopen that same run, continue from the checkpoint, and finish phases 3-4."""
    stop = threading.Event()
    client = MlflowClient(store)

    def interrupt_after_first_checkpoint() -> None:
        while not stop.wait(0.2):
            try:
                train = _runs(store, "t-resume").get("train")
                if train and client.list_artifacts(train.info.run_id, "checkpoints"):
                    _thread.interrupt_main()
                    return
            except Exception:  # noqa: BLE001 - store not created yet: keep polling
                pass

    long = {**SMALL, "epochs": 120, "checkpoint_every": 2, "target_fidelity": 1.1}
    watcher = threading.Thread(target=interrupt_after_first_checkpoint, daemon=True)
    watcher.start()
    with pytest.raises(KeyboardInterrupt):
        experiments.run(EXPERIMENT, model=str(tiny_model), campaign="t-resume", phases="1-2",
                        tracking_uri=store, **long)
    stop.set()
    first = _runs(store, "t-resume")["train"]
    assert first.info.status != "FINISHED"

    with pytest.raises(BadInput, match="ran with 'fp32'"):
        experiments.run(EXPERIMENT, resume="t-resume", precision="int8", tracking_uri=store,
                        **long)
    # model: the campaign's
    summary = experiments.run(EXPERIMENT, resume="t-resume", tracking_uri=store, **long)
    runs = _runs(store, "t-resume")
    assert runs["train"].info.run_id == first.info.run_id  # the same run, not a new one
    assert runs["train"].info.status == "FINISHED"
    assert summary["phases"]["encode"] == "finished earlier"
    assert runs["train"].data.metrics["resumed_from_epoch_pos_to_neg"] >= 2
    assert summary["phases"]["train"]["epochs_pos_to_neg"] == 120
    assert runs["reverse"].info.status == "FINISHED"


def test_oom_advice_comes_from_the_planner(tiny_model, capsys):
    """What the pipelines print after a CUDA OOM (no GPU here to cause one): the planner's
    paragraph for this model, precision and quantum_dim."""
    from pipelines.config import Config
    from pipelines.experiment import _print_oom_advice

    _print_oom_advice(Config(precision="fp32", quantum_dim=256), str(tiny_model))
    err = capsys.readouterr().err
    assert "CUDA ran out of memory" in err and "--quantum-dim" in err


@pytest.mark.slow
@pytest.mark.postgres
def test_campaign_against_the_server_reports_the_same_over_rest_and_sql(
        tiny_model, mlflow_server, tmp_path, monkeypatch):
    """Issue 6 end to end: the pipelines log a whole campaign straight to a real `mlflow server`
    on PostgreSQL; the report read through its REST API and straight from its PostgreSQL
    tables must be identical."""
    from cogit_tracker.cli.render import render
    from cogit_tracker.reports.report import make_report

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COGIT_SPOOL_DIR", str(tmp_path / "spool"))
    label = f"server-{os.getpid()}"
    experiments.run(EXPERIMENT, model=str(tiny_model), precision="fp32", campaign=label,
                    tracking_uri=mlflow_server.url, **SMALL)
    over_rest = make_report(mlflow_server.url, campaigns=[label])
    over_sql = make_report(mlflow_server.spec.backend_uri, campaigns=[label])
    assert render(over_rest, "json") == render(over_sql, "json")
    rows = json.loads(render(over_rest, "json"))["rows"]
    assert {r["phase"] for r in rows} >= {"encode", "train", "intervene", "reverse"}
    assert all(r["status"] == "FINISHED" for r in rows if r["phase"] != "total")
    assert not list((tmp_path / "spool").glob("*.jsonl"))  # nothing had to be spooled


def test_train_logs_fidelity_per_epoch_then_the_final_value_last(campaign_run):
    """Reports chart `fidelity` per epoch (DESIGN.md): one point per epoch, the final last."""
    uri, summary = campaign_run
    train = _runs(uri, "t-fp32")["train"]
    history = sorted(MlflowClient(uri).get_metric_history(train.info.run_id, "fidelity"),
                     key=lambda m: m.step)
    assert [m.step for m in history] == list(range(SMALL["epochs"] + 1))
    assert train.data.metrics["fidelity"] == history[-1].value
    assert history[-1].value == pytest.approx(summary["phases"]["train"]["fidelity"])
