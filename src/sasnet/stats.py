"""The statistics every stage shares: the bootstrap (plain or by cluster), percentile intervals, paired bootstrap
differences, Holm's adjustment, Pearson's r; and the significance tests: the paper's Table 3 (the best embedding
against each other one) and McNemar's test.

Every test returns a JSON-ready dict with the statistic, the two-sided p-value and the effect it tests.

The cluster bootstrap: when the rows are not independent (the classification task splits by user, so a user's
reviews are all in one split and share whatever makes that user easy or hard), a resample draws the clusters (users)
with replacement and takes all the rows of each drawn cluster, as often as it was drawn. With every row its own
cluster it is the ordinary bootstrap; the ranking task, one row per user, is that case.

Caveat for Table 3: the category pairs are not independent observations (every category appears in K - 1 of the
K (K - 1) / 2 pairs), so the tests, which count each pair as an observation as the paper did, overstate the
evidence; read their p-values as optimistic.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from sasnet.analysis_configs import SignificanceConfig

EXACT_MCNEMAR_BELOW = 25  # discordant pairs under which the chi-square approximation is poor


# ---- the bootstrap


def cluster_draws(clusters: np.ndarray | None, n: int, samples: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """How often each cluster is drawn in each resample, and each row's cluster: (``draws`` [samples, clusters],
    ``cluster_of_row`` [n], clusters numbered 0.. in sorted order of their labels).

    Each resample draws as many clusters as there are, uniformly with replacement, from ``np.random.default_rng(seed)``;
    ``clusters`` None makes every row its own cluster (the ordinary bootstrap of the rows). The same seed and the same
    set of cluster labels give the same draws, whatever the order of the rows. A metric that is a sum over rows can be
    aggregated per cluster first: ``draws @ per_cluster`` is then every resample's sum, at a cost of clusters (not
    rows) per resample.
    """
    if clusters is None:
        cluster_of_row = np.arange(n)
    else:
        clusters = np.asarray(clusters)
        if clusters.shape != (n,):
            raise ValueError(f"{clusters.shape[0] if clusters.ndim else 0} cluster labels for {n} rows")
        cluster_of_row = np.unique(clusters, return_inverse=True)[1].reshape(n)
    k = int(cluster_of_row.max()) + 1 if n else 0
    if k == 0 or samples == 0:
        return np.zeros((samples, k), dtype=np.int64), cluster_of_row
    drawn = np.random.default_rng(seed).integers(k, size=(samples, k))
    drawn += k * np.arange(samples)[:, None]  # one bincount for every resample at once
    return np.bincount(drawn.ravel(), minlength=samples * k).reshape(samples, k), cluster_of_row


def cluster_resamples(clusters: np.ndarray | None, n: int, samples: int, seed: int) -> np.ndarray:
    """[samples, n] int32: how many times each row is in each resample (cluster bootstrap; see ``cluster_draws``).

    A resample draws the clusters with replacement and takes all the rows of each, so a row's count is its cluster's;
    ``np.repeat(np.arange(n), counts[b])`` is resample b as an index array. With clusters its size varies from one
    resample to the next; with ``clusters`` None every row is its own cluster and each resample has n rows.
    """
    draws, cluster_of_row = cluster_draws(clusters, n, samples, seed)
    return draws.astype(np.int32)[:, cluster_of_row]


def percentile_interval(values: np.ndarray, confidence: float) -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper percentile bounds of the bootstrap replicates ``values`` over axis 0 (floats for a 1-D array);
    NaN when there are no replicates."""
    values = np.asarray(values, dtype=float)
    if not len(values):
        empty = np.full(values.shape[1:], np.nan)
        return empty, empty
    tail = (1 - confidence) / 2
    low, high = np.quantile(values, [tail, 1 - tail], axis=0)
    return low, high


def difference_summary(observed: float, differences: np.ndarray, confidence: float) -> dict:
    """A paired bootstrap's result from the observed difference and the resampled ones (NaN replicates dropped):
    ``difference``, the percentile interval ``low``, ``high`` and a two-sided ``p_value`` (twice the smaller share of
    replicates on either side of zero, never below 1 / replicates, the finest a bootstrap resolves); the interval and
    the p-value are None without replicates."""
    differences = np.asarray(differences, dtype=float)
    differences = differences[np.isfinite(differences)]
    low, high = percentile_interval(differences, confidence)
    p_value = None
    if len(differences):
        tail = min(np.mean(differences <= 0), np.mean(differences >= 0))
        p_value = float(min(1.0, max(2 * tail, 1 / len(differences))))
    return {"difference": float(observed), "low": json_number(low), "high": json_number(high), "p_value": p_value}


@dataclass(frozen=True)
class SumMetric:
    """A metric that sums over rows determine: ``summands(truth, predicted)`` gives each row's [n, d] summands and
    ``of_sums`` the metric of their sum over any rows ([..., d] -> [...]). Accuracy, any score of the confusion matrix
    and any mean over users are such metrics; a bootstrap then sums each cluster once, and every resample is one
    matrix product (``cluster_draws``)."""

    summands: Callable[[np.ndarray, np.ndarray], np.ndarray]
    of_sums: Callable[[np.ndarray], np.ndarray]


def mean_metric(per_row: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> SumMetric:
    """The mean over rows of ``per_row(truth, predicted)`` (a row's correctness, a user's NDCG, ...)."""
    def summands(truth: np.ndarray, predicted: np.ndarray) -> np.ndarray:
        values = np.asarray(per_row(truth, predicted), dtype=np.float64)
        return np.column_stack([values, np.ones_like(values)])

    return SumMetric(summands, lambda sums: sums[..., 0] / sums[..., 1])


def paired_bootstrap(
    metric: SumMetric,
    truth: np.ndarray,
    predicted_a: np.ndarray,
    predicted_b: np.ndarray,
    clusters: np.ndarray | None,
    samples: int,
    seed: int,
    confidence: float,
) -> dict:
    """``metric`` of ``predicted_a`` minus ``metric`` of ``predicted_b`` with a percentile interval and a two-sided
    p-value (``difference_summary``) from ``samples`` cluster resamples (``cluster_draws``) applied to both at once,
    all of them from each cluster's summands summed once."""
    truth, predicted_a, predicted_b = (np.asarray(values) for values in (truth, predicted_a, predicted_b))
    n = len(truth)
    if predicted_a.shape != truth.shape or predicted_b.shape != truth.shape:
        raise ValueError("truth and both predictions must be equally long")
    draws, cluster_of_row = cluster_draws(clusters, n, samples, seed)
    weights = draws.astype(np.float64)  # float products run on BLAS
    observed, differences = 0.0, np.zeros(samples)
    for sign, predicted in ((1, predicted_a), (-1, predicted_b)):
        rows = np.asarray(metric.summands(truth, predicted), dtype=np.float64).reshape(n, -1)
        per_cluster = np.zeros((draws.shape[1], rows.shape[1]))
        np.add.at(per_cluster, cluster_of_row, rows)
        differences += sign * metric.of_sums(weights @ per_cluster)
        observed += sign * metric.of_sums(rows.sum(axis=0))
    return difference_summary(observed, differences, confidence)


def holm_adjusted(p_values: Sequence[float]) -> np.ndarray:
    """Holm's step-down adjustment: the family-wise error stays at alpha over all the pairwise tests."""
    p = np.asarray(p_values, dtype=float)
    order = np.argsort(p, kind="stable")
    scaled = np.minimum(1.0, (len(p) - np.arange(len(p))) * p[order])
    adjusted = np.empty_like(p)
    adjusted[order] = np.maximum.accumulate(scaled)
    return adjusted


def pearson(x: np.ndarray, y: np.ndarray) -> float:
    """Pearson correlation; NaN when either list is constant."""
    x_centred, y_centred = x - x.mean(), y - y.mean()
    denominator = np.sqrt((x_centred @ x_centred) * (y_centred @ y_centred))
    return float(x_centred @ y_centred / denominator) if denominator > 0 else float("nan")


def json_number(value: np.ndarray | float) -> float | None:
    """JSON has no NaN: an interval without replicates is null."""
    return None if np.isnan(value) else float(value)


# ---- significance tests


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
