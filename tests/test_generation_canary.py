"""A canary for generation: TransformerBridge's greedy generation with the KV cache (what
phase 3 uses) must equal the HF model's own greedy generation on the same weights, and the
hooked path at blend 0 must equal the unhooked one. A dependency release that breaks
generation then fails here, by name, before it inverts a science result: transformers 5.24.0
did exactly that to TransformerLens 4.3's bridge (setup.cfg bounds it).

Both embedded models, real weights: `tiny` (trained and cached here) and `smollm2-135m`
(converted from its GGUF and cached)."""
from __future__ import annotations

import pytest
import torch

from pipelines import corpus, models, quantum, steering

pytestmark = pytest.mark.slow

PROMPTS = {
    "tiny": lambda: [p for pair in corpus.prompt_pairs(corpus.load_lexicon(), 2, 7, True)
                     for p in (pair.positive, pair.negative)],
    "smollm2-135m": lambda: ["The movie was", "My neighbour told me that the weather"],
}
NEW_TOKENS = 10


def _hf_greedy(source: str, tokenizer, prompt: str) -> str:
    from transformers import AutoModelForCausalLM

    hf = AutoModelForCausalLM.from_pretrained(source)
    ids = torch.tensor([tokenizer(prompt, add_special_tokens=False)["input_ids"]])
    out = hf.generate(ids, max_new_tokens=NEW_TOKENS, do_sample=False,
                      pad_token_id=tokenizer.pad_token_id or tokenizer.eos_token_id)
    return tokenizer.decode(out[0, ids.shape[1]:], skip_special_tokens=True)


@pytest.mark.parametrize("model", list(PROMPTS))
def test_bridge_generation_with_kv_cache_equals_the_models_own(model):
    loaded = models.load_cached(model, "fp32", "cpu")
    prompts = PROMPTS[model]()
    layer = loaded.n_layers // 2
    ours = [c.text for c in steering.generate(loaded.bridge, prompts, None, layer, NEW_TOKENS)]
    theirs = [_hf_greedy(loaded.source, loaded.tokenizer, p) for p in prompts]
    assert ours == theirs
    assert all(t.strip() for t in ours)  # and it said something


@pytest.mark.parametrize("model", list(PROMPTS))
def test_hooks_at_blend_zero_change_nothing(model):
    loaded = models.load_cached(model, "fp32", "cpu")
    prompts = PROMPTS[model]()
    d, layer = loaded.d_model, loaded.n_layers // 2
    encoder = quantum.make_encoder(torch.randn(d, generator=torch.Generator().manual_seed(0)),
                                   d, seed=0)
    op = quantum.UnitaryOperator(d)
    with torch.no_grad():
        op.a.copy_(torch.randn(d, d, dtype=torch.complex64,
                               generator=torch.Generator().manual_seed(1)))
    u = op.matrix().detach()
    plain = steering.generate(loaded.bridge, prompts, None, layer, NEW_TOKENS)
    for hook in (steering.operator_hook(encoder, u, 0.0, "cpu"),
                 steering.vector_hook(torch.ones(d), 0.0)):
        hooked = steering.generate(loaded.bridge, prompts, hook, layer, NEW_TOKENS)
        assert [c.text for c in hooked] == [c.text for c in plain]
    # and the hook is live: at blend 1 the same operator changes the text
    steered = steering.generate(loaded.bridge, prompts, steering.operator_hook(encoder, u, 1.0,
                                                                              "cpu"),
                                layer, NEW_TOKENS)
    assert [c.text for c in steered] != [c.text for c in plain]
