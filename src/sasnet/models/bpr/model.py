"""cornac's BPR on the train interactions; users folded in by Newton (``fold_in``), the score calibrated by a
multinomial logistic regression on [score]."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import numpy as np
from cornac.models import BPR

from sasnet.models.base import FitResult, Validation
from sasnet.models.factors import library_catalogue
from sasnet.models.fold_in import (
    CalibratedRecommender,
    ItemSide,
    ScoreCalibrator,
    bpr_scores,
    cornac_train_set,
    fit_library,
    fold_in_bpr,
    library_facts,
)

if TYPE_CHECKING:  # each task's data, for the annotations only
    from sasnet.histories import Examples
    from sasnet.model_data import ModelData
    from sasnet.ranking.data import RankingData


def bpr_item_side(model: BPR) -> ItemSide:
    return ItemSide.from_library(model.iid_map, model.i_biases, model.i_factors)


class BPRRecommender(CalibratedRecommender):

    def fit_classes(self, data: ModelData, progress: bool) -> FitResult:
        train_set, duplicates = cornac_train_set(data)
        start = time.perf_counter()
        self.items = bpr_item_side(fit_library(BPR, self.config, train_set, progress))
        fit_seconds = time.perf_counter() - start
        # The Newton fold-in costs pool size x catalogue per example: calibrate on a seeded subset of train reviews.
        train_rows = data.rows_of("train")
        if len(train_rows) > self.config.calibration_reviews:
            subset = np.random.default_rng(self.config.seed).choice(len(train_rows), self.config.calibration_reviews,
                                                                   replace=False)
            train_rows = train_rows[np.sort(subset)]
        train = data.histories.examples(train_rows)
        start = time.perf_counter()
        scores, worst_gradient = self._fold_in_scores(data, train)
        fold_in_seconds = time.perf_counter() - start
        labels = data.labels[train.rows]
        self.calibrator = ScoreCalibrator(len(self.class_names))
        converged = self.calibrator.fit(scores, labels)
        return FitResult({
            **library_facts(train_set, duplicates, fit_seconds, self.config),
            "calibration_reviews": len(train),
            "fold_in_seconds": fold_in_seconds,
            "fold_in_max_gradient_norm": worst_gradient,
            "calibrator_converged": converged,
            # Does the score order the classes at all? Its train mean per class, before calibration.
            "train_mean_score_by_class": {
                name: float(scores[labels == c].mean()) if np.any(labels == c) else None
                for c, name in enumerate(self.class_names)
            },
        })

    def _fold_in_scores(self, data: ModelData, examples: Examples) -> tuple[np.ndarray, float]:
        users, worst_gradient = fold_in_bpr(data, examples, self.items, self.config.fold_in_reg)
        return bpr_scores(data, examples, self.items, users), worst_gradient

    def fold_in_score(self, data: ModelData, examples: Examples) -> np.ndarray:
        return self._fold_in_scores(data, examples)[0]

    def fit_ranking(self, data: RankingData, validation: Validation, progress: bool) -> FitResult:
        self.catalogue, facts = library_catalogue(
            data, lambda train_set: fit_library(BPR, self.config, train_set, progress), bpr_item_side, self.config)
        return FitResult(facts)
