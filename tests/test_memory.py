"""The memory planner: arithmetic against transformers' own parameter counts, the log's crash
against the GPU catalog, and the prediction against the RSS a real load takes on this machine.
No GPU here: the CUDA branch of `place_operators` is exercised with explicit free bytes (the
figure torch.cuda.mem_get_info would give), and without them it must fall back to the CPU."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cogit_tracker import schema
from cogit_tracker.planning import architectures, memory, plan_words
from cogit_tracker.errors import BadInput

REPO = Path(__file__).resolve().parents[1]
GB = 1_000_000_000

# The published config.json values (huggingface.co/<name>/blob/main/config.json), typed in
# here independently of architectures.KNOWN_MODELS, with each model card's parameter count.
PUBLISHED = {
    "Qwen/Qwen2.5-0.5B-Instruct": (0.49e9, {
        "model_type": "qwen2", "hidden_size": 896, "num_hidden_layers": 24,
        "num_attention_heads": 14, "num_key_value_heads": 2, "intermediate_size": 4864,
        "vocab_size": 151936, "tie_word_embeddings": True}),
    "Qwen/Qwen2.5-1.5B-Instruct": (1.54e9, {
        "model_type": "qwen2", "hidden_size": 1536, "num_hidden_layers": 28,
        "num_attention_heads": 12, "num_key_value_heads": 2, "intermediate_size": 8960,
        "vocab_size": 151936, "tie_word_embeddings": True}),
    "Qwen/Qwen2.5-3B-Instruct": (3.09e9, {
        "model_type": "qwen2", "hidden_size": 2048, "num_hidden_layers": 36,
        "num_attention_heads": 16, "num_key_value_heads": 2, "intermediate_size": 11008,
        "vocab_size": 151936, "tie_word_embeddings": True}),
    "Qwen/Qwen2.5-7B-Instruct": (7.61e9, {
        "model_type": "qwen2", "hidden_size": 3584, "num_hidden_layers": 28,
        "num_attention_heads": 28, "num_key_value_heads": 4, "intermediate_size": 18944,
        "vocab_size": 152064, "tie_word_embeddings": False}),
    "meta-llama/Llama-3.1-8B": (8.03e9, {
        "model_type": "llama", "hidden_size": 4096, "num_hidden_layers": 32,
        "num_attention_heads": 32, "num_key_value_heads": 8, "intermediate_size": 14336,
        "vocab_size": 128256, "tie_word_embeddings": False, "attention_bias": False}),
    "meta-llama/Llama-3.1-70B": (70.6e9, {
        "model_type": "llama", "hidden_size": 8192, "num_hidden_layers": 80,
        "num_attention_heads": 64, "num_key_value_heads": 8, "intermediate_size": 28672,
        "vocab_size": 128256, "tie_word_embeddings": False, "attention_bias": False}),
    "mistralai/Mistral-7B-v0.1": (7.24e9, {
        "model_type": "mistral", "hidden_size": 4096, "num_hidden_layers": 32,
        "num_attention_heads": 32, "num_key_value_heads": 8, "intermediate_size": 14336,
        "vocab_size": 32000, "tie_word_embeddings": False}),
    "openai-community/gpt2": (124e6, {
        "model_type": "gpt2", "n_embd": 768, "n_layer": 12, "n_head": 12, "n_inner": None,
        "n_positions": 1024, "vocab_size": 50257}),
    "smollm2-135m": (134.5e6, {  # SmolLM2-135M-Instruct, as the GGUF the pipelines convert says
        "model_type": "llama", "hidden_size": 576, "num_hidden_layers": 30,
        "num_attention_heads": 9, "num_key_value_heads": 3, "intermediate_size": 1536,
        "vocab_size": 49152, "tie_word_embeddings": True}),
}

# Same shape as the pipelines' embedded `tiny` (Qwen2, hidden 128, 4 layers, word-level vocab).
TINY = {"hidden_size": 128, "num_hidden_layers": 4, "num_attention_heads": 4,
        "num_key_value_heads": 2, "intermediate_size": 512, "vocab_size": 4000,
        "tie_word_embeddings": True, "max_position_embeddings": 512}


def _transformers_count(config: dict) -> int:
    """What transformers itself counts for this architecture, built on the meta device (no
    memory, no hub)."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    values = {k: v for k, v in config.items() if k != "model_type"}
    hf_config = AutoConfig.for_model(config["model_type"], **values)
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(hf_config)
    return sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize("name", list(PUBLISHED))
def test_param_count_matches_transformers_and_model_card(name):
    card, config = PUBLISHED[name]
    from_config = architectures.arch_from_config(config, name, "test")
    ours = architectures.KNOWN_MODELS[name].param_count()
    assert from_config.param_count() == ours
    assert ours == _transformers_count(config)
    assert abs(ours - card) / card < 0.01


def test_weights_by_precision():
    sizes = {p: memory.plan(params="7.6B", precision=p, quantum_dim=8).items[0].bytes
             for p in schema.PRECISION_BYTES}
    assert sizes == {"fp32": 30.4 * GB, "fp16": 15.2 * GB, "bf16": 15.2 * GB,
                     "int8": 7.6 * GB, "int4": 3.8 * GB}


def test_operator_is_quantum_dim_squared_complex64_not_the_logs_1_4_gb():
    one = memory.operator_bytes(9333)
    assert one == 9333 * 9333 * 8
    assert round(one / GB, 2) == 0.70
    logs_figure = 174e6 * 2 * 4  # "174M params x 2 complex x 4 bytes"
    assert logs_figure / one == pytest.approx(2.0, rel=0.01)


def test_training_operators_adds_gradients_and_adam_state():
    plain = memory.plan(params="1B", quantum_dim=1000, operators=2)
    trained = memory.plan(params="1B", quantum_dim=1000, operators=2, train_operators=True)
    assert plain.operator_bytes == 2 * 1000 * 1000 * 8
    assert trained.operator_bytes == 4 * plain.operator_bytes


def test_kv_cache_for_qwen_7b():
    arch = architectures.KNOWN_MODELS["Qwen/Qwen2.5-7B-Instruct"]
    assert memory.kv_cache_bytes(arch, 512, 1, "fp16") == 28 * 2 * 4 * 128 * 512 * 1 * 2
    assert memory.kv_cache_bytes(arch, 512, 2, "fp32") == 4 * memory.kv_cache_bytes(
        arch, 512, 1, "fp16")


def test_log_crash_fp32_does_not_fit_rtx_5090_fp16_does():
    """Decision #001: Qwen2.5-7B-Instruct + two 9333-dim operators on a 32 GB RTX 5090."""
    pytest.importorskip("cogit_tracker.machine.catalog")
    fp32 = memory.plan_for_gpus(memory.plan(model="Qwen/Qwen2.5-7B-Instruct", precision="fp32",
                                            quantum_dim=9333, operators=2), gpu="rtx-5090")
    fp16 = memory.plan_for_gpus(memory.plan(model="Qwen/Qwen2.5-7B-Instruct", precision="fp16",
                                            quantum_dim=9333, operators=2), gpu="rtx-5090")
    (crash,), (ok,) = fp32.gpus, fp16.gpus
    assert crash.vram_bytes == 32 * GB
    assert not crash.fits and crash.free_after_bytes < 0
    # The researcher's workaround, now computed: operators on the CPU, the rest fits.
    assert crash.operator_device == "cpu" and crash.fits_placed
    assert ok.fits and ok.operator_device == "cuda" and ok.free_after_bytes > 10 * GB


def test_all_gpus_sorted_and_h100_fits_fp32():
    catalog = pytest.importorskip("cogit_tracker.machine.catalog")
    result = memory.plan_for_gpus(memory.plan(model="Qwen2.5-7B-Instruct", quantum_dim=9333),
                                  all_gpus=True)
    assert [g.key for g in result.gpus] and len(result.gpus) == len(catalog.load())
    vrams = [g.vram_bytes for g in result.gpus]
    assert vrams == sorted(vrams)
    assert {g.key: g.fits for g in result.gpus}["h100-sxm"] is True


def test_place_operators_rule():
    op = 1_000_000_000
    assert memory.place_operators(op, "cuda", free_bytes=int(1.2 * op) + 1) == "cuda"
    assert memory.place_operators(op, "cuda:1", free_bytes=2 * op) == "cuda:1"
    assert memory.place_operators(op, "cuda", free_bytes=int(1.2 * op)) == "cpu"
    assert memory.place_operators(op, "cpu", free_bytes=10 * op) == "cpu"
    with pytest.raises(BadInput, match="'tpu'"):
        memory.place_operators(op, "tpu")


def test_place_operators_without_a_gpu_reads_torch_and_falls_back_to_cpu():
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    assert memory.place_operators(1, "cuda") == "cpu"


def test_config_dir_is_read(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "qwen2", **TINY}))
    result = memory.plan(model=str(tmp_path), quantum_dim=512)
    assert result.arch.hidden_size == 128 and result.arch.qkv_bias
    assert result.params == _transformers_count({"model_type": "qwen2", **TINY})


@pytest.mark.parametrize("kwargs, message", [
    ({"model": "Qwen-9000"}, "unknown model 'Qwen-9000'; accepted: Qwen/Qwen2.5-0.5B"),
    ({"model": "/no/such/dir"}, "no such directory '/no/such/dir'"),
    ({"model": "Qwen/Qwen2.5-14B"}, "unknown model 'Qwen/Qwen2.5-14B'; accepted:"),
    ({"params": "7B", "precision": "fp8"}, "unknown precision 'fp8'; accepted: fp32"),
    ({"params": "7B", "quantum_dim": "0"}, "quantum_dim '0' is not accepted: a whole number from 1 to"),
    ({"params": "seven"}, "bad parameter count 'seven'"),
    ({}, "give --model NAME|DIR or --params N"),
])
def test_bad_input(kwargs, message):
    kwargs.setdefault("quantum_dim", 8)
    with pytest.raises(BadInput) as err:
        memory.plan(**kwargs)
    assert message in str(err.value) and "\n" not in str(err.value)


@pytest.mark.parametrize("content", [None, "{not json", "[1, 2]"])
def test_unreadable_config_dir(tmp_path, content):
    if content is not None:
        (tmp_path / "config.json").write_text(content)
    with pytest.raises(BadInput, match=f"{tmp_path}/config.json"):
        memory.plan(model=str(tmp_path), quantum_dim=8)


def test_config_missing_a_field(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "llama", "hidden_size": 64}))
    with pytest.raises(BadInput, match="config.json has num_attention_heads=None"):
        memory.plan(model=str(tmp_path), quantum_dim=8)


def test_oom_advice_names_the_ways_out():
    text = plan_words.oom_advice(memory.plan(model="Qwen2.5-7B-Instruct", quantum_dim=9333))
    fp16_total = memory.plan(model="Qwen2.5-7B-Instruct", precision="fp16",
                             quantum_dim=9333).total_bytes
    assert f"fp16 ({fp16_total / GB:.1f} GB in all)" in text
    assert "1.2x their 1.39 GB" in text and "dtype_loaded" in text
    assert "\n" not in text


@pytest.mark.slow
@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_prediction_matches_measured_rss_for_tiny(tmp_path, precision):
    """A `tiny`-shaped Qwen2 (random init from a local config.json) plus two 2048-dim
    complex64 operators: ~73 MB predicted, so the measurement sits far above RSS noise
    (~1 MB). Measured in a fresh child process after its imports."""
    from support import memory_check
    from transformers import Qwen2Config

    Qwen2Config(**TINY).save_pretrained(tmp_path)
    predicted = memory.plan(model=str(tmp_path), precision=precision, quantum_dim=2048,
                            operators=2)
    measured = memory_check.measure(tmp_path, precision, 2048, 2)
    assert measured.weights_bytes == predicted.items[0].bytes
    visible = memory_check.planned_bytes(predicted, "cpu", forward=False)
    assert visible > 50e6
    assert 0.8 < visible / measured.loaded_bytes < 1.2


# ---- CLI: `python -m cogit_tracker.cli plan`, as a user runs it -------------------------------


def _cli(*args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(REPO), COLUMNS="160")
    return subprocess.run([sys.executable, "-m", "cogit_tracker.cli", "plan", *args],
                          capture_output=True, text=True, env=env, timeout=60, check=False)


def test_cli_reproduces_the_logs_table():
    pytest.importorskip("cogit_tracker.machine.catalog")
    out = _cli("--model", "Qwen/Qwen2.5-7B-Instruct", "--precision", "fp32",
               "--quantum-dim", "9333", "--operators", "2", "--gpu", "rtx-5090")
    assert out.returncode == 0, out.stderr
    text = out.stdout
    assert "Qwen2.5-7B-Instruct weights (FP32)" in text and "30.46" in text
    assert "Operator U_pos→neg" in text and "0.70" in text
    assert "GPU available (NVIDIA GeForce RTX 5090)" in text and "32.00" in text
    fits_line = next(line for line in text.splitlines() if "Fits?" in line)
    assert "NO" in fits_line and "short by" in fits_line
    assert "counts the real/imaginary split" in " ".join(text.split())


def test_cli_the_logs_params_line_fp16_fits_fp32_does_not():
    """The log's case as a bare count: in fp16 the 7.6B weights are 15.2 GB and the run fits
    the 32 GB card (the log's "FP16 ~30 GB" was a float32 load); in fp32 it does not."""
    pytest.importorskip("cogit_tracker.machine.catalog")
    line = ["--params", "7.6B", "--quantum-dim", "9333", "--operators", "2", "--gpu", "rtx-5090"]
    fp16, fp32 = _cli(*line, "--precision", "fp16"), _cli(*line, "--precision", "fp32")
    assert fp16.returncode == 0 and fp32.returncode == 0, fp16.stderr + fp32.stderr
    fits = [next(line for line in out.stdout.splitlines() if "Fits?" in line)
            for out in (fp16, fp32)]
    assert "yes" in fits[0] and "14.91 GB free" in fits[0]
    assert "NO" in fits[1] and "short by" in fits[1]


def test_cli_json_fp16_fits():
    pytest.importorskip("cogit_tracker.machine.catalog")
    out = _cli("--model", "Qwen2.5-7B-Instruct", "--precision", "fp16", "--quantum-dim",
               "9333", "--gpu", "rtx-5090", "--json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["gpus"][0]["fits"] is True and data["gpus"][0]["operator_device"] == "cuda"
    assert data["total_bytes"] == sum(item["bytes"] for item in data["items"])


def test_cli_all_lists_every_gpu():
    catalog = pytest.importorskip("cogit_tracker.machine.catalog")
    out = _cli("--params", "7.6B", "--quantum-dim", "9333", "--all")
    assert out.returncode == 0, out.stderr
    for key in catalog.load():
        assert key in out.stdout


@pytest.mark.parametrize("args, needle", [
    (["--model", "Qwen-9000", "--quantum-dim", "8"], "unknown model 'Qwen-9000'"),
    (["--model", "/no/such/dir", "--quantum-dim", "8"], "no such directory"),
    (["--params", "7B", "--training"], "--training needs the architecture"),
    (["--model", "smollm2-135m", "--training", "--lora-rank", "0"], "lora_rank '0' is not"),
    (["--params", "7B", "--precision", "fp8", "--quantum-dim", "8"], "unknown precision"),
    (["--params", "7B", "--quantum-dim", "abc"], "quantum_dim 'abc' is not accepted"),
    (["--params", "7B", "--quantum-dim", "8", "--gpu", "rtx-5090", "--all"], "not both"),
    (["--quantum-dim", "8"], "give --model NAME|DIR or --params N"),
])
def test_cli_bad_input_is_one_line_exit_2(args, needle):
    out = _cli(*args)
    assert out.returncode == 2
    assert out.stdout == ""
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and needle in lines[0]


def test_cli_dir_without_config_json(tmp_path):
    out = _cli("--model", str(tmp_path), "--quantum-dim", "8")
    assert out.returncode == 2 and out.stdout == ""
    assert out.stderr.strip() == (f"Error: cannot read {tmp_path}/config.json "
                                  "(FileNotFoundError); pass a directory with an HF config.json")


def test_cli_unknown_gpu_key():
    pytest.importorskip("cogit_tracker.machine.catalog")
    out = _cli("--params", "7B", "--quantum-dim", "8", "--gpu", "rtx-9999")
    assert out.returncode == 2
    assert out.stderr.strip().splitlines() == [out.stderr.strip()]
    assert "rtx-9999" in out.stderr and "rtx-5090" in out.stderr


def test_cli_training_operators_shows_the_4x_and_what_it_leaves_out():
    out = _cli("--params", "1B", "--quantum-dim", "1000", "--train-operators")
    assert out.returncode == 0, out.stderr
    adam = next(line for line in out.stdout.splitlines() if "Adam state" in line)
    assert "0.03" in adam  # 2 moments x 2 operators x 1000² x 8 B = 0.032 GB
    assert "matrix_exp" in out.stdout
