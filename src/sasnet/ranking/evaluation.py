"""One evaluation for every ranker: full-catalogue ranks of each user's held-out target, then the top-k report."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

import numpy as np
import pandas as pd

from sasnet.analysis_configs import ItemSlicesConfig
from sasnet.item_slices import slice_facts, slice_masks
from sasnet.models.base import Validation
from sasnet.ranking import metrics
from sasnet.ranking.configs import RankingConfig
from sasnet.ranking.data import RankingData

USERS_PER_BATCH = 1024


@dataclass(frozen=True)
class RankedUsers:
    users: np.ndarray  # user indices evaluated
    targets: np.ndarray  # their held-out items
    ranks: np.ndarray  # 0-based rank of each target among the unseen items
    top: np.ndarray  # [users, k] recommended items, best first


def rank_targets(model, data: RankingData, split: str, k: int,
                 relevant_stars: Collection[int] | None = None) -> RankedUsers:
    """Rank every unseen item for each user whose ``split`` target counts (``relevant_stars``: None = all)."""
    targets = data.targets(split)
    if relevant_stars is not None:
        targets = targets[targets["stars"].isin(list(relevant_stars))]
    users, items = targets["user"].to_numpy(), targets["item"].to_numpy()
    seen = data.seen_matrix(split)
    ranks, top = [], []
    for start in range(0, len(users), USERS_PER_BATCH):
        batch = slice(start, start + USERS_PER_BATCH)
        scores = metrics.masked(model.score(data, split, users[batch]), seen[users[batch]])
        ranks.append(metrics.target_ranks(scores, items[batch]))
        top.append(metrics.top_k(scores, k))
    if not ranks:  # no user's target counts
        return RankedUsers(users, items, np.zeros(0, np.int64), np.zeros((0, k), np.int64))
    return RankedUsers(users, items, np.concatenate(ranks), np.concatenate(top))


def valid_ndcg(model, data: RankingData, k: int) -> float:
    """Mean NDCG@k over every user's valid target: the early-stopping score of the iterative rankers."""
    return float(metrics.per_user(rank_targets(model, data, "valid", k).ranks, k)["ndcg"].mean())


def ndcg_validation(data: RankingData, k: int) -> Validation:
    """The ranking task's validation, which it hands to every ranker's fit: valid NDCG@k."""
    return Validation(f"ndcg@{k}", lambda model: valid_ndcg(model, data, k), k)


def ranking_report(ranked: RankedUsers, data: RankingData, config: RankingConfig,
                   slices: ItemSlicesConfig) -> dict:
    """The top-k metrics with intervals, coverage and popularity bias; and the metrics of the users whose target
    falls in each item slice (cold-start items, popularity slices: ``sasnet.item_slices``)."""
    values = metrics.per_user(ranked.ranks, config.k)
    counts = data.train_counts[ranked.targets]
    masks = slice_masks(ranked.targets, counts, slices)
    facts = slice_facts(masks, ranked.targets, counts)
    sliced = {
        name: facts[name] | (metrics.summary({metric: value[mask] for metric, value in values.items()}, config.k,
                                             config.bootstrap_samples, config.seed, config.confidence)
                             if mask.any() else {})
        for name, mask in masks.items()
    }
    return metrics.summary(values, config.k, config.bootstrap_samples, config.seed, config.confidence) | {
        "coverage@k": metrics.coverage(ranked.top, data.n_items),
        "popularity_percentile@k": metrics.mean_popularity_percentile(ranked.top, data.train_counts),
        "catalogue": data.n_items,
        "slices": sliced,
    }


def rankings_frame(ranked: RankedUsers, data: RankingData) -> pd.DataFrame:
    """One row per evaluated user: ids, the target, its rank and the top-k business ids."""
    ids = data.items["business_id"].to_numpy()
    return pd.DataFrame({
        "user_id": data.users[ranked.users],
        "target": ids[ranked.targets],
        "target_rank": ranked.ranks,
        "top": [list(ids[row[row >= 0]]) for row in ranked.top],
    })


def relevant_stars(config: RankingConfig, bins: dict[str, list[int]]) -> list[int] | None:
    """The stars of a target that counts: None (all) or the last class of split.bins ("excellent")."""
    return None if config.relevant == "all" else list(list(bins.values())[-1])
