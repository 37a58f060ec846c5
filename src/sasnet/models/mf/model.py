"""cornac's biased MF fitted on the train stars. Classes: its item side kept, users ridge-folded in (``fold_in``);
ranking: its own factors score the catalogue (``factors``)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from cornac.models import MF

from sasnet.models.base import FitResult, Validation
from sasnet.models.factors import library_catalogue
from sasnet.models.fold_in import (
    ItemSide,
    RatingRecommender,
    cornac_train_set,
    fit_library,
    fitted_rmse,
    library_facts,
)

if TYPE_CHECKING:  # each task's data, for the annotations only
    from sasnet.model_data import ModelData
    from sasnet.ranking.data import RankingData


def mf_item_side(model: MF) -> ItemSide:
    return ItemSide.from_library(model.iid_map, model.i_biases, model.i_factors, model.global_mean)


class MFRecommender(RatingRecommender):
    def fit_item_side(self, data: ModelData, progress: bool) -> tuple[ItemSide, dict[str, Any]]:
        train_set, duplicates = cornac_train_set(data)
        start = time.perf_counter()
        model = fit_library(MF, self.config, train_set, progress)
        items = mf_item_side(model)
        return items, {
            **library_facts(train_set, duplicates, time.perf_counter() - start, self.config),
            "train_fitted_rmse": fitted_rmse(train_set, items, model.u_biases, model.u_factors),
        }

    def fit_ranking(self, data: RankingData, validation: Validation, progress: bool) -> FitResult:
        self.catalogue, facts = library_catalogue(
            data, lambda train_set: fit_library(MF, self.config, train_set, progress), mf_item_side, self.config)
        return FitResult(facts)
