"""Significance tests against scipy and hand formulas, the calibration of the dependent-correlation test, and the
shared statistics (Holm, Pearson, percentile intervals; the cluster bootstrap is in test_user_intervals.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from sasnet.analysis_configs import SignificanceConfig
from sasnet.stats import (
    dependent_correlation_test,
    fisher_z_test,
    holm_adjusted,
    mcnemar_test,
    mse_f_test,
    pearson,
    percentile_interval,
    significance_table,
)


def test_f_test_matches_scipy_and_ignores_the_order():
    result = mse_f_test(0.03, 0.02, 45)
    assert result["statistic"] == pytest.approx(1.5)
    assert result["p_value"] == pytest.approx(2 * stats.f.sf(1.5, 45, 45))
    assert result["difference"] == pytest.approx(0.01)
    assert mse_f_test(0.02, 0.03, 45)["p_value"] == pytest.approx(result["p_value"])
    assert mse_f_test(0.02, 0.02, 45)["p_value"] == pytest.approx(1.0)


def test_fisher_z_test_by_hand():
    result = fisher_z_test(0.6, 0.4, 103, 53)
    z = (np.arctanh(0.6) - np.arctanh(0.4)) / np.sqrt(1 / 100 + 1 / 50)
    assert result["statistic"] == pytest.approx(z)
    assert result["p_value"] == pytest.approx(2 * (1 - stats.norm.cdf(z)))
    assert result["difference"] == pytest.approx(0.2)


def test_dependent_test_by_hand_and_against_the_independent_one():
    r_a, r_b, r_ab, n = 0.6, 0.4, 0.5, 103
    mean_r2 = (0.36 + 0.16) / 2
    f = 0.5 / (2 * (1 - mean_r2))
    h = (1 - f * mean_r2) / (1 - mean_r2)
    z = (np.arctanh(r_a) - np.arctanh(r_b)) * np.sqrt(100 / (2 * 0.5 * h))
    assert dependent_correlation_test(r_a, r_b, r_ab, n)["statistic"] == pytest.approx(z)
    # correlated predictors make the difference more precise than two independent samples would
    assert dependent_correlation_test(r_a, r_b, r_ab, n)["p_value"] < fisher_z_test(r_a, r_b, n, n)["p_value"]


def simulated_p_values(r_b: float, simulations: int = 800, n: int = 150) -> tuple[np.ndarray, np.ndarray]:
    """p-values of both tests for corr(a, y) = 0.5, corr(b, y) = r_b, corr(a, b) = 0.7 (a and b share the y)."""
    covariance = np.array([[1, 0.7, 0.5], [0.7, 1, r_b], [0.5, r_b, 1]])
    samples = np.random.default_rng(0).multivariate_normal(np.zeros(3), covariance, size=(simulations, n))
    dependent, independent = [], []
    for a, b, y in np.moveaxis(samples, -1, 1):
        r_ay, r_by, r_ab = np.corrcoef([a, b, y])[[0, 1, 0], [2, 2, 1]]
        dependent.append(dependent_correlation_test(r_ay, r_by, r_ab, n)["p_value"])
        independent.append(fisher_z_test(r_ay, r_by, n, n)["p_value"])
    return np.array(dependent), np.array(independent)


def test_dependent_test_holds_its_size_where_the_independent_one_is_conservative():
    dependent, independent = simulated_p_values(r_b=0.5)
    assert 0.03 < np.mean(dependent < 0.05) < 0.075
    assert np.mean(independent < 0.05) < 0.01
    dependent, independent = simulated_p_values(r_b=0.35)
    assert np.mean(dependent < 0.05) > np.mean(independent < 0.05) + 0.2  # and it has the power


def test_mcnemar_exact_for_few_discordant_items():
    truth = np.zeros(40, dtype=int)
    predicted_a, predicted_b = truth.copy(), truth.copy()
    predicted_a[:3] = 1  # a wrong, b right: 3
    predicted_b[3:13] = 1  # b wrong, a right: 10
    predicted_a[13:15] = predicted_b[13:15] = 2  # both wrong: not discordant
    result = mcnemar_test(truth, predicted_a, predicted_b)
    assert (result["method"], result["a_only_correct"], result["b_only_correct"]) == ("exact", 10, 3)
    assert result["p_value"] == pytest.approx(2 * stats.binom.cdf(3, 13, 0.5))
    assert result["difference"] == pytest.approx(7 / 40)


def test_mcnemar_chi_square_with_continuity_correction():
    truth = np.ones(200, dtype=int)
    predicted_a, predicted_b = truth.copy(), truth.copy()
    predicted_a[:50] = 0
    predicted_b[50:80] = 0
    result = mcnemar_test(truth, predicted_a, predicted_b)
    assert result["method"] == "chi2" and result["statistic"] == pytest.approx((20 - 1) ** 2 / 80)
    assert result["p_value"] == pytest.approx(stats.chi2.sf(361 / 80, 1))
    assert mcnemar_test(truth, truth, truth)["p_value"] == 1.0


def test_significance_table_compares_the_best_with_each_other_method():
    rng = np.random.default_rng(1)
    reference = rng.uniform(-1, 1, 45)
    predictions = {"best": reference + rng.normal(0, 0.1, 45), "worse": reference + rng.normal(0, 0.4, 45)}
    pairs = pd.concat(
        pd.DataFrame(
            {"method": method, "category_a": np.arange(45), "category_b": np.arange(45) + 1,
             "reference": reference, "predicted": predicted}
        )
        for method, predicted in predictions.items()
    )
    for test in ("independent", "dependent"):
        table = significance_table(pairs, "best", SignificanceConfig(correlation_test=test))
        row = table.iloc[0]
        assert len(table) == 1 and row["method"] == "worse" and row["pairs"] == 45
        mse_best, mse_worse = (np.mean((p - reference) ** 2) for p in predictions.values())
        assert row["F"] == pytest.approx(mse_worse / mse_best) and row["F"] > 1
        assert row["F_p_value"] == pytest.approx(mse_f_test(mse_worse, mse_best, 45)["p_value"])
        r_best, r_worse = (stats.pearsonr(p, reference).statistic for p in predictions.values())
        assert (row["PR_c_best"], row["PR_c"]) == (pytest.approx(r_best), pytest.approx(r_worse))
        assert row["z_p_value"] < 0.05 and row["z_test"] == test


def test_holm_adjustment_by_hand():
    # sorted 0.01, 0.03, 0.04 -> 3 * 0.01, 2 * 0.03, max(1 * 0.04, 0.06): the adjusted values never decrease
    assert holm_adjusted([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert holm_adjusted([0.5, 0.9]) == pytest.approx([1.0, 1.0])


def test_pearson_matches_scipy_and_is_undefined_for_a_constant_list():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=50), rng.normal(size=50)
    assert pearson(x, x + y) == pytest.approx(stats.pearsonr(x, x + y).statistic)
    assert np.isnan(pearson(np.ones(5), np.arange(5.0)))


def test_percentile_interval_over_the_replicates_axis():
    low, high = percentile_interval(np.arange(101.0), 0.9)
    assert (low, high) == pytest.approx((5.0, 95.0))
    columns = np.column_stack([np.arange(101.0), 2 * np.arange(101.0)])
    low, high = percentile_interval(columns, 0.5)
    assert low.tolist() == pytest.approx([25.0, 50.0]) and high.tolist() == pytest.approx([75.0, 150.0])
    low, high = percentile_interval(np.empty((0, 3)), 0.95)
    assert low.shape == (3,) and np.isnan(low).all() and np.isnan(high).all()
