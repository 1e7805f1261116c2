"""Loading a causal LM through TransformerLens 4's `TransformerBridge` at a requested
precision, and measuring what was actually loaded.

The researcher's log says "FP16, ~30 GB" for a 7.6B model: that is what float32 weighs. So the
loader measures the weight bytes and the dominant dtype after loading, and warns when they
contradict the request, instead of trusting the request.
"""
from __future__ import annotations

import warnings
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from cogit_tracker import schema
from cogit_tracker.errors import BadInput

PRECISIONS = tuple(p for p in schema.PRECISIONS if p != "int4")  # no int4 loading path here
SMALL_MODEL_PARAMS = 50_000_000  # below this, CPU work runs on one torch thread (see tiny.py)


@dataclass
class Loaded:
    bridge: object           # transformer_lens TransformerBridge
    tokenizer: object
    source: str              # local folder or hub name actually loaded
    dtype_loaded: str        # dominant dtype of the decoder blocks' weights: float32, int8...
    weight_bytes: int
    n_params: int
    int8_path: str | None    # "bitsandbytes" (CUDA) | "torch-dynamic" (CPU) | None
    warning: str | None      # set when the loaded weights contradict the request

    @property
    def d_model(self) -> int:
        return self.bridge.cfg.d_model

    @property
    def n_layers(self) -> int:
        return self.bridge.cfg.n_layers


def check_precision(precision: str, device: str) -> None:
    if precision not in PRECISIONS:
        if precision == "int4":
            raise BadInput(f"precision 'int4': no int4 path exists here; accepted: {', '.join(PRECISIONS)}")
        raise BadInput(f"unknown precision {precision!r}; accepted: {', '.join(PRECISIONS)}")
    if precision == "int8" and device == "cuda":
        import importlib.util

        if importlib.util.find_spec("bitsandbytes") is None:
            raise BadInput("precision 'int8' on CUDA needs bitsandbytes, which is not installed; "
                           "accepted here: fp32, fp16, bf16")


def _embedded() -> dict:
    """The models this experiment builds or converts itself, offline, by name."""
    from . import smollm2, tiny

    return {tiny.NAME: tiny.ensure_tiny, smollm2.NAME: smollm2.ensure}


EMBEDDED_NAMES = "'tiny' (trained here), 'smollm2-135m' (converted here)"


def unknown_model(model: str) -> str:
    return (f"unknown model {model!r}: not a local folder, and the Hugging Face hub could not "
            f"provide it (offline, or no such repo); accepted: {EMBEDDED_NAMES}, a "
            "save_pretrained folder, or a hub name")


def resolve_source(model: str) -> str:
    """An embedded model (built and cached on first use), a local folder, or a hub name."""
    build = _embedded().get(model)
    if build is not None:
        return str(build())
    path = Path(model).expanduser()
    if path.exists() or model.startswith((".", "/", "~")):
        if not (path / "config.json").is_file():
            raise BadInput(f"model folder {model!r} is not readable or has no config.json; "
                           f"accepted: {EMBEDDED_NAMES}, a save_pretrained folder, or a hub "
                           "name")
        return str(path)
    return model


def _torch_dtype(precision: str):
    import torch

    return {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16,
            "int8": torch.float32}[precision]


def _hf_model(source: str, precision: str, device: str):
    """The HF model the bridge wraps. int8: bitsandbytes on CUDA; on the CPU, torch dynamic
    quantization of the decoder blocks' Linear layers (the unembedding stays float, because the
    bridge reads its weight as a plain tensor)."""
    import torch
    from transformers import AutoModelForCausalLM

    if precision == "int8" and device == "cuda":  # pragma: no cover - needs a GPU
        from transformers import BitsAndBytesConfig

        return AutoModelForCausalLM.from_pretrained(
            source, quantization_config=BitsAndBytesConfig(load_in_8bit=True),
            device_map="cuda", attn_implementation="eager"), "bitsandbytes"
    hf = AutoModelForCausalLM.from_pretrained(source, dtype=_torch_dtype(precision),
                                              attn_implementation="eager")
    if precision != "int8":
        return hf, None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.ao's deprecation notice, not the user's concern
        torch.ao.quantization.quantize_dynamic(hf.model.layers, {torch.nn.Linear},
                                               dtype=torch.qint8, inplace=True)
    return hf, "torch-dynamic"


def weight_census(module) -> tuple[int, int, str]:
    """(bytes, element count, dominant dtype by bytes) of every tensor in the state dict,
    including the packed int8 weights that do not show up as parameters."""
    import torch

    by_dtype: Counter[str] = Counter()
    count = 0
    seen: set[int] = set()

    def visit(value) -> None:
        nonlocal count
        if isinstance(value, torch.Tensor):
            if value.data_ptr() in seen and value.numel():
                return  # tied weights count once
            seen.add(value.data_ptr())
            dtype = {torch.qint8: "int8", torch.quint8: "uint8"}.get(value.dtype,
                                                                      str(value.dtype).replace("torch.", ""))
            by_dtype[dtype] += value.numel() * value.element_size()
            count += value.numel()
        elif isinstance(value, (tuple, list)):
            for v in value:
                visit(v)

    for value in module.state_dict().values():
        visit(value)
    dominant = by_dtype.most_common(1)[0][0] if by_dtype else "unknown"
    return sum(by_dtype.values()), count, dominant


def blocks(hf):
    """The decoder blocks, whose Linear weights every precision path converts: the
    embedding (tied to the unembedding in small models) stays float on the int8 paths, so
    judging a load by the whole model would call SmolLM2's correct int8 load float32."""
    return getattr(getattr(hf, "model", None), "layers", None) or hf


def contradiction(precision: str, weight_bytes: int, n_params: int, dtype_loaded: str) -> str | None:
    """A warning when the decoder blocks hold more bytes per weight than `precision` means
    (the log's "FP16, ~30 GB" was a float32 load)."""
    per = weight_bytes / max(n_params, 1)
    want = schema.PRECISION_BYTES[precision]
    if per > want * 1.5:
        return (f"requested {precision} but the decoder blocks loaded as {dtype_loaded}, "
                f"{per:.1f} bytes per weight ({weight_bytes / schema.GB:.3f} GB); "
                f"expected ~{want:g}")
    return None


@contextmanager
def _quiet_loading():
    """No "Loading weights" bar per load: phases print their own progress."""
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        hf_logging.enable_progress_bar()


def load(model: str, precision: str, device: str = "cpu") -> Loaded:
    """Load through the bridge; raises BadInput for a model that cannot be found."""
    from transformer_lens.model_bridge import TransformerBridge
    from transformers import PreTrainedTokenizerFast

    check_precision(precision, device)
    source = resolve_source(model)
    local = Path(source).is_dir()
    try:
        tokenizer = (PreTrainedTokenizerFast.from_pretrained(source) if local else None)
        with _quiet_loading():
            hf, int8_path = _hf_model(source, precision, device)
    except OSError:
        raise BadInput(unknown_model(model)) from None
    # before the bridge wraps it: wrapped, each packed int8 weight shows up under several
    # aliases, and unpacking makes a fresh tensor per alias that no pointer check can dedupe
    weight_bytes, n_params, _ = weight_census(hf)
    block_bytes, block_params, dtype_loaded = weight_census(blocks(hf))
    if device != "cpu" and int8_path != "bitsandbytes":
        hf = hf.to(device)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        bridge = TransformerBridge.boot_transformers(
            source, device=device, dtype=_torch_dtype(precision), tokenizer=tokenizer, hf_model=hf)
    if device == "cpu" and n_params < SMALL_MODEL_PARAMS:
        from .tiny import small_matmuls_single_thread

        small_matmuls_single_thread()
    return Loaded(bridge, bridge.tokenizer, source, dtype_loaded, weight_bytes, n_params,
                  int8_path, contradiction(precision, block_bytes, block_params, dtype_loaded))


@lru_cache(maxsize=1)
def load_cached(model: str, precision: str, device: str) -> Loaded:
    """One load per process: phases 1 and 3 of a campaign share the model."""
    return load(model, precision, device)


def record(ph, loaded: Loaded, precision: str) -> None:
    """What was really loaded, on the phase run; a contradiction also warns the user."""
    ph.set_tags({schema.DTYPE_LOADED: loaded.dtype_loaded})
    ph.log_params({"weight_bytes": loaded.weight_bytes, "n_params": loaded.n_params,
                   "int8_path": loaded.int8_path or "none", "model_source": loaded.source})
    if loaded.warning:
        warnings.warn(loaded.warning, stacklevel=2)
