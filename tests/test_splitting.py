"""Star binning and the split by user."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sasnet.data.configs import SplitConfig
from sasnet.data.splitting import bayes_oracle, class_counts, split_reviews, star_to_class
from sasnet.errors import PipelineError

PAPER_BINS = {"bad": [1, 2, 3], "good": [4], "excellent": [5]}
SHARES = {"train": 0.8, "valid": 0.1, "test": 0.1}


def random_reviews(n_users=200, per_user=7, seed=0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    users = np.repeat([f"u{i:03d}" for i in range(n_users)], per_user)
    return pd.DataFrame(
        {
            "review_id": [f"r{i}" for i in range(len(users))],
            "user_id": users,
            "business_id": rng.integers(0, 50, len(users)).astype(str),
            "stars": rng.integers(1, 6, len(users)).astype("int8"),
        }
    )


def test_paper_bins():
    table = star_to_class(PAPER_BINS)
    assert [table[s] for s in (1, 2, 3, 4, 5)] == [0, 0, 0, 1, 2]


def test_users_land_in_exactly_one_split_with_the_requested_shares():
    reviews = random_reviews()
    splits = split_reviews(reviews, SplitConfig(PAPER_BINS, SHARES, seed=3))
    users = {name: set(frame["user_id"]) for name, frame in splits.items()}
    assert not users["train"] & users["valid"] and not users["train"] & users["test"]
    assert not users["valid"] & users["test"]
    assert sum(len(frame) for frame in splits.values()) == len(reviews)
    assert [len(users[name]) for name in ("train", "valid", "test")] == [160, 20, 20]
    merged = pd.concat(splits.values())
    assert (merged["label"].to_numpy() == star_to_class(PAPER_BINS)[merged["stars"].to_numpy()]).all()


def test_split_is_seeded_and_independent_of_row_order():
    reviews = random_reviews()
    config = SplitConfig(PAPER_BINS, SHARES, seed=3)
    first = split_reviews(reviews, config)
    shuffled = split_reviews(reviews.sample(frac=1, random_state=1), config)
    assert set(first["test"]["user_id"]) == set(shuffled["test"]["user_id"])
    other = split_reviews(reviews, SplitConfig(PAPER_BINS, SHARES, seed=4))
    assert set(first["test"]["user_id"]) != set(other["test"]["user_id"])


def test_class_counts_include_empty_classes():
    reviews = random_reviews().assign(stars=np.int8(5))
    splits = split_reviews(reviews, SplitConfig(PAPER_BINS, SHARES, seed=0))
    counts = class_counts(splits, list(PAPER_BINS))
    assert len(counts) == 9
    assert counts.loc[counts["class"] != "excellent", "reviews"].eq(0).all()


@pytest.mark.parametrize(
    ("bins", "fractions", "message"),
    [
        ({"bad": [1, 2], "good": [4], "excellent": [5]}, SHARES, "bins: every star 1-5"),
        ({"bad": [1, 2, 3], "good": [3, 4], "excellent": [5]}, SHARES, "bins: every star 1-5"),
        (PAPER_BINS, {"train": 0.8, "valid": 0.1, "test": 0.2}, "fractions: each must be in (0, 1)"),
        (PAPER_BINS, {"train": 0.8, "dev": 0.1, "test": 0.1}, "fractions: keys must be exactly"),
    ],
)
def test_invalid_bins_and_fractions_are_named(bins, fractions, message):
    assert any(problem.startswith(message) for problem in SplitConfig(bins, fractions, 0).check())


def test_too_few_users_is_a_clear_error():
    with pytest.raises(PipelineError, match="sample more users"):
        split_reviews(random_reviews(n_users=3), SplitConfig(PAPER_BINS, SHARES, seed=0))


def test_bayes_oracle_sums_star_probabilities_into_classes():
    frame = pd.DataFrame({"review_id": ["a", "b"], "label": [0, 2]})
    truth = pd.DataFrame(
        {
            "review_id": ["a", "b"],
            # a: bad is 0.2+0.2+0.2 = 0.6 although 4 stars is the single likeliest star
            "p_star_1": [0.2, 0.0], "p_star_2": [0.2, 0.0], "p_star_3": [0.2, 0.1],
            "p_star_4": [0.3, 0.6], "p_star_5": [0.1, 0.3],
        }
    )
    oracle = bayes_oracle(frame, truth, PAPER_BINS)
    assert oracle["bayes_accuracy_expected"] == pytest.approx((0.6 + 0.6) / 2)
    assert oracle["bayes_accuracy_realised"] == pytest.approx(0.5)  # a right (bad), b wrong (good != excellent)


def test_real_yelp_split_keeps_class_shares_close(shared_data):
    ratings = pd.read_parquet(shared_data("yelp-core40") / "ratings.parquet")
    ratings["review_id"] = np.arange(len(ratings)).astype(str)
    splits = split_reviews(ratings, SplitConfig(PAPER_BINS, SHARES, seed=0))
    overall = np.bincount(star_to_class(PAPER_BINS)[ratings["stars"].to_numpy()]) / len(ratings)
    for frame in splits.values():
        shares = np.bincount(frame["label"], minlength=3) / len(frame)
        assert np.abs(shares - overall).max() < 0.08  # users differ, but no split is starved of a class
