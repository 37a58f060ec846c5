"""Significance tests: the paper's Table 3 (the best embedding against each other one) and McNemar's test.

Every test returns a JSON-ready dict with the statistic, the two-sided p-value and the effect it tests.

Caveat for Table 3: the category pairs are not independent observations (every category appears in K - 1 of the
K (K - 1) / 2 pairs), so the tests, which count each pair as an observation as the paper did, overstate the
evidence; read their p-values as optimistic.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from sasnet.analysis_configs import SignificanceConfig
from sasnet.scoring import pearson

EXACT_MCNEMAR_BELOW = 25  # discordant pairs under which the chi-square approximation is poor


def mse_f_test(mse_a: float, mse_b: float, n: int) -> dict:
    """F-test for a difference in mean squared error, as the paper did: F = MSE_a / MSE_b on (n, n) df.

    Assumes each MSE is a variance estimate from n independent, zero-mean normal errors (n df each, as nothing is
    estimated) and that the two are independent. Here both come from the same pairs, so they are positively
    correlated and the test is conservative on that count, while dependence between pairs makes it optimistic.
    With equal degrees of freedom the two-sided p-value does not depend on which MSE is the numerator.
    """
    ratio = mse_a / mse_b
    tail = min(stats.f.cdf(ratio, n, n), stats.f.sf(ratio, n, n))
    return {"statistic": ratio, "p_value": min(1.0, 2 * tail), "difference": mse_a - mse_b, "df": n}


def fisher_z_test(r_a: float, r_b: float, n_a: int, n_b: int) -> dict:
    """Fisher z-test for two Pearson correlations from independent samples of sizes n_a and n_b."""
    z = (np.arctanh(r_a) - np.arctanh(r_b)) / np.sqrt(1 / (n_a - 3) + 1 / (n_b - 3))
    return {"statistic": float(z), "p_value": float(2 * stats.norm.sf(abs(z))), "difference": r_a - r_b}


def dependent_correlation_test(r_a: float, r_b: float, r_ab: float, n: int) -> dict:
    """Z-test for two correlations with a shared variable on the same n observations (Meng, Rosenthal & Rubin 1992).

    ``r_a`` = corr(a, y), ``r_b`` = corr(b, y), ``r_ab`` = corr(a, b): here a and b are two methods' predicted
    similarities and y the reference. The Fisher z difference is scaled by its variance under the dependence
    (the same family as Steiger 1980); with r_ab = 0 it is close to the independent test.
    """
    mean_r2 = (r_a**2 + r_b**2) / 2
    f = min(1.0, (1 - r_ab) / (2 * (1 - mean_r2)))
    h = (1 - f * mean_r2) / (1 - mean_r2)
    z = (np.arctanh(r_a) - np.arctanh(r_b)) * np.sqrt((n - 3) / (2 * (1 - r_ab) * h))
    return {"statistic": float(z), "p_value": float(2 * stats.norm.sf(abs(z))), "difference": r_a - r_b}


def mcnemar_test(truth: np.ndarray, predicted_a: np.ndarray, predicted_b: np.ndarray) -> dict:
    """McNemar's test: do two classifiers, scored on the same items, differ in accuracy?

    Only the discordant items count: ``a_only`` (a right, b wrong) and ``b_only``. Under the null each is
    Binomial(a_only + b_only, 1/2). Below EXACT_MCNEMAR_BELOW discordant items the exact binomial test is used
    (statistic: a_only); otherwise chi-square with continuity correction, (|a_only - b_only| - 1)^2 / (a_only +
    b_only) on 1 df.
    """
    correct_a, correct_b = predicted_a == truth, predicted_b == truth
    a_only, b_only = int(np.sum(correct_a & ~correct_b)), int(np.sum(correct_b & ~correct_a))
    discordant = a_only + b_only
    if discordant < EXACT_MCNEMAR_BELOW:
        method, statistic = "exact", float(a_only)
        p_value = stats.binomtest(a_only, discordant).pvalue if discordant else 1.0
    else:
        method, statistic = "chi2", (abs(a_only - b_only) - 1) ** 2 / discordant
        p_value = stats.chi2.sf(statistic, 1)
    return {
        "method": method,
        "statistic": statistic,
        "p_value": float(p_value),
        "difference": float(correct_a.mean() - correct_b.mean()),  # accuracy of a minus accuracy of b
        "a_only_correct": a_only,
        "b_only_correct": b_only,
    }


def significance_table(pairs: pd.DataFrame, best_method: str, config: SignificanceConfig) -> pd.DataFrame:
    """Table 3: the best method against each other one, on the category pairs both predict.

    ``pairs`` is ScoringResult.pairs (method, category_a, category_b, reference, predicted). One row per other
    method: both MSEs and the F-test, both Pearson r and the correlation test chosen in ``config``.
    """
    best = pairs[pairs["method"] == best_method]
    rows = []
    for method, other in pairs[pairs["method"] != best_method].groupby("method", sort=False):
        both = best.merge(other, on=["category_a", "category_b"], suffixes=("_best", "_other")).dropna(
            subset=["predicted_best", "predicted_other"]
        )
        reference = both["reference_best"].to_numpy()
        predicted_best, predicted_other = both["predicted_best"].to_numpy(), both["predicted_other"].to_numpy()
        n = len(both)
        mse_best, mse_other = np.mean((predicted_best - reference) ** 2), np.mean((predicted_other - reference) ** 2)
        r_best, r_other = pearson(predicted_best, reference), pearson(predicted_other, reference)
        f_test = mse_f_test(mse_other, mse_best, n)
        if config.correlation_test == "dependent":
            z_test = dependent_correlation_test(r_best, r_other, pearson(predicted_best, predicted_other), n)
        else:
            z_test = fisher_z_test(r_best, r_other, n, n)
        rows.append(
            {
                "method": method,
                "best_method": best_method,
                "pairs": n,
                "MSE_c_best": mse_best,
                "MSE_c": mse_other,
                "F": f_test["statistic"],
                "F_p_value": f_test["p_value"],
                "PR_c_best": r_best,
                "PR_c": r_other,
                "z": z_test["statistic"],
                "z_p_value": z_test["p_value"],
                "z_test": config.correlation_test,
            }
        )
    return pd.DataFrame(rows)
