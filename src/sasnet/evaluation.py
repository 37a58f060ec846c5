"""What every model's train stage shares: scoring its predictions and storing them.

Every model is scored on the same valid and test reviews (SPEC §2.5) and writes ``metrics/models/<model>.json``
plus ``data/predictions/<model>.parquet`` (one row per scored review, in canonical order, with its class
probabilities), which the report stage compares pairwise.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from sasnet import paths
from sasnet.classification import classification_report, majority_class
from sasnet.io import write_parquet
from sasnet.model_data import ModelData
from sasnet.params import EvaluationConfig

EVALUATED_SPLITS = ("valid", "test")


def score_model(
    data: ModelData,
    predicted: Mapping[str, np.ndarray],
    class_names: Sequence[str],
    config: EvaluationConfig,
    ratings: Mapping[str, np.ndarray] | None = None,
) -> dict:
    """``classification_report`` on each evaluated split, against the train split's majority class; with predicted
    ``ratings``, their RMSE against the stars too."""
    labels = data.labels
    majority = majority_class(labels[data.rows_of("train")])
    scores = {}
    for split in EVALUATED_SPLITS:
        rows = data.rows_of(split)
        scores[split] = classification_report(
            labels[rows], predicted[split], class_names, majority, config.bootstrap_samples, config.seed,
            config.confidence,
        )
        if ratings is not None:
            scores[split]["rmse"] = float(np.sqrt(np.mean((ratings[split] - data.stars[rows]) ** 2)))
    return scores


def write_predictions(
    model: str, data: ModelData, probabilities: Mapping[str, np.ndarray], class_names: Sequence[str]
) -> None:
    """review_id, split, label, predicted and p_<class> for every evaluated review."""
    frames = []
    for split in EVALUATED_SPLITS:
        rows = data.rows_of(split)
        frame = data.reviews.loc[rows, ["review_id", "split", "label"]].assign(
            predicted=probabilities[split].argmax(axis=1),
            **{f"p_{name}": probabilities[split][:, k] for k, name in enumerate(class_names)},
        )
        frames.append(frame)
    write_parquet(pd.concat(frames, ignore_index=True), paths.predictions_file(model))
