"""Pretend GPUs for the ranks of a test job: this machine has no NVIDIA GPU, so every rank's
pynvml answers from `FAKE_GPUS` (the narrowest seam: cogit's probe, its per-rank sampling and
its cost run for real). Put on PYTHONPATH by tests/test_ranks.py, so each rank picks it up at
start-up as Python's `sitecustomize`, the researcher's script unchanged.

FAKE_GPUS="8" gives eight NVIDIA H100 80GB HBM3; device i has (i + 1) x FAKE_GPU_USED_GB GB
in use (default 10), so each rank's own GPU reads differently.
"""
import os
import types

if os.environ.get("FAKE_GPUS"):
    import pynvml

    COUNT = int(os.environ["FAKE_GPUS"])
    USED = float(os.environ.get("FAKE_GPU_USED_GB", "10"))
    NAME = "NVIDIA H100 80GB HBM3"

    def _memory(index):
        used = int((index + 1) * USED * 10**9)
        return types.SimpleNamespace(total=80 * 10**9, used=used, free=80 * 10**9 - used)

    for name, fake in {
        "nvmlInit": lambda: None,
        "nvmlDeviceGetCount": lambda: COUNT,
        "nvmlDeviceGetHandleByIndex": lambda i: i,
        "nvmlDeviceGetName": lambda h: NAME,
        "nvmlDeviceGetUUID": lambda h: f"GPU-fake-{h}",
        "nvmlDeviceGetCudaComputeCapability": lambda h: (9, 0),
        "nvmlDeviceGetMemoryInfo": _memory,
        "nvmlSystemGetDriverVersion": lambda: "570.86.15",
        "nvmlSystemGetCudaDriverVersion_v2": lambda: 12080,
        "nvmlDeviceGetUtilizationRates": lambda h: types.SimpleNamespace(gpu=50, memory=0),
        "nvmlDeviceGetPowerUsage": lambda h: 300_000,
        "nvmlDeviceGetEnforcedPowerLimit": lambda h: 700_000,
    }.items():
        setattr(pynvml, name, fake)
