"""Predicted against measured memory for a few model + operator configurations.

Each configuration is loaded in a fresh child process (random weights from a local
config.json, no hub) by `tests/support/memory_check.py`: on the CPU the measurement is RSS growth
(steady after the load, and the peak through one no-grad forward pass when tokens > 0); with
`--device cuda` it is torch.cuda.max_memory_allocated. The planner's CUDA context line is left
out of the prediction on both (neither measurement can see it).

    .venv/bin/python bench/planner_accuracy.py [--device cuda] [--quick]
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu", help="cpu, or cuda to use max_memory_allocated")
    parser.add_argument("--quick", action="store_true", help="only the first three cases")
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
    console = Console(width=max(Console().width, 110))
    console.print(table)
    console.print(f"ratio predicted/measured: min {min(ratios):.3f}, max {max(ratios):.3f} "
                  f"over {len(ratios)} configurations")


if __name__ == "__main__":
    main()
