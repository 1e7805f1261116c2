"""Predicted against measured memory for a few model + operator configurations.

Each configuration is loaded in a fresh child process (random weights from a local
config.json, no hub) by `tests/support/memory_check.py`: on the CPU the measurement is RSS growth
(steady after the load, and the peak through one no-grad forward pass when tokens > 0); with
`--device cuda` it is torch.cuda.max_memory_allocated. The planner's CUDA context line is left
out of the prediction on both (neither measurement can see it).

The real model, smollm2-135m, is loaded as the pipeline loads it (`pipelines.models.load`:
its converted weights, through the TransformerBridge, int8 by torch dynamic quantization on
the CPU) in fp32, bf16 and int8, with the demo's operators (one per steering direction, at
the pipeline's default quantum_dim); measured in a fresh child of this script the same way
(RSS growth after the imports, CPU only). `--quick` leaves these out.

    .venv/bin/python bench/planner_accuracy.py [--device cuda] [--quick]
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from cogit_tracker.planning import memory  # noqa: E402
from support import memory_check  # noqa: E402

MB = 1_000_000

# (label, transformers config class, its kwargs, precision, quantum_dim, operators, tokens)
TINY = dict(hidden_size=128, num_hidden_layers=4, num_attention_heads=4, num_key_value_heads=2,
            intermediate_size=512, vocab_size=4000, tie_word_embeddings=True,
            max_position_embeddings=1024)
WIDE = dict(hidden_size=512, num_hidden_layers=8, num_attention_heads=8, num_key_value_heads=2,
            intermediate_size=1536, vocab_size=32000, tie_word_embeddings=False,
            max_position_embeddings=1024)
CASES = [
    ("tiny ({params}) fp32, 2 ops @512 (4 x d_model)", "qwen2", TINY, "fp32", 512, 2, 0),
    ("tiny ({params}) fp32, 2 ops @2048", "qwen2", TINY, "fp32", 2048, 2, 0),
    ("tiny ({params}) fp32, 2 ops @2048, 512-token forward", "qwen2", TINY, "fp32", 2048, 2, 512),
    ("wide Qwen2 ({params}) fp32, 2 ops @2048", "qwen2", WIDE, "fp32", 2048, 2, 0),
    ("wide Qwen2 ({params}) bf16, 2 ops @2048", "qwen2", WIDE, "bf16", 2048, 2, 0),
    ("wide Qwen2 ({params}) fp32, 512-token forward", "qwen2", WIDE, "fp32", 2048, 2, 512),
    ("gpt2 ({params}) fp32, 2 ops @4096", "gpt2", {}, "fp32", 4096, 2, 0),
]


def _config_dir(path: Path, model_type: str, kwargs: dict) -> Path:
    from transformers import AutoConfig

    AutoConfig.for_model(model_type, **kwargs).save_pretrained(path)
    return path


EMBEDDED_PRECISIONS = ("fp32", "bf16", "int8")


def _demo_operators(source: str) -> tuple[int, int]:
    """(quantum_dim, operators) of the demo on smollm2-135m: the pipeline's default quantum_dim
    for the demo's settings, one operator per steering direction."""
    from transformers import AutoConfig

    from pipelines import config, demo, intervene

    hf = AutoConfig.from_pretrained(source)
    cfg = config.Config(model=demo.SETTINGS["model"], layer=demo.SETTINGS["layer"])
    config.check_shape(cfg, hf.hidden_size, hf.num_hidden_layers)
    return cfg.quantum_dim, len(intervene.DIRECTIONS)


def _rss_split() -> dict[str, int]:
    """Anonymous and file-backed resident bytes (Linux /proc/self/status)."""
    fields = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("RssAnon", "RssFile"):
            fields[key] = int(value.split()[0]) * 1024
    return fields


def _embedded_child(model: str, precision: str, quantum_dim: int, operators: int) -> dict:
    """In a fresh interpreter: everything the load needs imported first, then the baseline,
    then `models.load` and the operators; RSS growth after, and the peak (VmHWM) through it.
    fp32 weights load as views of the safetensors file's mapping, resident only once read,
    so every live parameter and buffer is read first, as the first forward pass would."""
    import torch
    import psutil
    from transformer_lens.model_bridge import TransformerBridge  # noqa: F401
    from transformers import LlamaForCausalLM, PreTrainedTokenizerFast  # noqa: F401

    from pipelines import models

    source = models.resolve_source(model)  # converted already by the parent
    torch.randn(8, 8, dtype=torch.complex64).abs().sum()
    process = psutil.Process()
    memory_check._reset_peak_rss()
    before, split_before = process.memory_info().rss, _rss_split()
    loaded = models.load(model, precision)
    ops = [torch.randn(quantum_dim, quantum_dim, dtype=torch.complex64)
           for _ in range(operators)]
    with torch.no_grad():
        for tensor in (*loaded.bridge.parameters(), *loaded.bridge.buffers()):
            tensor.sum()
    grown = process.memory_info().rss - before
    split = {k: v - split_before[k] for k, v in _rss_split().items()}
    peak = max(memory_check._peak_rss() - before, grown)
    del ops
    return {"source": source, "loaded_bytes": grown, "peak_bytes": peak, **split,
            "weight_bytes": loaded.weight_bytes, "dtype_loaded": loaded.dtype_loaded,
            "int8_path": loaded.int8_path}


def embedded_rows() -> list[tuple[str, str, int, int, int, int, int]]:
    """(precision, label, predicted, measured steady growth, measured peak, anonymous and
    file-backed parts of the growth), smollm2-135m."""
    from pipelines import models, smollm2

    source = models.resolve_source(smollm2.NAME)  # converts once, outside the measurement
    dim, ops = _demo_operators(source)
    rows = []
    for precision in EMBEDDED_PRECISIONS:
        done = subprocess.run(
            [sys.executable, __file__, "--embedded-child", smollm2.NAME, precision, str(dim),
             str(ops)], capture_output=True, text=True, check=False, cwd=ROOT)
        if done.returncode != 0:
            raise RuntimeError(f"child for {precision} failed:\n{done.stderr[-2000:]}")
        got = json.loads(done.stdout.strip().splitlines()[-1])
        plan = memory.plan(model=source, precision=precision, quantum_dim=dim, operators=ops)
        predicted = memory_check.planned_bytes(plan, "cpu", False)
        how = f", {got['int8_path']}" if got["int8_path"] else ""
        rows.append((precision, f"{smollm2.NAME} ({plan.params / 1e6:.1f}M) {precision} "
                     f"({got['dtype_loaded']}{how}), {ops} ops @{dim}",
                     predicted, got["loaded_bytes"], got["peak_bytes"], got["RssAnon"],
                     got["RssFile"]))
    return rows


def main() -> None:
    if sys.argv[1:2] == ["--embedded-child"]:
        model, precision, dim, ops = sys.argv[2:6]
        print(json.dumps(_embedded_child(model, precision, int(dim), int(ops))))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu", help="cpu, or cuda to use max_memory_allocated")
    parser.add_argument("--quick", action="store_true",
                        help="only the first three cases, no smollm2-135m")
    args = parser.parse_args()
    cases = CASES[:3] if args.quick else CASES

    table = Table(title=f"Planner accuracy on {args.device} "
                        f"({'RSS growth' if args.device == 'cpu' else 'max_memory_allocated'})")
    for name in ("Configuration", "Predicted MB", "Measured MB", "Predicted / measured"):
        table.add_column(name, justify="left" if name == "Configuration" else "right")
    ratios = []
    with tempfile.TemporaryDirectory() as tmp:
        for n, (label, model_type, kwargs, precision, dim, ops, tokens) in enumerate(cases):
            config = _config_dir(Path(tmp) / f"case{n}", model_type, kwargs)
            predicted_plan = memory.plan(model=str(config), precision=precision,
                                         quantum_dim=dim, operators=ops,
                                         seq_len=max(tokens, 1))
            predicted = memory_check.planned_bytes(predicted_plan, args.device, bool(tokens))
            got = memory_check.measure(config, precision, dim, ops, seq_len=tokens,
                                       device=args.device)
            measured = got.peak_bytes if tokens else got.loaded_bytes
            ratios.append(predicted / measured)
            table.add_row(label.format(params=f"{predicted_plan.params / 1e6:.1f}M"),
                          f"{predicted / MB:.1f}", f"{measured / MB:.1f}",
                          f"{ratios[-1]:.3f}")
    peaks = []
    if not args.quick and args.device == "cpu":
        for precision, label, predicted, measured, peak, anon, file in embedded_rows():
            ratios.append(predicted / measured)
            peaks.append(f"{precision}: peak {peak / MB:.1f}, anonymous {anon / MB:.1f}, "
                         f"file-backed {file / MB:.1f}")
            table.add_row(label, f"{predicted / MB:.1f}", f"{measured / MB:.1f}",
                          f"{ratios[-1]:.3f}")
    console = Console(width=max(Console().width, 110))
    console.print(table)
    console.print(f"ratio predicted/measured: min {min(ratios):.3f}, max {max(ratios):.3f} "
                  f"over {len(ratios)} configurations")
    if peaks:
        console.print("smollm2-135m, MB of RSS growth: " + "; ".join(peaks))


if __name__ == "__main__":
    main()
