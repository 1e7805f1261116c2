"""What `mlflow ui` shows of cogit's runs (issue 12): training experiments, MLflow's context
tags, the System metrics tab, run names that say campaign and phase, and campaign runs that
compare with each other. Real sqlite stores; real git and a real subprocess for the context.

This machine has no NVIDIA GPU: the system-metrics test fakes the pynvml calls (`fake_nvml`,
the narrowest seam), so MLflow's own GPU collector runs for real on them.
"""
from __future__ import annotations

import getpass
import json
import os
import subprocess
import sys
import textwrap
import time

import pytest
from conftest import FakeGpu
from mlflow.tracking import MlflowClient

import cogit_tracker as ct
from cogit_tracker import schema
from cogit_tracker.decisions.model import Decision
from cogit_tracker.decisions.store import DecisionLog


def kind_of(client: MlflowClient, name: str) -> str | None:
    return client.get_experiment_by_name(name).tags.get(schema.EXPERIMENT_KIND)


def test_experiments_cogit_writes_to_are_training_experiments(store):
    client = MlflowClient()
    plain = client.create_experiment("made-elsewhere")
    client.create_experiment("genai", tags={schema.EXPERIMENT_KIND: "genai_development"})
    client.create_experiment("guessed", tags={schema.EXPERIMENT_KIND:
                                              "genai_development_inferred"})
    for name in ("fresh", "made-elsewhere", "genai", "guessed"):
        with ct.campaign(f"c-{name}", experiment=name):
            pass
    DecisionLog(store).create(Decision("Use H100"))
    assert kind_of(client, "fresh") == schema.TRAINING_KIND
    assert kind_of(client, "made-elsewhere") == schema.TRAINING_KIND, plain
    assert kind_of(client, "guessed") == schema.TRAINING_KIND  # the UI's guess is no choice
    assert kind_of(client, "genai") == "genai_development"     # someone chose: left alone
    assert kind_of(client, schema.DECISION_EXPERIMENT) == schema.TRAINING_KIND


RUN_IN_A_CHECKOUT = textwrap.dedent("""
    import cogit_tracker as ct
    with ct.campaign("ctx", experiment="ctx") as camp:
        with camp.phase("encode"):
            pass
""")


def _git(repo, *args) -> str:
    return subprocess.run(["git", "-C", str(repo), "-c", "user.name=t", "-c",
                           "user.email=t@example.com", *args], check=True,
                          capture_output=True, text=True).stdout.strip()


def test_runs_carry_mlflow_context_tags_with_ours_winning(store, tmp_path):
    """A real script in a real git checkout, as a researcher runs one: both runs get the tags a
    plain `mlflow.start_run()` gets, from MLflow's own registry (MLFLOW_RUN_CONTEXT feeds one
    of its providers); cogit's own tags win over a provider's; a password in the remote URL
    leaves no trace (MLflow drops the remote's; `run_context_tags` masks any other)."""
    repo = tmp_path / "experiment"
    repo.mkdir()
    script = repo / "train.py"
    script.write_text(RUN_IN_A_CHECKOUT)
    _git(repo, "init", "-q")
    _git(repo, "remote", "add", "origin", "https://researcher:s3cret-token@git.example.com/x.git")
    _git(repo, "add", "train.py")
    _git(repo, "commit", "-q", "-m", "experiment")
    head = _git(repo, "rev-parse", "HEAD")
    env = dict(os.environ, MLFLOW_TRACKING_URI=store,
               MLFLOW_RUN_CONTEXT=json.dumps({schema.CAMPAIGN: "spoofed", "team": "interp",
                                              "db": "postgresql://lab:hunter2@db/runs"}))
    subprocess.run([sys.executable, str(script)], cwd=repo, env=env, check=True, timeout=120)
    runs = MlflowClient().search_runs([MlflowClient().get_experiment_by_name("ctx")
                                       .experiment_id])
    assert len(runs) == 2
    for run in runs:
        tags = run.data.tags
        assert tags["mlflow.user"] == getpass.getuser()
        assert tags["mlflow.source.name"] == str(script)
        assert tags["mlflow.source.type"] == "LOCAL"
        assert tags["mlflow.source.git.commit"] == head
        assert tags["mlflow.source.git.repoURL"] == "https://git.example.com/x.git"
        assert tags["team"] == "interp"
        assert tags["db"] == "postgresql://lab:***@db/runs"
        assert tags[schema.CAMPAIGN] == "ctx"
        assert not any("s3cret" in v or "hunter2" in v for v in tags.values())


def test_decision_runs_carry_mlflow_context_tags(store):
    d = DecisionLog(store).create(Decision("Abort RTX 5090"))
    run = DecisionLog(store)._run(d.number)
    assert run.data.tags["mlflow.user"] == getpass.getuser()
    assert run.data.tags["mlflow.source.name"] == sys.argv[0]


def test_phase_runs_fill_the_system_metrics_tab(store, fake_nvml, monkeypatch):
    """pynvml faked (no GPU here): one H100 using 10 GB at 87% and 412 W. MLflow's own
    collectors sample at once, every second here, and at the end; the peaks stay ours."""
    fake_nvml([FakeGpu("NVIDIA H100 80GB HBM3", used_gb=10, utilization=87, power_w=412.0)])
    monkeypatch.setenv("COGIT_SYSTEM_S", "1")
    with ct.campaign("sysm", experiment="sysm") as camp:
        with camp.phase("train") as ph:
            time.sleep(2.5)
    assert ph._system._process is None  # stopped with the phase
    client = MlflowClient()
    metrics = client.get_run(ph.run_id).data.metrics
    cpu = client.get_metric_history(ph.run_id, "system/cpu_utilization_percentage")
    assert len(cpu) >= 3  # at start, at 1 s and 2 s, at the end
    steps = [m.step for m in sorted(cpu, key=lambda m: m.timestamp)]
    assert steps[0] == 0 and steps == sorted(steps)  # elapsed seconds
    assert metrics["system/gpu_0_memory_usage_megabytes"] == pytest.approx(10_000)
    assert metrics["system/gpu_0_utilization_percentage"] == 87
    assert metrics["system/gpu_0_power_usage_watts"] == pytest.approx(412.0)
    assert metrics["system/system_memory_usage_megabytes"] > 0
    assert metrics[schema.VRAM_PEAK_GB] == pytest.approx(10.0)
    assert not any(k.startswith("system/") for k in client.get_run(camp.run_id).data.metrics)


def test_campaign_run_carries_its_configuration_and_its_phases_figures(store):
    with ct.campaign("fp16-5090", experiment="cmp", model="Qwen/Qwen2.5-7B-Instruct",
                     precision="fp16", usd_per_hour=0.89,
                     params={"layer": 14, "quantum_dim": 9333},
                     headline=["fidelity", "sentiment_shift", "tokens_per_s"]) as camp:
        with camp.phase("train") as train:
            train.log_metrics({"fidelity": 0.5}, step=0)
            train.log_metrics({"fidelity": 0.989, "loss": 0.1}, step=1)
        with camp.phase("intervene #3") as intervene:
            intervene.log_metrics({"sentiment_shift": 1.4, "tokens_per_s": 28.0})
    run = MlflowClient().get_run(camp.run_id)
    params, metrics = run.data.params, run.data.metrics
    assert params == {"layer": "14", "quantum_dim": "9333", "model": "Qwen/Qwen2.5-7B-Instruct",
                      "precision": "fp16", "gpu.key": "none", "gpu.name": "none",
                      "gpu.count": "0"}
    phase_metrics = MlflowClient().get_run(train.run_id).data.metrics
    assert metrics["train/duration_s"] == phase_metrics[schema.DURATION_S]
    assert metrics["train/cost_usd"] == phase_metrics[schema.COST_USD]
    assert metrics["train/vram_peak_gb"] == phase_metrics[schema.VRAM_PEAK_GB]
    assert metrics["train/fidelity"] == metrics["fidelity"] == 0.989
    assert "train/loss" not in metrics  # the declared headline only
    assert metrics["intervene _3/sentiment_shift"] == metrics["sentiment_shift"] == 1.4
    assert metrics["intervene _3/tokens_per_s"] == 28.0
    assert MlflowClient().get_run(intervene.run_id).info.run_name == "intervene #3 · fp16-5090"


def test_a_resumed_campaign_keeps_its_params_and_its_writer_moving(store):
    """MLflow refuses to change a param; a resumed campaign must not try (the refused write
    would stop every write behind it in the writer's queue)."""
    with ct.campaign("resume-me", experiment="cmp", params={"layer": 1}) as camp:
        pass
    with ct.campaign("resume-me", experiment="cmp", resume=True, params={"layer": 2}) as again:
        with again.phase("train") as ph:
            ph.log_metrics({"fidelity": 0.9})
    assert again.uid == camp.uid
    run = MlflowClient().get_run(camp.run_id)
    assert run.data.params["layer"] == "1"
    assert run.data.metrics["train/fidelity"] == 0.9
    assert not ph._writer.offline
