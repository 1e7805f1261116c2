"""The MLflow run context provider: plain `mlflow.start_run()` gets our hardware and rate tags.

This machine has no NVIDIA GPU: where a GPU is needed, the pynvml functions are replaced (the
narrowest seam), in this process through `fake_nvml` and in the subprocess by its script.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import mlflow  # noqa: F401 - before cogit_tracker.context: MLflow loads its providers on import
import pytest
from conftest import FakeGpu
from mlflow.tracking.context.registry import _run_context_provider_registry

from cogit_tracker import schema
from cogit_tracker.runtime.context import CogitContextProvider
from cogit_tracker.machine.hardware import probe

REPO = Path(__file__).resolve().parents[1]
HARDWARE_TAGS = {
    schema.GPU_NAME, schema.GPU_KEY, schema.GPU_COUNT, schema.GPU_VRAM_TOTAL_GB,
    schema.GPU_DRIVER, schema.CUDA, schema.CPU_MODEL, schema.CPU_CORES,
    schema.RAM_TOTAL_GB, schema.HOST,
}


def test_provider_is_registered_with_mlflow():
    assert any(type(p).__name__ == "CogitContextProvider" for p in _run_context_provider_registry)


def test_provider_tags_are_hardware_plus_rate(fake_nvml, monkeypatch):
    """pynvml faked (no GPU here): one RTX 5090, rate from the environment."""
    fake_nvml([FakeGpu("NVIDIA GeForce RTX 5090", total_gb=31.8)])
    monkeypatch.setenv("COGIT_USD_PER_HOUR", "0.89")
    provider = CogitContextProvider()
    assert provider.in_context() is True
    tags = provider.tags()
    assert set(tags) == HARDWARE_TAGS | {schema.USD_PER_HOUR, schema.RATE_SOURCE}
    assert tags[schema.GPU_KEY] == "rtx-5090"
    assert tags[schema.GPU_VRAM_TOTAL_GB] == "31.8"
    assert (tags[schema.USD_PER_HOUR], tags[schema.RATE_SOURCE]) == ("0.89", "env")


def test_provider_uses_the_cached_probe(fake_nvml):
    """pynvml faked (no GPU here): later runs in the process reuse the first probe."""
    gpus = fake_nvml([FakeGpu("NVIDIA H100 80GB HBM3")])
    first = CogitContextProvider().tags()
    gpus[0].name = "Tesla T4"  # would change the key if the probe ran again
    assert CogitContextProvider().tags()[schema.GPU_KEY] == first[schema.GPU_KEY] == "h100-sxm"
    assert probe() is probe()


def test_missing_rate_is_tagged_unknown_without_a_warning(cogit_env, recwarn):
    tags = CogitContextProvider().tags()
    assert (tags[schema.USD_PER_HOUR], tags[schema.RATE_SOURCE]) == ("0", "unknown")
    assert not [w for w in recwarn if "rate" in str(w.message)]


@pytest.mark.parametrize(
    "config, env",
    [("usd_per_hour = -1\n", {}), ("[prices\n", {}), ("", {"COGIT_USD_PER_HOUR": "lots"})],
)
def test_bad_rate_settings_warn_and_give_unknown(cogit_env, monkeypatch, config, env):
    """Someone else's start_run must not fail because of our settings."""
    (cogit_env / "cogit.toml").write_text(config)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.warns(UserWarning, match="cogit-tracker"):
        tags = CogitContextProvider().tags()
    assert (tags[schema.USD_PER_HOUR], tags[schema.RATE_SOURCE]) == ("0", "unknown")
    assert tags[schema.GPU_KEY] == "none"


SCRIPT = textwrap.dedent("""
    import json, sys, types
    import pynvml  # the machine has no GPU: answer NVML's questions for one H100 SXM
    h100 = types.SimpleNamespace(total=80 * 10**9, used=0)
    pynvml.nvmlInit = lambda: None
    pynvml.nvmlDeviceGetCount = lambda: 2
    pynvml.nvmlDeviceGetHandleByIndex = lambda i: h100
    pynvml.nvmlDeviceGetName = lambda h: "NVIDIA H100 80GB HBM3"
    pynvml.nvmlDeviceGetUUID = lambda h: "GPU-0"
    pynvml.nvmlDeviceGetCudaComputeCapability = lambda h: (9, 0)
    pynvml.nvmlDeviceGetMemoryInfo = lambda h: h
    pynvml.nvmlSystemGetDriverVersion = lambda: "570.86.15"
    pynvml.nvmlSystemGetCudaDriverVersion_v2 = lambda: 12080

    import mlflow  # nothing from cogit_tracker is imported by this script
    mlflow.set_tracking_uri(sys.argv[1])
    with mlflow.start_run() as run:
        mlflow.log_metric("loss", 1.0)
    with mlflow.start_run(tags={"cogit.cost.usd_per_hour": "9"}) as explicit:
        pass
    tags = lambda r: mlflow.get_run(r.info.run_id).data.tags
    print(json.dumps({"plain": tags(run), "explicit": tags(explicit)}))
""")


@pytest.mark.slow
def test_plain_mlflow_start_run_gets_the_tags(tmp_path):
    """A script that only uses mlflow, run with the package installed (entry point live,
    PYTHONPATH pointing at this checkout's code), on a fresh sqlite store."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COGIT_", "MLFLOW_"))}
    env["PYTHONPATH"] = str(REPO)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    done = subprocess.run([sys.executable, "-c", SCRIPT, uri], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    runs = json.loads(done.stdout.strip().splitlines()[-1])
    plain = runs["plain"]
    assert HARDWARE_TAGS <= set(plain)
    assert plain[schema.GPU_KEY] == "h100-sxm"
    assert plain[schema.GPU_COUNT] == "2"
    assert plain[schema.GPU_DRIVER] == "570.86.15" and plain[schema.CUDA] == "12.8"
    assert (plain[schema.USD_PER_HOUR], plain[schema.RATE_SOURCE]) == ("2.69", "catalog")
    assert runs["explicit"][schema.USD_PER_HOUR] == "9"  # explicit tags win over ours
