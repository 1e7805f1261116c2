"""The hardware probe, the VRAM sampler and secret redaction.

This machine has no NVIDIA GPU and no driver: the GPU cases replace the pynvml functions
(`fake_nvml` in conftest.py, the narrowest seam) and everything above them runs for real.
"""
from __future__ import annotations

import os
import sys
from importlib import metadata

import pynvml
import pytest
from conftest import FakeGpu

from cogit_tracker import redaction, schema
from cogit_tracker.machine import hardware


def test_real_machine_without_gpu_gives_a_clean_none_profile(cogit_env):
    """The real probe on this GPU-less machine: no exception, GPU tags say none, host filled."""
    profile = hardware.probe()
    tags = profile.tags()
    assert profile.gpus == ()
    assert tags[schema.GPU_KEY] == "none"
    assert tags[schema.GPU_COUNT] == "0"
    assert tags[schema.GPU_DRIVER] == "none"
    assert int(tags[schema.CPU_CORES]) == len(os.sched_getaffinity(0))
    assert float(tags[schema.RAM_TOTAL_GB]) > 0
    assert tags[schema.HOST] == os.uname().nodename
    assert hardware.vram_used_bytes() == []


def test_tags_are_exactly_the_design_hardware_tags(cogit_env):
    expected = {
        schema.GPU_NAME, schema.GPU_KEY, schema.GPU_COUNT, schema.GPU_VRAM_TOTAL_GB,
        schema.GPU_DRIVER, schema.CUDA, schema.CPU_MODEL, schema.CPU_CORES,
        schema.RAM_TOTAL_GB, schema.HOST,
    }
    tags = hardware.probe().tags()
    assert set(tags) == expected
    assert all(isinstance(value, str) for value in tags.values())


@pytest.mark.parametrize(
    "nvml_name, key",
    [
        ("NVIDIA H100 80GB HBM3", "h100-sxm"),
        ("NVIDIA H100 PCIe", "h100-pcie"),
        ("NVIDIA GeForce RTX 5090", "rtx-5090"),
        ("NVIDIA GeForce RTX 4090", "rtx-4090"),
        ("NVIDIA A100-SXM4-40GB", "a100-40gb"),
        ("A100-SXM4-40GB", "a100-40gb"),
        ("NVIDIA A100 80GB PCIe", "a100-80gb"),
        ("NVIDIA H200", "h200"),
        ("NVIDIA L40S", "l40s"),
        ("NVIDIA A10G", "a10g"),
        ("Tesla T4", "t4"),
        ("NVIDIA H100 NVL", "unknown:h100-nvl"),
    ],
)
def test_real_nvml_names_map_to_catalog_keys(fake_nvml, nvml_name, key):
    """pynvml faked (no GPU here): the probe turns each driver-reported name into its key."""
    fake_nvml([FakeGpu(nvml_name)])
    profile = hardware.probe()
    assert profile.gpus[0].key == key
    assert profile.tags()[schema.GPU_KEY] == key
    assert profile.tags()[schema.GPU_NAME] == nvml_name


def test_one_h100_fills_every_field(fake_nvml):
    """pynvml faked (no GPU here)."""
    fake_nvml([FakeGpu("NVIDIA H100 80GB HBM3", total_gb=79.6, uuid="GPU-abc", capability=(9, 0))],
              driver="570.86.15", cuda=12080)
    profile = hardware.probe()
    gpu = profile.gpus[0]
    assert (gpu.index, gpu.name, gpu.vram_total_gb) == (0, "NVIDIA H100 80GB HBM3", 79.6)
    assert (gpu.uuid, gpu.compute_capability) == ("GPU-abc", "9.0")
    tags = profile.tags()
    assert tags[schema.GPU_DRIVER] == "570.86.15"
    assert tags[schema.CUDA] == "12.8"
    assert tags[schema.GPU_VRAM_TOTAL_GB] == "79.6"
    assert tags[schema.GPU_COUNT] == "1"


def test_eight_gpus_count_and_keep_one_key(fake_nvml):
    """pynvml faked (no GPU here): an 8x node is one key, count 8, per-device VRAM."""
    fake_nvml([FakeGpu("NVIDIA A100-SXM4-80GB", total_gb=80, uuid=f"GPU-{i}") for i in range(8)])
    profile = hardware.probe()
    assert [g.index for g in profile.gpus] == list(range(8))
    assert len({g.uuid for g in profile.gpus}) == 8
    assert profile.tags()[schema.GPU_KEY] == "a100-80gb"
    assert profile.tags()[schema.GPU_COUNT] == "8"
    assert profile.tags()[schema.GPU_VRAM_TOTAL_GB] == "80"


def test_mixed_gpus_list_both_and_report_the_smallest_device(fake_nvml):
    """pynvml faked (no GPU here)."""
    fake_nvml([FakeGpu("NVIDIA H100 80GB HBM3", total_gb=80), FakeGpu("Tesla T4", total_gb=15)])
    tags = hardware.probe().tags()
    assert tags[schema.GPU_KEY] == "h100-sxm+t4"
    assert tags[schema.GPU_NAME] == "NVIDIA H100 80GB HBM3 + Tesla T4"
    assert tags[schema.GPU_VRAM_TOTAL_GB] == "15"


@pytest.mark.parametrize(
    "failure",
    [
        pynvml.NVMLError(pynvml.NVML_ERROR_DRIVER_NOT_LOADED),
        pynvml.NVMLError(pynvml.NVML_ERROR_LIBRARY_NOT_FOUND),
        OSError("libnvidia-ml.so.1: cannot open shared object file"),
    ],
)
def test_nvml_init_failure_gives_none_profile(fake_nvml, failure):
    """pynvml faked (no GPU here): a failing nvmlInit is "no GPU", never an exception."""
    fake_nvml(failure)
    profile = hardware.probe()
    assert profile.gpus == ()
    assert profile.tags()[schema.GPU_KEY] == "none"
    assert hardware.vram_used_bytes() == []


def test_a_field_nvml_cannot_give_does_not_cost_the_profile(fake_nvml, monkeypatch):
    """pynvml faked (no GPU here): an old driver without compute capability support."""
    fake_nvml([FakeGpu("Tesla T4", total_gb=16)])

    def unsupported(handle):
        raise pynvml.NVMLError(pynvml.NVML_ERROR_NOT_SUPPORTED)

    monkeypatch.setattr(pynvml, "nvmlDeviceGetCudaComputeCapability", unsupported)
    gpu = hardware.probe().gpus[0]
    assert gpu.key == "t4"
    assert gpu.compute_capability is None


def test_probe_is_computed_once_per_process(fake_nvml, monkeypatch):
    """pynvml faked (no GPU here): the second probe and the sampler do not re-initialise NVML."""
    fake_nvml([FakeGpu("NVIDIA GeForce RTX 5090", total_gb=32)])
    calls = []
    monkeypatch.setattr(pynvml, "nvmlInit", lambda: calls.append("init"))
    first = hardware.probe()
    assert hardware.probe() is first
    hardware.vram_used_bytes()
    hardware.vram_used_bytes()
    assert calls == ["init"]


def test_vram_used_follows_each_device(fake_nvml):
    """pynvml faked (no GPU here): the sampler reads NVML's per-device used memory each call."""
    gpus = fake_nvml([FakeGpu("NVIDIA H100 80GB HBM3", used_gb=1), FakeGpu("NVIDIA H100 80GB HBM3")])
    assert hardware.vram_used_bytes() == [10**9, 0]
    gpus[1].used = 30 * 10**9
    assert hardware.vram_used_bytes() == [10**9, 30 * 10**9]


def test_vram_sampler_survives_a_driver_error_mid_run(fake_nvml, monkeypatch):
    """pynvml faked (no GPU here): e.g. the GPU fell off the bus (Xid 79)."""
    fake_nvml([FakeGpu("NVIDIA H100 80GB HBM3", used_gb=1)])
    assert hardware.vram_used_bytes() == [10**9]

    def lost(handle):
        raise pynvml.NVMLError(pynvml.NVML_ERROR_GPU_IS_LOST)

    monkeypatch.setattr(pynvml, "nvmlDeviceGetMemoryInfo", lost)
    assert hardware.vram_used_bytes() == []


def test_bad_cogit_toml_does_not_break_the_probe(fake_nvml, cogit_env):
    """pynvml faked (no GPU here): the probe falls back to the built-in catalog."""
    (cogit_env / "cogit.toml").write_text("usd_per_hour = = 1\n")
    fake_nvml([FakeGpu("NVIDIA GeForce RTX 5090")])
    assert hardware.probe().gpu_key == "rtx-5090"


def test_user_added_gpu_is_recognised_by_its_nvml_name(fake_nvml, cogit_env):
    """pynvml faked (no GPU here)."""
    (cogit_env / "cogit.toml").write_text(
        '[gpus.h100-nvl]\nname = "NVIDIA H100 NVL"\nnvml_names = ["NVIDIA H100 NVL"]\n'
        "vram_gb = 94\nbandwidth_gbs = 3900\nfp16_tflops = 835\nusd_per_hour = 3.2\n"
    )
    fake_nvml([FakeGpu("NVIDIA H100 NVL", total_gb=94)])
    assert hardware.probe().gpu_key == "h100-nvl"


def test_torch_version_without_importing_torch(cogit_env):
    """Reading the version must not pay for `import torch`."""
    was_imported = "torch" in sys.modules
    version = hardware.probe().torch
    assert ("torch" in sys.modules) == was_imported
    assert version == metadata.version("torch")  # torch is installed in the test venv


@pytest.mark.parametrize(
    "name",
    ["HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
     "AWS_SESSION_TOKEN", "MLFLOW_TRACKING_PASSWORD", "OPENAI_API_KEY", "my_secret", "PGPASSWD",
     "GOOGLE_APPLICATION_CREDENTIALS"],
)
def test_secret_names(name):
    assert redaction.is_secret(name)


@pytest.mark.parametrize("name", ["PATH", "HOME", "AWS_REGION", "HF_HOME", "CUDA_VISIBLE_DEVICES"])
def test_ordinary_names_are_kept(name):
    assert not redaction.is_secret(name)


def test_redact_env_masks_secrets_and_url_passwords():
    env = {
        "HF_TOKEN": "hf_abc123",
        "AWS_SECRET_ACCESS_KEY": "wJalr",
        "PATH": "/usr/bin",
        "MLFLOW_TRACKING_URI": "postgresql://cogit:s3cret@db.internal:5432/mlflow",
        "OTHER_URI": "http://127.0.0.1:5000",
    }
    safe = redaction.redact_env(env)
    assert safe["HF_TOKEN"] == safe["AWS_SECRET_ACCESS_KEY"] == "***"
    assert safe["PATH"] == "/usr/bin"
    assert safe["MLFLOW_TRACKING_URI"] == "postgresql://cogit:***@db.internal:5432/mlflow"
    assert safe["OTHER_URI"] == "http://127.0.0.1:5000"
    assert "s3cret" not in str(safe) and "hf_abc123" not in str(safe)
    assert env["HF_TOKEN"] == "hf_abc123"  # the caller's mapping is untouched
