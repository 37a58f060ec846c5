"""The metrics every model reports (SPEC §2.5), as a JSON-ready dict.

Accuracy, macro-F1, weighted-F1, per-class F1 and the confusion matrix, with percentile bootstrap intervals for
accuracy and macro-F1, and the majority-class accuracy beside them (the majority class is the train split's).

All of these are functions of the confusion matrix, so the bootstrap resamples confusion matrices: drawing the n
scored examples with replacement puts Multinomial(n, confusion / n) counts in the (true, predicted) cells, exactly
the distribution of resampling the examples, at a cost of classes^2 per replicate instead of n.

F1 follows scikit-learn with ``zero_division=0``: a class that is neither present nor predicted scores 0, and macro-F1
averages over every class in ``class_names``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from sasnet.errors import PipelineError
from sasnet.scoring import percentile_interval


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
) -> dict:
    """Every metric of one model on one set of examples; intervals are null when ``bootstrap_samples`` is 0."""
    y_true, y_pred = np.asarray(y_true, dtype=np.int64), np.asarray(y_pred, dtype=np.int64)
    if len(y_true) == 0:
        raise PipelineError("no examples to score: the evaluated split is empty")
    n_classes = len(class_names)
    labels = np.concatenate([y_true, y_pred])
    if y_true.shape != y_pred.shape or labels.min() < 0 or labels.max() >= n_classes:
        raise ValueError(f"labels must be two equally long arrays of class indices 0..{n_classes - 1}")
    confusion = confusion_counts(y_true, y_pred, n_classes)
    scores = confusion_scores(confusion)
    resampled = np.random.default_rng(seed).multinomial(
        len(y_true), confusion.ravel() / len(y_true), size=bootstrap_samples
    )
    replicates = confusion_scores(resampled.reshape(bootstrap_samples, n_classes, n_classes))
    report = {"examples": len(y_true)}
    for metric in ("accuracy", "macro_f1"):
        low, high = percentile_interval(replicates[metric], confidence)
        report |= {
            metric: float(scores[metric]),
            f"{metric}_low": _json_number(low),
            f"{metric}_high": _json_number(high),
        }
    return report | {
        "weighted_f1": float(scores["weighted_f1"]),
        "majority_class": class_names[majority_label],
        "majority_accuracy": float(np.mean(y_true == majority_label)),
        "f1_per_class": dict(zip(class_names, scores["f1"].tolist())),
        "support_per_class": dict(zip(class_names, confusion.sum(axis=1).tolist())),
        "confusion_matrix": confusion.tolist(),  # rows: true class, columns: predicted, both in class_names order
        "bootstrap": {"samples": bootstrap_samples, "seed": seed, "confidence": confidence},
    }


def _json_number(value: np.ndarray) -> float | None:
    """JSON has no NaN: an interval without replicates is null."""
    return None if np.isnan(value) else float(value)


def paired_bootstrap_difference(
    y_true: np.ndarray,
    predicted_a: np.ndarray,
    predicted_b: np.ndarray,
    n_classes: int,
    bootstrap_samples: int,
    seed: int,
    confidence: float,
) -> dict:
    """Macro-F1 of A minus macro-F1 of B, with a percentile interval over the same resampled reviews for both, and a
    two-sided bootstrap p-value (twice the smaller share of replicates on either side of zero; never below
    1 / bootstrap_samples, the finest a bootstrap resolves)."""
    y_true, predicted_a, predicted_b = (np.asarray(a, dtype=np.int64) for a in (y_true, predicted_a, predicted_b))
    n = len(y_true)
    rng = np.random.default_rng(seed)
    cells = n_classes * n_classes
    replicate_offset = (np.arange(bootstrap_samples) * cells)[:, None]
    differences = np.zeros(bootstrap_samples)
    drawn = rng.integers(n, size=(bootstrap_samples, n))
    for sign, predicted in ((1, predicted_a), (-1, predicted_b)):
        codes = (y_true * n_classes + predicted)[drawn] + replicate_offset
        confusion = np.bincount(codes.ravel(), minlength=bootstrap_samples * cells)
        differences += sign * confusion_scores(confusion.reshape(bootstrap_samples, n_classes, n_classes))["macro_f1"]
    observed = (confusion_scores(confusion_counts(y_true, predicted_a, n_classes))["macro_f1"]
                - confusion_scores(confusion_counts(y_true, predicted_b, n_classes))["macro_f1"])
    low, high = percentile_interval(differences, confidence)
    p_value = None
    if bootstrap_samples:
        tail = min(np.mean(differences <= 0), np.mean(differences >= 0))
        p_value = float(min(1.0, max(2 * tail, 1 / bootstrap_samples)))
    return {"macro_f1_difference": float(observed), "macro_f1_difference_low": _json_number(low),
            "macro_f1_difference_high": _json_number(high), "bootstrap_p_value": p_value}
