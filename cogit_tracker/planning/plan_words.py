"""What the planner says in words: the way out of a CUDA OOM, a plan's title, and the notes that
explain its figures (the log's operator size, what training adds, the unit of VRAM)."""
from __future__ import annotations

from ..schema import GB, PRECISION_BYTES
from .memory import PLACEMENT_MARGIN, MemoryPlan, replan


def oom_advice(memory_plan: MemoryPlan) -> str:
    """One paragraph for the pipelines to print after a CUDA OOM: what the plan says the run
    needs, and the concrete ways out with their sizes."""
    p = memory_plan
    weights = next(i for i in p.items if i.kind == "weights")
    gpu = p.gpus[0] if p.gpus else None
    where = (f"; the {gpu.name} has {gpu.vram_bytes / GB:.1f} GB"
             if gpu else "")
    ways = []
    full_training = p.training and p.lora_rank is None  # its weights must take gradients
    for cheaper in ("fp16",) if full_training else ("fp16", "int8"):
        if PRECISION_BYTES[cheaper] < PRECISION_BYTES[p.precision]:
            alt = replan(p, cheaper)
            ways.append(f"load the weights in {cheaper} ({alt.total_bytes / GB:.1f} GB in all)")
    if p.operators:
        ways.append(f"keep the operators on the CPU (memory.place_operators does so when free "
                    f"memory is under {PLACEMENT_MARGIN:g}x their {p.operator_bytes / GB:.2f} "
                    "GB)")
        ways.append("lower --quantum-dim (operators grow with its square)")
    if p.training and not p.checkpointing:
        ways.append("turn on gradient checkpointing (`plan --gradient-checkpointing` sizes it)")
    if p.training and p.lora_rank is None:
        ways.append("train LoRA adapters only (`plan --lora-rank R` sizes it)")
    ways.append(f"or rent a GPU with more than {p.total_bytes / GB:.1f} GB "
                "(`cogit-log plan --all` lists them)")
    if gpu and gpu.fits:
        ways.insert(0, f"the plan fits the {gpu.name} with {gpu.free_after_bytes / GB:.1f} GB "
                       "spare, so look first at what it does not model: another process on "
                       "the GPU, sequences longer than --seq-len, allocator fragmentation")
    dtype_hint = ("" if p.precision != "fp32" else
                  " If you meant fp16, check cogit.model.dtype_loaded: the log's "
                  "\"FP16 ~30 GB\" was a float32 load.")
    operators = f"{p.operator_bytes / GB:.2f} GB of operators, " if p.operators else ""
    rest = ("gradients, optimizer state, activations" if p.training
            else "cache, activations")
    return (
        f"CUDA ran out of memory. The planner puts this run at {p.total_bytes / GB:.1f} GB: "
        f"{weights.gb:.1f} GB of {p.precision} weights, {operators}"
        f"{(p.other_bytes - weights.bytes) / GB:.1f} GB of {rest} and "
        f"CUDA context{where}. To fit: " + "; ".join(ways) + "." + dtype_hint
    )


def title(memory_plan: MemoryPlan) -> str:
    """The plan's heading: the model, what the run does, and its operators if any."""
    p = memory_plan
    if not p.training:
        doing = "inference"
    elif p.lora_rank is not None:
        doing = f"LoRA rank {p.lora_rank} training"
    else:
        doing = "full training"
    if p.training and p.checkpointing:
        doing += " with gradient checkpointing"
    if p.arch is not None:
        doing += f", {p.seq_len} tokens x batch {p.batch}"
    ops = (f", quantum_dim {p.quantum_dim}, {p.operators} operator(s)"
           f"{' trained' if p.train_operators else ''}" if p.operators else "")
    split = f", on {p.gpu_count} GPUs ({PARALLEL_WORDS[p.parallel]})" if p.gpu_count > 1 else ""
    return f"Memory plan: {p.model}, {p.precision}, {doing}{ops}{split}"


#: How the title names each layout (parallel.py).
PARALLEL_WORDS = {"tensor": "tensor parallel", "pipeline": "pipeline parallel",
                  "even": "split evenly, layout unknown"}


#: Why the log's "1.4 GB per operator" is twice the truth; printed under every table.
LOG_OPERATOR_NOTE = (
    "Each operator is a quantum_dim² complex64 matrix, 8 B an entry: 9333² x 8 B = 0.70 GB. "
    "The log's 1.4 GB (\"174M params x 2 complex x 4 bytes\") counts the real/imaginary split "
    "twice: the 174M real parameters already are the two parts of 87M complex entries. "
    "Training adds gradients and Adam's two moments: 4x the operator."
)
#: Printed under a --train-operators plan: what the 4x does not include, with what we measured.
OPERATOR_TRAINING_NOTE = (
    "Not counted: the transient workspace of making U from its generator in each step. "
    "For U = matrix_exp(A - A^H), whose backward exponentiates a 2D x 2D matrix, one "
    "forward+backward+Adam step peaked 40-64 x D² complex entries above the steady state "
    "(CPU RSS, D = 512-1024, this project's measurement); a Cayley solve, 3-5 x D²."
)
#: Printed under a --training plan: what its rows assume, and how they were checked.
TRAINING_NOTE = (
    "A training step peaks at weights + AdamW's moments + the larger of (activations + logits "
    "+ the unembedding's gradient) and (gradients + the step's workspace): backward frees each "
    "block's activations as it fills its gradients, so 'Not held at once' takes the smaller "
    "back. Weights, gradients and moments share the weights' precision (pure fp16/bf16, as "
    "torch.optim.AdamW keeps them; for autocast mixed precision plan fp32); LoRA adapters "
    "are float32. Activations assume eager attention, no dropout; SDPA or flash attention "
    "needs less. bench/planner_accuracy.py holds this against measured steps."
)
#: Printed when a GPU is shown: the unit choice is the planner's margin, and should be visible.
VRAM_UNIT_NOTE = (
    "VRAM is read as the catalog's decimal GB; the chips hold GiB (7 % more), which the "
    "planner keeps as margin for what it does not model (fragmentation, load-time copies)."
)


#: Printed under a plan split over several GPUs: what each share counts, and what it does not.
PARALLEL_NOTE = (
    "Each GPU holds its share: under tensor parallel 1/N of every layer's weights, KV heads, "
    "attention and MLP activations (and, training, of their gradients and AdamW state), the "
    "norms and the residual stream whole; under pipeline parallel its stage's layers, their "
    "KV cache and activations, the embedding on the first and the head and logits on the "
    "last (a tied head as its own copy). Logits are counted whole where they are made (an "
    "upper bound: Megatron-LM's vocab-parallel loss keeps 1/N); operators on the fullest GPU; "
    "a CUDA context on every GPU. Not counted: communication buffers (NCCL) and the "
    "all-reduce's temporaries; pipeline micro-batching (one batch in flight: with a 1F1B "
    "schedule the first stage keeps up to N micro-batches' activations). Data parallel "
    "(a whole replica per GPU) needs what one GPU needs: plan it with --gpus 1."
)


def notes(memory_plan: MemoryPlan) -> list[str]:
    """What is printed under a plan: what applies of the operator, training, split and unit
    notes."""
    out = [PARALLEL_NOTE] if memory_plan.gpu_count > 1 else []
    if memory_plan.operators:
        out.append(LOG_OPERATOR_NOTE)
    if memory_plan.train_operators:
        out.append(OPERATOR_TRAINING_NOTE)
    if memory_plan.training:
        out.append(TRAINING_NOTE)
    if memory_plan.gpus:
        out.append(VRAM_UNIT_NOTE)
    return out
