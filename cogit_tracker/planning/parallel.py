"""How the planner splits one model over N GPUs (`plan --gpus N`): which parallelism, and what
each GPU holds. The memory each share needs is `memory.py`'s arithmetic on a `Part`.

Why this exists: the reference log says "70B FP16 = ~140GB, won't fit on H100" and stops
there; two H100s hold it. The split follows Megatron-LM's layouts (Shoeybi et al. 2019;
Narayanan et al. 2021), the ones vLLM, DeepSpeed and transformers' `tp_plan` also use:

- tensor parallel: every GPU holds every layer, with its attention heads, KV heads and MLP
  width split N ways and its norms whole; the embedding and unembedding split by vocabulary.
  It needs the heads and the KV heads to divide by N, and is chosen whenever they do: every
  GPU then holds the same 1/N, and each token's work is spread over all of them.
- pipeline parallel: each GPU holds whole consecutive layers (a "stage"), the first the input
  embedding, the last the final norm and the unembedding (a tied one as its own copy, which
  Megatron-LM keeps on the last stage). Chosen when the heads do not divide, or asked for.
- a bare parameter count (no architecture) is split evenly, the share either layout gives
  the weights; the table says the layout is unknown.

A training step on N GPUs is planned in the same layouts: each GPU's weights, gradients and
AdamW state are those of its share (as Megatron-LM shards them). Data parallel, where each
GPU holds a whole replica, needs what one GPU needs: plan it with `--gpus 1`.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass

from ..errors import BadInput
from .architectures import ModelArch

#: What `--parallel` accepts: auto picks tensor parallel when the heads divide, else pipeline.
MODES = ("auto", "tensor", "pipeline")


@dataclass(frozen=True)
class Part:
    """What one GPU holds of the model: `layers` decoder blocks, each split `tp` ways (tensor
    parallel), the input embedding when `first`, the final norm, the unembedding and the
    logits when `last`. One GPU holds `Part(num_layers)`. Without an architecture (a bare
    parameter count) `layers` is 0 and the weights split evenly `tp` ways."""

    layers: int
    tp: int = 1
    first: bool = True
    last: bool = True


@dataclass(frozen=True)
class Group:
    """GPUs `first`..`last` (consecutive), each holding `part`; `holds` says it in words."""

    first: int
    last: int
    part: Part
    holds: str

    @property
    def label(self) -> str:
        return f"GPU {self.first}" if self.first == self.last else \
            f"GPUs {self.first}-{self.last} (each)"


@dataclass(frozen=True)
class Layout:
    """The split: `mode` is single | tensor | pipeline | even (no architecture), `reason`
    why, and each group of identical GPUs."""

    mode: str
    reason: str
    groups: list[Group]


def check_mode(wanted: str) -> str:
    if wanted not in MODES:
        raise BadInput(f"--parallel {wanted!r} is not accepted; accepted: {', '.join(MODES)}")
    return wanted


def layout(arch: ModelArch | None, gpus: int, wanted: str = "auto") -> Layout:
    """The split of `arch` over `gpus` GPUs; an impossible one asked for is bad input."""
    wanted = check_mode(wanted)
    if gpus == 1:
        return Layout("single", "one GPU holds the whole model",
                      [Group(0, 0, Part(arch.num_layers if arch else 0), "the whole model")])
    if arch is None:
        if wanted == "pipeline":
            raise BadInput("--parallel pipeline needs the architecture's layers: give --model "
                           "NAME|DIR, not only --params")
        return Layout("even", f"architecture unknown: the weights split evenly over {gpus} "
                              f"GPUs (pass --model to see whether its heads divide by {gpus})",
                      [Group(0, gpus - 1, Part(0, gpus), f"1/{gpus} of the weights")])
    heads = f"{arch.num_heads} attention heads and {arch.num_kv_heads} KV heads"
    divides = arch.num_heads % gpus == 0 and arch.num_kv_heads % gpus == 0
    if wanted != "pipeline" and divides:
        return Layout("tensor", f"tensor parallel: its {heads} divide by {gpus}",
                      [Group(0, gpus - 1, Part(arch.num_layers, gpus),
                             f"1/{gpus} of every layer's heads and MLP, of the embedding "
                             f"and the head; the norms whole")])
    if wanted == "tensor":
        raise BadInput(f"--parallel tensor over {gpus} GPUs: {arch.name} has {heads}; "
                       f"accepted: --gpus dividing both ({_divisors(arch)}), or --parallel "
                       f"pipeline")
    if gpus > arch.num_layers:
        raise BadInput(f"--gpus {gpus}: {arch.name} has {arch.num_layers} layers to put on "
                       f"pipeline stages and {heads}; accepted: --gpus up to "
                       f"{arch.num_layers}, or one dividing both heads ({_divisors(arch)})")
    why = "asked for" if wanted == "pipeline" else f"its {heads} do not divide by {gpus}"
    return Layout("pipeline", f"pipeline parallel ({why}): whole layers on each GPU",
                  _stages(arch.num_layers, gpus))


def _divisors(arch: ModelArch) -> str:
    found = [n for n in range(2, arch.num_kv_heads + 1)
             if arch.num_heads % n == 0 and arch.num_kv_heads % n == 0]
    return ", ".join(map(str, found)) or "none above 1"


def _stages(layers: int, gpus: int) -> list[Group]:
    """Layers as even as they go, the first stages taking one more when they do not divide
    (numpy's array_split); consecutive identical stages are one group."""
    size, extra = divmod(layers, gpus)
    counts = [size + (gpu < extra) for gpu in range(gpus)]
    parts = [Part(count, 1, gpu == 0, gpu == gpus - 1) for gpu, count in enumerate(counts)]
    groups = []
    for part, same in itertools.groupby(range(gpus), key=parts.__getitem__):
        members = list(same)
        start = sum(counts[:members[0]])
        stop = sum(counts[:members[-1] + 1]) - 1
        each = f"{part.layers} layers each, " if len(members) > 1 else ""
        ends = (" + embedding" if part.first else "") + \
            (" + final norm and head" if part.last else "")
        groups.append(Group(members[0], members[-1], part,
                            f"{each}layers {start}-{stop}{ends}"))
    return groups
