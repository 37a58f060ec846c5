"""z-score normalisation: statistics from the fit rows only, finite on constant dimensions, blockwise = direct."""

from __future__ import annotations

import numpy as np
import pytest

from sasnet.config import ParamsError, build
from sasnet.embeddings.configs import NormalizeConfig
from sasnet.embeddings.normalize import apply_zscore, fit_row_mask, fit_zscore, zscore
from sasnet.errors import PipelineError

SPLITS = np.array(["train"] * 60 + ["valid"] * 20 + ["test"] * 20)
TRAIN = SPLITS == "train"


def config(fit_on: str = "train", min_std: float = 1e-6) -> NormalizeConfig:
    return build(NormalizeConfig, {"fit_on": fit_on, "min_std": min_std})


def embeddings(seed: int = 0) -> np.ndarray:
    """float32 rows with a large offset on one dimension and a constant last dimension."""
    matrix = np.random.default_rng(seed).normal(size=(len(SPLITS), 6)).astype(np.float32)
    matrix[:, 0] = 1000 + 0.01 * matrix[:, 0]  # mean dwarfs spread, as in LLM hidden states
    matrix[:, -1] = 3.5
    return matrix


def test_blockwise_statistics_equal_direct_numpy():
    matrix = embeddings()
    mean, std = fit_zscore(matrix, TRAIN, block_rows=7)
    direct = matrix[TRAIN].astype(np.float64)
    np.testing.assert_allclose(mean, direct.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(std, direct.std(axis=0), rtol=1e-9, atol=1e-12)

    normalised = apply_zscore(matrix, mean, std, min_std=1e-6, block_rows=7)
    assert normalised.dtype == np.float32
    expected = (matrix[:, :-1] - direct.mean(axis=0)[:-1]) / direct.std(axis=0)[:-1]
    np.testing.assert_allclose(normalised[:, :-1], expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(normalised[TRAIN, :-1].mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(normalised[TRAIN, :-1].std(axis=0), 1, atol=1e-4)


def test_train_fit_ignores_valid_and_test_rows():
    matrix = embeddings()
    changed = matrix.copy()
    changed[~TRAIN] = np.random.default_rng(1).normal(50, 30, size=changed[~TRAIN].shape)

    before, before_stats = zscore(matrix, SPLITS, config("train"))
    after, after_stats = zscore(changed, SPLITS, config("train"))
    np.testing.assert_array_equal(before[TRAIN], after[TRAIN])
    assert before_stats == after_stats
    assert before_stats["rows_fitted"] == 60 and before_stats["rows"] == 100


def test_all_fit_uses_every_row():
    matrix = embeddings()
    assert fit_row_mask(SPLITS, config("all")).all()
    normalised, stats = zscore(matrix, SPLITS, config("all"))
    assert stats["rows_fitted"] == 100 and stats["fit_on"] == "all"
    np.testing.assert_allclose(normalised[:, :-1].mean(axis=0), 0, atol=1e-5)

    changed = matrix.copy()
    changed[~TRAIN, 1] += 5
    assert not np.array_equal(zscore(changed, SPLITS, config("all"))[0][TRAIN], normalised[TRAIN])


def test_constant_dimensions_are_centred_and_finite():
    matrix = embeddings()
    matrix[TRAIN, 2] = -1.25  # constant on train only: valid/test rows differ from the train value
    normalised, stats = zscore(matrix, SPLITS, config("train"))
    assert np.isfinite(normalised).all()
    assert stats["constant_dims"] == 2 and stats["dims"] == 6
    np.testing.assert_array_equal(normalised[:, -1], 0)
    np.testing.assert_allclose(normalised[~TRAIN, 2], matrix[~TRAIN, 2] + 1.25, rtol=1e-6)


def test_writes_into_a_given_memmap(tmp_path):
    matrix = embeddings()
    mean, std = fit_zscore(matrix, TRAIN)
    out = np.lib.format.open_memmap(tmp_path / "z.npy", mode="w+", dtype=np.float32, shape=matrix.shape)
    apply_zscore(matrix, mean, std, min_std=1e-6, out=out, block_rows=16)
    out.flush()
    np.testing.assert_array_equal(np.load(tmp_path / "z.npy"), apply_zscore(matrix, mean, std, min_std=1e-6))


def test_non_finite_values_and_empty_fit_are_errors():
    matrix = embeddings()
    matrix[3, 1] = np.nan
    with pytest.raises(PipelineError, match="NaN"):
        fit_zscore(matrix, TRAIN)
    with pytest.raises(PipelineError, match="no rows"):
        fit_zscore(embeddings(), np.zeros(len(SPLITS), dtype=bool))


def test_config_problems_name_the_key():
    with pytest.raises(ParamsError) as caught:
        config(min_std=-1.0)
    assert caught.value.problems == ["min_std: must be >= 0 (got -1.0)"]
    with pytest.raises(ParamsError) as caught:
        build(NormalizeConfig, {"fit_on": "test", "min_std": 0.0})
    assert caught.value.problems[0].startswith("fit_on: got 'test'")
