"""What every model's train stage shares: scoring its predictions and storing them.

Every model is scored on the same valid and test reviews (SPEC §2.5) and writes ``metrics/models/<model>.json``
plus ``data/predictions/<model>.parquet`` (one row per scored review, in canonical order, with its user and its
class probabilities), which the report stage compares pairwise.

The split is by user: every interval here resamples the evaluated split's users, all their reviews at once
(``sasnet.stats.cluster_draws``), since a user's reviews are not independent.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from sasnet import paths
from sasnet.analysis_configs import EvaluationConfig, ItemSlicesConfig
from sasnet.classification import classification_report, majority_class
from sasnet.io import write_parquet
from sasnet.item_slices import slice_facts, slice_masks
from sasnet.stats import cluster_resamples, percentile_interval

if TYPE_CHECKING:  # annotations only
    from sasnet.model_data import ModelData

EVALUATED_SPLITS = ("valid", "test")



def score_model(
    data: ModelData,
    probabilities: Mapping[str, np.ndarray],
    class_names: Sequence[str],
    config: EvaluationConfig,
    slices: ItemSlicesConfig,
    ratings: Mapping[str, np.ndarray] | None = None,
) -> dict:
    """On each evaluated split: ``classification_report`` against the train split's majority class, the AUC and F1
    of the last class against the rest ("excellent vs not"), with predicted ``ratings`` their RMSE; and the same
    per item slice (cold-start items, popularity slices: ``sasnet.item_slices``). Every interval resamples the
    split's users (the slice's users, in a slice)."""
    labels = data.labels
    train = data.reviews.iloc[data.rows_of("train")]
    train_counts = train["business_id"].value_counts()
    majority = majority_class(labels[data.rows_of("train")])
    scores = {}
    for split in EVALUATED_SPLITS:
        rows = data.rows_of(split)
        users = data.reviews["user_id"].to_numpy()[rows]
        predicted = probabilities[split].argmax(axis=1)
        scores[split] = classification_report(
            labels[rows], predicted, class_names, majority, config.bootstrap_samples, config.seed,
            config.confidence, clusters=users,
        ) | last_class_scores(labels[rows], probabilities[split], config, clusters=users)
        if ratings is not None:
            scores[split]["rmse"] = rmse(ratings[split], data.stars[rows])
        items = data.reviews["business_id"].to_numpy()[rows]
        counts = train_counts.reindex(items, fill_value=0).to_numpy()
        masks = slice_masks(items, counts, slices)
        facts = slice_facts(masks, items, counts)
        scores[split]["slices"] = {
            name: facts[name] | (_slice_report(labels[rows][mask], probabilities[split][mask], config,
                                               None if ratings is None else (ratings[split][mask],
                                                                             data.stars[rows][mask]),
                                               users[mask])
                                 if mask.any() else {})
            for name, mask in masks.items()
        }
    return scores


def rmse(predicted: np.ndarray, stars: np.ndarray) -> float:
    return float(np.sqrt(np.mean((predicted - stars) ** 2)))


def last_class_scores(labels: np.ndarray, probabilities: np.ndarray, config: EvaluationConfig,
                      clusters: np.ndarray | None = None) -> dict:
    """"Excellent vs not" (the last class against the rest): the AUC of its probability and the F1 of predicting
    it (argmax), with percentile bootstrap intervals over the users ``clusters`` (each example's; None: over the
    examples); the AUC is null when one side is empty.

    A bootstrap replicate is a vector of counts over the examples (``sasnet.stats.cluster_resamples``: each
    example's user drawn that often), so every replicate's AUC and F1 come from weighted sums over the examples
    sorted once by score."""
    positive = probabilities.shape[1] - 1
    truth, score = labels == positive, probabilities[:, positive]
    chosen = probabilities.argmax(axis=1) == positive
    n = len(labels)
    counts = cluster_resamples(clusters, n, config.bootstrap_samples, config.seed)
    report = {}
    for name, metric in (("auc", _weighted_auc), ("f1", _weighted_f1)):
        value = metric(truth, score, chosen, np.ones((1, n)))[0]
        values = metric(truth, score, chosen, counts)
        low, high = percentile_interval(values[np.isfinite(values)], config.confidence)
        report |= {f"last_class_{name}": None if np.isnan(value) else float(value),
                   f"last_class_{name}_low": None if np.isnan(low) else float(low),
                   f"last_class_{name}_high": None if np.isnan(high) else float(high)}
    return report


def _weighted_auc(truth: np.ndarray, score: np.ndarray, chosen: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Per row of ``weights`` ([replicates, n]): P(a positive outscores a negative), ties counting half (the
    Mann-Whitney AUC, as scikit-learn's roc_auc_score); NaN where a side has no weight."""
    order = np.argsort(score, kind="stable")
    starts = np.flatnonzero(np.r_[True, np.diff(score[order]) != 0])  # groups of equal scores, ascending
    weights = weights[:, order]
    negatives = np.add.reduceat(weights * ~truth[order], starts, axis=1)
    positives = np.add.reduceat(weights * truth[order], starts, axis=1)
    below = np.cumsum(negatives, axis=1) - negatives
    pairs = positives.sum(axis=1) * negatives.sum(axis=1)
    wins = (positives * (below + 0.5 * negatives)).sum(axis=1)
    return np.divide(wins, pairs, out=np.full(len(weights), np.nan), where=pairs > 0)


def _weighted_f1(truth: np.ndarray, score: np.ndarray, chosen: np.ndarray, weights: np.ndarray) -> np.ndarray:
    hits = weights @ (truth & chosen)
    denominator = weights @ truth + weights @ chosen
    return np.divide(2 * hits, denominator, out=np.zeros(len(weights)), where=denominator > 0)


def _slice_report(labels: np.ndarray, probabilities: np.ndarray, config: EvaluationConfig,
                  ratings: tuple[np.ndarray, np.ndarray] | None, users: np.ndarray) -> dict:
    """The headline metrics of one item slice, with intervals over the slice's users."""
    n_classes = probabilities.shape[1]
    full = classification_report(labels, probabilities.argmax(axis=1), [str(c) for c in range(n_classes)], 0,
                                 config.bootstrap_samples, config.seed, config.confidence, clusters=users)
    report = {key: full[key] for key in ("users", "accuracy", "accuracy_low", "accuracy_high",
                                         "macro_f1", "macro_f1_low", "macro_f1_high")}
    report |= last_class_scores(labels, probabilities, config, clusters=users)
    return report | ({"rmse": rmse(*ratings)} if ratings is not None else {})


def write_predictions(
    model: str, data: ModelData, probabilities: Mapping[str, np.ndarray], class_names: Sequence[str]
) -> None:
    """review_id, user_id, split, label, predicted and p_<class> for every evaluated review (the report's paired
    bootstrap resamples the users)."""
    frames = []
    for split in EVALUATED_SPLITS:
        rows = data.rows_of(split)
        frame = data.reviews.loc[rows, ["review_id", "user_id", "split", "label"]].assign(
            predicted=probabilities[split].argmax(axis=1),
            **{f"p_{name}": probabilities[split][:, k] for k, name in enumerate(class_names)},
        )
        frames.append(frame)
    write_parquet(pd.concat(frames, ignore_index=True), paths.predictions_file(model))
