"""What this process runs on: GPUs through NVML (pynvml, from nvidia-ml-py), host through
psutil.

Probed once per process and cached, because every run (and MLflow's context provider, on every
`start_run`) asks for it, and NVML initialisation costs tens of milliseconds. The probe never
raises: a machine without a GPU, without the driver, or with a half-working NVML gets a clean
profile with `gpu.key = none` rather than breaking the experiment it describes.
"""
from __future__ import annotations

import functools
import os
import platform
import socket
import sys
from dataclasses import asdict, dataclass, field
from importlib import metadata
from typing import Any, Callable, TypeVar

from .. import schema
from ..errors import BadInput
from .catalog import key_for_name
from .config import UserConfig

T = TypeVar("T")


@dataclass(frozen=True)
class GpuInfo:
    index: int
    name: str
    key: str
    vram_total_gb: float
    uuid: str | None
    compute_capability: str | None


@dataclass(frozen=True)
class HardwareProfile:
    gpus: tuple[GpuInfo, ...] = ()
    driver: str | None = None
    cuda: str | None = None
    cpu_model: str = "unknown"
    cpu_cores: int = 0
    ram_total_gb: float = 0.0
    host: str = "unknown"
    os: str = "unknown"
    python: str = field(default_factory=platform.python_version)
    torch: str | None = None

    @property
    def gpu_count(self) -> int:
        return len(self.gpus)

    @property
    def gpu_name(self) -> str:
        """The GPU model; a mixed host lists each distinct model once, joined by ` + `."""
        return " + ".join(_distinct(g.name for g in self.gpus)) or schema.NO_GPU

    @property
    def gpu_key(self) -> str:
        """Catalog key; a mixed host joins the keys with `+`, which no catalog price matches,
        so its rate must be given rather than silently priced as one of its GPUs."""
        return "+".join(_distinct(g.key for g in self.gpus)) or schema.NO_GPU

    @property
    def vram_total_gb(self) -> float:
        """Total memory of ONE device (the smallest): the figure that bounds what fits on a
        device; `gpu_count` gives the rest."""
        return min((g.vram_total_gb for g in self.gpus), default=0.0)

    def summary(self) -> str:
        """This host's GPUs in a few words (`2 x NVIDIA H100 80GB HBM3`), for a job's node."""
        if not self.gpus:
            return f"no GPU, {self.cpu_cores} CPU cores"
        return " + ".join(f"{sum(g.name == n for g in self.gpus)} x {n}"
                          for n in _distinct(g.name for g in self.gpus))

    def tags(self) -> dict[str, str]:
        """The DESIGN.md hardware tags, as MLflow tag strings."""
        return {
            schema.GPU_NAME: self.gpu_name,
            schema.GPU_KEY: self.gpu_key,
            schema.GPU_COUNT: str(self.gpu_count),
            schema.GPU_VRAM_TOTAL_GB: f"{self.vram_total_gb:g}",
            schema.GPU_DRIVER: self.driver or schema.NO_GPU,
            schema.CUDA: self.cuda or schema.NO_GPU,
            schema.CPU_MODEL: self.cpu_model,
            schema.CPU_CORES: str(self.cpu_cores),
            schema.RAM_TOTAL_GB: f"{self.ram_total_gb:g}",
            schema.HOST: self.host,
        }

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "gpu_count": self.gpu_count, "gpu_key": self.gpu_key}


@functools.cache
def probe() -> HardwareProfile:
    """This machine's profile, computed on first call only."""
    gpus, driver, cuda = _probe_gpus()
    return HardwareProfile(
        gpus=gpus,
        driver=driver,
        cuda=cuda,
        cpu_model=_safe(_cpu_model, "unknown"),
        cpu_cores=_safe(_cpu_cores, 0),
        ram_total_gb=_safe(_ram_total_gb, 0.0),
        host=_safe(socket.gethostname, "unknown"),
        os=_safe(platform.platform, "unknown"),
        torch=_torch_version(),
    )


def vram_used_bytes() -> list[int]:
    """Memory in use on each device now, by every process (NVML's view), for peak sampling;
    an empty list without a GPU or when NVML fails mid-run, never an exception."""
    nvml = _nvml()
    if nvml is None:
        return []
    try:
        return [int(nvml.nvmlDeviceGetMemoryInfo(h).used) for h in _handles()]
    except Exception:  # noqa: BLE001 - a sampler must outlive a flaky driver
        return []


@functools.cache
def _nvml():
    """pynvml, initialised once; None when the library, the driver or a GPU is missing."""
    try:
        import pynvml

        pynvml.nvmlInit()
    except Exception:  # noqa: BLE001 - NVMLError, ImportError, OSError: all mean "no GPU"
        return None
    return pynvml


@functools.cache
def _handles() -> tuple[Any, ...]:
    nvml = _nvml()
    if nvml is None:
        return ()
    try:
        count = nvml.nvmlDeviceGetCount()
        return tuple(nvml.nvmlDeviceGetHandleByIndex(i) for i in range(count))
    except Exception:  # noqa: BLE001
        return ()


def _probe_gpus() -> tuple[tuple[GpuInfo, ...], str | None, str | None]:
    nvml = _nvml()
    handles = _handles()
    if nvml is None or not handles:
        return (), None, None
    gpus = tuple(_gpu_info(nvml, index, handle) for index, handle in enumerate(handles))
    driver = _safe(lambda: _text(nvml.nvmlSystemGetDriverVersion()), None)
    cuda = _safe(lambda: _cuda_version(nvml.nvmlSystemGetCudaDriverVersion_v2()), None)
    return gpus, driver, cuda


def _gpu_info(nvml, index: int, handle) -> GpuInfo:
    name = _safe(lambda: _text(nvml.nvmlDeviceGetName(handle)), "unknown")
    capability = _safe(lambda: "%d.%d" % tuple(nvml.nvmlDeviceGetCudaComputeCapability(handle)), None)
    total = _safe(lambda: nvml.nvmlDeviceGetMemoryInfo(handle).total, 0)
    return GpuInfo(
        index=index,
        name=name,
        key=_key(name),
        vram_total_gb=round(total / schema.GB, 1),
        uuid=_safe(lambda: _text(nvml.nvmlDeviceGetUUID(handle)), None),
        compute_capability=capability,
    )


def _key(name: str) -> str:
    """Catalog key with the user's additions; a broken cogit.toml must not break the probe,
    so it falls back to the built-in catalog (the rate resolution reports the bad file)."""
    try:
        return key_for_name(name)
    except BadInput:
        return key_for_name(name, UserConfig())


def _cuda_version(number: int) -> str:
    """NVML encodes CUDA 12.4 as 12040."""
    return f"{number // 1000}.{number % 1000 // 10}"


def _text(value: str | bytes) -> str:
    """Older pynvml releases return bytes."""
    return value.decode() if isinstance(value, bytes) else value


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def _cpu_cores() -> int:
    """Cores this process may run on: in a rented container that is the quota, not the
    host's count that `os.cpu_count()` reports."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 0


def _ram_total_gb() -> float:
    import psutil

    return round(psutil.virtual_memory().total / schema.GB, 1)


def _torch_version() -> str | None:
    """From the imported module if there is one, else from package metadata: importing
    torch just to read its version would cost seconds."""
    torch = sys.modules.get("torch")
    if torch is not None and hasattr(torch, "__version__"):
        return str(torch.__version__)
    try:
        return metadata.version("torch")
    except metadata.PackageNotFoundError:
        return None


def _safe(fn: Callable[[], T], default: T) -> T:
    try:
        return fn()
    except Exception:  # noqa: BLE001 - one missing field must not cost the whole profile
        return default


def _distinct(items) -> list[str]:
    return list(dict.fromkeys(items))
