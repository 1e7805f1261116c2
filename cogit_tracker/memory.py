"""Memory planner: predict, before a single weight is loaded, whether a model plus its quantum
operators fits on a GPU, and decide where the operators go.

Why this exists: the researcher's Phase 3 died with `torch.OutOfMemoryError` on a 32 GB
RTX 5090 because nobody added up "7.6B float32 weights + two 9333x9333 complex operators"
beforehand (captains-log-2025-11.md, Decision #001). Every figure below is arithmetic on
published architecture values; the few constants that are not (CUDA context) say where they
come from.

Units: bytes internally; shown as GB = 1e9 bytes, the unit the log uses ("30 GB" for 7.6B
float32 parameters). A catalog GPU's `vram_gb` is read in the same decimal unit, so a "32 GB"
card is planned as 32e9 bytes. Its chips really hold 32 GiB (34.4e9 B, ~34.2e9 usable as CUDA
reports it): the ~2 GB we deliberately leave out is the planner's safety margin for what it
does not model (allocator fragmentation, transient copies while loading, kernels' workspaces).

Operators: one quantum_dim x quantum_dim complex64 matrix each, 0.70 GB at 9333. The log's
"1.4 GB (174M params x 2 complex x 4 bytes)" counts the real/imaginary split twice (174M real
numbers already are the two parts of 9333^2 = 87M complex entries). Its 2.6 GB on disk for two
operators says each checkpoint held two such matrices (e.g. a generator and the unitary made
from it); an operator that keeps both resident should be planned as two (`--operators 4`).
"""
from __future__ import annotations

import json
import math
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .errors import BadInput

GB = 1_000_000_000

#: Bytes per stored weight. int8/int4 are the bitsandbytes/GPTQ-style packed sizes; their
#: scales and zero points add ~1-3 % that we ignore.
PRECISION_BYTES: dict[str, float] = {"fp32": 4, "fp16": 2, "bf16": 2, "int8": 1, "int4": 0.5}
_PRECISION_ALIASES = {"float32": "fp32", "float16": "fp16", "half": "fp16", "bfloat16": "bf16"}

#: Bytes of one activation / KV-cache entry. Quantized weights are de-quantized on the fly and
#: the arithmetic runs in half precision (bitsandbytes' default compute dtype is fp16).
ACTIVATION_BYTES: dict[str, int] = {"fp32": 4, "fp16": 2, "bf16": 2, "int8": 2, "int4": 2}

#: complex64: two float32 parts.
COMPLEX64_BYTES = 8

#: Memory the CUDA driver and PyTorch's kernels take before the first tensor: measured at
#: 128-256 MiB per GPU with lazy module loading (InvokeAI PR #9447, 2026) and 781 MB with eager
#: loading (pytorch/pytorch#34323); cuBLAS workspaces come on top. 0.5 GB sits between them.
CUDA_CONTEXT_BYTES = 500_000_000
CUDA_CONTEXT_SOURCE = "0.13-0.78 GB measured (InvokeAI PR #9447, pytorch/pytorch#34323)"

#: The log's rule (Decision #001): operators go on the GPU only with 20 % to spare.
PLACEMENT_MARGIN = 1.2

#: Adam keeps two moments per parameter (exp_avg, exp_avg_sq), each the parameter's size.
ADAM_MOMENTS = 2

DEFAULT_SEQ_LEN = 512
DEFAULT_BATCH = 1


# --------------------------------------------------------------------------- architecture


@dataclass(frozen=True)
class ModelArch:
    """What the planner needs of a causal LM: the HF config.json values, and where from."""

    name: str
    family: str  # "llama" (Qwen2, Llama, Mistral: gated MLP, RMSNorm) or "gpt2"
    hidden_size: int
    num_layers: int
    num_heads: int
    num_kv_heads: int
    intermediate_size: int
    vocab_size: int
    tie_word_embeddings: bool
    qkv_bias: bool = False
    head_dim: int | None = None
    max_positions: int = 0  # learned position embeddings (gpt2 only)
    source: str = ""

    @property
    def d_head(self) -> int:
        return self.head_dim or self.hidden_size // self.num_heads

    def param_count(self) -> int:
        """Parameters as `sum(p.numel())` counts them (tied embeddings once)."""
        h, v, i = self.hidden_size, self.vocab_size, self.intermediate_size
        if self.family == "gpt2":
            per_layer = 2 * h + (h * 3 * h + 3 * h) + (h * h + h) + 2 * h + (h * i + i) + (i * h + h)
            return v * h + self.max_positions * h + self.num_layers * per_layer + 2 * h
        q = self.num_heads * self.d_head
        kv = self.num_kv_heads * self.d_head
        attn = h * q + 2 * h * kv + q * h + ((q + 2 * kv) if self.qkv_bias else 0)
        per_layer = attn + 3 * h * i + 2 * h
        head = 0 if self.tie_word_embeddings else v * h
        return v * h + self.num_layers * per_layer + h + head


_QWEN_SRC = "published config.json of Qwen/{}"
#: Published config.json values (huggingface.co/<name>/blob/main/config.json). Counts these
#: give equal the model cards' (0.49B, 1.54B, 3.09B, 7.61B, 8.03B, 7.24B, 124M): tested.
KNOWN_MODELS: dict[str, ModelArch] = {
    a.name: a
    for a in [
        ModelArch("Qwen/Qwen2.5-0.5B-Instruct", "llama", 896, 24, 14, 2, 4864, 151936, True,
                  qkv_bias=True, source=_QWEN_SRC.format("Qwen2.5-0.5B-Instruct")),
        ModelArch("Qwen/Qwen2.5-1.5B-Instruct", "llama", 1536, 28, 12, 2, 8960, 151936, True,
                  qkv_bias=True, source=_QWEN_SRC.format("Qwen2.5-1.5B-Instruct")),
        ModelArch("Qwen/Qwen2.5-3B-Instruct", "llama", 2048, 36, 16, 2, 11008, 151936, True,
                  qkv_bias=True, source=_QWEN_SRC.format("Qwen2.5-3B-Instruct")),
        ModelArch("Qwen/Qwen2.5-7B-Instruct", "llama", 3584, 28, 28, 4, 18944, 152064, False,
                  qkv_bias=True, source=_QWEN_SRC.format("Qwen2.5-7B-Instruct")),
        ModelArch("meta-llama/Llama-3.1-8B", "llama", 4096, 32, 32, 8, 14336, 128256, False,
                  source="published config.json of meta-llama/Llama-3.1-8B"),
        ModelArch("mistralai/Mistral-7B-v0.1", "llama", 4096, 32, 32, 8, 14336, 32000, False,
                  source="published config.json of mistralai/Mistral-7B-v0.1"),
        ModelArch("openai-community/gpt2", "gpt2", 768, 12, 12, 12, 3072, 50257, True,
                  max_positions=1024, source="published config.json of openai-community/gpt2"),
    ]
}


def _lookup_known(name: str) -> ModelArch | None:
    """Match the full hub name or the part after the slash, ignoring case ("gpt2" works)."""
    wanted = name.strip().lower()
    for full, arch in KNOWN_MODELS.items():
        if wanted in (full.lower(), full.split("/", 1)[1].lower()):
            return arch
    return None


def arch_from_config(config: dict, name: str, source: str) -> ModelArch:
    """Read an HF config.json dict. Qwen2 always has q/k/v biases (no config key says so);
    Llama-style configs say it with `attention_bias`."""
    model_type = str(config.get("model_type", ""))
    if model_type == "gpt2" or "n_embd" in config:
        h = _config_int(config, "n_embd", source)
        return ModelArch(
            name, "gpt2", h, _config_int(config, "n_layer", source),
            _config_int(config, "n_head", source), _config_int(config, "n_head", source),
            int(config.get("n_inner") or 4 * h), _config_int(config, "vocab_size", source),
            bool(config.get("tie_word_embeddings", True)),
            max_positions=_config_int(config, "n_positions", source), source=source,
        )
    heads = _config_int(config, "num_attention_heads", source)
    return ModelArch(
        name, "llama",
        _config_int(config, "hidden_size", source),
        _config_int(config, "num_hidden_layers", source),
        heads,
        int(config.get("num_key_value_heads") or heads),
        _config_int(config, "intermediate_size", source),
        _config_int(config, "vocab_size", source),
        bool(config.get("tie_word_embeddings", False)),
        qkv_bias=model_type == "qwen2" or bool(config.get("attention_bias", False)),
        head_dim=config.get("head_dim") or None,
        source=source,
    )


def _config_int(config: dict, key: str, source: str) -> int:
    value = config.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise BadInput(f"{source} has {key}={value!r}; a positive integer is needed")
    return value


def resolve_model(model: str) -> ModelArch:
    """A known model name, or a local directory (or file) holding an HF `config.json`."""
    arch = _lookup_known(model)
    if arch is not None:
        return arch
    path = Path(model).expanduser()
    if path.exists():
        config_path = path / "config.json" if path.is_dir() else path
        try:
            config = json.loads(config_path.read_text())
        except (OSError, ValueError) as exc:
            raise BadInput(
                f"cannot read {config_path} ({exc.__class__.__name__}); pass a directory "
                "with an HF config.json"
            ) from None
        if not isinstance(config, dict):
            raise BadInput(f"{config_path} is not a JSON object; expected an HF config.json")
        return arch_from_config(config, name=path.name, source=str(config_path))
    if model.startswith(("/", ".", "~")):
        raise BadInput(f"no such directory {model!r}; pass a directory with an HF config.json")
    raise BadInput(
        f"unknown model {model!r}; accepted: {', '.join(KNOWN_MODELS)}, "
        "a directory with config.json, or --params N"
    )


# --------------------------------------------------------------------------- parsing


def parse_precision(precision: str) -> str:
    key = _PRECISION_ALIASES.get(str(precision).lower(), str(precision).lower())
    if key not in PRECISION_BYTES:
        raise BadInput(f"unknown precision {precision!r}; accepted: {', '.join(PRECISION_BYTES)}")
    return key


_SUFFIX = {"": 1, "k": 10**3, "m": 10**6, "b": 10**9, "g": 10**9, "t": 10**12}


def parse_params(value: str | int) -> int:
    """'7.6B', '124M', '7615616512' or 7.6e9 -> an integer parameter count."""
    match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+(?:e[0-9]+)?)\s*([kmbgt]?)\s*", str(value).lower())
    count = float(match.group(1)) * _SUFFIX[match.group(2)] if match else 0
    if count < 1:
        raise BadInput(f"bad parameter count {value!r}; give a positive number such as 7.6B or 124M")
    return int(count)


def parse_positive_int(name: str, value: str | int) -> int:
    """Click's own int type would print a usage block; we want one line."""
    if value is None:
        raise BadInput(f"{name} is required: a positive integer")
    try:
        number = int(str(value).strip())
    except ValueError:
        number = 0
    if number <= 0:
        raise BadInput(f"{name} must be a positive integer, got {value!r}")
    return number


# --------------------------------------------------------------------------- the plan


@dataclass(frozen=True)
class LineItem:
    """One row of the plan. `kind` groups rows: weights, kv_cache, activations, operators,
    operator_training, cuda_context."""

    label: str
    kind: str
    bytes: int
    note: str = ""

    @property
    def gb(self) -> float:
        return self.bytes / GB


@dataclass(frozen=True)
class GpuFit:
    """The verdict for one GPU: everything on it, then with the operators where
    `place_operators` puts them."""

    key: str
    name: str
    vram_bytes: int
    fits: bool  # everything, operators included, on the GPU
    free_after_bytes: int  # VRAM - total (negative: short by that much)
    operator_device: str  # "cuda" or "cpu"
    gpu_bytes_placed: int  # what the GPU holds once the operators are placed
    fits_placed: bool


@dataclass
class MemoryPlan:
    """The full estimate and its inputs (kept so `oom_advice` can re-plan alternatives)."""

    model: str
    params: int
    precision: str
    quantum_dim: int
    operators: int
    training: bool
    seq_len: int
    batch: int
    items: list[LineItem]
    arch: ModelArch | None = None
    gpus: list[GpuFit] = field(default_factory=list)

    @property
    def total_bytes(self) -> int:
        return sum(item.bytes for item in self.items)

    @property
    def operator_bytes(self) -> int:
        """Operators with their training state: what moves as one when placed."""
        return sum(i.bytes for i in self.items if i.kind in ("operators", "operator_training"))

    @property
    def other_bytes(self) -> int:
        return self.total_bytes - self.operator_bytes

    def to_dict(self) -> dict:
        data = asdict(self)
        data["total_bytes"] = self.total_bytes
        data["operator_bytes"] = self.operator_bytes
        for item in data["items"]:
            item["gb"] = round(item["bytes"] / GB, 3)
        return data


def weights_item(label: str, params: int, precision: str) -> LineItem:
    return LineItem(
        f"{label} weights ({precision.upper()})", "weights",
        int(math.ceil(params * PRECISION_BYTES[precision])),
        f"{params / 1e9:.2f}B params x {PRECISION_BYTES[precision]:g} B",
    )


def kv_cache_bytes(arch: ModelArch, seq_len: int, batch: int, precision: str) -> int:
    """layers x 2 (K and V) x kv_heads x head_dim x tokens x batch x bytes."""
    return (arch.num_layers * 2 * arch.num_kv_heads * arch.d_head * seq_len * batch
            * ACTIVATION_BYTES[precision])


def activation_bytes(arch: ModelArch, seq_len: int, batch: int, precision: str) -> int:
    """Peak transient tensors of one forward pass over `seq_len` tokens (inference, no autograd):
    one layer's worth at a time, since each layer's outputs free the previous ones.
    Residual stream in and out, q/k/v, the MLP's two intermediate-width tensors (gate and up),
    eager attention scores (heads x seq^2), and the final logits, which HF upcasts to float32.
    A deliberate upper-ish estimate; fused attention kernels need less."""
    a = ACTIVATION_BYTES[precision]
    tokens = seq_len * batch
    qkv = (arch.num_heads + 2 * arch.num_kv_heads) * arch.d_head
    layer = tokens * (2 * arch.hidden_size + qkv + 2 * arch.intermediate_size) * a
    scores = batch * arch.num_heads * seq_len * seq_len * a
    logits = tokens * arch.vocab_size * 4
    return layer + scores + logits


def operator_bytes(quantum_dim: int) -> int:
    """One unitary operator: a quantum_dim x quantum_dim complex64 matrix."""
    return quantum_dim * quantum_dim * COMPLEX64_BYTES


def _operator_labels(count: int) -> list[str]:
    """The log's two operators get its names; other counts are numbered."""
    if count == 2:
        return ["Operator U_pos→neg", "Operator U_neg→pos"]
    return [f"Operator {n + 1}" for n in range(count)]


def plan(
    model: str | None = None,
    params: str | int | None = None,
    precision: str = "fp32",
    quantum_dim: str | int | None = None,
    operators: str | int = 2,
    training: bool = False,
    seq_len: str | int = DEFAULT_SEQ_LEN,
    batch: str | int = DEFAULT_BATCH,
) -> MemoryPlan:
    """Estimate every line item for a model (name, config dir, or bare parameter count) plus
    `operators` unitary operators of `quantum_dim`. Every value is checked (BadInput) before
    anything is computed; `params` overrides the count derived from the architecture."""
    if not model and params is None:
        raise BadInput("give --model NAME|DIR or --params N (e.g. --params 7.6B)")
    precision = parse_precision(precision)
    quantum_dim = parse_positive_int("quantum_dim", quantum_dim)
    operators = parse_positive_int("operators", operators)
    seq_len = parse_positive_int("seq_len", seq_len)
    batch = parse_positive_int("batch", batch)
    arch = resolve_model(model) if model else None
    count = parse_params(params) if params is not None else arch.param_count()
    return build_plan(arch, count, precision, quantum_dim, operators, training, seq_len, batch)


def build_plan(arch: ModelArch | None, params: int, precision: str, quantum_dim: int,
               operators: int, training: bool, seq_len: int, batch: int) -> MemoryPlan:
    """The arithmetic on already-checked values. Without an architecture (a bare --params)
    the KV cache and activations cannot be sized and are left out, which the table says."""
    label = arch.name.split("/")[-1] if arch else f"{params / 1e9:.2f}B-param model"
    items = [weights_item(label, params, precision)]
    if arch:
        items.append(LineItem(
            "KV cache", "kv_cache", kv_cache_bytes(arch, seq_len, batch, precision),
            f"{seq_len} tokens x batch {batch}"))
        items.append(LineItem(
            "Activations (one forward)", "activations",
            activation_bytes(arch, seq_len, batch, precision), "one layer's peak + logits"))
    one_op = operator_bytes(quantum_dim)
    for name in _operator_labels(operators):
        items.append(LineItem(name, "operators", one_op, f"{quantum_dim}² x 8 B (complex64)"))
    if training:
        items.append(LineItem("Operator gradients", "operator_training", operators * one_op,
                              "same size as the operators"))
        items.append(LineItem("Adam state (2 moments)", "operator_training",
                              ADAM_MOMENTS * operators * one_op, "exp_avg + exp_avg_sq"))
    items.append(LineItem("CUDA context", "cuda_context", CUDA_CONTEXT_BYTES, CUDA_CONTEXT_SOURCE))
    return MemoryPlan(
        model=arch.name if arch else label, params=params, precision=precision,
        quantum_dim=quantum_dim, operators=operators, training=training, seq_len=seq_len,
        batch=batch, items=items, arch=arch,
    )


# --------------------------------------------------------------------------- GPUs, placement


def place_operators(operator_bytes: int, device: str, free_bytes: int | None = None) -> str:
    """Where the operators should live: `device` (a CUDA device) when its free memory exceeds
    their size by 20 %, else "cpu". `free_bytes` is what the GPU will have free once everything
    else is loaded; on a real CUDA device and without it, torch.cuda.mem_get_info() is read,
    so call this after the model is on the GPU. Pipelines call exactly this."""
    device = str(device)
    if device == "cpu":
        return "cpu"
    if not re.fullmatch(r"cuda(:\d+)?", device):
        raise BadInput(f"unknown device {device!r}; accepted: cpu, cuda, cuda:N")
    if free_bytes is None:
        import torch

        if not torch.cuda.is_available():
            return "cpu"
        free_bytes, _total = torch.cuda.mem_get_info(torch.device(device))
    return device if free_bytes > PLACEMENT_MARGIN * operator_bytes else "cpu"


def gpu_fit(memory_plan: MemoryPlan, spec) -> GpuFit:
    """Verdict for one catalog GPU (`spec` has key, name, vram_gb)."""
    vram = int(spec.vram_gb * GB)
    total = memory_plan.total_bytes
    device = place_operators(memory_plan.operator_bytes, "cuda", vram - memory_plan.other_bytes)
    placed = total if device == "cuda" else memory_plan.other_bytes
    return GpuFit(spec.key, spec.name, vram, total <= vram, vram - total, device, placed,
                  placed <= vram)


def plan_for_gpus(memory_plan: MemoryPlan, gpu: str | None = None,
                  all_gpus: bool = False) -> MemoryPlan:
    """Attach verdicts for one catalog GPU (`gpu` key) or every catalog GPU."""
    if gpu and all_gpus:
        raise BadInput("give either --gpu KEY or --all, not both")
    if not gpu and not all_gpus:
        return memory_plan
    from . import catalog

    specs = [catalog.get(gpu)] if gpu else list(catalog.load().values())
    specs.sort(key=lambda s: s.vram_gb)
    memory_plan.gpus = [gpu_fit(memory_plan, spec) for spec in specs]
    return memory_plan


# --------------------------------------------------------------------------- OOM advice


def _with_precision(memory_plan: MemoryPlan, precision: str) -> MemoryPlan:
    p = memory_plan
    return build_plan(p.arch, p.params, precision, p.quantum_dim, p.operators, p.training,
                      p.seq_len, p.batch)


def oom_advice(memory_plan: MemoryPlan) -> str:
    """One paragraph for the pipelines to print after a CUDA OOM: what the plan says the run
    needs, and the concrete ways out with their sizes."""
    p = memory_plan
    weights = next(i for i in p.items if i.kind == "weights")
    gpu = p.gpus[0] if p.gpus else None
    where = (f"; the {gpu.name} has {gpu.vram_bytes / GB:.1f} GB"
             if gpu else "")
    ways = []
    for cheaper in ("fp16", "int8"):
        if PRECISION_BYTES[cheaper] < PRECISION_BYTES[p.precision]:
            alt = _with_precision(p, cheaper)
            ways.append(f"load the weights in {cheaper} ({alt.total_bytes / GB:.1f} GB in all)")
    ways.append(f"keep the operators on the CPU (memory.place_operators does so when free "
                f"memory is under {PLACEMENT_MARGIN:g}x their {p.operator_bytes / GB:.2f} GB)")
    ways.append("lower --quantum-dim (operators grow with its square)")
    ways.append(f"or rent a GPU with more than {p.total_bytes / GB:.1f} GB "
                "(`cogit-log plan --all` lists them)")
    if gpu and gpu.fits:
        ways.insert(0, f"the plan fits the {gpu.name} with {gpu.free_after_bytes / GB:.1f} GB "
                       "spare, so look first at what it does not model: another process on "
                       "the GPU, sequences longer than --seq-len, allocator fragmentation")
    dtype_hint = ("" if p.precision != "fp32" else
                  " If you meant fp16, check cogit.model.dtype_loaded: the log's "
                  "\"FP16 ~30 GB\" was a float32 load.")
    return (
        f"CUDA ran out of memory. The planner puts this run at {p.total_bytes / GB:.1f} GB: "
        f"{weights.gb:.1f} GB of {p.precision} weights, {p.operator_bytes / GB:.2f} GB of "
        f"operators, {(p.other_bytes - weights.bytes) / GB:.1f} GB of cache, activations and "
        f"CUDA context{where}. To fit: " + "; ".join(ways) + "." + dtype_hint
    )


# --------------------------------------------------------------------------- display

#: Why the log's "1.4 GB per operator" is twice the truth; printed under every table.
LOG_OPERATOR_NOTE = (
    "Each operator is a quantum_dim² complex64 matrix, 8 B an entry: 9333² x 8 B = 0.70 GB. "
    "The log's 1.4 GB (\"174M params x 2 complex x 4 bytes\") counts the real/imaginary split "
    "twice: the 174M real parameters already are the two parts of 87M complex entries. "
    "Training adds gradients and Adam's two moments: 4x the operator."
)
#: Printed under a --training plan: what the 4x does not include, with what we measured.
TRAINING_NOTE = (
    "Not counted: the transient workspace of making U from its generator in each step. "
    "For U = matrix_exp(A - A^H), whose backward exponentiates a 2D x 2D matrix, one "
    "forward+backward+Adam step peaked 40-64 x D² complex entries above the steady state "
    "(CPU RSS, D = 512-1024, this project's measurement); a Cayley solve, 3-5 x D²."
)
#: Printed when a GPU is shown: the unit choice is the planner's margin, and should be visible.
VRAM_UNIT_NOTE = (
    "VRAM is read as the catalog's decimal GB; the chips hold GiB (7 % more), which the "
    "planner keeps as margin for what it does not model (fragmentation, load-time copies)."
)


def renderables(memory_plan: MemoryPlan) -> list:
    """Rich tables in the log's shape: line items, total, then GPU available and fits?"""
    from rich.table import Table

    p = memory_plan
    items = Table(title=f"Memory plan: {p.model}, {p.precision}, quantum_dim {p.quantum_dim}, "
                        f"{p.operators} operator(s){', training' if p.training else ''}")
    items.add_column("Item")
    items.add_column("GB", justify="right")
    items.add_column("Note", overflow="fold")
    for item in p.items:
        items.add_row(item.label, f"{item.gb:.2f}", item.note)
    if p.arch is None:
        items.add_row("KV cache, activations", "?", "need the architecture: pass --model")
    items.add_row("Total needed", f"{p.total_bytes / GB:.2f}", "", style="bold")
    out: list = [items]
    if len(p.gpus) == 1:
        g = p.gpus[0]
        items.add_row(f"GPU available ({g.name})", f"{g.vram_bytes / GB:.2f}", g.key)
        items.add_row("Fits?", "yes" if g.fits else "NO", _fit_note(g), style=_fit_style(g))
        items.add_row("Operators go on", g.operator_device,
                      f"GPU then holds {g.gpu_bytes_placed / GB:.2f} GB"
                      f" ({'fits' if g.fits_placed else 'still does not fit'})")
    elif p.gpus:
        gpus = Table(title="Per GPU")
        for name in ("GPU", "VRAM GB", "Fits?", "Free after GB", "Operators on",
                     "GPU then holds GB"):
            gpus.add_column(name, justify="left" if name == "GPU" else "right")
        for g in p.gpus:
            gpus.add_row(f"{g.key} ({g.name})", f"{g.vram_bytes / GB:.1f}",
                         "yes" if g.fits else "NO", f"{g.free_after_bytes / GB:.2f}",
                         g.operator_device,
                         f"{g.gpu_bytes_placed / GB:.2f} ({'fits' if g.fits_placed else 'NO'})",
                         style=_fit_style(g))
        out.append(gpus)
    out.append(LOG_OPERATOR_NOTE)
    if p.training:
        out.append(TRAINING_NOTE)
    if p.gpus:
        out.append(VRAM_UNIT_NOTE)
    return out


def _fit_note(g: GpuFit) -> str:
    if g.fits:
        return f"{g.free_after_bytes / GB:.2f} GB free after"
    return f"short by {-g.free_after_bytes / GB:.2f} GB"


def _fit_style(g: GpuFit) -> str:
    """Green: all fits; yellow: fits only with the operators on the CPU; red: does not fit."""
    return "green" if g.fits else "yellow" if g.fits_placed else "red"
