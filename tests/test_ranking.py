"""The ranking task: its metrics worked by hand, the leave-last-out split, RankingData, the evaluation, and every
ranker family on sequences that walk a cycle (a clear next-item signal that popularity cannot see)."""

from __future__ import annotations

import math
from functools import cache

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import torch
from conftest import REPO_ROOT

from sasnet.config import ParamsError, with_overrides
from sasnet.data.leave_last_out import MIN_INTERACTIONS, leave_last_out
from sasnet.errors import PipelineError
from sasnet.models import model_class
from sasnet.models.base import load_model
from sasnet.params import entry_config, load_params
from sasnet.ranking import evaluation, metrics
from sasnet.ranking.configs import RankingConfig
from sasnet.ranking.data import RankingData
from sasnet.ranking.evaluation import ndcg_validation, rank_targets, relevant_stars, valid_ndcg

K = 10
CYCLE = 30  # items b0..b29; every user walks b_i -> b_(i+1 mod 30)


@cache
def params():
    return load_params(REPO_ROOT / "params.yaml")


pytestmark = pytest.mark.usefixtures("single_torch_thread")


# ---------------------------------------------------------------------------------------------------- metrics
# 3 users x 5 items. Seen: user 0 item 1, user 2 item 3. Targets 3, 2, 1.
SCORES = np.array([
    [0.5, 0.9, 0.1, 0.9, 0.3],  # target 3: ties with the seen item 1 (lower index), which is masked -> rank 0
    [0.2, 0.2, 0.2, 0.2, 0.2],  # target 2: all tied, items 0 and 1 come first -> rank 2
    [0.7, 0.1, 0.4, 0.8, 0.4],  # target 1: the seen item 3 is masked; 0, 2 and 4 are ahead -> rank 3
])
SEEN = sp.csr_matrix((np.ones(2), ([0, 2], [1, 3])), shape=(3, 5))
TARGETS = np.array([3, 2, 1])


def test_masked_puts_seen_items_at_minus_infinity_and_leaves_the_input_alone():
    scores = metrics.masked(SCORES, SEEN)
    assert scores[0, 1] == -np.inf and scores[2, 3] == -np.inf
    assert np.isfinite(scores).sum() == 13
    np.testing.assert_array_equal(scores[1], SCORES[1])
    assert np.all(np.isfinite(SCORES))  # a copy


def test_target_ranks_break_ties_by_lower_item_index_and_never_count_seen_items():
    np.testing.assert_array_equal(metrics.target_ranks(metrics.masked(SCORES, SEEN), TARGETS), [0, 2, 3])
    # unmasked, user 0's seen item 1 (same score, lower index) and user 2's item 3 (higher score) come first
    np.testing.assert_array_equal(metrics.target_ranks(SCORES, TARGETS), [1, 2, 4])
    # a target at the lowest index wins every tie; at the highest it loses every one
    ties = np.zeros((2, 4))
    np.testing.assert_array_equal(metrics.target_ranks(ties, np.array([0, 3])), [0, 3])


def test_top_k_orders_by_score_then_item_index_and_pads_with_minus_one():
    np.testing.assert_array_equal(metrics.top_k(metrics.masked(SCORES, SEEN), 3), [[3, 0, 4], [0, 1, 2], [0, 2, 4]])
    two_finite = np.array([[-np.inf, 1.0, -np.inf, 2.0, -np.inf]])
    np.testing.assert_array_equal(metrics.top_k(two_finite, 4), [[3, 1, -1, -1]])
    np.testing.assert_array_equal(metrics.top_k(np.full((1, 3), -np.inf), 2), [[-1, -1]])


def test_top_k_has_k_columns_even_for_a_catalogue_smaller_than_k():
    np.testing.assert_array_equal(metrics.top_k(np.array([[1.0, 2.0, -np.inf]]), 5), [[1, 0, -1, -1, -1]])


def test_per_user_metrics_from_ranks():
    values = metrics.per_user(np.array([0, 2, 3]), k=3)
    np.testing.assert_allclose(values["recall"], [1, 1, 0])
    np.testing.assert_allclose(values["hit_rate"], [1, 1, 0])
    np.testing.assert_allclose(values["ndcg"], [1.0, 0.5, 0.0])  # 1 / log2(rank + 2), 0 past the cut
    np.testing.assert_allclose(values["mrr"], [1.0, 1 / 3, 1 / 4])  # not cut at k
    np.testing.assert_allclose(metrics.per_user(np.array([6]), k=10)["ndcg"], [1 / 3])  # log2(8) = 3


def test_summary_means_and_no_intervals_without_resamples():
    report = metrics.summary(metrics.per_user(np.array([0, 2, 3]), k=3), k=3, bootstrap_samples=0, seed=0,
                             confidence=0.95)
    assert report["users"] == 3 and report["k"] == 3
    assert report["recall@3"] == pytest.approx(2 / 3) and report["hit_rate@3"] == pytest.approx(2 / 3)
    assert report["ndcg@3"] == pytest.approx(0.5)
    assert report["mrr"] == pytest.approx(19 / 36)  # (1 + 1/3 + 1/4) / 3, named without @k
    for name in ("recall@3", "hit_rate@3", "ndcg@3", "mrr"):
        assert report[f"{name}_low"] is None and report[f"{name}_high"] is None


def test_summary_intervals_contain_the_mean_and_collapse_when_every_user_is_alike():
    ranks = np.arange(20)  # half the users hit at k = 10
    report = metrics.summary(metrics.per_user(ranks, k=10), k=10, bootstrap_samples=300, seed=1, confidence=0.9)
    for name in ("recall@10", "hit_rate@10", "ndcg@10", "mrr"):
        assert report[f"{name}_low"] < report[name] < report[f"{name}_high"], name
    assert report["recall@10"] == pytest.approx(0.5)
    again = metrics.summary(metrics.per_user(ranks, k=10), k=10, bootstrap_samples=300, seed=1, confidence=0.9)
    assert again == report  # seeded
    alike = metrics.summary(metrics.per_user(np.zeros(5, np.int64), k=10), 10, 100, 0, 0.95)
    assert alike["ndcg@10_low"] == alike["ndcg@10"] == alike["ndcg@10_high"] == 1.0


def test_coverage_counts_distinct_recommended_items_over_the_catalogue():
    assert metrics.coverage(np.array([[3, 0, 4], [0, 1, 2], [0, 2, 4]]), 5) == 1.0
    assert metrics.coverage(np.array([[0, 2], [2, -1]]), 4) == 0.5  # -1 is no item
    assert metrics.coverage(np.array([[3, 1, -1, -1]]), 10) == pytest.approx(0.2)


def test_popularity_percentiles_share_the_mean_rank_on_ties():
    counts = np.array([5, 1, 1, 3])  # ascending: items 1, 2 (tied ranks 0 and 1), 3, 0
    np.testing.assert_allclose(metrics.popularity_percentiles(counts), [100.0, 37.5, 37.5, 75.0])
    np.testing.assert_allclose(metrics.popularity_percentiles(np.array([2, 2])), [75.0, 75.0])
    np.testing.assert_allclose(metrics.popularity_percentiles(np.array([0, 4, 9, 1, 9])), [20, 60, 90, 40, 90])
    # each recommendation counts (item 0 twice), -1 padding none
    assert metrics.mean_popularity_percentile(np.array([[0, 1], [0, -1]]), counts) == pytest.approx(237.5 / 3)
    assert metrics.mean_popularity_percentile(np.array([[3, 2]]), counts) == pytest.approx(56.25)


# ---------------------------------------------------------------------------------------------- leave_last_out
TIED = ["z", "y", "x", "w", "v", "u"]  # user d's six items at one moment, given in reverse id order


def split_input() -> pd.DataFrame:
    rows = [
        # a: five items on five days (the last two on one day, by time of day), then a repeat of p, the latest
        ("a", "p", 4, "2021-03-01T10:00:00"), ("a", "q", 3, "2021-03-02T10:00:00"),
        ("a", "r", 5, "2021-03-03T10:00:00"), ("a", "s", 2, "2021-03-05T18:00:00"),
        ("a", "t", 1, "2021-03-05T09:00:00"), ("a", "p", 1, "2021-03-09T10:00:00"),
        # b: two interactions; c: three, one a repeat (two distinct items): both dropped
        ("b", "p", 5, "2021-01-01T00:00:00"), ("b", "q", 5, "2021-01-02T00:00:00"),
        ("c", "x", 3, "2021-01-01T00:00:00"), ("c", "y", 3, "2021-01-02T00:00:00"),
        ("c", "x", 3, "2021-01-03T00:00:00"),
        # d: six items at one moment, then valid and test on later days
        *[("d", item, 3, "2021-02-01T10:00:00") for item in TIED],
        ("d", "m", 4, "2021-02-02T10:00:00"), ("d", "n", 5, "2021-02-03T10:00:00"),
    ]
    frame = pd.DataFrame(rows, columns=["user_id", "business_id", "stars", "date"])
    frame.insert(0, "review_id", [f"r{row}" for row in range(len(frame))])
    return frame.sample(frac=1.0, random_state=3).reset_index(drop=True)  # row order says nothing


def user_rows(split: pd.DataFrame, user: str) -> pd.DataFrame:
    return split[split["user_id"] == user].sort_values("position")


def test_leave_last_out_takes_the_latest_as_test_and_the_one_before_as_valid():
    split, facts = leave_last_out(split_input(), tie_seed=0)
    a = user_rows(split, "a")
    assert list(a["business_id"]) == ["p", "q", "r", "t", "s"]  # 09:00 before 18:00 on 2021-03-05
    assert list(a["split"]) == ["train", "train", "train", "valid", "test"]
    assert list(a["position"]) == [0, 1, 2, 3, 4]
    assert a.loc[a["business_id"] == "p", "stars"].tolist() == [4]  # the first p kept, its repeat dropped
    d = user_rows(split, "d")
    assert list(d["business_id"][-2:]) == ["m", "n"] and list(d["split"][-2:]) == ["valid", "test"]
    assert set(d["business_id"][:6]) == set(TIED) and set(d["split"][:6]) == {"train"}
    assert set(split["user_id"]) == {"a", "d"}
    assert set(split.columns) >= {"review_id", "user_id", "business_id", "stars", "date", "position", "split"}
    reviews = split_input().set_index("review_id")
    assert (reviews.loc[split["review_id"], "business_id"].to_numpy() == split["business_id"].to_numpy()).all()
    assert facts["users_dropped_below_min"] == 2  # b (two) and c (two distinct items)
    assert facts["repeat_interactions_dropped"] == 2  # a's second p, c's second x
    assert facts["interactions"] == 13 and facts["users"] == 2 and facts["items"] == 13
    assert facts["same_moment_interactions"] == 6 and facts["min_interactions"] == MIN_INTERACTIONS == 3


def test_no_history_holds_an_interaction_later_than_its_target():
    """Random users with many same-day interactions and repeats: per user, train <= valid <= test in time, one
    valid and one test, each (user, item) once at its earliest date, users with < 3 distinct items gone."""
    rng = np.random.default_rng(7)
    rows = [(f"u{user}", f"i{rng.integers(15)}", int(rng.integers(1, 6)), f"2021-05-0{rng.integers(1, 6)}")
            for user in range(60) for _ in range(rng.integers(1, 9))]
    reviews = pd.DataFrame(rows, columns=["user_id", "business_id", "stars", "date"])
    reviews.insert(0, "review_id", [f"r{row}" for row in range(len(reviews))])
    split, facts = leave_last_out(reviews, tie_seed=5)

    distinct = reviews.groupby("user_id")["business_id"].nunique()
    assert set(split["user_id"]) == set(distinct[distinct >= 3].index)
    assert facts["users_dropped_below_min"] == int((distinct < 3).sum())
    repeats = len(reviews) - len(reviews.drop_duplicates(["user_id", "business_id"]))
    assert facts["repeat_interactions_dropped"] == repeats
    earliest = reviews.groupby(["user_id", "business_id"])["date"].min()
    kept = split.set_index(["user_id", "business_id"])["date"]
    assert kept.index.is_unique and np.array_equal(kept.to_numpy(), earliest.loc[kept.index].to_numpy())
    for user, rows_of in split.groupby("user_id"):
        rows_of = rows_of.sort_values("position")
        assert list(rows_of["position"]) == list(range(len(rows_of)))
        assert list(rows_of["split"]).count("valid") == 1 and list(rows_of["split"])[-2:] == ["valid", "test"]
        moments = pd.to_datetime(rows_of["date"]).to_numpy()
        assert np.all(moments[:-1] <= moments[1:]), user
        valid = moments[rows_of["split"].to_numpy() == "valid"][0]
        assert np.all(moments[rows_of["split"].to_numpy() == "train"] <= valid), user


def tie_order(seed: int) -> list[str]:
    return list(user_rows(leave_last_out(split_input(), tie_seed=seed)[0], "d")["business_id"][:6])


def test_same_moment_order_is_fixed_by_the_seed_and_not_by_item_id_or_row_order():
    assert tie_order(0) == tie_order(0)
    orders = {seed: tie_order(seed) for seed in range(12)}
    assert any(order != orders[0] for order in orders.values())  # another seed, another order
    reviews = split_input()
    by_id, by_row = sorted(TIED), [item for item in reviews["business_id"][reviews["user_id"] == "d"] if item in TIED]
    assert any(order not in (by_id, by_row, by_id[::-1]) for order in orders.values())
    assert sum(order == by_id for order in orders.values()) <= 1  # 1 in 720 each, at random


def test_reviews_without_a_date_cannot_be_split():
    reviews = split_input()
    reviews.loc[[0, 4], "date"] = ["", None]
    with pytest.raises(PipelineError, match=r"2 of 19 reviews have no date"):
        leave_last_out(reviews, tie_seed=0)
    with pytest.raises(PipelineError, match="empty"):
        leave_last_out(reviews.iloc[:0], tie_seed=0)


# ------------------------------------------------------------------------------------------------ RankingData
CATALOGUE = ["i3", "i0", "i2", "unused", "i1"]  # indices 0..4


def small_data() -> RankingData:
    rows = [  # rows out of order; positions say the order
        ("b", "i2", 5, "2021-01-03", 2, "valid"), ("a", "i0", 4, "2021-01-03", 2, "test"),
        ("b", "i0", 4, "2021-01-01", 0, "train"), ("b", "i3", 1, "2021-01-04", 3, "test"),
        ("a", "i2", 3, "2021-01-01", 0, "train"), ("b", "i1", 2, "2021-01-02", 1, "train"),
        ("a", "i3", 5, "2021-01-02", 1, "valid"),
    ]
    interactions = pd.DataFrame(rows, columns=["user_id", "business_id", "stars", "date", "position", "split"])
    items = pd.DataFrame({"business_id": CATALOGUE, "name": CATALOGUE, "categories": ""})
    return RankingData.from_frames(interactions, items)


def as_lists(arrays) -> list[list[int]]:
    return [list(map(int, array)) for array in arrays]


def test_ranking_data_sequences_targets_and_seen_items():
    data = small_data()
    assert data.n_users == 2 and data.n_items == 5 and list(data.users) == ["a", "b"]
    assert as_lists(data.sequences("train")) == [[2], [1, 4]]
    assert as_lists(data.sequences("valid")) == [[2], [1, 4]]  # the train items, in order
    assert as_lists(data.sequences("test")) == [[2, 0], [1, 4, 2]]  # then the valid item
    assert as_lists(data.star_sequences("test")) == [[3, 5], [4, 2, 5]]
    assert data.targets("valid").to_dict("list") == {"user": [0, 1], "item": [0, 2], "stars": [5, 5]}
    assert data.targets("test").to_dict("list") == {"user": [0, 1], "item": [1, 0], "stars": [4, 1]}
    np.testing.assert_array_equal(data.seen_matrix("test").toarray(), [[1, 0, 1, 0, 0], [0, 1, 1, 0, 1]])
    np.testing.assert_array_equal(data.seen_matrix("valid").toarray(), [[0, 0, 1, 0, 0], [0, 1, 0, 0, 1]])
    np.testing.assert_array_equal(data.train_counts, [0, 1, 1, 0, 1])


def test_ranking_data_refuses_items_outside_the_catalogue():
    interactions = small_data().interactions.assign(user_id="a", business_id="i9")
    items = pd.DataFrame({"business_id": CATALOGUE, "name": CATALOGUE, "categories": ""})
    with pytest.raises(PipelineError, match="missing from the catalogue"):
        RankingData.from_frames(interactions, items)


def test_the_split_feeds_ranking_data_with_histories_before_their_targets():
    split, _ = leave_last_out(split_input(), tie_seed=0)
    items = sorted(split["business_id"].unique())
    data = RankingData.from_frames(split, pd.DataFrame({"business_id": items, "name": items, "categories": ""}))
    a = list(data.users).index("a")
    assert [items[i] for i in data.sequences("test")[a]] == ["p", "q", "r", "t"]
    assert items[data.targets("test")["item"][a]] == "s"
    dates = pd.to_datetime(data.interactions["date"])
    for split_name in ("valid", "test"):
        target_dates = dates[data.interactions["split"] == split_name].to_numpy()
        history = data.history(split_name)
        assert np.all(dates[history.index].to_numpy() <= target_dates[history["user"].to_numpy()])


# ----------------------------------------------------------------------------------------------- evaluation
class FixedScores:
    """A ranker stub: the same scores for a user whatever the split."""

    SCORES = np.array([[0.1, 0.5, 0.9, 0.3, 0.5], [0.2, 0.8, 0.4, 0.6, 0.9]])

    def score(self, data, split, users):
        return self.SCORES[users]


@pytest.mark.parametrize("batch", [1, 1024])
def test_rank_targets_masks_the_history_and_keeps_only_relevant_targets(monkeypatch, batch):
    monkeypatch.setattr(evaluation, "USERS_PER_BATCH", batch)
    data, model = small_data(), FixedScores()
    # test: a has seen {0, 2}, target 1 (0.5; item 4's tie comes later) -> 0; b has seen {1, 2, 4}, target 0 -> 1
    ranked = rank_targets(model, data, "test", k=3)
    np.testing.assert_array_equal(ranked.users, [0, 1])
    np.testing.assert_array_equal(ranked.targets, [1, 0])
    np.testing.assert_array_equal(ranked.ranks, [0, 1])
    np.testing.assert_array_equal(ranked.top, [[1, 4, 3], [3, 0, -1]])
    only_a = rank_targets(model, data, "test", k=3, relevant_stars=[4, 5])  # b's test target has 1 star
    np.testing.assert_array_equal(only_a.users, [0])
    np.testing.assert_array_equal(only_a.ranks, [0])
    only_b = rank_targets(model, data, "test", k=3, relevant_stars=(1,))
    np.testing.assert_array_equal(only_b.users, [1])
    np.testing.assert_array_equal(only_b.top, [[3, 0, -1]])
    # valid: a has seen {2}, target 0 (0.1) -> 3; b has seen {1, 4}, target 2 (0.4) -> 1; both targets 5 stars
    valid = rank_targets(model, data, "valid", k=3, relevant_stars=[5])
    np.testing.assert_array_equal(valid.users, [0, 1])
    np.testing.assert_array_equal(valid.ranks, [3, 1])
    assert valid_ndcg(model, data, k=3) == pytest.approx(0.5 * (0 + 1 / math.log2(3)))


def test_rank_targets_with_no_relevant_target_evaluates_no_user():
    ranked = rank_targets(FixedScores(), small_data(), "test", k=3, relevant_stars=[3])
    assert len(ranked.users) == len(ranked.ranks) == 0 and ranked.top.shape == (0, 3)


def ranking_config(relevant: str) -> RankingConfig:
    return with_overrides(params().ranking, {"relevant": relevant})


def test_relevant_stars_all_or_the_last_class():
    bins = params().split.bins
    assert relevant_stars(ranking_config("all"), bins) is None
    assert relevant_stars(ranking_config("excellent"), bins) == list(list(bins.values())[-1]) == [5]
    assert relevant_stars(ranking_config("excellent"), {"low": [1, 2, 3], "high": [4, 5]}) == [4, 5]
    with pytest.raises(ParamsError, match="relevant"):
        ranking_config("good")


# ---------------------------------------------------------------------------------------------------- rankers
def cycle_data(users: int = 300, seed: int = 0, stars=None, extra_items: int = 1) -> RankingData:
    """Each user walks 5 to 11 steps of the cycle from a random item; ``stars(item)`` (default: random) rates each
    step. The catalogue is shuffled and has ``extra_items`` items nobody chose."""
    rng = np.random.default_rng(seed)
    rows = []
    for user in range(users):
        start, length = rng.integers(CYCLE), rng.integers(5, 12)
        for position in range(length):
            item = (start + position) % CYCLE
            split = "test" if position == length - 1 else "valid" if position == length - 2 else "train"
            rating = int(rng.integers(1, 6)) if stars is None else stars(item)
            rows.append((f"u{user}", f"b{item}", rating, f"2021-01-{position + 1:02d}T12:00:00", position, split))
    interactions = pd.DataFrame(rows, columns=["user_id", "business_id", "stars", "date", "position", "split"])
    ids = rng.permutation([f"b{item}" for item in range(CYCLE)] + [f"never_chosen{i}" for i in range(extra_items)])
    return RankingData.from_frames(interactions, pd.DataFrame({"business_id": ids, "name": ids, "categories": ""}))


SEQUENCE = {"hidden_dim": 16, "max_len": 8, "epochs": 30, "patience": 5, "batch_size": 64, "dropout": 0.1,
            "lr": 0.005, "device": "cpu"}
RANKERS = {  # name -> (params.yaml rankers entry, overrides)
    "popularity": ("popularity", {}),
    "mf": ("mf", {"max_iter": 50}),
    "bpr": ("bpr", {"max_iter": 50}),
    "sasrec": ("sasrec", {**SEQUENCE, "blocks": 1, "heads": 2}),
    "bert4rec": ("bert4rec", {**SEQUENCE, "blocks": 1, "heads": 2, "epochs": 60, "lr": 0.01}),  # cloze learns slower
    "gru4rec": ("gru4rec", {**SEQUENCE, "cell": "gru"}),
    "lstm": ("gru4rec", {**SEQUENCE, "cell": "lstm"}),
    "xlstm": ("xlstm", {**SEQUENCE, "blocks": 2, "heads": 2, "slstm_blocks": [1]}),
}
SEQUENCE_RANKERS = ("sasrec", "bert4rec", "gru4rec", "lstm", "xlstm")


def family_of(name: str) -> str:
    return params().rankers[RANKERS[name][0]].family


def make_ranker(name: str, **changes):
    entry, overrides = RANKERS[name]
    config = entry_config(params(), "rankers", entry)  # the family's section of params.yaml with the entry's overrides
    config = with_overrides(config, {**overrides, **changes})
    return model_class(family_of(name))(config, list(params().split.bins), "rank")


@pytest.fixture(scope="module")
def data() -> RankingData:
    return cycle_data()


@pytest.fixture(scope="module")
def fitted(data):
    """name -> (model, FitResult), each fitted once on first use."""
    models = {}

    def get(name: str):
        if name not in models:
            model = make_ranker(name)
            models[name] = model, model.fit(data, progress=False, validation=ndcg_validation(data, K))
        return models[name]

    return get


def ndcg_at_k(model, data) -> float:
    return float(metrics.per_user(rank_targets(model, data, "test", K).ranks, K)["ndcg"].mean())


def test_popularity_scores_train_counts_for_every_user(fitted, data):
    model, result = fitted("popularity")
    scores = model.score(data, "test", np.array([0, 5, 9]))
    assert scores.shape == (3, data.n_items)
    np.testing.assert_array_equal(scores, np.tile(data.train_counts, (3, 1)))
    assert result.facts["items_with_interactions"] == CYCLE and result.curves is None


@pytest.mark.parametrize("name", ["mf", "bpr"])
def test_factor_rankers_rank_items_never_in_train_last(fitted, data, name):
    model, result = fitted(name)
    assert result.facts["items_unseen_in_train"] == 1 and result.facts["train_interactions"] == len(data.part("train"))
    scores = model.score(data, "test", np.arange(data.n_users))
    never = int(np.flatnonzero(data.items["business_id"] == "never_chosen0")[0])
    assert scores.shape == (data.n_users, data.n_items)
    others = np.delete(scores, never, axis=1)
    assert np.all(np.isfinite(others)) and np.all(scores[:, never] < others.min(axis=1))


def test_bpr_learns_which_items_go_together(fitted, data):
    """A user's items are an arc of the cycle and the target is next to it: co-occurrence is enough to beat
    popularity, which is flat on a cycle."""
    assert ndcg_at_k(fitted("bpr")[0], data) > ndcg_at_k(fitted("popularity")[0], data) + 0.15


@pytest.mark.parametrize("name", SEQUENCE_RANKERS)
def test_sequence_rankers_start_near_the_uniform_loss(data, name):
    """Untrained, a network's logits are near zero, so its loss is near log(catalogue): output vectors tied to
    N(0, 1) embeddings started SASRec at several times that, and it never left the popular items."""
    model = make_ranker(name, hidden_dim=64)
    model._setup(data.n_items)
    model.network.eval()
    tokens, stars = model._train_windows(data)
    with torch.no_grad():
        loss, _ = model._loss(*model._batch(tokens, stars, np.random.default_rng(0)))
    assert abs(loss.item() - math.log(data.n_items)) < 0.1


@pytest.mark.slow
@pytest.mark.parametrize("name", SEQUENCE_RANKERS)
def test_sequence_rankers_learn_the_cycle_far_above_popularity(fitted, data, name):
    model, _ = fitted(name)
    assert ndcg_at_k(model, data) > ndcg_at_k(fitted("popularity")[0], data) + 0.4


@pytest.mark.slow
@pytest.mark.parametrize("name", SEQUENCE_RANKERS)
def test_early_stopping_keeps_the_best_epoch(fitted, data, name):
    model, result = fitted(name)
    config, curves, facts = model.config, result.curves, result.facts
    column = f"valid/ndcg@{K}"
    assert len(curves) == facts["epochs_run"] and list(curves.index) == list(range(1, facts["epochs_run"] + 1))
    assert {"train/loss", column} <= set(curves.columns)
    assert facts["best_epoch"] == int(curves[column].idxmax())  # the first epoch of the highest valid NDCG
    assert facts[f"best_valid_ndcg@{K}"] == curves[column].max()
    assert facts["epochs_run"] <= facts["best_epoch"] + config.patience
    if facts["stopped_early"]:
        assert facts["epochs_run"] == facts["best_epoch"] + config.patience < config.epochs + 1
    else:
        assert facts["epochs_run"] == config.epochs
    assert valid_ndcg(model, data, K) == pytest.approx(facts[f"best_valid_ndcg@{K}"])  # the best weights are kept


@pytest.mark.slow
def test_a_saturated_valid_score_stops_the_fit_early(data):
    """Valid NDCG cannot pass 1, which a GRU reaches on the cycle: a long fit with little patience stops early."""
    model = make_ranker("gru4rec", epochs=100, patience=3)
    facts = model.fit(data, progress=False, validation=ndcg_validation(data, K)).facts
    assert facts["stopped_early"] and facts["epochs_run"] == facts["best_epoch"] + 3 < 100


def top_lists(model, data) -> np.ndarray:
    return rank_targets(model, data, "test", K).top


SAVED = ["popularity", "mf", "bpr", *[pytest.param(name, marks=pytest.mark.slow) for name in SEQUENCE_RANKERS]]


@pytest.mark.parametrize("name", SAVED)
def test_a_saved_ranker_loads_with_the_same_top_lists(fitted, data, tmp_path, name):
    model, _ = fitted(name)
    model.save(tmp_path, {"family": family_of(name), "input": "rank_split"})
    loaded = load_model(tmp_path, data)
    assert type(loaded) is type(model) and loaded.config == model.config
    np.testing.assert_array_equal(top_lists(loaded, data), top_lists(model, data))
    users = np.arange(data.n_users)
    np.testing.assert_allclose(loaded.score(data, "valid", users), model.score(data, "valid", users), rtol=1e-6)


CATALOGUE_CHECKED = [*("popularity", "mf", "bpr"),
                     *[pytest.param(name, marks=pytest.mark.slow) for name in SEQUENCE_RANKERS]]


@pytest.mark.parametrize("name", CATALOGUE_CHECKED)
def test_a_saved_ranker_refuses_another_catalogue(fitted, tmp_path, name):
    model, _ = fitted(name)
    model.save(tmp_path, {"family": family_of(name), "input": "rank_split"})
    with pytest.raises(PipelineError, match="catalogue"):
        load_model(tmp_path, cycle_data(extra_items=2))  # 32 items, not 31


# ------------------------------------------------------------------------------------------- disliked options
def disliked_every_third(item: int) -> int:
    return 1 if item % 3 == 0 else 5  # a disliked item every third step of the cycle


@pytest.mark.slow
def test_disliked_as_negatives_ranks_disliked_next_items_lower():
    """Every third item of the cycle is disliked (1 star). Learned as positives (the default), a disliked next item
    ranks near the top like any other; as negatives, it is pushed down."""
    data = cycle_data(stars=disliked_every_third)
    disliked_rating = params().sasrec.disliked_rating
    assert disliked_rating >= 1  # 1 star is disliked

    def target_ranks(**changes) -> tuple[float, float]:
        model = make_ranker("sasrec", **changes)
        model.fit(data, progress=False, validation=ndcg_validation(data, K))
        disliked = rank_targets(model, data, "test", K, relevant_stars=range(1, disliked_rating + 1)).ranks
        liked = rank_targets(model, data, "test", K, relevant_stars=[5]).ranks
        assert len(disliked) > 50 and len(liked) > 150
        return disliked.mean(), liked.mean()

    default_disliked, default_liked = target_ranks()
    negative_disliked, negative_liked = target_ranks(disliked_as_negatives=True)
    assert default_disliked < 1.0  # the cycle's next item, disliked or not
    assert negative_disliked > default_disliked + 3
    assert negative_liked < 1.0  # liked next items still come first


def test_disliked_weight_needs_disliked_as_negatives():
    with pytest.raises(ParamsError) as caught:
        make_ranker("sasrec", disliked_weight=2.0)
    assert any(problem.startswith("disliked_weight:") and "disliked_as_negatives" in problem
               for problem in caught.value.problems)
    assert make_ranker("gru4rec", disliked_weight=2.0, disliked_as_negatives=True).config.disliked_weight == 2.0
    with pytest.raises(ParamsError, match="disliked_weight"):
        make_ranker("xlstm", disliked_weight=0.5)


# ------------------------------------------------------------------------------------------- inference
def test_inference_prints_a_users_next_top_k_with_titles_from_the_saved_ranker_alone(fitted, data, tmp_path,
                                                                                    monkeypatch, capsys):
    from sasnet import paths
    from sasnet.inference import main
    from sasnet.io import write_parquet

    model, _ = fitted("sasrec")
    monkeypatch.chdir(tmp_path)
    model.save(paths.ranker_dir("sasrec"), {"family": "sasrec", "input": "rank_split"}, data)
    frame = data.interactions.assign(user_id=data.users[data.interactions["user"]],
                                     business_id=data.items["business_id"].to_numpy()[data.interactions["item"]])
    write_parquet(frame[["user_id", "business_id", "stars", "date", "position", "split"]], paths.RANK_INTERACTIONS)
    write_parquet(data.items, paths.RANK_ITEMS)
    user = 0
    assert main(["--ranker", "sasrec", "recommend", str(data.users[user]), "--top-k", "3"]) == 0
    printed = capsys.readouterr().out
    last = data.sequences("next")[user][-1]  # the cycle's next item after the whole history
    following = data.items["name"].iloc[(pd.Index(data.items["business_id"]).get_loc(
        f"b{(int(data.items['business_id'].iloc[last][1:]) + 1) % CYCLE}"))]
    first_row = next(line.split() for line in printed.splitlines() if line.split()[:1] == ["1"])
    assert following in first_row  # rank 1 is the next item of the cycle, shown by its name
    assert main(["--ranker", "sasrec", "recommend", "nobody"]) == 1
    assert main(["--ranker", "missing", "recommend", str(data.users[user])]) == 1
