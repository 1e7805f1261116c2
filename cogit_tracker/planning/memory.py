"""Memory planner: predict, before a single weight is loaded, whether a causal LM fits on a GPU,
for inference (weights, KV cache, activations) or for a training step (gradients, AdamW's
moments, the activations kept for backward, with or without gradient checkpointing; the whole
model or LoRA adapters only), with quantum operators as one optional term, and decide where
the operators go.

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

import math
import re
from dataclasses import asdict, dataclass, field, replace

from .. import schema
from ..errors import BadInput
from ..schema import GB, PRECISION_BYTES
from .architectures import ModelArch, resolve_model
from .inputs import parse_params, parse_positive_int
from .parallel import Layout, Part, check_mode, layout

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

#: Adam keeps two moments per parameter (exp_avg, exp_avg_sq), each the parameter's size and,
#: made by torch.zeros_like, in the parameter's own dtype.
ADAM_MOMENTS = 2

#: LoRA adapters are float32 whatever the base model's precision: peft casts fp16/bf16
#: adapters up (`autocast_adapter_dtype=True`, its default), and a quantized base has no
#: trainable dtype of its own.
ADAPTER_PRECISION = "fp32"

#: Bytes per logit entry while the loss is taken and its backward begins: the logits in the
#: activation dtype, transformers' float32 upcast (when they are not float32 already), and
#: three float32 tensors of cross_entropy: log_softmax's output (kept for backward), the
#: gradient flowing into it and the gradient it hands on.
TRAINING_LOGIT_FLOAT32_COPIES = 3

#: Precisions whose weights take gradients; int8/int4 weights are trained through adapters.
TRAINABLE_PRECISIONS = ("fp32", "fp16", "bf16")

DEFAULT_SEQ_LEN = 512
DEFAULT_BATCH = 1


# --------------------------------------------------------------------------- the plan


@dataclass(frozen=True)
class LineItem:
    """One row of the plan. `kind` groups rows: weights, adapters, gradients, optimizer,
    kv_cache, activations, overlap (a negative row: what a training step never holds at once),
    operators, operator_training, cuda_context."""

    label: str
    kind: str
    bytes: int
    note: str = ""

    @property
    def gb(self) -> float:
        return self.bytes / GB


@dataclass
class Share:
    """What each of GPUs `first`..`last` holds (identical GPUs are one share), row for row
    the plan's items, a row it does not hold at 0. On one GPU the one share is the plan."""

    first: int
    last: int
    label: str
    holds: str
    items: list[LineItem]

    @property
    def total_bytes(self) -> int:
        return sum(item.bytes for item in self.items)

    @property
    def operator_bytes(self) -> int:
        """Operators with their training state: what moves as one when placed."""
        return sum(i.bytes for i in self.items if i.kind in ("operators", "operator_training"))


@dataclass(frozen=True)
class GpuFit:
    """The verdict for one GPU model: its fullest share on it (each GPU of a split holds its
    share), then with the operators where `place_operators` puts them."""

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
    quantum_dim: int | None  # None: no operators in this run
    operators: int
    training: bool  # a training step of the model (the whole of it, or its adapters)
    seq_len: int
    batch: int
    items: list[LineItem]
    arch: ModelArch | None = None
    gpus: list[GpuFit] = field(default_factory=list)
    lora_rank: int | None = None
    checkpointing: bool = False
    train_operators: bool = False
    gpu_count: int = 1
    parallel: str = "single"  # single | tensor | pipeline | even (see parallel.py)
    parallel_reason: str = ""
    shares: list[Share] = field(default_factory=list)  # what each GPU holds

    @property
    def total_bytes(self) -> int:
        """The whole model on one GPU."""
        return sum(item.bytes for item in self.items)

    @property
    def operator_bytes(self) -> int:
        """Operators with their training state: what moves as one when placed."""
        return sum(i.bytes for i in self.items if i.kind in ("operators", "operator_training"))

    @property
    def other_bytes(self) -> int:
        return self.total_bytes - self.operator_bytes

    @property
    def fullest(self) -> Share:
        """The share a GPU must hold for the split to fit: the largest (it has the
        operators)."""
        return max(self.shares, key=lambda share: share.total_bytes)

    def to_dict(self) -> dict:
        data = asdict(self)
        data["total_bytes"] = self.total_bytes
        data["operator_bytes"] = self.operator_bytes
        data["per_gpu_bytes"] = self.fullest.total_bytes
        for share, raw in zip(self.shares, data["shares"]):
            raw["total_bytes"] = share.total_bytes
        for item in data["items"] + [i for raw in data["shares"] for i in raw["items"]]:
            item["gb"] = round(item["bytes"] / GB, 3)
        return data


def weights_item(label: str, params: int, precision: str) -> LineItem:
    return LineItem(
        f"{label} weights ({precision.upper()})", "weights",
        int(math.ceil(params * PRECISION_BYTES[precision])),
        f"{params / 1e9:.2f}B params x {PRECISION_BYTES[precision]:g} B",
    )


def _split(count: int, tp: int) -> int:
    """One GPU's 1/tp of `count` (rounded up)."""
    return -(-count // tp)


def part_params(arch: ModelArch | None, params: int, part: Part) -> int:
    """Parameters on a GPU holding `part`. `params` (the whole model's, which --params may
    override) is spread over the blocks; what lies outside them is counted from the
    architecture. A tied unembedding on a last stage that is not the first is a copy of the
    embedding (Megatron-LM keeps one there). Under tensor parallel the norms (and gpt2's
    positions and row-parallel biases) stay whole, the rest is split."""
    if arch is None:
        return _split(params, part.tp)
    h = arch.hidden_size
    outside = (arch.embedding_param_count() + arch.final_norm_param_count()
               + arch.head_param_count())
    head = arch.head_param_count() or (0 if part.first else arch.vocab_size * h)
    held = (part.layers * max(params - outside, 0) // arch.num_layers
            + (arch.embedding_param_count() if part.first else 0)
            + ((arch.final_norm_param_count() + head) if part.last else 0))
    whole = (part.layers * arch.layer_replicated_param_count()
             + (arch.final_norm_param_count() if part.last else 0)
             + (arch.max_positions * h if part.first else 0))
    return whole + _split(held - whole, part.tp)


def kv_cache_bytes(arch: ModelArch, seq_len: int, batch: int, precision: str,
                   part: Part | None = None) -> int:
    """layers x 2 (K and V) x kv_heads x head_dim x tokens x batch x bytes, of the layers
    `part` holds and its 1/tp of the KV heads."""
    part = part or Part(arch.num_layers)
    return (part.layers * 2 * _split(arch.num_kv_heads, part.tp) * arch.d_head * seq_len
            * batch * ACTIVATION_BYTES[precision])


def activation_bytes(arch: ModelArch, seq_len: int, batch: int, precision: str,
                     part: Part | None = None) -> int:
    """Peak transient tensors of one forward pass over `seq_len` tokens (inference, no autograd):
    one layer's worth at a time, since each layer's outputs free the previous ones.
    Residual stream in and out, q/k/v, the MLP's two intermediate-width tensors (gate and up),
    eager attention scores (heads x seq^2), and the final logits, which HF upcasts to float32.
    A deliberate upper-ish estimate; fused attention kernels need less. Under tensor
    parallel the residual stream is whole on every GPU and the rest 1/tp; the logits are
    counted whole on the last GPUs (gathered for sampling: an upper bound)."""
    part = part or Part(arch.num_layers)
    a = ACTIVATION_BYTES[precision]
    tokens = seq_len * batch
    qkv = _split((arch.num_heads + 2 * arch.num_kv_heads) * arch.d_head, part.tp)
    width = 2 * _split(arch.intermediate_size, part.tp)
    layer = tokens * (2 * arch.hidden_size + qkv + width) * a
    scores = batch * _split(arch.num_heads, part.tp) * seq_len * seq_len * a
    logits = tokens * arch.vocab_size * 4 if part.last else 0
    return (layer + scores if part.layers else 0) + logits


def saved_layer_bytes_per_token(arch: ModelArch, precision: str, lora: bool,
                                tp: int = 1) -> int:
    """What autograd keeps of one decoder block for one token until backward reaches it
    (eager attention, HF's modelling code): per norm its float32 input and, when the norm's
    weight trains, its float32 normalised copy, plus its output in the activation dtype; the
    attention's q, k and v repeated to every head, and the heads' output; the MLP's four
    intermediate-width tensors (gate, its activation, up, their product; gpt2's GELU keeps as
    many). A frozen base under LoRA keeps the same inputs: every adapter's A needs its own.
    Under tensor parallel (`tp`) the norms' tensors are whole, the heads' and MLP's 1/tp."""
    a = ACTIVATION_BYTES[precision]
    h, i = arch.hidden_size, _split(arch.intermediate_size, tp)
    norm = (1 if lora else 2) * h * 4 + h * a
    return 2 * norm + 4 * _split(arch.num_heads, tp) * arch.d_head * a + 4 * i * a


def attention_scores_bytes(arch: ModelArch, seq_len: int, batch: int, precision: str,
                           tp: int = 1) -> int:
    """One block's eager attention probabilities kept for backward: softmax's float32 output
    (HF upcasts) and its cast back to the activation dtype when that is not float32."""
    a = ACTIVATION_BYTES[precision]
    return batch * _split(arch.num_heads, tp) * seq_len * seq_len * (4 + (a if a != 4 else 0))


def training_activation_bytes(arch: ModelArch, seq_len: int, batch: int, precision: str,
                              lora: bool, checkpointing: bool, part: Part | None = None) -> int:
    """Activations kept for backward by the blocks `part` holds (one batch in flight).
    Without checkpointing every block's; with it (HF's gradient_checkpointing_enable) each
    block's input only, plus one block's full set, recomputed while backward passes through
    it. Fused attention (SDPA, flash) keeps no scores: for them this is an upper bound."""
    part = part or Part(arch.num_layers)
    if not part.layers:
        return 0
    tokens = seq_len * batch
    block = (tokens * saved_layer_bytes_per_token(arch, precision, lora, part.tp)
             + attention_scores_bytes(arch, seq_len, batch, precision, part.tp))
    if not checkpointing:
        return part.layers * block
    return part.layers * tokens * arch.hidden_size * ACTIVATION_BYTES[precision] + block


def training_logits_bytes(arch: ModelArch, seq_len: int, batch: int, precision: str) -> int:
    """The unembedding's output through the loss and the start of its backward."""
    a = ACTIVATION_BYTES[precision]
    per_entry = a + (4 if a != 4 else 0) + TRAINING_LOGIT_FLOAT32_COPIES * 4
    return seq_len * batch * arch.vocab_size * per_entry


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
    operators: str | int | None = None,
    training: bool = False,
    seq_len: str | int = DEFAULT_SEQ_LEN,
    batch: str | int = DEFAULT_BATCH,
    lora_rank: str | int | None = None,
    checkpointing: bool = False,
    train_operators: bool = False,
    gpus: str | int = 1,
    parallel: str = "auto",
) -> MemoryPlan:
    """Estimate every line item for a model (name, config dir, or bare parameter count), for
    inference or, with `training`, one training step (the whole model, or rank-`lora_rank`
    adapters), plus `operators` (2 unless given) quantum operators of `quantum_dim` when one is
    given, trained too with `train_operators`; split over `gpus` GPUs in the `parallel` layout
    (auto, tensor, pipeline: parallel.py). Every value is checked (BadInput) before anything
    is computed; `params` overrides the count derived from the architecture."""
    if not model and params is None:
        raise BadInput("give --model NAME|DIR or --params N (e.g. --params 7.6B)")
    precision = schema.check_precision(precision)
    quantum_dim = None if quantum_dim is None else parse_positive_int("quantum_dim", quantum_dim)
    operators = _operator_count(quantum_dim, operators, train_operators)
    seq_len = parse_positive_int("seq_len", seq_len)
    batch = parse_positive_int("batch", batch)
    lora_rank = None if lora_rank is None else parse_positive_int("lora_rank", lora_rank)
    gpus = parse_positive_int("gpus", gpus)
    parallel = check_mode(parallel)
    _check_training(training, lora_rank, checkpointing, precision, model)
    arch = resolve_model(model) if model else None
    count = parse_params(params) if params is not None else arch.param_count()
    return build_plan(arch, count, precision, quantum_dim=quantum_dim, operators=operators,
                      train_operators=train_operators, training=training, lora_rank=lora_rank,
                      checkpointing=checkpointing, seq_len=seq_len, batch=batch,
                      split=layout(arch, gpus, parallel))


def _operator_count(quantum_dim: int | None, operators: str | int | None,
                    train_operators: bool) -> int:
    """Operators come with a quantum_dim; 2 (the log's pair) unless counted."""
    if quantum_dim is None:
        if operators is not None or train_operators:
            raise BadInput("--operators and --train-operators need --quantum-dim D (the "
                           "operators' dimension); without it the plan has no operators")
        return 0
    return 2 if operators is None else parse_positive_int("operators", operators)


def _check_training(training: bool, lora_rank: int | None, checkpointing: bool,
                    precision: str, model: str | None) -> None:
    """A training step needs the architecture (its activations) and weights that take
    gradients, or adapters."""
    if not training:
        if lora_rank is not None or checkpointing:
            raise BadInput("--lora-rank and --gradient-checkpointing shape a training step: "
                           "add --training")
        return
    if not model:
        raise BadInput("--training needs the architecture to count activations: give --model "
                       "NAME|DIR (a known name or a folder with config.json), not only "
                       "--params; to train only the operators, --train-operators")
    if lora_rank is None and precision not in TRAINABLE_PRECISIONS:
        raise BadInput(f"--training with {precision} weights: quantized weights take no "
                       f"gradients; accepted: --lora-rank R (adapters only), or precision "
                       f"{', '.join(TRAINABLE_PRECISIONS)}")


def build_plan(arch: ModelArch | None, params: int, precision: str, *,
               quantum_dim: int | None = None, operators: int = 0,
               train_operators: bool = False, training: bool = False,
               lora_rank: int | None = None, checkpointing: bool = False,
               seq_len: int = DEFAULT_SEQ_LEN, batch: int = DEFAULT_BATCH,
               split: Layout | None = None) -> MemoryPlan:
    """The arithmetic on already-checked values: the whole model's items, then each GPU's
    share of the `split` (one GPU unless given). Without an architecture (a bare --params,
    inference only) the KV cache and activations cannot be sized and are left out, which the
    table says."""
    split = split or layout(arch, 1)
    label = arch.name.split("/")[-1] if arch else f"{params / 1e9:.2f}B-param model"
    p = MemoryPlan(
        model=arch.name if arch else label, params=params, precision=precision,
        quantum_dim=quantum_dim, operators=operators, training=training, seq_len=seq_len,
        batch=batch, items=[], arch=arch, lora_rank=lora_rank, checkpointing=checkpointing,
        train_operators=train_operators, gpu_count=split.groups[-1].last + 1,
        parallel=split.mode, parallel_reason=split.reason,
    )
    ops = operator_items(quantum_dim, operators, train_operators) if quantum_dim else []
    context = LineItem("CUDA context", "cuda_context", CUDA_CONTEXT_BYTES, CUDA_CONTEXT_SOURCE)
    p.items = model_items(p, label, Part(arch.num_layers if arch else 0)) + ops + [context]
    p.shares = [Share(g.first, g.last, g.label, g.holds, model_items(p, label, g.part))
                for g in split.groups]
    fullest = max(p.shares, key=lambda share: share.total_bytes)
    for share in p.shares:  # the operators on the fullest GPU: an upper bound for the split
        held = ops if share is fullest else [replace(i, bytes=0, note=f"on {fullest.label}")
                                             for i in ops]
        share.items += held + [context]
    return p


def model_items(p: MemoryPlan, label: str, part: Part) -> list[LineItem]:
    """The model's rows (weights, then the training step's or the KV cache and activations)
    for a GPU holding `part` of it."""
    arch, tokens = p.arch, f"{p.seq_len} tokens x batch {p.batch}"
    items = [weights_item(label, part_params(arch, p.params, part), p.precision)]
    if p.training:
        return items + training_items(arch, p.params, p.precision, p.lora_rank,
                                      p.checkpointing, p.seq_len, p.batch, part)
    if arch:
        items.append(LineItem("KV cache", "kv_cache",
                              kv_cache_bytes(arch, p.seq_len, p.batch, p.precision, part),
                              tokens))
        items.append(LineItem("Activations (one forward)", "activations",
                              activation_bytes(arch, p.seq_len, p.batch, p.precision, part),
                              "one layer's peak + logits"))
    return items


def training_items(arch: ModelArch, params: int, precision: str, lora_rank: int | None,
                   checkpointing: bool, seq_len: int, batch: int,
                   part: Part | None = None) -> list[LineItem]:
    """One AdamW step of the model: what trains (the weights, or adapters beside frozen
    ones), its gradients, moments and the optimizer's workspace, the activations and logits
    kept for backward, and, as a negative row, what is never held at once. The peak is
    weights + moments + the larger of (activations + logits + the unembedding's gradient,
    made first in backward) and (gradients + workspace, at the step): backward frees each
    block's activations as it fills that block's gradients. On a GPU holding `part` of the
    model, all of these are its share's (LoRA adapters whole for its blocks, an upper bound
    under tensor parallel, which splits one of each pair)."""
    part = part or Part(arch.num_layers)
    lora = lora_rank is not None
    trained_precision = ADAPTER_PRECISION if lora else precision
    trained = (arch.lora_param_count(lora_rank) // arch.num_layers * part.layers if lora
               else part_params(arch, params, part))
    one = int(math.ceil(trained * PRECISION_BYTES[trained_precision]))
    what = (f"{trained / 1e6:.2f}M adapter params" if lora else f"{trained / 1e9:.2f}B params")
    dtype = trained_precision.upper()
    items = []
    if lora:
        items.append(LineItem(f"LoRA adapters (rank {lora_rank}, {dtype})", "adapters", one,
                              f"every block Linear, {part.layers} blocks"))
    tokens = f"{seq_len} tokens x batch {batch}"
    acts = training_activation_bytes(arch, seq_len, batch, precision, lora, checkpointing, part)
    other = training_activation_bytes(arch, seq_len, batch, precision, lora, not checkpointing,
                                      part)
    logits = training_logits_bytes(arch, seq_len, batch, precision) if part.last else 0
    head = 0 if lora or not part.last else (_split(arch.vocab_size * arch.hidden_size, part.tp)
                                            * int(PRECISION_BYTES[precision]))
    overlap = min(acts + logits, 2 * one - head)  # the sum of the rows less that peak
    items += [
        LineItem(f"Gradients ({dtype})", "gradients", one, f"{what} x "
                 f"{PRECISION_BYTES[trained_precision]:g} B"),
        LineItem(f"AdamW moments ({dtype})", "optimizer", ADAM_MOMENTS * one,
                 "exp_avg + exp_avg_sq, in the parameters' dtype"),
        LineItem("AdamW step workspace", "optimizer", one,
                 "torch's foreach AdamW on CUDA: one temporary per parameter"),
        LineItem("Activations kept for backward", "activations", acts,
                 f"{tokens}, eager attention, "
                 f"{'with' if checkpointing else 'no'} gradient checkpointing "
                 f"({'without' if checkpointing else 'with'}: {other / GB:.2f} GB)"),
        LineItem("Logits and loss", "activations", logits,
                 f"{tokens} x {arch.vocab_size} vocab, float32 through the loss"),
        LineItem("Not held at once", "overlap", -overlap,
                 "backward frees activations as gradients fill"),
    ]
    return items


def operator_items(quantum_dim: int, operators: int, train_operators: bool) -> list[LineItem]:
    """The operators, and with `train_operators` their gradients and Adam's moments."""
    one_op = operator_bytes(quantum_dim)
    items = [LineItem(name, "operators", one_op, f"{quantum_dim}² x 8 B (complex64)")
             for name in _operator_labels(operators)]
    if train_operators:
        items.append(LineItem("Operator gradients", "operator_training", operators * one_op,
                              "same size as the operators"))
        items.append(LineItem("Adam state (2 moments)", "operator_training",
                              ADAM_MOMENTS * operators * one_op, "exp_avg + exp_avg_sq"))
    return items


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
    """Verdict for one catalog GPU model (`spec` has key, name, vram_gb): every GPU of the
    plan is one of these, so its fullest share must fit."""
    vram = int(spec.vram_gb * GB)
    share = memory_plan.fullest
    total, other = share.total_bytes, share.total_bytes - share.operator_bytes
    device = place_operators(share.operator_bytes, "cuda", vram - other)
    placed = total if device == "cuda" else other
    return GpuFit(spec.key, spec.name, vram, total <= vram, vram - total, device, placed,
                  placed <= vram)


def plan_for_gpus(memory_plan: MemoryPlan, gpu: str | None = None,
                  all_gpus: bool = False) -> MemoryPlan:
    """Attach verdicts for one catalog GPU (`gpu` key) or every catalog GPU."""
    if gpu and all_gpus:
        raise BadInput("give either --gpu KEY or --all, not both")
    if not gpu and not all_gpus:
        return memory_plan
    from ..machine import catalog

    specs = [catalog.get(gpu)] if gpu else list(catalog.load().values())
    specs.sort(key=lambda s: s.vram_gb)
    memory_plan.gpus = [gpu_fit(memory_plan, spec) for spec in specs]
    return memory_plan


def replan(memory_plan: MemoryPlan, precision: str) -> MemoryPlan:
    """The same run, on the same GPUs, at another precision (for advice on what would fit)."""
    p = memory_plan
    return build_plan(p.arch, p.params, precision, quantum_dim=p.quantum_dim,
                      operators=p.operators, train_operators=p.train_operators,
                      training=p.training, lora_rank=p.lora_rank,
                      checkpointing=p.checkpointing, seq_len=p.seq_len, batch=p.batch,
                      split=layout(p.arch, p.gpu_count, _mode_of(p)))


def _mode_of(p: MemoryPlan) -> str:
    """The layout to ask for again: the one the plan has (auto picks the rest)."""
    return p.parallel if p.parallel in ("tensor", "pipeline") else "auto"
