"""SASNet as a ranker: the pair grid equals the forward pass, its pools hold only what came before a target, its
scores do not depend on the batch, it reloads, and on reviews that say which genre a user likes it ranks far above
popularity."""

from __future__ import annotations

import dataclasses
from functools import cache

import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from conftest import REPO_ROOT

from sasnet.config import ParamsError, with_overrides
from sasnet.errors import PipelineError
from sasnet.models import model_class
from sasnet.models.base import load_model
from sasnet.models.sasnet.model import grid_probabilities
from sasnet.models.sasnet.network import SASNet
from sasnet.models.sasnet.training import autocast, review_table
from sasnet.params import load_params
from sasnet.ranking import metrics
from sasnet.ranking.data import RankingData
from sasnet.ranking.evaluation import ndcg_validation, rank_targets

pytestmark = pytest.mark.usefixtures("single_torch_thread")
GENRES, ITEMS_PER_GENRE, K = 6, 10, 10
TINY = {"sample_size": 5, "batch_size": 64, "hidden_dim": 16, "heads": 2, "ffn_dim": 32, "blocks": 1,
        "dropout": 0.1, "epochs": 40, "patience": 8, "lr": 3e-3, "eval_draws": 2, "device": "cpu"}


@cache
def params():
    return load_params(REPO_ROOT / "params.yaml")


def config(**changes):
    return with_overrides(params().sasnet, {**TINY, **changes})


def genre_data(users: int = 160, seed: int = 0) -> RankingData:
    """Each user interacts with 9 items of a favourite genre (rated 5) and 3 of other genres (rated 1 to 3), in a
    random order. A review's embedding is its item's genre, once plain and once signed by the review's sentiment,
    plus noise: a user's reviews show which genre the user likes, an item's reviews which genre the item is. Every
    item is about as popular as every other, so popularity ranks at random."""
    rng = np.random.default_rng(seed)
    rows, vectors = [], []
    for user in range(users):
        favourite = rng.integers(GENRES)
        liked = rng.choice(ITEMS_PER_GENRE, 9, replace=False) + favourite * ITEMS_PER_GENRE
        others = rng.choice(np.setdiff1d(np.arange(GENRES * ITEMS_PER_GENRE), liked), 3, replace=False)
        items = rng.permutation(np.concatenate([liked, others]))
        for position, item in enumerate(items):
            genre, stars = item // ITEMS_PER_GENRE, 5 if item in liked else int(rng.integers(1, 4))
            split = "test" if position == len(items) - 1 else "valid" if position == len(items) - 2 else "train"
            rows.append((f"r{len(rows)}", f"u{user}", f"b{item}", stars, f"2021-01-{position + 1:02d}", position,
                         split, 2 if stars == 5 else 0))
            one_hot = np.eye(GENRES)[genre]
            vectors.append(np.concatenate([one_hot, one_hot * (stars - 3) / 2]) + rng.normal(0, 0.2, 2 * GENRES))
    columns = ["review_id", "user_id", "business_id", "stars", "date", "position", "split", "label"]
    interactions = pd.DataFrame(rows, columns=columns)
    ids = [f"b{item}" for item in range(GENRES * ITEMS_PER_GENRE)]
    data = RankingData.from_frames(interactions, pd.DataFrame({"business_id": ids, "name": ids, "categories": ""}))
    return data.with_embedding(interactions["review_id"], np.array(vectors, dtype=np.float32), "the test")


@pytest.fixture(scope="module")
def data() -> RankingData:
    return genre_data()


@pytest.fixture(scope="module")
def fitted(data):
    model = model_class("sasnet")(config(), list(params().split.bins), "rank")
    return model, model.fit(data, progress=False, validation=ndcg_validation(data, K))


@pytest.mark.parametrize("precision, tolerance", [("float32", 1e-6), ("bfloat16", 3e-2)])
def test_the_pair_grid_equals_the_forward_pass_of_every_pair(precision, tolerance):
    torch.manual_seed(0)
    network = SASNet(config(dropout=0.0, history_stars=True, precision=precision), 12, 3).eval()
    rng = np.random.default_rng(1)
    table = review_table(rng.normal(size=(40, 12)).astype(np.float32), rng.integers(1, 6, 40), torch.device("cpu"))
    user_sets = rng.integers(40, size=(3, 5)), rng.random((3, 5)) < 0.7
    item_sets = rng.integers(40, size=(4, 5)), rng.random((4, 5)) < 0.7
    item_sets[1][0] = False  # an item with no train review
    grid = grid_probabilities(network, table, user_sets, item_sets)
    assert grid.shape == (3, 4, 3)
    pairs = np.array([(u, i) for u in range(3) for i in range(4)])

    def gather(rows, mask):
        return table.embeddings[torch.as_tensor(rows)], torch.as_tensor(mask), table.stars[torch.as_tensor(rows)]

    user, user_mask, user_stars = gather(user_sets[0][pairs[:, 0]], user_sets[1][pairs[:, 0]])
    item, item_mask, item_stars = gather(item_sets[0][pairs[:, 1]], item_sets[1][pairs[:, 1]])
    with torch.inference_mode(), autocast(network):
        forward = torch.softmax(network(user, user_mask, item, item_mask, user_stars, item_stars).float(), dim=1)
    np.testing.assert_allclose(grid.reshape(12, 3), forward.numpy(), atol=tolerance)


@pytest.mark.parametrize("split, user_splits", [("valid", {"train"}), ("test", {"train", "valid"}),
                                                ("next", {"train", "valid", "test"})])
def test_ranking_pools_hold_only_what_came_before_the_target(data, split, user_splits):
    histories = data.histories_before(split)
    frame = data.interactions
    splits = frame["split"].to_numpy()
    users = histories.whole_pool_sets("user", np.arange(data.n_users), 5, np.random.default_rng(0))
    items = histories.whole_pool_sets("business", np.arange(data.n_items), 5, np.random.default_rng(0))
    for (rows, mask), owner, allowed in ((users, frame["user"], user_splits), (items, frame["item"], {"train"})):
        assert set(splits[rows[mask]]) == allowed
        entity = np.broadcast_to(np.arange(len(rows))[:, None], rows.shape)
        np.testing.assert_array_equal(owner.to_numpy()[rows][mask], entity[mask])  # the entity's own interactions
    # a train example never sees its own review; a target is in no pool at all
    train_rows = histories.rows_of("train")
    sets = histories.draw_sets(histories.examples(train_rows), 5, np.random.default_rng(0))
    for rows, mask in ((sets[0], sets[1]), (sets[2], sets[3])):
        assert not np.any((rows == train_rows[:, None]) & mask)


def test_the_ranker_ranks_a_users_liked_genre_far_above_popularity(fitted, data):
    model, result = fitted
    assert result.facts["selected_by"] == "valid macro-F1" and result.curves is None
    popularity = model_class("popularity")(params().popularity, list(params().split.bins), "rank")
    popularity.fit(data, progress=False)

    def ndcg(ranker) -> float:
        return float(metrics.per_user(rank_targets(ranker, data, "test", K).ranks, K)["ndcg"].mean())

    ours, baseline = ndcg(model), ndcg(popularity)
    assert ours > baseline + 0.2, (ours, baseline)
    scores = model.score(data, "test", np.arange(data.n_users))
    assert scores.shape == (data.n_users, data.n_items) and np.all((scores >= 0) & (scores <= 1))


def test_a_users_scores_do_not_depend_on_the_batch_and_a_saved_ranker_gives_them_again(fitted, data, tmp_path):
    model, _ = fitted
    everyone = model.score(data, "test", np.arange(data.n_users))
    np.testing.assert_allclose(model.score(data, "test", np.array([7, 3])), everyone[[7, 3]], atol=1e-6)
    model.save(tmp_path, {"family": "sasnet", "input": "normalized/minilm", "pooling": "mean"})
    again = load_model(tmp_path, data)
    np.testing.assert_array_equal(again.score(data, "test", np.arange(data.n_users)), everyone)
    narrower = dataclasses.replace(data, embedding=data.embedding[:, :6])
    with pytest.raises(PipelineError, match="12-d embeddings, the data has 6-d"):
        again.score(narrower, "test", np.array([0]))


def test_the_ranker_needs_an_embedding_and_every_interaction_needs_its_review(data):
    model = model_class("sasnet")(config(), list(params().split.bins), "rank")
    with pytest.raises(PipelineError, match="dense review embedding"):
        model.fit(dataclasses.replace(data, embedding=None), progress=False)
    ids = data.interactions["review_id"].iloc[1:]
    with pytest.raises(PipelineError, match="1 of 1920 ranking interactions have no review in somewhere"):
        data.with_embedding(ids, np.zeros((len(ids), 3)), "somewhere")


@pytest.mark.parametrize("entry, message", [
    ({"family": "sasnet", "input": "rank_split"}, r"rankers\.bad\.input: family 'sasnet' reads a review embedding: use 'normalized/"),
    ({"family": "sasnet", "input": "normalized/minilm", "pooling": "last"}, r"rankers\.bad\.pooling: got 'last'"),
    ({"family": "popularity", "input": "normalized/minilm", "pooling": "mean"},
     r"rankers\.bad\.input: family 'popularity' reads only its task's ratings: use 'rank_split'"),
    ({"family": "popularity"}, r"rankers\.bad.*input"),
])
def test_a_rankers_entry_must_name_what_its_family_reads(tmp_path, entry, message):
    raw = yaml.safe_load((REPO_ROOT / "params.yaml").read_text())
    raw["rankers"] = {"bad": entry}
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(ParamsError, match=message):
        load_params(path)
