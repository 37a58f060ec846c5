"""What every model family reads: the split's reviews in canonical row order, their histories, and optionally one
normalised review embedding over them."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from sasnet.embeddings import store
from sasnet.histories import Histories
from sasnet.inputs import ModelInput
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


def load_model_data(model_input: ModelInput = ModelInput()) -> ModelData:
    """The split's reviews and, for an embedding input, its normalised pooling matrix, checked to be in the split
    files' current row order; for a semantic-ID input, the catalogue's semantic IDs (data/semantic_ids)."""
    embedding, pooling = model_input.embedding, model_input.pooling
    reviews = store.canonical_reviews()
    histories = Histories.from_reviews(reviews)
    if model_input.semantic_ids:
        codes = load_item_codes()
        codes.rows(reviews["business_id"].unique())  # every reviewed business has an ID
        return ModelData(reviews, histories, item_codes=codes)
    if embedding is None:
        return ModelData(reviews, histories)
    return ModelData(reviews, histories, store.read_normalized(embedding, pooling, reviews)[1])
