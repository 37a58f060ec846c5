"""The fixed-point k-core filter."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sasnet.config import rule_problems
from sasnet.data.configs import FilterConfig
from sasnet.data.filtering import core_of, kcore_mask
from sasnet.errors import PipelineError
from sasnet.io import copy_parquet_rows


def filter_reviews(reviews: pd.DataFrame, config: FilterConfig) -> tuple[pd.DataFrame, dict]:
    """The core's rows, as the filter stage writes them, and its metrics."""
    keep, metrics = core_of(reviews["user_id"], reviews["business_id"], config)
    return reviews.loc[keep].reset_index(drop=True), metrics


def brute_force_core(users, businesses, k_user, k_business):
    """Reference: delete one violating review at a time until none violates."""
    alive = set(range(len(users)))
    changed = True
    while changed:
        changed = False
        user_counts = pd.Series([users[i] for i in alive]).value_counts()
        business_counts = pd.Series([businesses[i] for i in alive]).value_counts()
        for i in sorted(alive):
            if user_counts[users[i]] < k_user or business_counts[businesses[i]] < k_business:
                alive.remove(i)
                changed = True
                break
    return np.array([i in alive for i in range(len(users))])


@pytest.mark.parametrize("seed", range(6))
def test_core_matches_brute_force_on_random_graphs(seed):
    rng = np.random.default_rng(seed)
    n = 300
    users = rng.zipf(1.6, n) % 40
    businesses = rng.zipf(1.4, n) % 25
    keep, rounds = kcore_mask(users, businesses, 3, 4)
    np.testing.assert_array_equal(keep, brute_force_core(users, businesses, 3, 4))
    assert rounds[-1]["removed_reviews"] == 0
    assert rounds[-1]["reviews"] == keep.sum()


def test_removal_cascades_over_several_rounds():
    # b1 has only 2 reviews and falls in round 1; that leaves u1 and u2 with 1 review each, who fall in round 2.
    reviews = pd.DataFrame(
        {
            "user_id": ["u1", "u1", "u2", "u2", "u3", "u3", "u4", "u4", "u5", "u5"],
            "business_id": ["b0", "b1", "b1", "b2", "b2", "b0", "b0", "b2", "b0", "b2"],
        }
    )
    kept, metrics = filter_reviews(reviews, FilterConfig(min_user_reviews=2, min_business_reviews=3))
    assert set(kept["user_id"]) == {"u3", "u4", "u5"}
    assert set(kept["business_id"]) == {"b0", "b2"}
    assert [r["removed_reviews"] for r in metrics["rounds"]] == [2, 2, 0]
    assert metrics["output"] == {"reviews": 6, "users": 3, "businesses": 2}


def test_empty_core_is_a_clear_error():
    reviews = pd.DataFrame({"user_id": ["u1", "u2"], "business_id": ["b1", "b2"]})
    with pytest.raises(PipelineError, match="lower filter.min_user_reviews"):
        filter_reviews(reviews, FilterConfig(min_user_reviews=10, min_business_reviews=20))


def test_config_rejects_non_positive_thresholds():
    assert rule_problems(FilterConfig(0, 20)) == ["min_user_reviews: must be >= 1 (got 0)"]


def test_real_yelp_density_is_stable_under_its_own_core(shared_data):
    ratings = pd.read_parquet(shared_data("yelp-core40") / "ratings.parquet")
    kept, metrics = filter_reviews(ratings, FilterConfig(10, 20))
    assert len(kept) == len(ratings)  # every user and business there already has >= 40 ratings
    # Just above its own core (businesses >= 45) the real graph unravels over many rounds, not one.
    kept, metrics = filter_reviews(ratings, FilterConfig(40, 45))
    assert 0 < len(kept) < len(ratings)
    assert kept.groupby("user_id").size().min() >= 40
    assert kept.groupby("business_id").size().min() >= 45
    assert metrics["n_rounds"] > 10


@pytest.mark.parametrize("batch_rows", [1, 3, 1000])
def test_the_stage_streams_exactly_the_core_rows_with_their_types(tmp_path, batch_rows):
    rng = np.random.default_rng(0)
    reviews = pd.DataFrame({
        "review_id": [f"r{i}" for i in range(40)],
        "user_id": [f"u{i}" for i in rng.integers(0, 6, 40)],
        "business_id": [f"b{i}" for i in rng.integers(0, 5, 40)],
        "stars": rng.integers(1, 6, 40).astype(np.int8),
        "text": [f"text {i} " * i for i in range(40)],
    })
    reviews.to_parquet(tmp_path / "in.parquet", index=False, row_group_size=7)
    config = FilterConfig(min_user_reviews=3, min_business_reviews=7)
    keep, metrics = core_of(reviews["user_id"], reviews["business_id"], config)
    assert 0 < keep.sum() < len(reviews)  # the filter removes some rows: the check can fail
    copy_parquet_rows(tmp_path / "in.parquet", tmp_path / "out.parquet", keep, batch_rows=batch_rows)
    expected, expected_metrics = filter_reviews(reviews, config)
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "out.parquet"), expected)
    assert metrics == expected_metrics
