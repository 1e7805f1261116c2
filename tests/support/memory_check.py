"""Check the memory planner against reality: load a model (random weights from a local
config.json, no hub) and the operators in a fresh child process, and measure what they took.

Why a child process: RSS is per process and Python's allocator never gives everything back, so
only a fresh interpreter, measured after its imports, gives a clean "before". On the CPU the
figure is RSS growth (psutil; peak from Linux's VmHWM, reset after the imports); on CUDA it is
torch.cuda.max_memory_allocated, which leaves out the CUDA context (not a PyTorch allocation).
Used by tests/test_memory.py and bench/planner_accuracy.py.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from cogit_tracker import schema
from cogit_tracker.errors import BadInput
from cogit_tracker.planning import memory

_TORCH_DTYPES = {"fp32": "float32", "fp16": "float16", "bf16": "bfloat16"}


@dataclass(frozen=True)
class Measured:
    """Bytes one load took, by stage, as seen from outside the model code."""

    device: str
    weights_bytes: int  # sum of parameter bytes as loaded (checks the precision arithmetic)
    loaded_bytes: int  # growth after weights + operators
    peak_bytes: int  # peak growth, through one forward pass when `forward` was asked


def measure(config_dir: str | Path, precision: str, quantum_dim: int, operators: int,
            seq_len: int = 0, device: str = "cpu", timeout: float = 600) -> Measured:
    """Run the load in a fresh interpreter and return its growth. `seq_len` > 0 adds one
    no-grad forward over that many tokens (KV cache kept), to check the activation estimate."""
    precision = schema.check_precision(precision)
    if precision not in _TORCH_DTYPES:
        raise BadInput(f"measuring {precision} needs a quantized load; accepted: "
                              f"{', '.join(_TORCH_DTYPES)}")
    cmd = [sys.executable, "-m", "support.memory_check", str(config_dir), precision,
           str(quantum_dim), str(operators), str(seq_len), device]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(  # the folder that holds `support`
        [str(Path(__file__).resolve().parents[1]), os.environ.get("PYTHONPATH", "")]))
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env,
                          check=False)
    if done.returncode != 0:
        raise RuntimeError(f"memory_check child failed:\n{done.stderr[-2000:]}")
    return Measured(**json.loads(done.stdout.strip().splitlines()[-1]))


def planned_bytes(memory_plan: memory.MemoryPlan, device: str, forward: bool) -> int:
    """The part of a plan a measurement can see: no CUDA context on either side (the CPU has
    none; max_memory_allocated does not count it), no KV cache or activations without a
    forward pass."""
    kinds = {"weights", "operators"} | ({"kv_cache", "activations"} if forward else set())
    return sum(i.bytes for i in memory_plan.items if i.kind in kinds)


def _child(config_dir: str, precision: str, quantum_dim: int, operators: int, seq_len: int,
           device: str) -> dict:
    """Runs in the child: everything imported first, then the baseline, then the load."""
    import psutil
    import torch
    from transformers import MODEL_FOR_CAUSAL_LM_MAPPING, AutoConfig

    torch.set_num_threads(1)
    config = AutoConfig.from_pretrained(config_dir)
    # Importing the model's module is lazy in transformers and costs ~140 MB of RSS: do it,
    # and one small tensor op, before the baseline so the growth is the model's alone.
    model_class = MODEL_FOR_CAUSAL_LM_MAPPING[type(config)]
    torch.randn(8, 8, dtype=torch.complex64).abs().sum()
    on_cuda = device.startswith("cuda")
    process = psutil.Process()

    def now() -> int:
        return torch.cuda.memory_allocated(device) if on_cuda else process.memory_info().rss

    if on_cuda:
        torch.cuda.init()
        torch.cuda.reset_peak_memory_stats(device)
    else:
        _reset_peak_rss()
    before = now()
    with torch.device(device):
        model = model_class._from_config(config, dtype=getattr(torch, _TORCH_DTYPES[precision]))
        ops = [torch.randn(quantum_dim, quantum_dim, dtype=torch.complex64)
               for _ in range(operators)]
    weights = sum(p.numel() * p.element_size() for p in model.parameters())
    loaded = now() - before
    if seq_len:
        with torch.no_grad(), torch.device(device):
            ids = torch.randint(0, config.vocab_size, (1, seq_len))
            out = model(input_ids=ids, use_cache=True)
        del out
    if on_cuda:
        peak = torch.cuda.max_memory_allocated(device) - before
    else:
        peak = _peak_rss() - before
    peak = max(peak, loaded)  # the kernel updates its high-water mark lazily
    del ops  # kept alive through the measurements above
    return {"device": device, "weights_bytes": weights, "loaded_bytes": loaded,
            "peak_bytes": peak}


def _reset_peak_rss() -> None:
    """Linux (>= 4.0): writing 5 to clear_refs resets VmHWM, so the peak excludes the imports."""
    Path("/proc/self/clear_refs").write_text("5")


def _peak_rss() -> int:
    status = Path("/proc/self/status").read_text()
    return int(status.split("VmHWM:")[1].split()[0]) * 1024


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="child of memory_check.measure")
    for name in ("config_dir", "precision"):
        parser.add_argument(name)
    for name in ("quantum_dim", "operators", "seq_len"):
        parser.add_argument(name, type=int)
    parser.add_argument("device")
    args = parser.parse_args()
    print(json.dumps(_child(args.config_dir, args.precision, args.quantum_dim, args.operators,
                            args.seq_len, args.device)))
