"""The public API against a real sqlite store: tags, metrics, failure classes, resume."""
from __future__ import annotations

import warnings

import pytest
from mlflow.tracking import MlflowClient

import cogit_tracker as ct
from cogit_tracker import schema
from cogit_tracker.errors import BadInput
from cogit_tracker.runtime import monitor
from cogit_tracker.runtime.ending import BudgetExceeded

PHASE_TAGS = [schema.UID, schema.KIND, schema.PHASE, schema.PHASE_INDEX, schema.CAMPAIGN,
              schema.MODEL, schema.PRECISION, schema.GPU_NAME, schema.GPU_KEY, schema.GPU_COUNT,
              schema.GPU_VRAM_TOTAL_GB, schema.GPU_DRIVER, schema.CUDA, schema.CPU_MODEL,
              schema.CPU_CORES, schema.RAM_TOTAL_GB, schema.HOST, schema.USD_PER_HOUR,
              schema.RATE_SOURCE, schema.HEARTBEAT]
END_METRICS = [schema.DURATION_S, schema.COST_USD, schema.VRAM_PEAK_GB, schema.RAM_PEAK_GB]


def run_of(handle):
    return MlflowClient().get_run(handle.run_id)


def test_campaign_and_phases_are_nested_and_fully_described(store):
    with ct.campaign("run-002", experiment="sentiment", model="Qwen/Qwen2.5-7B-Instruct",
                     precision="int8", provider="runpod", usd_per_hour=0.89) as camp:
        for i, name in enumerate(["encode", "train"], start=1):
            with camp.phase(name) as ph:
                ph.log_params({"quantum_dim": 9333})
                ph.log_metrics({"fidelity": 0.5 + i / 10}, step=i)
    c = run_of(camp)
    p = run_of(ph)
    assert c.info.status == p.info.status == "FINISHED"
    assert c.info.run_name == "run-002" and p.info.run_name == "train · run-002"
    assert p.data.tags["mlflow.parentRunId"] == c.info.run_id
    assert set(PHASE_TAGS) <= set(p.data.tags), set(PHASE_TAGS) - set(p.data.tags)
    assert set(END_METRICS) <= set(p.data.metrics)
    assert p.data.tags[schema.KIND] == "phase" and c.data.tags[schema.KIND] == "campaign"
    assert p.data.tags[schema.PHASE_INDEX] == "2"
    assert c.data.tags[schema.PROVIDER] == "runpod"
    assert p.data.tags[schema.USD_PER_HOUR] == "0.89"
    assert p.data.tags[schema.RATE_SOURCE] == "arg"
    assert p.data.params["quantum_dim"] == "9333"
    assert p.data.metrics["fidelity"] == pytest.approx(0.7)
    assert p.data.metrics[schema.RAM_PEAK_GB] > 0.01  # a python process with mlflow loaded
    expected_cost = p.data.metrics[schema.DURATION_S] / 3600 * 0.89
    assert p.data.metrics[schema.COST_USD] == pytest.approx(expected_cost, rel=0.05)
    assert c.data.tags[schema.UID] != p.data.tags[schema.UID]


def test_ten_thousand_points_all_reach_the_store(store):
    with ct.campaign("burst") as camp:
        with camp.phase("train") as ph:
            for i in range(10_000):
                ph.log_metrics({"loss": 1.0 / (i + 1)}, step=i)
    history = MlflowClient().get_metric_history(ph.run_id, "loss")
    assert len(history) == 10_000
    assert sorted(m.step for m in history) == list(range(10_000))


def test_exception_fails_phase_and_campaign_and_is_reraised(store):
    with pytest.raises(ZeroDivisionError):
        with ct.campaign("boom") as camp:
            with camp.phase("train") as ph:
                ph.log_metrics({"loss": 1.0})
                1 / 0
    p, c = run_of(ph), run_of(camp)
    assert p.info.status == c.info.status == "FAILED"
    assert p.data.tags[schema.FAILURE] == "exception"
    assert "ZeroDivisionError" in p.data.tags[schema.FAILURE_MESSAGE]
    assert p.data.metrics["loss"] == 1.0  # what was logged before the crash stays


def test_cuda_oom_is_classified(store):
    torch = pytest.importorskip("torch")
    with pytest.raises(torch.OutOfMemoryError):
        with ct.campaign("oom") as camp:
            with camp.phase("intervene") as ph:
                raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 1.40 GiB")
    p = run_of(ph)
    assert p.info.status == "FAILED"
    assert p.data.tags[schema.FAILURE] == "cuda_oom"
    assert "1.40 GiB" in p.data.tags[schema.FAILURE_MESSAGE]


def test_keyboard_interrupt_kills(store):
    with pytest.raises(KeyboardInterrupt):
        with ct.campaign("ctrl-c") as camp:
            with camp.phase("train") as ph:
                raise KeyboardInterrupt
    assert run_of(ph).info.status == "KILLED"
    assert run_of(ph).data.tags[schema.FAILURE] == "interrupted"
    assert run_of(camp).info.status == "KILLED"


def test_budget_stops_the_phase(store, monkeypatch):
    import time

    monkeypatch.setattr(monitor.get(), "sample_s", 0.05)
    # $3600/h is $1/s: a $2 budget runs out after about 2 s of campaign time (long enough that
    # the monitor's first, possibly 0.5 s, sleep cannot jump past the 80% warning).
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        with pytest.raises(BudgetExceeded):
            with ct.campaign("pricey", usd_per_hour=3600, budget_usd=2.0) as camp:
                with camp.phase("train") as ph:
                    deadline = time.monotonic() + 10
                    while time.monotonic() < deadline:
                        time.sleep(0.01)
    p = run_of(ph)
    assert p.info.status == "KILLED" and p.data.tags[schema.FAILURE] == "budget"
    assert run_of(camp).data.tags[schema.FAILURE] == "budget"
    assert any("80%" in str(w.message) for w in seen)
    assert 2.0 <= run_of(camp).data.metrics[schema.COST_USD] < 4.0


def test_resume_reopens_unfinished_phase_instead_of_duplicating(store):
    with pytest.raises(RuntimeError):
        with ct.campaign("run-003") as camp:
            with camp.phase("encode"):
                pass
            with camp.phase("train") as first:
                first.log_metrics({"fidelity": 0.5}, step=0)
                raise RuntimeError("pod died")
    with ct.campaign("run-003", resume=True) as again:
        assert again.uid == camp.uid
        assert again.finished_phase("encode") is not None
        assert again.finished_phase("train") is None
        with again.phase("train") as second:
            assert second.resumed and second.uid == first.uid
            second.log_metrics({"fidelity": 0.9}, step=1)
    r = run_of(second)
    assert r.info.status == "FINISHED" and r.info.run_id == first.run_id
    history = MlflowClient().get_metric_history(r.info.run_id, "fidelity")
    assert [m.value for m in sorted(history, key=lambda m: m.step)] == [0.5, 0.9]
    assert run_of(again).info.status == "FINISHED"


def test_resume_of_unknown_campaign_is_bad_input(store):
    with pytest.raises(BadInput, match="no-such"):
        ct.campaign("no-such", resume=True)


def test_standalone_phase_joins_existing_campaign(store):
    with ct.campaign("run-004") as camp:
        pass
    with ct.phase("reverse", campaign="run-004") as ph:
        ph.log_metrics({"roundtrip_fidelity": 0.99})
    assert run_of(ph).data.tags["mlflow.parentRunId"] == camp.run_id
    with ct.phase("encode", campaign="fresh") as alone:
        pass
    parent = MlflowClient().get_run(run_of(alone).data.tags["mlflow.parentRunId"])
    assert parent.data.tags[schema.CAMPAIGN] == "fresh"


@pytest.mark.parametrize("kwargs,bad", [
    ({"precision": "fp8"}, "fp8"),
    ({"usd_per_hour": -1}, "-1"),
    ({"usd_per_hour": "abc"}, "abc"),
])
def test_bad_values_raise_before_any_run_exists(store, kwargs, bad):
    with pytest.raises(BadInput, match=bad):
        ct.campaign("bad", **kwargs)
    assert MlflowClient().search_experiments(filter_string="name = 'cogit-qmech'") == []


def test_artifacts_tables_and_lookup_by_uid(store, tmp_path):
    with ct.campaign("art") as camp:
        with camp.phase("intervene") as ph:
            ph.log_dict({"a": 1}, "cfg/config.json")
            ph.log_table({"prompt": ["x", "y"], "compound": [0.1, -0.2]}, "generations.json")
    found = ct.find_run(ph.uid)
    assert found.info.run_id == ph.run_id
    local = ct.download_artifacts(ph.uid, "cfg/config.json", tmp_path / "dl")
    assert '"a": 1' in open(local).read()
    names = {a.path for a in MlflowClient().list_artifacts(ph.run_id)}
    assert "generations.json" in names
    with pytest.raises(BadInput):
        ct.find_run("not-a-uid")


def test_store_down_spools_and_replays_without_loss(tmp_path, monkeypatch):
    """The store is a closed port on loopback: the phase runs on, ops go to the spool, and a
    replay into a real sqlite store afterwards recreates the runs with every point."""
    from cogit_tracker.store import spool, writer

    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "2")
    monkeypatch.setenv("COGIT_SPOOL_DIR", str(tmp_path / "spool"))
    dead = "http://127.0.0.1:9"  # discard port: nothing listens
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with ct.campaign("offline", tracking_uri=dead) as camp:
            with camp.phase("train") as ph:
                for i in range(2500):
                    ph.log_metrics({"loss": float(i)}, step=i)
                ph.log_text("hello", "notes/hello.txt")
        assert writer.get(dead).offline
    assert list((tmp_path / "spool").glob("*.jsonl"))
    target = f"sqlite:///{tmp_path / 'later.db'}"
    results = spool.replay(tmp_path / "spool", tracking_uri=target)
    assert results and results[0].ops > 0
    assert not list((tmp_path / "spool").glob("*.jsonl"))  # replayed files are removed
    client = MlflowClient(target)
    run = ct.find_run(ph.uid, tracking_uri=target)
    assert run.info.status == "FINISHED"
    assert len(client.get_metric_history(run.info.run_id, "loss")) == 2500
    assert run.data.tags["mlflow.parentRunId"] == ct.find_run(camp.uid, target).info.run_id
    assert [a.path for a in client.list_artifacts(run.info.run_id, "notes")] == ["notes/hello.txt"]
    # a second replay of the same spool changes nothing
    assert spool.replay(tmp_path / "spool", tracking_uri=target) == []


def test_gpu_run_records_catalog_rate_and_vram_peak(store, fake_nvml, monkeypatch):
    """No GPU here: pynvml's functions are faked (tests/conftest.py); everything above them,
    the probe, the catalog mapping, the rate and the peak sampler, runs for real."""
    import time

    from conftest import FakeGpu

    gpu = fake_nvml([FakeGpu("NVIDIA H100 80GB HBM3", total_gb=80, used_gb=1.0)])[0]
    monkeypatch.setattr(monitor.get(), "sample_s", 0.05)
    with ct.campaign("h100") as camp:
        with camp.phase("train") as ph:
            gpu.used = int(31.5 * 10**9)  # the phase allocates...
            time.sleep(0.4)
            gpu.used = int(2 * 10**9)  # ...and frees: the peak must stay
            time.sleep(0.2)
    r = run_of(ph)
    assert r.data.tags[schema.GPU_KEY] == "h100-sxm"
    assert r.data.tags[schema.GPU_NAME] == "NVIDIA H100 80GB HBM3"
    assert r.data.tags[schema.RATE_SOURCE] == "catalog"
    assert float(r.data.tags[schema.USD_PER_HOUR]) > 0
    assert r.data.metrics[schema.VRAM_PEAK_GB] == pytest.approx(31.5, abs=0.01)


def test_campaign_records_its_environment_redacted(store, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", "hf_plantedSECRETvalue0123")
    monkeypatch.setenv("DATABASE_URL", "postgresql://app:Pa55wordPlanted@db/app")
    with ct.campaign("env") as camp:
        pass
    path = ct.download_artifacts(camp.uid, "environment.json", tmp_path / "env")
    text = open(path).read()
    assert "hf_plantedSECRETvalue0123" not in text and "Pa55wordPlanted" not in text
    import json

    env = json.loads(text)
    assert env["env"]["HF_TOKEN"] == "***" and "db/app" in env["env"]["DATABASE_URL"]
    assert "mlflow" in {k.lower() for k in env["packages"]}
