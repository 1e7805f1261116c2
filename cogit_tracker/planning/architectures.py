"""What the planner knows of a causal LM's shape: published config.json values for the models
the log used, or any local HF `config.json`."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from ..errors import BadInput


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

    def block_linears(self) -> list[tuple[int, int]]:
        """(in, out) features of every Linear in one decoder block: what LoRA adapts when it
        targets all of them (peft's `target_modules="all-linear"`, the QLoRA recipe; the
        unembedding is left out, as peft does)."""
        h, i = self.hidden_size, self.intermediate_size
        if self.family == "gpt2":  # c_attn (q, k, v in one), c_proj, c_fc, mlp.c_proj
            return [(h, 3 * h), (h, h), (h, i), (i, h)]
        q, kv = self.num_heads * self.d_head, self.num_kv_heads * self.d_head
        return [(h, q), (h, kv), (h, kv), (q, h), (h, i), (h, i), (i, h)]

    def lora_param_count(self, rank: int) -> int:
        """Parameters of rank-`rank` adapters on every block Linear: A (rank x in) and
        B (out x rank) each."""
        return self.num_layers * rank * sum(i + o for i, o in self.block_linears())

    def param_count(self) -> int:
        """Parameters as `sum(p.numel())` counts them (tied embeddings once)."""
        return (self.embedding_param_count() + self.num_layers * self.layer_param_count()
                + self.final_norm_param_count() + self.head_param_count())

    def embedding_param_count(self) -> int:
        """The input embedding (gpt2: with its learned positions)."""
        return (self.vocab_size + self.max_positions) * self.hidden_size

    def head_param_count(self) -> int:
        """The unembedding's own weights: none when tied to the input embedding."""
        return 0 if self.tie_word_embeddings else self.vocab_size * self.hidden_size

    def final_norm_param_count(self) -> int:
        """The norm before the unembedding (gpt2's LayerNorm has a bias too)."""
        return (2 if self.family == "gpt2" else 1) * self.hidden_size

    def layer_param_count(self) -> int:
        """One decoder block."""
        h, i = self.hidden_size, self.intermediate_size
        if self.family == "gpt2":
            return 2 * h + (h * 3 * h + 3 * h) + (h * h + h) + 2 * h + (h * i + i) + (i * h + h)
        q = self.num_heads * self.d_head
        kv = self.num_kv_heads * self.d_head
        attn = h * q + 2 * h * kv + q * h + ((q + 2 * kv) if self.qkv_bias else 0)
        return attn + 3 * h * i + 2 * h

    def layer_replicated_param_count(self) -> int:
        """What of one block every tensor-parallel GPU holds whole (Megatron-LM's layout): the
        norms, and gpt2's biases added after a row-parallel all-reduce (attention and MLP
        output projections). Everything else in the block is split across the GPUs."""
        h = self.hidden_size
        return 6 * h if self.family == "gpt2" else 2 * h


_QWEN_SRC = "published config.json of Qwen/{}"
#: Published config.json values (huggingface.co/<name>/blob/main/config.json). Counts these
#: give equal the model cards' (0.49B, 1.54B, 3.09B, 7.61B, 8.03B, 70.6B, 7.24B, 124M,
#: 134.5M): tested.
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
        ModelArch("meta-llama/Llama-3.1-70B", "llama", 8192, 80, 64, 8, 28672, 128256, False,
                  source="published config.json of meta-llama/Llama-3.1-70B"),
        ModelArch("mistralai/Mistral-7B-v0.1", "llama", 4096, 32, 32, 8, 14336, 32000, False,
                  source="published config.json of mistralai/Mistral-7B-v0.1"),
        ModelArch("openai-community/gpt2", "gpt2", 768, 12, 12, 12, 3072, 50257, True,
                  max_positions=1024, source="published config.json of openai-community/gpt2"),
        # the reference experiment's offline real model, by the name its campaigns record
        ModelArch("smollm2-135m", "llama", 576, 30, 9, 3, 1536, 49152, True,
                  source="config of SmolLM2-135M-Instruct (HuggingFaceTB), as its GGUF holds it"),
    ]
}


def _lookup_known(name: str) -> ModelArch | None:
    """Match the full hub name or the part after the slash, ignoring case ("gpt2" works)."""
    wanted = name.strip().lower()
    for full, arch in KNOWN_MODELS.items():
        if wanted in (full.lower(), full.rsplit("/", 1)[-1].lower()):
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


