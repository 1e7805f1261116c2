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

Training (`--training` of the planner): one real fine-tuning step, forward, backward and
AdamW (torch's foreach implementation, the CUDA default, asked for explicitly on the CPU),
twice so the moments exist, on `tiny` (the pipelines' recipe, built from its config, random
weights) and on smollm2-135m (its converted weights): the whole model, with gradient
checkpointing, and LoRA adapters on every block Linear. Each in a fresh child; the measured
figure is the peak RSS from before the model exists to the end of the second step, the load's
own transient left out (`torch.cuda.max_memory_allocated` with `--device cuda`: written, not
run here, this machine has no GPU). Beside it, accelerate's `estimate-memory` "Training using
Adam" on the same model: its own functions (`calculate_maximum_sizes`,
`estimate_training_usage`) on the model built empty from the same config, as its command does
after a hub lookup that this offline machine cannot make.

    .venv/bin/python bench/planner_accuracy.py [--device cuda] [--quick] [--training]
"""
from __future__ import annotations

import argparse
import json
import os
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

    from pipelines import config, intervene, smollm2

    hf = AutoConfig.from_pretrained(source)
    cfg = config.Config(model=smollm2.NAME, layer=config.recipe(smollm2.NAME).layer)
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


def _embedded_child(model: str, precision: str, quantum_dim: int, operators: int,
                    device: str = "cpu") -> dict:
    """In a fresh interpreter: everything the load needs imported first, then the baseline,
    then `models.load` and the operators; RSS growth after, and the peak (VmHWM) through it.
    fp32 weights load as views of the safetensors file's mapping, resident only once read,
    so every live parameter and buffer is read first, as the first forward pass would.
    On CUDA (bench/gpu_check.py) the same load on the GPU, measured by the allocator instead
    (`memory_allocated` growth, `max_memory_allocated` peak): no RSS split there."""
    import torch
    import psutil
    from transformer_lens.model_bridge import TransformerBridge  # noqa: F401
    from transformers import LlamaForCausalLM, PreTrainedTokenizerFast  # noqa: F401

    from pipelines import models

    source = models.resolve_source(model)  # converted already by the parent
    on_cuda = device.startswith("cuda")
    torch.randn(8, 8, dtype=torch.complex64, device=device).abs().sum()
    process = psutil.Process()
    memory_check._reset_peak_rss()
    if on_cuda:
        torch.cuda.reset_peak_memory_stats(device)
    before = torch.cuda.memory_allocated(device) if on_cuda else process.memory_info().rss
    split_before = _rss_split()
    loaded = models.load(model, precision, device)
    ops = [torch.randn(quantum_dim, quantum_dim, dtype=torch.complex64, device=device)
           for _ in range(operators)]
    with torch.no_grad():
        for tensor in (*loaded.bridge.parameters(), *loaded.bridge.buffers()):
            tensor.sum()
    if on_cuda:
        grown = torch.cuda.memory_allocated(device) - before
        peak = max(torch.cuda.max_memory_allocated(device) - before, grown)
        split = {"RssAnon": 0, "RssFile": 0}
    else:
        grown = process.memory_info().rss - before
        split = {k: v - split_before[k] for k, v in _rss_split().items()}
        peak = max(memory_check._peak_rss() - before, grown)
    del ops
    return {"source": source, "loaded_bytes": grown, "peak_bytes": peak, **split,
            "weight_bytes": loaded.weight_bytes, "dtype_loaded": loaded.dtype_loaded,
            "int8_path": loaded.int8_path}


def embedded_rows(device: str = "cpu", precisions: tuple[str, ...] = EMBEDDED_PRECISIONS,
                  timeout: float | None = None) -> list[tuple[str, str, int, int, int, int, int]]:
    """(precision, label, predicted, measured steady growth, measured peak, anonymous and
    file-backed parts of the growth), smollm2-135m. On CUDA the growth and peak are the
    allocator's and the plan is taken for the GPU (bitsandbytes int8 included)."""
    from pipelines import models, smollm2

    source = models.resolve_source(smollm2.NAME)  # converts once, outside the measurement
    dim, ops = _demo_operators(source)
    rows = []
    for precision in precisions:
        done = subprocess.run(
            [sys.executable, __file__, "--embedded-child", smollm2.NAME, precision, str(dim),
             str(ops), device], capture_output=True, text=True, check=False, cwd=ROOT,
            timeout=timeout)
        if done.returncode != 0:
            raise RuntimeError(f"child for {precision} failed:\n{done.stderr[-2000:]}")
        got = json.loads(done.stdout.strip().splitlines()[-1])
        plan = memory.plan(model=source, precision=precision, quantum_dim=dim, operators=ops)
        predicted = memory_check.planned_bytes(plan, device, False)
        how = f", {got['int8_path']}" if got["int8_path"] else ""
        rows.append((precision, f"{smollm2.NAME} ({plan.params / 1e6:.1f}M) {precision} "
                     f"({got['dtype_loaded']}{how}), {ops} ops @{dim}",
                     predicted, got["loaded_bytes"], got["peak_bytes"], got["RssAnon"],
                     got["RssFile"]))
    return rows


# ---------------------------------------------------------------------- training steps

#: (model, precision, mode, lora rank, seq_len, batch): mode full | checkpointing | lora.
#: tiny at its recipe's batch and context (64 x 64); smollm2-135m at one 256-token sequence.
TRAINING_CASES = [
    ("tiny", "fp32", "full", None, 64, 64),
    ("tiny", "fp32", "checkpointing", None, 64, 64),
    ("tiny", "fp32", "lora", 8, 64, 64),
    ("tiny", "bf16", "full", None, 64, 64),
    ("smollm2-135m", "fp32", "full", None, 256, 1),
    ("smollm2-135m", "fp32", "checkpointing", None, 256, 1),
    ("smollm2-135m", "fp32", "lora", 8, 256, 1),
    ("smollm2-135m", "bf16", "full", None, 256, 1),
]
TRAINING_STEPS = 2  # the first makes AdamW's moments; the second is the steady state
LORA_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


def _model_folder(name: str, tmp: Path) -> tuple[Path, bool]:
    """(folder with config.json, whether it holds real weights). tiny: its recipe's config
    (no training needed to measure memory); smollm2-135m: the converted model."""
    if name == "tiny":
        from pipelines import corpus, tiny

        vocab = len(tiny.build_tokenizer(corpus.vocabulary(corpus.load_lexicon())))
        tiny.build_model(tiny.TinyRecipe(), vocab).config.save_pretrained(tmp / "tiny")
        return tmp / "tiny", False
    from pipelines import models

    return Path(models.resolve_source(name)), True


def _add_lora(model, rank: int):
    """Freeze the model and add rank-`rank` adapters (float32, B zero as LoRA starts) to
    every block Linear: the planner's `--lora-rank`, the same arithmetic as peft's."""
    import torch

    for p in model.parameters():
        p.requires_grad_(False)

    class LoRA(torch.nn.Module):
        def __init__(self, base: torch.nn.Linear):
            super().__init__()
            self.base = base
            self.a = torch.nn.Linear(base.in_features, rank, bias=False)
            self.b = torch.nn.Linear(rank, base.out_features, bias=False)
            torch.nn.init.zeros_(self.b.weight)

        def forward(self, x):
            return self.base(x) + self.b(self.a(x.to(self.a.weight.dtype))).to(x.dtype)

    for block in model.model.layers:
        for parent in (block.self_attn, block.mlp):
            for name in LORA_TARGETS:
                if hasattr(parent, name):
                    setattr(parent, name, LoRA(getattr(parent, name)))


def _warm_up(model_class, config, mode: str, device: str) -> None:
    """One step of a one-layer model of the same class, in the same mode, before the baseline:
    the modules transformers imports on a first forward, the kernels' caches and autograd's
    threads (17-30 MB on tiny, more under load) are the runtime's, not the step's, and the
    plan does not count them."""
    import copy
    import gc

    import torch

    small = copy.deepcopy(config)
    small.num_hidden_layers = 1
    with torch.device(device):
        toy = model_class._from_config(small, dtype=torch.float32, attn_implementation="eager")
    if mode == "checkpointing":
        toy.gradient_checkpointing_enable()
    toy.train()
    ids = torch.randint(0, small.vocab_size, (2, 8), device=device)
    toy(input_ids=ids, labels=ids, use_cache=False).loss.backward()
    torch.optim.AdamW(toy.parameters(), foreach=True).step()
    del toy, ids
    gc.collect()


def _training_child(folder: str, real: bool, precision: str, mode: str, rank: int | None,
                    seq_len: int, batch: int, device: str) -> dict:
    """In a fresh interpreter: imports and a warm-up step on a toy first, then the baseline,
    the model (weights read into anonymous memory), the peak reset, and TRAINING_STEPS steps."""
    import psutil
    import torch
    from transformers import MODEL_FOR_CAUSAL_LM_MAPPING, AutoConfig

    torch.set_num_threads(1)
    config = AutoConfig.from_pretrained(folder)
    model_class = MODEL_FOR_CAUSAL_LM_MAPPING[type(config)]
    _warm_up(model_class, config, mode, device)
    on_cuda = device.startswith("cuda")
    process = psutil.Process()

    def now() -> int:
        return torch.cuda.memory_allocated(device) if on_cuda else process.memory_info().rss

    dtype = getattr(torch, memory_check._TORCH_DTYPES[precision])
    before = now()
    with torch.device(device):
        model = model_class._from_config(config, dtype=dtype, attn_implementation="eager")
    if real:
        from safetensors.torch import load_file

        state = load_file(str(Path(folder) / "model.safetensors"), device=device)
        model.load_state_dict(state, strict=False)
        del state
    if mode == "lora":
        _add_lora(model, rank)
        model.to(device)
    if mode == "checkpointing":
        model.gradient_checkpointing_enable()
    model.train()
    trainable = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(trainable, lr=1e-5, foreach=True)
    ids = torch.randint(0, config.vocab_size, (batch, seq_len), device=device)
    if on_cuda:  # pragma: no cover - no GPU on this machine
        torch.cuda.reset_peak_memory_stats(device)
    else:
        memory_check._reset_peak_rss()
    for _ in range(TRAINING_STEPS):
        loss = model(input_ids=ids, labels=ids, use_cache=False).loss
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        del loss
    peak = (torch.cuda.max_memory_allocated(device) if on_cuda
            else memory_check._peak_rss()) - before
    return {"peak_bytes": max(peak, now() - before),
            "trainable": sum(p.numel() for p in trainable)}


def accelerate_training_bytes(folder: Path, precision: str) -> int:
    """accelerate's `estimate-memory` "Training using Adam" for this model: the model built
    empty (AutoModel, float32) as `create_empty_model` builds it, then its own rule, the
    largest of model, gradients, optimizer and step (not their sum; no activations)."""
    import torch
    from accelerate import init_empty_weights
    from accelerate.commands.estimate import estimate_training_usage
    from accelerate.utils import calculate_maximum_sizes
    from transformers import AutoConfig, AutoModel

    with init_empty_weights():
        model = AutoModel.from_config(AutoConfig.from_pretrained(folder), dtype=torch.float32)
    total, _largest = calculate_maximum_sizes(model)
    mixed = "float32" if precision == "fp32" else "float16"
    return max(estimate_training_usage(total, mixed).values())


def run_training_child(folder: Path, real: bool, precision: str, mode: str,
                       rank: int | None, seq_len: int, batch: int, device: str) -> dict:
    """One training case in a fresh child of this script; its JSON. glibc's mmap threshold
    is fixed at 64 KiB there: left dynamic, it rises to the size of the last freed tensor
    (up to 32 MiB), so later tensors come from the heap, whose freed pages stay resident, and
    RSS measured the allocator's fragmentation instead of what the step holds (tiny's full
    step: 344 MB of RSS with the threshold dynamic, 235 MB with it fixed)."""
    env = dict(os.environ, MALLOC_MMAP_THRESHOLD_=str(64 * 1024))
    done = subprocess.run(
        [sys.executable, __file__, "--training-child", str(folder), str(int(real)), precision,
         mode, str(rank or 0), str(seq_len), str(batch), device],
        capture_output=True, text=True, check=False, cwd=ROOT, timeout=1800, env=env)
    if done.returncode != 0:
        raise RuntimeError(f"training child failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def training_plan(folder: Path, precision: str, mode: str, rank: int | None, seq_len: int,
                  batch: int) -> memory.MemoryPlan:
    return memory.plan(model=str(folder), precision=precision, training=True,
                       lora_rank=rank, checkpointing=mode == "checkpointing",
                       seq_len=seq_len, batch=batch)


def training_rows(device: str, quick: bool, cases: list[tuple] | None = None
                  ) -> list[tuple[str, int, int, int]]:
    """(label, predicted, measured, accelerate's figure) per training case (`cases`, else
    TRAINING_CASES, tiny's only when `quick`); the plan's CUDA context left out (neither
    measurement sees it)."""
    if cases is None:
        cases = [c for c in TRAINING_CASES if not quick or c[0] == "tiny"]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folders = {name: _model_folder(name, Path(tmp)) for name in {c[0] for c in cases}}
        for name, precision, mode, rank, seq_len, batch in cases:
            folder, real = folders[name]
            predicted_plan = training_plan(folder, precision, mode, rank, seq_len, batch)
            predicted = predicted_plan.total_bytes - memory.CUDA_CONTEXT_BYTES
            got = run_training_child(folder, real, precision, mode, rank, seq_len, batch,
                                     device)
            what = f"LoRA r{rank}" if mode == "lora" else mode
            rows.append((f"{name} ({predicted_plan.params / 1e6:.1f}M) {precision} {what}, "
                         f"{batch} x {seq_len} tokens", predicted, got["peak_bytes"],
                         accelerate_training_bytes(folder, precision)))
    return rows


def print_training(device: str, quick: bool, console: Console) -> None:
    table = Table(title=f"Planner accuracy, one training step on {device} (peak "
                        f"{'RSS growth' if device == 'cpu' else 'max_memory_allocated'})")
    for name in ("Configuration", "Predicted MB", "Measured MB", "Predicted / measured",
                 "accelerate MB", "accelerate / measured"):
        table.add_column(name, justify="left" if name == "Configuration" else "right")
    ratios = []
    for label, predicted, measured, accel in training_rows(device, quick):
        ratios.append(predicted / measured)
        table.add_row(label, f"{predicted / MB:.1f}", f"{measured / MB:.1f}",
                      f"{ratios[-1]:.3f}", f"{accel / MB:.1f}", f"{accel / measured:.3f}")
    console.print(table)
    console.print(f"training, ratio predicted/measured: min {min(ratios):.3f}, max "
                  f"{max(ratios):.3f} over {len(ratios)} configurations")


def main() -> None:
    if sys.argv[1:2] == ["--embedded-child"]:
        model, precision, dim, ops = sys.argv[2:6]
        device = sys.argv[6] if len(sys.argv) > 6 else "cpu"
        print(json.dumps(_embedded_child(model, precision, int(dim), int(ops), device)))
        return
    if sys.argv[1:2] == ["--training-child"]:
        folder, real, precision, mode, rank, seq_len, batch, device = sys.argv[2:10]
        print(json.dumps(_training_child(folder, real == "1", precision, mode,
                                         int(rank) or None, int(seq_len), int(batch), device)))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu", help="cpu, or cuda to use max_memory_allocated")
    parser.add_argument("--quick", action="store_true",
                        help="only the first three cases, no smollm2-135m")
    parser.add_argument("--training", action="store_true",
                        help="only the training steps (with --quick: tiny's only)")
    args = parser.parse_args()
    console = Console(width=max(Console().width, 150))
    if args.training:
        print_training(args.device, args.quick, console)
        return
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
    console.print(table)
    console.print(f"ratio predicted/measured: min {min(ratios):.3f}, max {max(ratios):.3f} "
                  f"over {len(ratios)} configurations")
    if peaks:
        console.print("smollm2-135m, MB of RSS growth: " + "; ".join(peaks))
    print_training(args.device, args.quick, console)


if __name__ == "__main__":
    main()
