"""cornac's biased MF fitted on the train stars; its item side kept, users ridge-folded in (``fold_in``)."""

from __future__ import annotations

import time
from typing import Any

from cornac.data import Dataset
from cornac.models import MF

from sasnet.model_data import ModelData
from sasnet.models.factor_ranking import FactorRanker
from sasnet.models.fold_in import (
    ItemSide,
    RatingRecommender,
    cornac_train_set,
    fitted_rmse,
    library_facts,
)


def fit_mf(config: Any, train_set: Dataset, progress: bool = False) -> MF:
    model = MF(
        k=config.k, max_iter=config.max_iter, learning_rate=config.learning_rate, lambda_reg=config.lambda_reg,
        use_bias=True, seed=config.seed, verbose=progress,
    )
    return model.fit(train_set)


def mf_item_side(model: MF) -> ItemSide:
    return ItemSide.from_library(model.iid_map, model.i_biases, model.i_factors, model.global_mean)


class MFRecommender(RatingRecommender):
    def fit_item_side(self, data: ModelData, progress: bool) -> tuple[ItemSide, dict[str, Any]]:
        train_set, duplicates = cornac_train_set(data)
        start = time.perf_counter()
        model = fit_mf(self.config, train_set, progress)
        items = mf_item_side(model)
        return items, {
            **library_facts(train_set, duplicates, time.perf_counter() - start, self.config),
            "train_fitted_rmse": fitted_rmse(train_set, items, model.u_biases, model.u_factors),
        }


class MFRanker(FactorRanker):
    def fit_library(self, train_set: Dataset, progress: bool) -> tuple[Any, ItemSide]:
        model = fit_mf(self.config, train_set, progress)
        return model, mf_item_side(model)
