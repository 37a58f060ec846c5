"""The ranking task's split: per user, in time order, the last interaction is test and the one before it valid.

Unlike the class task's split by user, every user is in all three parts, so a model sees each user's earlier
interactions and ranks the next one. Same-moment interactions (MovieLens-100k: 75,772 of its 100,000 ratings share
their second with another of the user's ratings) are ordered by a seeded random key, not by item id, so that no
id order (which follows release dates on MovieLens) leaks into the sequence; the order is the same for a seed.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from sasnet.errors import PipelineError

MIN_INTERACTIONS = 3  # one train interaction, then valid, then test
RANK_SPLITS = ("train", "valid", "test")


def leave_last_out(reviews: pd.DataFrame, tie_seed: int) -> tuple[pd.DataFrame, dict]:
    """``reviews`` (review_id, user_id, business_id, stars, date) in per-user time order with ``position``
    (0 = first) and ``split``; a user's repeat of an item is dropped (its first interaction kept), and users with
    fewer than MIN_INTERACTIONS interactions are dropped and counted in the facts. ``review_id`` ties an interaction
    to its review's embedding row (the review-embedding rankers read only history reviews through it)."""
    if reviews.empty:
        raise PipelineError("no reviews to split: the sampled reviews are empty")
    dates = reviews["date"].fillna("")
    if (dates == "").any():
        raise PipelineError(
            f"{int((dates == '').sum())} of {len(reviews)} reviews have no date: leave-last-out ranking needs "
            "each interaction's time (for a ratings table set data.ratings.date_column or timestamp_column); "
            "yelp-core40 has none, so its ranking track cannot run"
        )
    moments = pd.to_datetime(dates, format="ISO8601", utc=True)
    frame = reviews[["review_id", "user_id", "business_id", "stars", "date"]].reset_index(drop=True)
    frame["tie_key"] = np.random.default_rng(tie_seed).permutation(len(frame))
    frame["moment"] = moments.to_numpy()
    frame = frame.sort_values(["user_id", "moment", "tie_key"], kind="stable").reset_index(drop=True)
    repeats = frame.duplicated(["user_id", "business_id"], keep="first")
    frame = frame[~repeats].reset_index(drop=True)  # a repeat cannot be a target: candidates exclude the history
    same_moment = frame.duplicated(["user_id", "moment"], keep=False)

    counts = frame.groupby("user_id", sort=False)["business_id"].transform("size")
    kept = frame[counts >= MIN_INTERACTIONS].copy()
    kept["position"] = kept.groupby("user_id", sort=False).cumcount()
    from_end = kept.groupby("user_id", sort=False)["position"].transform("max") - kept["position"]
    kept["split"] = np.select([from_end == 0, from_end == 1], ["test", "valid"], default="train")
    facts = {
        "interactions": len(kept),
        "users": int(kept["user_id"].nunique()),
        "items": int(kept["business_id"].nunique()),
        "repeat_interactions_dropped": int(repeats.sum()),
        "users_dropped_below_min": int(frame.loc[counts < MIN_INTERACTIONS, "user_id"].nunique()),
        "min_interactions": MIN_INTERACTIONS,
        "same_moment_interactions": int(same_moment.sum()),
        "tie_order": f"a random key seeded with {tie_seed}",
    }
    return kept.drop(columns=["tie_key", "moment"]).reset_index(drop=True), facts
