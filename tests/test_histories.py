"""Histories: no leakage into user sets, business sets or the SVM averages, and the pool rules of SPEC §2.2."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from sasnet.errors import PipelineError
from sasnet.histories import Histories

SET_SIZE = 5


def review_table(seed: int = 0, n_users: int = 60, n_businesses: int = 15) -> pd.DataFrame:
    """Users with 1-9 reviews split by user, rows in the canonical order; business 'b_heldout' has no train review."""
    rng = np.random.default_rng(seed)
    user = np.repeat(np.arange(n_users), rng.integers(1, 10, n_users))
    split_of_user = rng.choice(["train", "valid", "test"], n_users, p=[0.6, 0.2, 0.2])
    split_of_user[:3] = ["train", "valid", "test"]
    split = split_of_user[user]
    business = np.array([f"b{b}" for b in rng.integers(0, n_businesses, len(user))], dtype=object)
    business[np.flatnonzero(split == "test")[::4]] = "b_heldout"
    reviews = pd.DataFrame({"user_id": [f"u{u}" for u in user], "business_id": business, "split": split})
    order = np.argsort(pd.Categorical(reviews["split"], ["train", "valid", "test"]).codes, kind="stable")
    reviews = reviews.iloc[order].reset_index(drop=True)
    return reviews.assign(review_id=[f"r{i}" for i in range(len(reviews))], label=rng.integers(0, 3, len(reviews)))


def reference_pools(reviews: pd.DataFrame) -> tuple[list[set[int]], list[set[int]]]:
    """The pools by their definition, one example at a time."""
    user, business, split = (reviews[c].to_numpy() for c in ("user_id", "business_id", "split"))
    rows = range(len(reviews))
    users = [{s for s in rows if user[s] == user[r] and s != r} for r in rows]
    businesses = [{s for s in rows if business[s] == business[r] and split[s] == "train" and s != r} for r in rows]
    return users, businesses


@pytest.fixture(scope="module")
def reviews() -> pd.DataFrame:
    return review_table()


@pytest.fixture(scope="module")
def histories(reviews) -> Histories:
    return Histories.from_reviews(reviews)


def test_draws_never_leak_and_follow_the_pool_rules(reviews, histories):
    user_pools, business_pools = reference_pools(reviews)
    split = reviews["split"].to_numpy()
    rows = np.arange(len(reviews))
    rng = np.random.default_rng(1)
    for _ in range(20):
        user_rows, user_mask, business_rows, business_mask = histories.draw_sets(
            histories.examples(rows), SET_SIZE, rng
        )
        for r in rows:
            for set_rows, mask, pool in (
                (user_rows[r], user_mask[r], user_pools[r]),
                (business_rows[r], business_mask[r], business_pools[r]),
            ):
                assert r not in set_rows  # masked slots included
                real = set_rows[mask]
                assert list(mask) == sorted(mask, reverse=True)  # real slots first
                assert len(set(real)) == len(real) == min(SET_SIZE, len(pool))
                assert set(real) <= pool
                if pool:
                    assert set(set_rows) <= pool  # padding repeats members
            assert (split[business_rows[r]] == "train").all()  # business sets: train reviews only, padding included
            if split[r] == "train":
                assert (split[user_rows[r]] == "train").all()


def test_held_out_users_never_reach_a_business_set(reviews, histories):
    held_out_users = set(reviews.loc[reviews["split"] != "train", "user_id"])
    _, _, business_rows, _ = histories.draw_sets(
        histories.examples(np.arange(len(reviews))), SET_SIZE, np.random.default_rng(2)
    )
    assert not held_out_users & set(reviews["user_id"].to_numpy()[business_rows.ravel()])


def test_each_slot_is_uniform_over_the_pool(reviews, histories):
    user_pools, _ = reference_pools(reviews)
    example = next(r for r, pool in enumerate(user_pools) if len(pool) == 7)
    draws = 14_000
    user_rows, user_mask, _, _ = histories.draw_sets(
        histories.examples(np.full(draws, example)), SET_SIZE, np.random.default_rng(3)
    )
    assert user_mask.all()
    for slot in range(SET_SIZE):  # each slot alone is uniform over the pool
        counts = np.unique(user_rows[:, slot], return_counts=True)[1]
        assert len(counts) == 7 and np.abs(counts / draws - 1 / 7).max() < 0.02


def test_short_and_empty_pools_are_masked_not_dropped(reviews, histories):
    user_pools, business_pools = reference_pools(reviews)
    rows = np.arange(len(reviews))
    user_rows, user_mask, business_rows, business_mask = histories.draw_sets(
        histories.examples(rows), SET_SIZE, np.random.default_rng(4)
    )
    user_sizes, business_sizes = (np.array([len(p) for p in pools]) for pools in (user_pools, business_pools))
    assert (user_mask.sum(axis=1) == np.minimum(user_sizes, SET_SIZE)).all()
    assert (business_mask.sum(axis=1) == np.minimum(business_sizes, SET_SIZE)).all()
    assert (user_sizes == 0).any() and (business_sizes == 0).any()  # the table has empty pools
    assert ((user_sizes > 0) & (user_sizes < SET_SIZE)).any()  # and short ones
    heldout = np.flatnonzero(reviews["business_id"] == "b_heldout")
    assert not business_mask[heldout].any()
    assert ((business_rows >= 0) & (business_rows < len(reviews))).all()


def test_draws_are_seeded(reviews, histories):
    rows = np.arange(len(reviews))
    first = histories.draw_sets(histories.examples(rows), SET_SIZE, np.random.default_rng(5))
    again = histories.draw_sets(histories.examples(rows), SET_SIZE, np.random.default_rng(5))
    other = histories.draw_sets(histories.examples(rows), SET_SIZE, np.random.default_rng(6))
    assert all(np.array_equal(a, b) for a, b in zip(first, again))
    assert not np.array_equal(first[0], other[0])


def slow_mean_features(matrix: np.ndarray, reviews: pd.DataFrame) -> np.ndarray:
    def mean(pool: set[int]) -> np.ndarray:
        return matrix[sorted(pool)].mean(axis=0) if pool else np.zeros(matrix.shape[1])

    return np.array([np.concatenate([mean(u), mean(b)]) for u, b in zip(*reference_pools(reviews))])


def test_mean_features_equal_the_slow_loop_dense_and_sparse(reviews, histories):
    rng = np.random.default_rng(7)
    dense = (rng.random((len(reviews), 12)) * (rng.random((len(reviews), 12)) < 0.3)).astype(np.float32)
    rows = np.arange(len(reviews))
    expected = slow_mean_features(dense.astype(np.float64), reviews)
    from_dense = histories.mean_features(dense, histories.examples(rows))
    from_sparse = histories.mean_features(sp.csr_matrix(dense), histories.examples(rows))
    assert isinstance(from_dense, np.ndarray) and from_dense.dtype == np.float32 and from_dense.shape == (len(rows), 24)
    assert sp.issparse(from_sparse) and from_sparse.format == "csr"
    np.testing.assert_allclose(from_dense, expected, atol=1e-6)
    np.testing.assert_allclose(from_sparse.toarray(), from_dense, atol=1e-6)
    picked = rows[::3][::-1]
    np.testing.assert_allclose(histories.mean_features(dense, histories.examples(picked)), from_dense[picked])


def test_mean_features_do_not_see_the_target_or_held_out_reviews(reviews, histories):
    rng = np.random.default_rng(8)
    matrix = rng.standard_normal((len(reviews), 6))
    train = histories.rows_of("train")
    held_out = np.flatnonzero(reviews["split"] != "train")
    without_held_out = matrix.copy()
    without_held_out[held_out] += 100.0
    np.testing.assert_array_equal(
        histories.mean_features(without_held_out, histories.examples(train)),
        histories.mean_features(matrix, histories.examples(train)),
    )
    business_half = np.s_[:, matrix.shape[1] :]
    np.testing.assert_array_equal(
        histories.mean_features(without_held_out, histories.examples(held_out))[business_half],
        histories.mean_features(matrix, histories.examples(held_out))[business_half],
    )
    for row in rng.choice(len(reviews), 30, replace=False):  # a review's own embedding never reaches its features
        changed = matrix.copy()
        changed[row] += 100.0
        np.testing.assert_array_equal(
            histories.mean_features(changed, histories.examples([row])),
            histories.mean_features(matrix, histories.examples([row])),
        )


def test_pool_statistics(reviews, histories):
    user_pools, business_pools = reference_pools(reviews)
    statistics = histories.pool_statistics(SET_SIZE)
    assert set(statistics) == {"train", "valid", "test"}
    for split, entry in statistics.items():
        rows = np.flatnonzero(reviews["split"] == split)
        assert entry["examples"] == len(rows)
        for name, pools in (("user", user_pools), ("business", business_pools)):
            sizes = np.array([len(pools[r]) for r in rows])
            assert entry[f"{name}_pool_empty"] == int((sizes == 0).sum())
            assert entry[f"{name}_pool_short"] == int(((sizes > 0) & (sizes < SET_SIZE)).sum())
            assert entry[f"{name}_pool_median"] == float(np.median(sizes))
    assert statistics["test"]["business_pool_empty"] >= 1


def test_a_user_in_two_splits_is_refused(reviews):
    broken = reviews.copy()
    broken.loc[len(broken) - 1, "user_id"] = broken.loc[0, "user_id"]
    with pytest.raises(PipelineError, match="more than one split"):
        Histories.from_reviews(broken)
    with pytest.raises(PipelineError, match="business_id"):
        Histories.from_reviews(reviews.drop(columns="business_id"))


def test_pool_label_counts_count_each_pool_by_its_definition(reviews, histories):
    labels = reviews["label"].to_numpy()
    counts = histories.pool_label_counts(labels, 3, histories.examples(np.arange(len(reviews))))
    for side, pools in enumerate(reference_pools(reviews)):
        expected = np.array([np.bincount(labels[sorted(pool)], minlength=3) for pool in pools])
        np.testing.assert_array_equal(counts[:, side], expected)


def test_a_reviewed_pair_is_its_review_and_an_unreviewed_pair_sees_whole_pools(reviews, histories):
    row = int(np.flatnonzero(reviews["split"] == "train")[0])
    reviewed = histories.pair_examples([histories.users.group[row]], [histories.businesses.group[row]])
    as_review = histories.examples([row])
    for part in ("users", "businesses", "user_own", "business_own", "rows"):
        np.testing.assert_array_equal(getattr(reviewed, part), getattr(as_review, part))

    user = histories.users.group[row]
    unreviewed = np.setdiff1d(np.arange(len(histories.business_ids)), histories.businesses.group[histories.users.group == user])
    pair = histories.pair_examples([user], unreviewed[:1])
    assert pair.rows[0] == -1
    assert histories.users.pool_sizes(pair.users, pair.user_own)[0] == histories.users.group_size(pair.users)[0]
    assert (histories.businesses.pool_sizes(pair.businesses, pair.business_own)[0]
            == histories.businesses.group_size(pair.businesses)[0])
