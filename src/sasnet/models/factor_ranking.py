"""MF and BPR as rankers: on the leave-last-out split every user has train interactions, so the library's own user
factors score the catalogue (no fold-in). An item's score is b_i + p_u . q_i (the user's terms do not change the
order); items the library never saw (seen only in held-out parts) rank last."""

from __future__ import annotations

import time
import warnings
from abc import abstractmethod
from typing import Any

import numpy as np
import pandas as pd
from cornac.data import Dataset

from sasnet.models.base import FitResult, Ranker
from sasnet.models.fold_in import ItemSide
from sasnet.ranking.data import RankingData

UNSEEN_ITEM_SCORE = -1e30


class FactorScores(Ranker):
    """A ranker scoring item i for user u by b_i + p_u . q_i from three fitted arrays."""

    user_factors: np.ndarray  # [users, k]
    item_biases: np.ndarray  # [items]: UNSEEN_ITEM_SCORE for an item the fit could not place
    item_factors: np.ndarray  # [items, k]

    def score(self, data: RankingData, split: str, users: np.ndarray) -> np.ndarray:
        return self.item_biases[None, :] + self.user_factors[users] @ self.item_factors.T

    def arrays(self) -> dict[str, np.ndarray]:
        return {"user_factors": self.user_factors, "item_biases": self.item_biases, "item_factors": self.item_factors}

    def restore(self, arrays: dict[str, np.ndarray], state: dict[str, Any], data: RankingData) -> None:
        data.require_size(*arrays["user_factors"].shape[:1], len(arrays["item_biases"]))
        self.user_factors, self.item_biases, self.item_factors = (
            arrays[name] for name in ("user_factors", "item_biases", "item_factors"))


class FactorRanker(FactorScores):
    @abstractmethod
    def fit_library(self, train_set: Dataset, progress: bool) -> tuple[Any, ItemSide]:
        """The fitted cornac model and its item side."""

    def fit(self, data: RankingData, progress: bool = True, k: int = 10) -> FitResult:
        train = data.part("train")
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*duplicated observations are removed")
            train_set = Dataset.from_uir(list(zip(train["user"], train["item"], train["stars"].astype(float))))
        start = time.perf_counter()
        model, items = self.fit_library(train_set, progress)
        users = np.full((data.n_users, items.factors.shape[1]), 0.0)
        for user, row in model.uid_map.items():
            users[user] = model.u_factors[row]
        self.user_factors = users
        known = pd.Index(items.business_ids).get_indexer(np.arange(data.n_items))
        self.item_biases = np.where(known >= 0, items.biases[known], UNSEEN_ITEM_SCORE)
        self.item_factors = np.where(known[:, None] >= 0, items.factors[known], 0.0)
        return FitResult({"fit_seconds": time.perf_counter() - start, "k": self.config.k,
                          "iterations": self.config.max_iter, "train_interactions": train_set.num_ratings,
                          "items_unseen_in_train": int((known < 0).sum())})
