"""What the svm and train_sasnet stages share: a model's input data, and scoring and storing its predictions.

Every model is scored on the same valid and test reviews (SPEC §2.5) and writes ``metrics/<model>.json`` plus
``data/predictions/<model>.parquet`` (one row per scored review, in canonical order), which the report stage
compares pairwise.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from sasnet import paths
from sasnet.classification import classification_report, majority_class
from sasnet.embeddings import store
from sasnet.errors import PipelineError
from sasnet.histories import Histories
from sasnet.io import write_parquet
from sasnet.params import EvaluationConfig, ModelInput

EVALUATED_SPLITS = ("valid", "test")


@dataclass(frozen=True)
class ModelData:
    """The reviews in canonical row order, one model input's embedding matrix over them, and their histories."""

    reviews: pd.DataFrame  # the split files' columns plus ``split``; ``label`` is the class index
    matrix: np.ndarray | sp.csr_matrix
    histories: Histories

    @property
    def labels(self) -> np.ndarray:
        return self.reviews["label"].to_numpy(dtype=np.int64)


def load_model_data(model_input: ModelInput) -> ModelData:
    """The normalised embedding named by ``model_input``, checked to be in the split files' current row order."""
    folder = paths.normalized_dir(model_input.embedding)
    reviews = store.canonical_reviews()
    try:
        index = store.read_row_index(folder)
        matrix = store.read_any(folder, model_input.pooling)
    except FileNotFoundError as error:
        raise PipelineError(
            f"no {model_input.pooling!r} embedding in {folder} ({error.filename}): run `dvc repro normalize`"
        ) from None
    if not index["review_id"].equals(reviews["review_id"]):
        raise PipelineError(f"{folder} was computed for other reviews than data/split holds: run `dvc repro normalize`")
    return ModelData(reviews, matrix, Histories.from_reviews(reviews))


def score_model(
    data: ModelData,
    predicted: Mapping[str, np.ndarray],
    class_names: Sequence[str],
    config: EvaluationConfig,
) -> dict:
    """``classification_report`` on each evaluated split, against the train split's majority class."""
    labels = data.labels
    majority = majority_class(labels[data.histories.rows_of("train")])
    return {
        split: classification_report(
            labels[data.histories.rows_of(split)],
            predicted[split],
            class_names,
            majority,
            config.bootstrap_samples,
            config.seed,
            config.confidence,
        )
        for split in EVALUATED_SPLITS
    }


def write_predictions(
    model: str,
    data: ModelData,
    predicted: Mapping[str, np.ndarray],
    probabilities: Mapping[str, np.ndarray] | None = None,
    class_names: Sequence[str] = (),
) -> None:
    """review_id, split, label, predicted (and p_<class> when given) for every evaluated review."""
    frames = []
    for split in EVALUATED_SPLITS:
        rows = data.histories.rows_of(split)
        frame = data.reviews.loc[rows, ["review_id", "split", "label"]].assign(predicted=np.asarray(predicted[split]))
        if probabilities is not None:
            frame = frame.assign(**{f"p_{name}": probabilities[split][:, k] for k, name in enumerate(class_names)})
        frames.append(frame)
    write_parquet(pd.concat(frames, ignore_index=True), paths.predictions_file(model))
