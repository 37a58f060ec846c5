"""The metrics every model reports (SPEC §2.5), as a JSON-ready dict.

Accuracy, macro-F1, weighted-F1, per-class F1 and the confusion matrix, with percentile bootstrap intervals for
accuracy and macro-F1, and the majority-class accuracy beside them (the majority class is the train split's).

The split is by user, and a user's reviews are not independent, so given each example's user (``clusters``) the
intervals come from the user bootstrap (``sasnet.stats.cluster_draws``): a resample draws the users with replacement
and takes all their reviews. All the metrics are functions of the confusion matrix, so each user's confusion counts
are summed once and a resample's confusion matrix is ``draws @ per_user``, at a cost of users x classes^2 per
replicate. With users, the review bootstrap's interval is kept beside it as ``<metric>_low_reviews`` /
``<metric>_high_reviews``, labelled as what it is: too narrow when users differ. The review bootstrap needs no
resampled reviews either: drawing the n scored examples with replacement puts Multinomial(n, confusion / n) counts
in the (true, predicted) cells, exactly the distribution of resampling the examples.

F1 follows scikit-learn with ``zero_division=0``: a class that is neither present nor predicted scores 0, and macro-F1
averages over every class in ``class_names``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from sasnet.errors import PipelineError
from sasnet.stats import SumMetric, cluster_draws, json_number, paired_bootstrap, percentile_interval


def class_shares(labels: np.ndarray, n_classes: int) -> np.ndarray:
    """The share of each class index among ``labels``."""
    return np.bincount(np.asarray(labels, dtype=np.int64), minlength=n_classes) / max(len(labels), 1)


def majority_class(train_labels: np.ndarray) -> int:
    """The most frequent train label (the lowest on ties): the baseline every accuracy is read against."""
    return int(np.bincount(np.asarray(train_labels, dtype=np.int64)).argmax())


def confusion_counts(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> np.ndarray:
    """[n_classes, n_classes] counts, rows the true class and columns the predicted one."""
    return np.bincount(y_true * n_classes + y_pred, minlength=n_classes * n_classes).reshape(n_classes, n_classes)


def confusion_scores(confusion: np.ndarray) -> dict[str, np.ndarray]:
    """Accuracy, per-class F1 (last axis), macro-F1 and weighted-F1 of confusion matrices [..., classes, classes]."""
    true_positives = np.diagonal(confusion, axis1=-2, axis2=-1)
    support = confusion.sum(axis=-1)
    total = support.sum(axis=-1)
    denominator = support + confusion.sum(axis=-2)
    f1 = np.divide(2 * true_positives, denominator, out=np.zeros(denominator.shape), where=denominator > 0)
    return {
        "accuracy": true_positives.sum(axis=-1) / total,
        "f1": f1,
        "macro_f1": f1.mean(axis=-1),
        "weighted_f1": (f1 * support).sum(axis=-1) / total,
    }


def classification_report(
    y_true: np.ndarray,
    y_pred: np.ndarray,
    class_names: Sequence[str],
    majority_label: int,
    bootstrap_samples: int,
    seed: int,
    confidence: float,
    clusters: np.ndarray | None = None,
) -> dict:
    """Every metric of one model on one set of examples; intervals are null when ``bootstrap_samples`` is 0.

    ``clusters`` (each example's user) makes the intervals a user bootstrap and adds ``users`` and the review
    bootstrap's interval as ``*_low_reviews`` / ``*_high_reviews``; without it the intervals resample the examples.
    """
    y_true, y_pred = np.asarray(y_true, dtype=np.int64), np.asarray(y_pred, dtype=np.int64)
    if len(y_true) == 0:
        raise PipelineError("no examples to score: the evaluated split is empty")
    n_classes = len(class_names)
    labels = np.concatenate([y_true, y_pred])
    if y_true.shape != y_pred.shape or labels.min() < 0 or labels.max() >= n_classes:
        raise ValueError(f"labels must be two equally long arrays of class indices 0..{n_classes - 1}")
    confusion = confusion_counts(y_true, y_pred, n_classes)
    scores = confusion_scores(confusion)
    review_replicates = confusion_scores(np.random.default_rng(seed).multinomial(
        len(y_true), confusion.ravel() / len(y_true), size=bootstrap_samples
    ).reshape(bootstrap_samples, n_classes, n_classes))
    report = {"examples": len(y_true)}
    if clusters is None:
        replicates = review_replicates
    else:
        report["users"] = len(np.unique(clusters))
        draws = cluster_draws(clusters, len(y_true), bootstrap_samples, seed)
        replicates = confusion_scores(resampled_confusions(y_true, y_pred, n_classes, *draws))
    for metric in ("accuracy", "macro_f1"):
        low, high = percentile_interval(replicates[metric], confidence)
        report |= {
            metric: float(scores[metric]),
            f"{metric}_low": json_number(low),
            f"{metric}_high": json_number(high),
        }
        if clusters is not None:
            low, high = percentile_interval(review_replicates[metric], confidence)
            report |= {f"{metric}_low_reviews": json_number(low), f"{metric}_high_reviews": json_number(high)}
    return report | {
        "weighted_f1": float(scores["weighted_f1"]),
        "majority_class": class_names[majority_label],
        "majority_accuracy": float(np.mean(y_true == majority_label)),
        "f1_per_class": dict(zip(class_names, scores["f1"].tolist())),
        "support_per_class": dict(zip(class_names, confusion.sum(axis=1).tolist())),
        "confusion_matrix": confusion.tolist(),  # rows: true class, columns: predicted, both in class_names order
        "bootstrap": {"samples": bootstrap_samples, "seed": seed, "confidence": confidence,
                      "resamples": "reviews" if clusters is None else "users"},
    }


def resampled_confusions(
    y_true: np.ndarray, y_pred: np.ndarray, n_classes: int, draws: np.ndarray, cluster_of_row: np.ndarray
) -> np.ndarray:
    """[samples, classes, classes] confusion counts of the cluster resamples ``draws`` (with each row's cluster, from
    ``sasnet.stats.cluster_draws``), from each cluster's confusion counts summed once."""
    samples = len(draws)
    cells = n_classes * n_classes
    per_cluster = np.bincount(cluster_of_row * cells + y_true * n_classes + y_pred,
                              minlength=draws.shape[1] * cells).reshape(-1, cells)
    # float products run on BLAS; the counts stay exact integers far beyond any data set's size
    return (draws.astype(np.float64) @ per_cluster).reshape(samples, n_classes, n_classes)


def macro_f1_metric(n_classes: int) -> SumMetric:
    """Macro-F1 as a sum metric (``sasnet.stats.SumMetric``): each row adds one to its confusion cell."""
    cells = n_classes * n_classes

    def summands(truth: np.ndarray, predicted: np.ndarray) -> np.ndarray:
        return np.eye(cells)[np.asarray(truth, dtype=np.int64) * n_classes + np.asarray(predicted, dtype=np.int64)]

    return SumMetric(summands, lambda sums: confusion_scores(sums.reshape(*sums.shape[:-1], n_classes,
                                                                          n_classes))["macro_f1"])


def paired_bootstrap_difference(
    y_true: np.ndarray,
    predicted_a: np.ndarray,
    predicted_b: np.ndarray,
    n_classes: int,
    bootstrap_samples: int,
    seed: int,
    confidence: float,
    clusters: np.ndarray | None = None,
) -> dict:
    """Macro-F1 of A minus macro-F1 of B, with a percentile interval over the same resamples for both and a two-sided
    bootstrap p-value (``sasnet.stats.paired_bootstrap``). ``clusters`` (each review's user) resamples users, all
    their reviews at once; None resamples reviews."""
    summary = paired_bootstrap(macro_f1_metric(n_classes), y_true, predicted_a, predicted_b, clusters,
                               bootstrap_samples, seed, confidence)
    return {"macro_f1_difference": summary["difference"], "macro_f1_difference_low": summary["low"],
            "macro_f1_difference_high": summary["high"], "bootstrap_p_value": summary["p_value"],
            "bootstrap_resamples": "reviews" if clusters is None else "users"}
