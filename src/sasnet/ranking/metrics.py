"""Top-k metrics over the whole catalogue (no sampled negatives: they change the order of models; Krichene and
Rendle, KDD 2020), with bootstrap intervals over users.

Each evaluated user has one held-out target (leave-last-out). Items the user has already interacted with are never
ranked; among the rest, a higher score ranks first and equal scores rank by item index, the same order the user's
recommended list is shown in. With one relevant item per user, Recall@k equals HitRate@k (both are reported, as the
field names them); MRR is over the full ranking, not cut at k.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.stats import rankdata

from sasnet.errors import PipelineError
from sasnet.stats import cluster_resamples, json_number, percentile_interval

METRICS = ("recall", "ndcg", "mrr", "hit_rate")


def masked(scores: np.ndarray, seen: sp.csr_matrix) -> np.ndarray:
    """``scores`` ([users, items]) with every seen item at -inf, so it never ranks."""
    scores = np.array(scores, dtype=np.float64)
    rows, cols = seen.nonzero()
    scores[rows, cols] = -np.inf
    return scores


def target_ranks(scores: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """0-based rank of each row's target among the row's items (ties: lower item index first)."""
    target_scores = scores[np.arange(len(targets)), targets][:, None]
    columns = np.arange(scores.shape[1])[None, :]
    ahead = (scores > target_scores) | ((scores == target_scores) & (columns < targets[:, None]))
    return ahead.sum(axis=1)


def top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """[users, k] item indices, best first (ties: lower item index first); -1 where fewer than k items rank."""
    order = np.lexsort((np.broadcast_to(np.arange(scores.shape[1]), scores.shape), -scores), axis=1)[:, :k]
    order = np.where(np.isfinite(np.take_along_axis(scores, order, axis=1)), order, -1)
    return np.pad(order, ((0, 0), (0, k - order.shape[1])), constant_values=-1)  # a catalogue smaller than k


def per_user(ranks: np.ndarray, k: int) -> dict[str, np.ndarray]:
    """Each metric for each user, from the target's 0-based rank."""
    hit = (ranks < k).astype(np.float64)
    return {"recall": hit, "ndcg": hit / np.log2(ranks + 2.0), "mrr": 1.0 / (ranks + 1.0), "hit_rate": hit}


def summary(values: dict[str, np.ndarray], k: int, bootstrap_samples: int, seed: int, confidence: float) -> dict:
    """Mean of each metric over users, with a percentile interval from users resampled with replacement (the
    classification task's user bootstrap, ``sasnet.stats.cluster_resamples``, with one row per user)."""
    n = len(next(iter(values.values())))
    if n == 0:
        raise PipelineError("no evaluated user: no held-out target is relevant (see ranking.relevant)")
    counts = cluster_resamples(None, n, bootstrap_samples, seed)  # each user its own cluster
    report = {"users": n, "k": k}
    for metric in METRICS:
        name = metric if metric == "mrr" else f"{metric}@{k}"
        low, high = percentile_interval(counts @ values[metric] / n, confidence)
        report |= {name: float(values[metric].mean()), f"{name}_low": json_number(low), f"{name}_high": json_number(high)}
    return report


def coverage(recommended: np.ndarray, n_items: int) -> float:
    """Share of the catalogue that appears in at least one user's top-k."""
    return float(len(np.unique(recommended[recommended >= 0])) / n_items)


def popularity_percentiles(train_counts: np.ndarray) -> np.ndarray:
    """Each item's popularity percentile in the catalogue (100: the most interacted-with; ties share the mean)."""
    return 100.0 * rankdata(train_counts, method="average") / len(train_counts)


def mean_popularity_percentile(recommended: np.ndarray, train_counts: np.ndarray) -> float:
    """Mean popularity percentile of the recommended items: 50 is what a random pick gives, 100 only the top."""
    return float(popularity_percentiles(train_counts)[recommended[recommended >= 0]].mean())

