"""What every model family reads: the split's reviews in canonical row order, their histories, and optionally one
normalised review embedding over them."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from sasnet import paths
from sasnet.embeddings import store
from sasnet.errors import PipelineError
from sasnet.histories import Histories
from sasnet.item_codes import ItemCodes, load_item_codes


@dataclass(frozen=True)
class ModelData:
    """The reviews in canonical row order, their histories, and the model's embedding matrix over them (or None)."""

    reviews: pd.DataFrame  # the split files' columns plus ``split``; ``label`` is the class index
    histories: Histories
    matrix: np.ndarray | sp.csr_matrix | None = None
    item_codes: ItemCodes | None = None  # the catalogue's semantic IDs and metadata, for families that read them

    @property
    def labels(self) -> np.ndarray:
        return self.reviews["label"].to_numpy(dtype=np.int64)

    @property
    def stars(self) -> np.ndarray:
        return self.reviews["stars"].to_numpy(dtype=np.int64)

    def rows_of(self, split: str) -> np.ndarray:
        return self.histories.rows_of(split)


def load_model_data(embedding: str | None = None, pooling: str | None = None,
                    semantic_ids: bool = False) -> ModelData:
    """The split's reviews and, when ``embedding`` is given, its normalised ``pooling`` matrix, checked to be in the
    split files' current row order; with ``semantic_ids``, the catalogue's semantic IDs (data/semantic_ids)."""
    reviews = store.canonical_reviews()
    histories = Histories.from_reviews(reviews)
    if semantic_ids:
        codes = load_item_codes()
        codes.rows(reviews["business_id"].unique())  # every reviewed business has an ID
        return ModelData(reviews, histories, item_codes=codes)
    if embedding is None:
        return ModelData(reviews, histories)
    index, matrix = read_embedding(embedding, pooling)
    if not index["review_id"].equals(reviews["review_id"]):
        raise PipelineError(
            f"{paths.normalized_dir(embedding)} was computed for other reviews than data/split holds: "
            "run `dvc repro normalize`")
    return ModelData(reviews, histories, matrix)


def read_embedding(embedding: str, pooling: str | None) -> tuple[pd.DataFrame, np.ndarray | sp.csr_matrix]:
    """The normalised ``pooling`` matrix of the embed.encoders entry ``embedding`` and its row index (review_id)."""
    folder = paths.normalized_dir(embedding)
    try:
        return store.read_row_index(folder), store.read_any(folder, pooling)
    except FileNotFoundError as error:
        raise PipelineError(
            f"no {pooling!r} embedding in {folder} ({error.filename}): run `dvc repro normalize`"
        ) from None
