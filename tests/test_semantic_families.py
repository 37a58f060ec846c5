"""The families that read semantic IDs (semantic_mf, ctr): each beats the majority class and popularity on data
with a clear item signal, semantic codes carry that signal to items without train reviews (the cold-start
question), a saved model predicts the same again, and a models entry must give them input semantic_ids."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import REPO_ROOT
from sklearn.metrics import f1_score
from test_rating_families import CLASS_NAMES, held_out, make_reviews, model_data

from sasnet.config import ParamsError, with_overrides
from sasnet.errors import PipelineError
from sasnet.item_codes import ItemCodes
from sasnet.models import model_class
from sasnet.models.base import load_model
from sasnet.params import load_params
from sasnet.ranking import metrics
from sasnet.ranking.data import RankingData
from sasnet.ranking.evaluation import ndcg_validation, rank_targets
from sasnet.semantic_ids import collision_suffix

K = 10
GENRES, ITEMS_PER_GENRE = 6, 8
MF_TINY = {"k": 4, "epochs": 40, "batch_size": 128, "lr": 0.02, "device": "cpu"}
CTR_TINY = {"embedding_dim": 8, "hidden_dims": [16], "epochs": 60, "patience": 10, "batch_size": 128, "lr": 1e-2,
            "device": "cpu"}
VARIANTS = [("semantic_mf", {"items": mode}) for mode in ("id", "semantic")] + [
    ("ctr", {"architecture": architecture, "items": mode})
    for architecture in ("wide_deep", "deepfm", "dlrm") for mode in ("id", "semantic")]


def params():
    return load_params(REPO_ROOT / "params.yaml")


def config(family: str, **changes):
    tiny = MF_TINY if family == "semantic_mf" else CTR_TINY
    return with_overrides(getattr(params(), family), {**tiny, **changes})


def item_codes(business_ids: list[str], codes: np.ndarray, categories: list[str]) -> ItemCodes:
    """A semantic-ID table as the semantic_ids stage writes it, from hand-made codes."""
    table = pd.DataFrame({"business_id": business_ids, "name": business_ids, "categories": categories,
                          "text_source": "metadata"})
    for level, column in enumerate(codes.T, start=1):
        table[f"code_{level}"] = column
    table["suffix"] = collision_suffix(codes)
    return ItemCodes(table.sort_values("business_id", kind="stable").reset_index(drop=True),
                     int(codes.max()) + 1)


# ---------------------------------------------------------------------------------------------------- ranking
def genre_ranking_data(users: int = 150, seed: int = 0) -> RankingData:
    """Each user interacts with 8 items of a favourite genre and 2 others, in random order; every item is about
    as popular as any other (popularity ranks at random). An item's categories and first code are its genre."""
    rng = np.random.default_rng(seed)
    rows = []
    for user in range(users):
        favourite = rng.integers(GENRES)
        liked = rng.choice(ITEMS_PER_GENRE, 8, replace=False) + favourite * ITEMS_PER_GENRE
        others = rng.choice(np.setdiff1d(np.arange(GENRES * ITEMS_PER_GENRE), liked), 2, replace=False)
        items = rng.permutation(np.concatenate([liked, others]))
        for position, item in enumerate(items):
            stars = 5 if item in liked else int(rng.integers(1, 4))
            split = "test" if position == len(items) - 1 else "valid" if position == len(items) - 2 else "train"
            rows.append((f"u{user}", f"b{item:02d}", stars, f"2021-01-{position + 1:02d}", position, split,
                         2 if stars == 5 else 0))
    interactions = pd.DataFrame(rows, columns=["user_id", "business_id", "stars", "date", "position", "split",
                                               "label"])
    ids = [f"b{item:02d}" for item in range(GENRES * ITEMS_PER_GENRE)]
    genre = np.arange(GENRES * ITEMS_PER_GENRE) // ITEMS_PER_GENRE
    codes = np.stack([genre, np.arange(len(ids)) % 4, np.arange(len(ids)) % 3], axis=1)
    data = RankingData.from_frames(interactions, pd.DataFrame({"business_id": ids, "name": ids,
                                                               "categories": [f"genre{g}" for g in genre]}))
    return dataclasses.replace(data, item_codes=item_codes(ids, codes, [f"genre{g}" for g in genre]))


@pytest.fixture(scope="module")
def ranking_data() -> RankingData:
    return genre_ranking_data()


def ndcg_at_k(ranker, data: RankingData) -> float:
    return float(metrics.per_user(rank_targets(ranker, data, "test", K).ranks, K)["ndcg"].mean())


@pytest.mark.parametrize("family, changes", VARIANTS, ids=lambda value: str(value))
def test_every_variant_ranks_the_liked_genre_above_popularity_and_reloads(family, changes, ranking_data, tmp_path):
    popularity = model_class("popularity")(params().popularity, CLASS_NAMES, "rank")
    popularity.fit(ranking_data, progress=False)
    model = model_class(family)(config(family, **changes), CLASS_NAMES, "rank")
    model.fit(ranking_data, progress=False, validation=ndcg_validation(ranking_data, K))
    ours, baseline = ndcg_at_k(model, ranking_data), ndcg_at_k(popularity, ranking_data)
    assert ours > baseline + 0.1, (ours, baseline)
    model.save(tmp_path, {"family": family, "input": "semantic_ids", "pooling": None})
    users = np.arange(ranking_data.n_users)
    np.testing.assert_allclose(load_model(tmp_path, ranking_data).score(ranking_data, "test", users),
                               model.score(ranking_data, "test", users), rtol=1e-6)


def test_a_ranker_without_semantic_ids_says_which_input_gives_them(ranking_data):
    for family, changes in (VARIANTS[0], VARIANTS[2]):
        model = model_class(family)(config(family, **changes), CLASS_NAMES, "rank")
        with pytest.raises(PipelineError, match="give the model input 'semantic_ids'"):
            model.fit(dataclasses.replace(ranking_data, item_codes=None), progress=False)


# ---------------------------------------------------------------------------------------------------- classes
@pytest.fixture(scope="module")
def class_data():
    """test_rating_families' affinity reviews; an item's first code is its quality tercile."""
    data = model_data(make_reviews())
    business_ids = sorted(data.reviews["business_id"].unique())
    mean_stars = data.reviews.groupby("business_id")["stars"].mean().reindex(business_ids).to_numpy()
    tercile = np.digitize(mean_stars, np.quantile(mean_stars, [1 / 3, 2 / 3]))
    codes = np.stack([tercile, np.arange(len(business_ids)) % 3, np.arange(len(business_ids)) % 2], axis=1)
    return dataclasses.replace(data, item_codes=item_codes(business_ids, codes, ["" for _ in business_ids]))


@pytest.mark.parametrize("family, changes", VARIANTS, ids=lambda value: str(value))
def test_every_variant_beats_the_majority_class_and_reloads(family, changes, class_data, tmp_path):
    model = model_class(family)(config(family, **changes), CLASS_NAMES, "classify")
    model.fit(class_data, progress=False)
    examples = held_out(class_data)
    probabilities = model.predict_proba(class_data, examples)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-6)
    truth = class_data.labels[examples.rows]
    macro_f1 = f1_score(truth, probabilities.argmax(axis=1), average="macro")
    majority = f1_score(truth, np.full(len(truth), np.bincount(truth).argmax()), average="macro")
    assert macro_f1 > majority + 0.15, (macro_f1, majority)
    model.save(tmp_path, {"family": family, "input": "semantic_ids", "pooling": None})
    np.testing.assert_allclose(load_model(tmp_path, class_data).predict_proba(class_data, examples), probabilities,
                               rtol=1e-6, atol=1e-9)


def cold_start_data(seed: int = 0):
    """Groups of 5 items share a quality and their first code; a group's last item is reviewed only by valid and
    test users (no train review): only its codes can tell a model what it is worth."""
    rng = np.random.default_rng(seed)
    groups, per_group = 8, 5
    quality = np.linspace(-1.5, 1.5, groups)
    rows = []
    for user in range(240):
        split = "train" if user < 180 else "valid" if user < 210 else "test"
        allowed = np.arange(groups * per_group) if split != "train" else np.flatnonzero(
            np.arange(groups * per_group) % per_group != per_group - 1)
        harshness = rng.normal(0, 0.3)
        for item in rng.choice(allowed, 12, replace=False):
            utility = quality[item // per_group] - harshness + rng.normal(0, 0.3)
            stars = int(np.clip(np.round(3.5 + 1.2 * utility), 1, 5))
            rows.append((f"r{len(rows)}", f"u{user}", f"b{item:02d}", stars, "", "2020-01-01",
                         [0, 0, 0, 0, 1, 2][stars], split))
    reviews = pd.DataFrame(rows, columns=["review_id", "user_id", "business_id", "stars", "text", "date", "label",
                                          "split"])
    data = model_data(reviews)
    ids = [f"b{item:02d}" for item in range(groups * per_group)]
    codes = np.stack([np.arange(len(ids)) // per_group, np.arange(len(ids)) % per_group,
                      np.zeros(len(ids), np.int64)], axis=1)
    return dataclasses.replace(data, item_codes=item_codes(ids, codes, ["" for _ in ids])), per_group


def test_semantic_codes_carry_the_signal_to_items_without_train_reviews():
    data, per_group = cold_start_data()
    examples = held_out(data)
    item = data.reviews["business_id"].to_numpy()[examples.rows]
    cold = np.array([int(name[1:]) % per_group == per_group - 1 for name in item])
    stars = data.stars[examples.rows]
    errors = {}
    for mode in ("id", "semantic"):
        model = model_class("semantic_mf")(config("semantic_mf", items=mode), CLASS_NAMES, "classify")
        model.fit(data, progress=False)
        predicted = model.predict_rating(data, examples)
        errors[mode] = float(np.sqrt(np.mean((predicted[cold] - stars[cold]) ** 2)))
    assert cold.sum() > 50
    assert errors["semantic"] < 0.7 * errors["id"], errors


def test_a_models_entry_of_a_semantic_family_must_read_semantic_ids(tmp_path):
    raw = yaml.safe_load((REPO_ROOT / "params.yaml").read_text())
    raw["models"] = {"bad": {"family": "ctr", "input": "split"}}
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(ParamsError, match=r"models\.bad\.input: family 'ctr' reads the catalogue's semantic IDs: use "
                                          r"'semantic_ids' \(got 'split'\)"):
        load_params(path)


def test_prefix_keys_are_shared_exactly_by_the_items_under_a_prefix():
    codes = item_codes(["a", "b", "c", "d"], np.array([[0, 1], [0, 1], [0, 2], [1, 1]]), ["", "", "", ""])
    keys, sizes = codes.prefix_keys(["a", "b", "c", "d"])
    assert sizes == [2, 3, 4]  # prefixes (0), (1); (0,1), (0,2), (1,1); every full ID with its suffix
    assert keys[0, 0] == keys[1, 0] == keys[2, 0] != keys[3, 0]
    assert keys[0, 1] == keys[1, 1] != keys[3, 1]  # (0,1) and (1,1) share the code 1 but not the prefix
    assert len(set(keys[:, 2])) == 4
    np.testing.assert_array_equal(codes.prefix_keys(["d", "a"])[0], keys[[3, 0]])
