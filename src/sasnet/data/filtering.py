"""Fixed-point k-core filter: users with at least k_u reviews and businesses with at least k_b, until stable.

Dropping a sparse business can push one of its users under the threshold and the reverse, so one pass is not
enough; the loop stops when a round removes nothing.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from sasnet.data.configs import FilterConfig
from sasnet.errors import PipelineError


def kcore_mask(
    user_ids: np.ndarray | pd.Series,
    business_ids: np.ndarray | pd.Series,
    min_user_reviews: int,
    min_business_reviews: int,
) -> tuple[np.ndarray, list[dict]]:
    """Return the mask of reviews in the fixed-point core and one record per round.

    Each round record holds the reviews, users and businesses left after that round.
    """
    user_codes, _ = pd.factorize(np.asarray(user_ids))
    business_codes, _ = pd.factorize(np.asarray(business_ids))
    keep = np.ones(len(user_codes), dtype=bool)
    rounds: list[dict] = []
    while True:
        user_counts = np.bincount(user_codes[keep], minlength=user_codes.max(initial=-1) + 1)
        business_counts = np.bincount(business_codes[keep], minlength=business_codes.max(initial=-1) + 1)
        still = (
            keep
            & (user_counts[user_codes] >= min_user_reviews)
            & (business_counts[business_codes] >= min_business_reviews)
        )
        removed = int(keep.sum() - still.sum())
        keep = still
        rounds.append(
            {
                "round": len(rounds) + 1,
                "removed_reviews": removed,
                "reviews": int(keep.sum()),
                "users": int(np.unique(user_codes[keep]).size),
                "businesses": int(np.unique(business_codes[keep]).size),
            }
        )
        if removed == 0:
            return keep, rounds


def core_of(user_ids: pd.Series, business_ids: pd.Series, config: FilterConfig) -> tuple[np.ndarray, dict]:
    """The mask of the reviews in the fixed-point core of these (user, business) pairs, and the filter's metrics."""
    keep, rounds = kcore_mask(user_ids, business_ids, config.min_user_reviews, config.min_business_reviews)
    if not keep.any():
        raise PipelineError(
            f"no review survives the filter (users >= {config.min_user_reviews} reviews, businesses >= "
            f"{config.min_business_reviews}) on {len(keep)} reviews: lower filter.min_user_reviews or "
            "filter.min_business_reviews"
        )
    metrics = {
        "input": {"reviews": len(keep), "users": int(user_ids.nunique()), "businesses": int(business_ids.nunique())},
        "output": {"reviews": int(keep.sum()), "users": rounds[-1]["users"], "businesses": rounds[-1]["businesses"]},
        "n_rounds": len(rounds),
        "rounds": rounds,
    }
    return keep, metrics
