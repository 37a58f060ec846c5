"""The optional GPTQ step: config validation always runs; quantising needs GPT-QModel (not installed in CI)."""

from __future__ import annotations

import dataclasses
from types import SimpleNamespace

import pytest

from sasnet.config import ParamsError, build
from sasnet.embeddings import quantize
from sasnet.embeddings.quantize import QuantizeConfig, group_size_problems, split_calibration
from sasnet.errors import PipelineError

VALID = {
    "bits": 4,
    "group_size": 32,
    "desc_act": False,
    "sym": True,
    "damp_percent": 0.05,
    "calibration_reviews": 24,
    "calibration_max_tokens": 32,
    "batch_size": 8,
    "quality_check_reviews": 16,
    "seed": 0,
}
# SmolLM2-135M's widths: 128 does not divide 576.
SMOLLM2 = SimpleNamespace(hidden_size=576, intermediate_size=1536, num_attention_heads=9, head_dim=64)


def test_valid_config_builds():
    assert build(QuantizeConfig, VALID) == QuantizeConfig(**VALID)


@pytest.mark.parametrize(("key", "value", "message"), [
    ("bits", 5, "bits: got 5 (int); valid values: 2, 3, 4, 8"),
    ("group_size", 48, "group_size: got 48 (int); valid values: -1, 16"),
    ("damp_percent", 1.5, "damp_percent: must be > 0 and < 1"),
    ("calibration_reviews", 0, "calibration_reviews: must be >= 1"),
    ("calibration_max_tokens", 0, "calibration_max_tokens: must be >= 1"),
    ("quality_check_reviews", -1, "quality_check_reviews: must be >= 0"),
])
def test_invalid_config_names_the_key(key, value, message):
    with pytest.raises(ParamsError) as error:
        build(QuantizeConfig, {**VALID, key: value}, "quantize")
    assert any(problem.startswith(f"quantize.{message}") for problem in error.value.problems), error.value.problems


def test_group_size_must_divide_the_layer_widths():
    [problem] = group_size_problems(SMOLLM2, 128)
    assert problem.startswith("group_size: 128 does not divide the model's hidden_size 576")
    assert "use one of 16, 32, 64, -1" in problem
    assert group_size_problems(SMOLLM2, 64) == []
    assert group_size_problems(SMOLLM2, -1) == []


def test_group_size_checks_the_mlp_width_too():
    model = SimpleNamespace(hidden_size=512, intermediate_size=1376, num_attention_heads=8, head_dim=None)
    [problem] = group_size_problems(model, 64)
    assert "intermediate_size 1376" in problem and "hidden_size" not in problem


def test_calibration_and_check_reviews_are_seeded_and_disjoint():
    texts = [f"review {i}" for i in range(100)]
    config = QuantizeConfig(**VALID)
    calibration, check = split_calibration(texts, config)
    assert (len(calibration), len(check)) == (24, 16)
    assert not set(calibration) & set(check)
    assert split_calibration(texts, config) == (calibration, check)
    assert split_calibration(texts, dataclasses.replace(config, seed=1)) != (calibration, check)


def test_small_train_set_calibrates_on_all_of_it():
    calibration, check = split_calibration(["a", "b", "c"], QuantizeConfig(**VALID))
    assert sorted(calibration) == ["a", "b", "c"] and len(check) == 3


def test_missing_gptqmodel_names_the_install_command(monkeypatch, tmp_path):
    monkeypatch.setattr(quantize, "gptq_available", lambda: False)
    with pytest.raises(PipelineError) as error:
        quantize.quantize_gptq("model", None, ["text"], tmp_path / "out", QuantizeConfig(**VALID), "cpu")
    assert quantize.INSTALL_COMMAND in str(error.value) and "embed.llm.quantize: none" in str(error.value)


# --- with GPT-QModel ---------------------------------------------------------------------------------------------

REVIEW_WORDS = "the food service staff was great slow friendly cold pizza coffee price table never again".split()


def _review(i: int) -> str:
    return " ".join(REVIEW_WORDS[(i * 7 + k * 3) % len(REVIEW_WORDS)] for k in range(8 + i % 17))


@pytest.fixture(scope="module")
def tiny_llama(tmp_path_factory):
    """A random 2-layer Llama (widths 128/256, divisible by group size 32) and a word-level tokenizer, saved."""
    pytest.importorskip("gptqmodel")
    pytest.importorskip("optimum")
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    vocabulary = {token: i for i, token in enumerate(["[UNK]", "[PAD]", "<s>", *REVIEW_WORDS])}
    word_level = Tokenizer(models.WordLevel(vocabulary, unk_token="[UNK]"))
    word_level.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=word_level, unk_token="[UNK]", pad_token="[PAD]",
                                        bos_token="<s>", eos_token="<s>")
    config = LlamaConfig(vocab_size=len(vocabulary), hidden_size=128, intermediate_size=256, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64,
                         pad_token_id=1, bos_token_id=2, eos_token_id=2)
    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("tiny-llama")
    LlamaForCausalLM(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def test_group_size_that_does_not_fit_fails_before_quantising(tiny_llama, tmp_path):
    config = QuantizeConfig(**{**VALID, "group_size": 256})
    with pytest.raises(PipelineError, match="quantize.group_size: 256 does not divide the model's hidden_size 128"):
        quantize.quantize_gptq(str(tiny_llama), None, ["text"], tmp_path / "out", config, "cpu")
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_quantised_tiny_llama_loads_in_transformers_and_tracks_float(tiny_llama, tmp_path):
    import torch
    from transformers import AutoModel, AutoTokenizer

    from gptqmodel.nn_modules.qlinear import BaseQuantLinear

    out_dir = tmp_path / "gptq"
    texts = [_review(i) for i in range(60)]
    config = QuantizeConfig(**VALID)
    stats = quantize.quantize_gptq(str(tiny_llama), None, texts, out_dir, config, "cpu")

    calibration, _ = split_calibration(texts, config)
    assert (stats["bits"], stats["group_size"], stats["calibration_reviews"], stats["device"]) == (4, 32, 24, "cpu")
    # One word-level token per word, truncated at calibration_max_tokens.
    assert stats["calibration_tokens"] == sum(min(len(text.split()), 32) for text in calibration)
    assert stats["quality_check_reviews"] == 16
    assert stats["mean_cosine_vs_float"] > 0.99 and stats["min_cosine_vs_float"] > 0.98
    assert stats["size_bytes"] == quantize.folder_size(out_dir) > 0

    model = AutoModel.from_pretrained(out_dir)
    assert model.config.quantization_config.bits == 4
    assert isinstance(model.layers[0].mlp.down_proj, BaseQuantLinear)
    tokenizer = AutoTokenizer.from_pretrained(out_dir)
    batch = tokenizer([_review(1), _review(2)], padding=True, return_tensors="pt")
    with torch.inference_mode():
        hidden = model(**batch).last_hidden_state
    assert hidden.shape == (2, batch["input_ids"].shape[1], 128) and torch.isfinite(hidden).all()
