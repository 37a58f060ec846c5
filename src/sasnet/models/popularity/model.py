"""Popularity on the ranking task: the score of an item is its train interaction count."""

from __future__ import annotations

from typing import Any

import numpy as np

from sasnet.models.base import FitResult, Recommender, Validation
from sasnet.ranking.data import RankingData


class PopularityRanker(Recommender):
    def fit_ranking(self, data: RankingData, validation: Validation, progress: bool) -> FitResult:
        self.counts = data.train_counts.astype(np.float32)
        return FitResult({"items_with_interactions": int((self.counts > 0).sum())})

    def score(self, data: RankingData, split: str, users: np.ndarray) -> np.ndarray:
        return np.broadcast_to(self.counts, (len(users), len(self.counts)))

    def arrays(self) -> dict[str, np.ndarray]:
        return {"counts": self.counts}

    def restore(self, arrays: dict[str, np.ndarray], state: dict[str, Any], data: RankingData) -> None:
        data.require_size(None, len(arrays["counts"]))
        self.counts = arrays["counts"]
