"""The factor families' ranking side (mf, bpr, semantic_mf): on the leave-last-out split every user has train
interactions, so the fit's own user factors score the catalogue (no fold-in). An item's score is b_i + p_u . q_i
(the user's terms do not change the order); items the fit could not place (seen only in held-out parts) rank last.
The class side, the same item side with users folded in, is ``sasnet.models.fold_in``."""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from cornac.data import Dataset

if TYPE_CHECKING:  # the ranking task's data, for the annotations only
    from sasnet.models.fold_in import ItemSide
    from sasnet.ranking.data import RankingData

UNSEEN_ITEM_SCORE = -1e30


@dataclass(frozen=True)
class CatalogueFactors:
    """Every user's p_u and every catalogue item's b_i and q_i, scored b_i + p_u . q_i."""

    user_factors: np.ndarray  # [users, k]
    item_biases: np.ndarray  # [items]: UNSEEN_ITEM_SCORE for an item the fit could not place
    item_factors: np.ndarray  # [items, k]

    @classmethod
    def placed(cls, user_factors: np.ndarray, item_biases: np.ndarray, item_factors: np.ndarray,
               placed: np.ndarray) -> CatalogueFactors:
        """The factors with every item not ``placed`` ranked last (its bias UNSEEN_ITEM_SCORE, its vector 0)."""
        return cls(user_factors, np.where(placed, item_biases, UNSEEN_ITEM_SCORE),
                   np.where(placed[:, None], item_factors, 0.0))

    def score(self, users: np.ndarray) -> np.ndarray:
        """[len(users), items] scores."""
        return self.item_biases[None, :] + self.user_factors[users] @ self.item_factors.T

    def arrays(self) -> dict[str, np.ndarray]:
        return {"user_factors": self.user_factors, "item_biases": self.item_biases, "item_factors": self.item_factors}

    @classmethod
    def restore(cls, arrays: dict[str, np.ndarray], data: RankingData) -> CatalogueFactors:
        data.require_size(*arrays["user_factors"].shape[:1], len(arrays["item_biases"]))
        return cls(arrays["user_factors"], arrays["item_biases"], arrays["item_factors"])


def library_catalogue(data: RankingData, fit_library: Callable[[Dataset], Any], item_side: Callable[[Any], ItemSide],
                      config: Any) -> tuple[CatalogueFactors, dict[str, Any]]:
    """A cornac factor model fitted on the train interactions (``fit_library``), as catalogue factors (its users'
    factors and ``item_side``), and the facts of its fit."""
    train = data.part("train")
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*duplicated observations are removed")
        train_set = Dataset.from_uir(list(zip(train["user"], train["item"], train["stars"].astype(float))))
    start = time.perf_counter()
    model = fit_library(train_set)
    items = item_side(model)
    users = np.full((data.n_users, items.factors.shape[1]), 0.0)
    for user, row in model.uid_map.items():
        users[user] = model.u_factors[row]
    known = pd.Index(items.business_ids).get_indexer(np.arange(data.n_items))
    factors = CatalogueFactors.placed(users, items.biases[known], items.factors[known], known >= 0)
    return factors, {"fit_seconds": time.perf_counter() - start, "k": config.k, "iterations": config.max_iter,
                     "train_interactions": train_set.num_ratings, "items_unseen_in_train": int((known < 0).sum())}
