"""cornac's HFT on the train stars and the train reviews' text per business; its item side kept, users
ridge-folded in (``fold_in``)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
from cornac.data import Dataset, ReviewModality
from cornac.data.text import BaseTokenizer
from cornac.models import HFT

from sasnet.errors import PipelineError
from sasnet.model_data import ModelData
from sasnet.models.fold_in import (
    ItemSide,
    RatingRecommender,
    cornac_train_set,
    fitted_rmse,
    library_facts,
)


@contextmanager
def seeded_global_numpy(seed: int) -> Iterator[None]:
    """HFT draws its topic assignments from numpy's global generator: seed it for the fit, then put it back."""
    saved = np.random.get_state()
    np.random.seed(seed)
    try:
        yield
    finally:
        np.random.set_state(saved)


def add_item_text(data: ModelData, train_set: Dataset, vocab_size: int) -> ReviewModality:
    """Attach each business's document, its train reviews' text joined (cornac's ReviewModality grouped by item),
    as the train set's ``item_text``, which HFT reads."""
    train = data.reviews.iloc[data.rows_of("train")]
    text = ReviewModality(
        data=list(zip(train["user_id"], train["business_id"], train["text"])),
        group_by="item",
        tokenizer=BaseTokenizer(stop_words="english"),
        max_vocab=vocab_size,
    ).build(uid_map=train_set.uid_map, iid_map=train_set.iid_map, dok_matrix=train_set.dok_matrix)
    train_set.add_modalities(item_text=text)
    return text


def fit_hft(config: Any, data: ModelData, train_set: Dataset, progress: bool = False) -> HFT:
    text = add_item_text(data, train_set, config.vocab_size)
    model = HFT(
        k=config.k, max_iter=config.max_iter, grad_iter=config.grad_iter, lambda_text=config.lambda_text,
        l2_reg=config.l2_reg, vocab_size=text.count_matrix.shape[1], seed=config.seed, verbose=progress,
    )
    with seeded_global_numpy(config.seed):
        return model.fit(train_set)


def hft_item_side(model: HFT) -> ItemSide:
    return ItemSide.from_library(model.iid_map, model.beta_i, model.gamma_i, model.alpha)


class HFTRecommender(RatingRecommender):
    def fit_item_side(self, data: ModelData, progress: bool) -> tuple[ItemSide, dict[str, Any]]:
        if not data.reviews["text"].iloc[data.rows_of("train")].str.strip().any():
            raise PipelineError("hft reads review text, and these train reviews have none (a ratings source): "
                                "drop hft from the models, or use a source with text")
        train_set, duplicates = cornac_train_set(data)
        start = time.perf_counter()
        model = fit_hft(self.config, data, train_set, progress)
        items = hft_item_side(model)
        return items, {
            **library_facts(train_set, duplicates, time.perf_counter() - start, self.config),
            "train_fitted_rmse": fitted_rmse(train_set, items, model.beta_u, model.gamma_u),
            "vocabulary": model.vocab_size,
        }
