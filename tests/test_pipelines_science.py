"""The science of the reference experiment without tracking: corpus, tokenizer, quantum
encoding and operators, model loading through TransformerLens's bridge, hooks.

Real parts throughout: a real (small, quickly trained) Qwen2-architecture model from
`pipelines.tiny`, the real VADER lexicon, real torch. Nothing is faked."""
from __future__ import annotations

import math

import pytest
import torch

from cogit_tracker.errors import BadInput
from pipelines import corpus, models, quantum, steering


# ------------------------------------------------------------------------------- corpus


def test_lexicon_words_score_with_their_sign():
    lex = corpus.load_lexicon()
    assert len(lex.positive) == len(lex.negative) == 40
    assert all(steering.compound(w) > 0 for w in lex.positive)
    assert all(steering.compound(w) < 0 for w in lex.negative)


def test_training_sentences_keep_one_polarity():
    lex = corpus.load_lexicon()
    for i, text in enumerate(corpus.sentences(lex, 40, seed=3)):
        words = set(text.split())
        own, other = (lex.positive, lex.negative) if i % 2 == 0 else (lex.negative, lex.positive)
        assert words & set(own) and not words & set(other), text


def test_prompt_pairs_align_word_for_word_and_hold_out_frames():
    lex = corpus.load_lexicon()
    for pair in corpus.prompt_pairs(lex, 20, seed=1, held_out=True):
        pos, neg = pair.positive.split(), pair.negative.split()
        assert len(pos) == len(neg)
        assert [a == b for a, b in zip(pos, neg)].count(False) == 1  # cut after the first
        assert pos[-1] in lex.positive and neg[-1] in lex.negative
    assert not set(corpus.HELD_OUT_TEMPLATES) & set(corpus.TRAIN_TEMPLATES)
    trained = {w for t in corpus.sentences(lex, 2000, seed=0) for w in t.split()}
    for template in corpus.HELD_OUT_TEMPLATES:  # new frames, but of words the model has seen
        assert {w for w in template.split() if not corpus.SLOT.fullmatch(w)} <= trained


def test_tokenizer_is_word_level_and_unknown_words_warn(tiny_model):
    loaded = models.load(str(tiny_model), "fp32")
    ids = steering.tokenize(loaded.bridge, ["the movie was adoring"])[0]
    assert len(ids) == 4  # one token per word, no BOS
    with pytest.warns(UserWarning, match="zxqv"):
        ids = steering.tokenize(loaded.bridge, ["the zxqv was adoring"])[0]
    assert ids[1] == loaded.tokenizer.unk_token_id


# ------------------------------------------------------------------------------- quantum


def test_encoder_round_trip_restores_activations():
    acts = torch.randn(50, 16) * 3 + 1
    enc = quantum.make_encoder(acts.mean(0), 40, seed=0)
    psi, norm = enc.encode(acts)
    assert torch.allclose(psi.abs().pow(2).sum(-1), torch.ones(50), atol=1e-5)
    assert torch.allclose(enc.decode(psi, norm), acts, atol=1e-4)


def test_encoder_is_fixed_by_seed():
    mean = torch.zeros(8)
    assert torch.equal(quantum.make_encoder(mean, 16, 5).proj, quantum.make_encoder(mean, 16, 5).proj)
    assert not torch.equal(quantum.make_encoder(mean, 16, 5).proj, quantum.make_encoder(mean, 16, 6).proj)


def test_trained_operator_stays_unitary_and_beats_identity():
    g = torch.Generator().manual_seed(0)
    src = torch.randn(200, 12, dtype=torch.complex64, generator=g)
    src = src / src.abs().pow(2).sum(-1, keepdim=True).sqrt()
    secret = torch.linalg.matrix_exp(0.5 * (lambda a: a - a.conj().T)(
        torch.randn(12, 12, dtype=torch.complex64, generator=g)))
    tgt = quantum.apply(secret, src)
    op = quantum.UnitaryOperator(12)
    seen = []
    quantum.train_operator(op, src, tgt, quantum.TrainConfig(epochs=400, lr=0.02, target_fidelity=0.98),
                           on_epoch=lambda e, f, l, s: seen.append(f))
    u = op.matrix().detach()
    assert quantum.fidelity(None, src, tgt) < 0.5
    assert quantum.fidelity(u, src, tgt) >= 0.98
    assert len(seen) < 400  # stopped at the target
    assert quantum.unitarity_error(u) < 1e-4


def test_subspace_operator_finds_a_rotation_confined_to_few_directions():
    """A secret rotation acting in 3 of 40 dimensions: `sentiment_basis` finds those from
    the pairs alone, and an operator of rank 3 trains to it while staying exactly unitary
    on the whole space; its fast path (never forming U) agrees with the full matrix."""
    g = torch.Generator().manual_seed(0)
    src = torch.randn(300, 40, dtype=torch.complex64, generator=g)
    src = src / src.abs().pow(2).sum(-1, keepdim=True).sqrt()
    q, _ = torch.linalg.qr(torch.randn(40, 3, dtype=torch.complex64, generator=g))
    small = torch.linalg.matrix_exp(1.5 * (lambda a: a - a.conj().T)(
        torch.randn(3, 3, dtype=torch.complex64, generator=g)))
    secret = torch.eye(40, dtype=torch.complex64) + q @ (small - torch.eye(3)) @ q.conj().T
    tgt = quantum.apply(secret, src)
    basis, energy = quantum.sentiment_basis(src, tgt, 3)
    assert energy > 0.999
    op = quantum.UnitaryOperator(40, basis)
    quantum.train_operator(op, src, tgt, quantum.TrainConfig(epochs=300, lr=0.05,
                                                             target_fidelity=0.995))
    u = op.matrix().detach()
    assert quantum.fidelity(None, src, tgt) < 0.9
    assert quantum.fidelity(u, src, tgt) >= 0.99
    assert quantum.unitarity_error(u) < 1e-4
    assert torch.allclose(op(src).detach(), quantum.apply(u, src), atol=1e-5)


def test_operator_leaves_activations_beyond_its_training_range_alone():
    """The attention-sink position of a real LM (norm ~150x the rest) is never steered: the
    decoder would scale the rotation back by that norm and break every later word."""
    d = 8
    enc = quantum.make_encoder(torch.zeros(d), 2 * d, seed=0, max_norm=10.0)
    u = quantum.UnitaryOperator(2 * d)
    with torch.no_grad():
        u.a.copy_(torch.randn(2 * d, 2 * d, dtype=torch.complex64,
                              generator=torch.Generator().manual_seed(1)))
    acts = torch.randn(1, 2, d, generator=torch.Generator().manual_seed(2))
    acts[0, 0] *= 1000 / acts[0, 0].norm()   # the sink
    acts[0, 1] *= 5 / acts[0, 1].norm()      # an ordinary position
    out = steering.operator_hook(enc, u.matrix().detach(), 1.0, "cpu")(acts)
    assert torch.equal(out[0, 0], acts[0, 0])
    assert not torch.allclose(out[0, 1], acts[0, 1])


def test_training_fixes_the_global_phase_fidelity_ignores():
    """target = e^(i 2.5) source: the identity already scores fidelity 1, yet decodes to a
    different activation (the real-part decoder sees the phase). The phase-aware loss must
    learn the phase, so the decoded result matches the target's."""
    acts = torch.randn(64, 8)
    enc = quantum.make_encoder(torch.zeros(8), 16, seed=1)
    psi, norm = enc.encode(acts)
    target = psi * complex(math.cos(2.5), math.sin(2.5))
    assert quantum.fidelity(None, psi, target) > 0.999
    op = quantum.UnitaryOperator(16)
    quantum.train_operator(op, psi, target, quantum.TrainConfig(epochs=150, lr=0.05, target_fidelity=1.1))
    decoded = enc.decode(quantum.apply(op.matrix().detach(), psi), norm)
    wanted = enc.decode(target, norm)
    assert not torch.allclose(acts, wanted, atol=0.5)
    assert torch.allclose(decoded, wanted, atol=0.05)


def test_unitarity_error_sees_a_non_unitary_matrix():
    assert quantum.unitarity_error(torch.eye(4, dtype=torch.complex64)) == 0.0
    assert quantum.unitarity_error(2 * torch.eye(4, dtype=torch.complex64)) == pytest.approx(6.0)


# ------------------------------------------------------------------------------- models


def test_fp32_load_records_dtype_and_bytes(tiny_model):
    loaded = models.load(str(tiny_model), "fp32")
    assert loaded.dtype_loaded == "float32"
    assert loaded.weight_bytes == pytest.approx(4 * loaded.n_params, rel=0.01)
    assert loaded.warning is None


@pytest.mark.parametrize("precision, dtype", [("fp16", "float16"), ("bf16", "bfloat16")])
def test_half_precisions_load_half_weights_and_generate(tiny_model, precision, dtype):
    loaded = models.load(str(tiny_model), precision)
    assert loaded.dtype_loaded == dtype
    assert loaded.weight_bytes == pytest.approx(2 * loaded.n_params, rel=0.01)
    assert steering.generate(loaded.bridge, ["the movie was adoring"], None, 1, 4)[0].ids


def test_int8_cpu_path_quantizes_and_generates(tiny_model):
    fp32 = models.load(str(tiny_model), "fp32")
    int8 = models.load(str(tiny_model), "int8")
    assert int8.int8_path == "torch-dynamic"
    assert int8.dtype_loaded == "int8"
    assert int8.weight_bytes < 0.5 * fp32.weight_bytes
    out = steering.generate(int8.bridge, ["the movie was adoring"], None, 1, 5)[0]
    assert out.ids and out.text


def test_contradicting_load_is_flagged():
    assert models.contradiction("fp16", 4_000, 1_000, "float32")  # the log's "FP16, ~30 GB"
    assert models.contradiction("fp16", 2_000, 1_000, "float16") is None


@pytest.mark.parametrize("model, precision, match", [
    ("/nonexistent/model-dir", "fp32", "not readable"),
    ("tiny", "int4", "int4"),
    ("tiny", "fp64", "unknown precision"),
])
def test_bad_model_or_precision_is_bad_input(model, precision, match):
    with pytest.raises(BadInput, match=match):
        models.load(model, precision)


# ------------------------------------------------------------------------------- hooks


def test_hooks_see_every_position_with_and_without_kv_cache(tiny_model):
    """A blend-0 operator hook is the identity, and a hook that acts per position must give
    the same generation whether the cache feeds it one position or all of them."""
    loaded = models.load(str(tiny_model), "fp32")
    bridge = loaded.bridge
    prompts = ["the movie was adoring", "the movie was anguished"]
    plain = steering.generate(bridge, prompts, None, 1, 6)
    d = bridge.cfg.d_model
    enc = quantum.make_encoder(torch.zeros(d), 2 * d, 0)
    u = torch.eye(2 * d, dtype=torch.complex64)
    hooked = steering.generate(bridge, prompts, steering.operator_hook(enc, u, 0.7, "cpu"), 1, 6)
    assert [c.text for c in hooked] == [c.text for c in plain]
    seen = []
    steer = steering.vector_hook(torch.randn(d) * 5, 1.0)
    with bridge.hooks(fwd_hooks=[(steering.hook_name(1), lambda a, hook: seen.append(a.shape[1]) or steer(a))]):
        ids = torch.stack(steering.tokenize(bridge, prompts))
        cached = bridge.generate(ids, max_new_tokens=4, do_sample=False, stop_at_eos=False,
                                 use_past_kv_cache=True, verbose=False)
    assert seen == [4, 1, 1, 1]
    with bridge.hooks(fwd_hooks=[(steering.hook_name(1), steer)]):
        full = bridge.generate(ids, max_new_tokens=4, do_sample=False, stop_at_eos=False,
                               use_past_kv_cache=False, verbose=False)
    assert torch.equal(cached, full)


def test_one_batch_of_mixed_conditions_equals_each_condition_alone(tiny_model):
    """Phase 3 puts baseline, operator and vector rows in one batch with per-row strengths;
    each row must generate what its condition alone generates."""
    bridge = models.load(str(tiny_model), "fp32").bridge
    d = bridge.cfg.d_model
    enc = quantum.make_encoder(torch.zeros(d), 2 * d, 0)
    op = quantum.UnitaryOperator(2 * d)
    with torch.no_grad():
        op.a.copy_(torch.randn(2 * d, 2 * d, dtype=torch.complex64,
                               generator=torch.Generator().manual_seed(3)))
    u, vec = op.matrix().detach(), torch.randn(d, generator=torch.Generator().manual_seed(4)) * 3
    blends, mults = [0.0, 1.0, 0.0, 0.5], [0.0, 0.0, 2.0, 0.0]
    prompts = ["the movie was adoring"] * len(blends)
    mixed = steering.generate(bridge, prompts, steering.combined(
        steering.operator_hook(enc, u, torch.tensor(blends), "cpu"),
        steering.vector_hook(vec, torch.tensor(mults))), 1, 6)
    alone = [steering.generate(bridge, prompts[:1], steering.combined(
        steering.operator_hook(enc, u, b, "cpu"), steering.vector_hook(vec, m)), 1, 6)[0]
        for b, m in zip(blends, mults)]
    assert [c.ids for c in mixed] == [c.ids for c in alone]
    assert len({tuple(c.ids) for c in alone}) > 1  # the conditions do differ


def test_progress_off_a_terminal_is_a_few_plain_lines(capsys):
    from pipelines.progress import progress

    with progress("collecting", total=100) as bar:
        for _ in range(100):
            bar.advance(1, "note")
    lines = capsys.readouterr().err.splitlines()  # pytest's capture is not a terminal
    assert 5 <= len(lines) <= 11
    assert lines[-1].startswith("collecting: 100/100 note")
