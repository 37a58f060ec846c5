"""Inference refuses what it cannot serve, with one line that says why: a model or ranker trained on other data
than it would read now (by the fingerprint in its model.json), and arguments that leave nothing to rank.

Each test writes a tiny generated data/split (or data/rank_split) and embedding in a temporary folder, fits a cheap
model on it in process and saves it as the train and rank stages do.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from sasnet import paths
from sasnet.config import build
from sasnet.data.splitting import assign_users
from sasnet.embeddings import store
from sasnet.errors import PipelineError
from sasnet.fingerprint import of, require_match
from sasnet.inference import TrainedModel, load_saved, main, saved_input
from sasnet.io import write_parquet
from sasnet.item_codes import ItemCodes
from sasnet.model_data import load_model_data
from sasnet.models import family, model_class
from sasnet.ranking.data import load_ranking_data
from sasnet.ranking.evaluation import ndcg_validation

CLASS_NAMES = ["bad", "good", "excellent"]
CLASS_OF_STAR = np.array([-1, 0, 0, 0, 1, 2], dtype=np.int8)
CONFIGS = {
    "majority": {},
    "popularity": {},
    "mf": {"k": 2, "max_iter": 5, "learning_rate": 0.01, "lambda_reg": 0.02, "fold_in_reg": 1.0, "seed": 0},
    "svm": {"kernel": "linear", "C": 0.1, "gamma": "scale", "class_weight": None, "max_train_reviews": None,
            "max_iter": 1000, "seed": 0, "include_target": False},
}
INPUTS = {  # model name -> (family, input, pooling), as params.yaml's models map names them
    "majority": ("majority", "split", None),
    "mf": ("mf", "split", None),
    "svm_tfidf": ("svm", "normalized/tfidf", "tfidf"),
    "svm_minilm": ("svm", "normalized/minilm", "mean"),
}


@pytest.fixture(autouse=True)
def workspace(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)


def write_split(seed: int = 0, business_prefix: str = "b", n_users: int = 40, n_businesses: int = 12,
                per_user: int = 6) -> pd.DataFrame:
    """data/split: each user reviews ``per_user`` distinct businesses with random stars; users split 80/10/10."""
    rng = np.random.default_rng(seed)
    users = np.repeat(np.arange(n_users), per_user)
    businesses = np.concatenate([rng.choice(n_businesses, per_user, replace=False) for _ in range(n_users)])
    stars = rng.integers(1, 6, len(users))
    user_ids = pd.Series([f"u{user}" for user in users])
    reviews = pd.DataFrame({
        "review_id": [f"r{seed}_{i}" for i in range(len(users))], "user_id": user_ids,
        "business_id": [f"{business_prefix}{business}" for business in businesses], "stars": stars,
        "text": "fine food", "date": "2020-01-01", "label": CLASS_OF_STAR[stars],
    })
    split = user_ids.map(assign_users(user_ids, {"train": 0.8, "valid": 0.1, "test": 0.1}, seed))
    for name in ("train", "valid", "test"):
        write_parquet(reviews[split == name].reset_index(drop=True), paths.split_file(name))
    return store.canonical_reviews()


def write_embedding(name: str, pooling: str, dims: int, seed: int = 0) -> None:
    """data/normalized/<name>: a random matrix over the split's reviews (sparse for TF-IDF)."""
    reviews = store.canonical_reviews()
    folder = paths.normalized_dir(name)
    folder.mkdir(parents=True, exist_ok=True)
    matrix = np.random.default_rng(seed).standard_normal((len(reviews), dims)).astype(np.float32)
    if pooling == "tfidf":
        store.write_sparse(folder, pooling, sp.csr_matrix(np.maximum(matrix, 0)))
    else:
        store.write_dense(folder, pooling, matrix)
    store.write_row_index(folder, reviews)


def info_of(name: str) -> dict:
    """model.json's family and input for model ``name``."""
    family_name, model_input, pooling = INPUTS.get(name, (name, "rank_split", None))
    return {"family": family_name, "input": {"family": family_name, "input": model_input, "pooling": pooling}}


def train(name: str, with_fingerprint: bool = True) -> None:
    """Fit model ``name`` on the data there is now and save it as the train stage does."""
    info = info_of(name)
    data = load_model_data(saved_input(info))
    model = model_class(info["family"])(build(family(info["family"]).Config, CONFIGS[info["family"]]), CLASS_NAMES,
                                        "classify")
    model.fit(data, progress=False)
    model.save(paths.model_dir(name), info["input"], data if with_fingerprint else None)


def refused(argv: list[str], capsys) -> str:
    """The one-line error inference prints for ``argv`` (which must exit 1)."""
    assert main(argv) == 1
    error = capsys.readouterr().err
    assert error.startswith("error: ") and error.count("\n") == 1, error
    return error


# ---------------------------------------------------------------------------------- models trained on other data
def test_a_model_is_served_on_the_data_it_was_trained_on(capsys):
    write_split()
    write_embedding("tfidf", "tfidf", 30)
    train("mf")
    train("svm_tfidf")
    assert main(["--model", "mf", "recommend", "u0", "--top-k", "3"]) == 0
    assert main(["--model", "svm_tfidf", "predict", "u0", "b1"]) == 0
    assert "p_excellent" in capsys.readouterr().out


def test_an_mf_model_refuses_another_split(capsys):
    write_split()
    train("mf")
    write_split(seed=1, business_prefix="c")  # other reviews of other businesses: every one would look unseen
    error = refused(["--model", "mf", "recommend", "u0", "--top-k", "3"], capsys)
    assert "data/models/mf was trained on other data: the train and valid reviews of data/split" in error
    assert "`dvc repro`" in error


def test_an_svm_refuses_a_tfidf_of_another_vocabulary(capsys):
    write_split()
    write_embedding("tfidf", "tfidf", 30)
    train("svm_tfidf")
    write_embedding("tfidf", "tfidf", 40)  # the scaler would expect 30 features and get 40
    error = refused(["--model", "svm_tfidf", "predict", "u0", "b1"], capsys)
    assert "the input embedding normalized/tfidf (tfidf): 240 x 40 now, 240 x 30 when trained" in error


def test_a_model_refuses_a_re_encoded_embedding_of_the_same_shape(capsys):
    write_split()
    write_embedding("minilm", "mean", 8)
    train("svm_minilm")
    write_embedding("minilm", "mean", 8, seed=1)
    error = refused(["--model", "svm_minilm", "predict", "u0", "b1"], capsys)
    assert "normalized/minilm (mean): other values than when trained (240 x 8)" in error


def test_a_model_refuses_changed_stars_of_the_same_reviews(capsys):
    write_split()
    train("majority")
    train_file = paths.split_file("train")
    reviews = pd.read_parquet(train_file)
    reviews.loc[0, ["stars", "label"]] = [5, 2] if reviews.loc[0, "stars"] != 5 else [1, 0]
    write_parquet(reviews, train_file)
    error = refused(["--model", "majority", "predict", "u0", "b1"], capsys)
    assert "data/split: other values than when trained (" in error


def test_a_change_to_what_no_fit_reads_is_served(capsys):
    write_split()
    train("majority")
    test_file = paths.split_file("test")
    write_parquet(pd.read_parquet(test_file).assign(text="changed words"), test_file)
    assert main(["--model", "majority", "recommend", "u0", "--top-k", "2"]) == 0


def test_a_model_saved_without_a_fingerprint_is_refused_with_a_request_to_retrain(capsys):
    write_split()
    train("mf", with_fingerprint=False)
    error = refused(["--model", "mf", "predict", "u0", "b1"], capsys)
    assert "data/models/mf records no fingerprint" in error and "run `dvc repro` to retrain it" in error


def test_other_semantic_ids_change_the_fingerprint():
    write_split()
    data = load_model_data(saved_input(info_of("majority")))
    items = pd.DataFrame({"business_id": sorted(data.reviews["business_id"].unique()), "name": "x", "code_1": 0,
                          "suffix": 0})
    items["suffix"] = np.arange(len(items))
    with_codes = type(data)(data.reviews, data.histories, item_codes=ItemCodes(items, 4))
    recoded = type(data)(data.reviews, data.histories,
                         item_codes=ItemCodes(items.assign(suffix=items["suffix"][::-1].to_numpy()), 4))
    info = {"input": {"input": "semantic_ids"}, "fingerprint": of(with_codes)}
    require_match(info, with_codes, "data/models/x")
    with pytest.raises(PipelineError, match=r"data/semantic_ids: other values than when trained \(12 items\)"):
        require_match(info, recoded, "data/models/x")


# ---------------------------------------------------------------------------------------------------- rankers
def write_rank_split(seed: int = 0, n_users: int = 8, n_items: int = 6) -> None:
    """data/rank_split: user 0 has interacted with every item, the others with 4; the last is test, then valid."""
    rng = np.random.default_rng(seed)
    rows = []
    for user in range(n_users):
        items = rng.permutation(n_items)[: n_items if user == 0 else 4]
        for position, item in enumerate(items):
            split = {len(items) - 1: "test", len(items) - 2: "valid"}.get(position, "train")
            rows.append({"user_id": f"u{user}", "business_id": f"b{item}", "stars": int(rng.integers(1, 6)),
                         "date": "2020-01-01", "position": position, "split": split})
    write_parquet(pd.DataFrame(rows), paths.RANK_INTERACTIONS)
    write_parquet(pd.DataFrame({"business_id": [f"b{item}" for item in range(n_items)],
                                "name": [f"Place {item}" for item in range(n_items)], "categories": "Food"}),
                  paths.RANK_ITEMS)


def rank(name: str = "popularity") -> None:
    info = info_of(name)
    data = load_ranking_data(saved_input(info))
    model = model_class(info["family"])(build(family(info["family"]).Config, CONFIGS[name]), CLASS_NAMES, "rank")
    model.fit(data, progress=False, validation=ndcg_validation(data, 3))
    model.save(paths.ranker_dir(name), info["input"], data)


def test_a_ranker_refuses_other_interactions_of_the_same_size(capsys):
    write_rank_split()
    rank()
    assert main(["--ranker", "popularity", "recommend", "u1", "--top-k", "2"]) == 0
    write_rank_split(seed=1)  # as many users and items: the size check alone lets it through
    error = refused(["--ranker", "popularity", "recommend", "u1", "--top-k", "2"], capsys)
    assert "data/rankers/popularity was trained on other data: the users, catalogue and train/valid" in error


def test_a_ranker_refuses_a_user_with_nothing_left_to_recommend(capsys):
    write_rank_split()
    rank()
    assert "'u0' has interacted with every item of the catalogue" in refused(
        ["--ranker", "popularity", "recommend", "u0"], capsys)


@pytest.mark.parametrize("option", [["--include-reviewed"], ["--min-business-reviews", "3"]])
def test_a_ranker_refuses_the_options_it_would_ignore(capsys, option):
    write_rank_split()
    rank()
    assert "are for --model" in refused(["--ranker", "popularity", "recommend", "u1", *option], capsys)


def test_an_unknown_user_of_a_ranker_is_named_with_the_ranking_split(capsys):
    write_rank_split()
    rank()
    assert "not among the 8 users of data/rank_split" in refused(
        ["--ranker", "popularity", "recommend", "nobody"], capsys)


# ------------------------------------------------------------------------------------------ recommend's arguments
@pytest.fixture
def served(capsys) -> TrainedModel:
    write_split()
    train("majority")
    return TrainedModel.load("majority")


def test_a_minimum_no_business_reaches_is_refused(served, capsys):
    error = refused(["--model", "majority", "recommend", "u0", "--min-business-reviews", "10000"], capsys)
    assert "no business has 10000 train reviews (the most any has is" in error
    assert "lower --min-business-reviews" in error


def test_a_user_who_reviewed_every_candidate_is_told_how_to_widen_the_list(served, capsys):
    reviews = served.data.reviews
    user = reviews["user_id"].iloc[0]
    sizes = reviews[reviews["split"] == "train"].groupby("business_id").size()
    others = sizes.drop(reviews.loc[reviews["user_id"] == user, "business_id"], errors="ignore")
    minimum = str(int(others.max()) + 1)  # only businesses the user reviewed have that many
    error = refused(["--model", "majority", "recommend", user, "--min-business-reviews", minimum], capsys)
    assert f"{user!r} has reviewed every business with at least {minimum} train reviews" in error
    assert main(["--model", "majority", "recommend", user, "--min-business-reviews", minimum,
                 "--include-reviewed"]) == 0


@pytest.mark.parametrize("argv, message", [
    (["--min-business-reviews", "-3"], "--min-business-reviews must be >= 0 (got -3)"),
    (["--top-k", "-1"], "--top-k must be >= 1 (got -1)"),
    (["--top-k", "0"], "--top-k must be >= 1 (got 0)"),
])
def test_negative_counts_are_refused(served, capsys, argv, message):
    assert message in refused(["--model", "majority", "recommend", "u0", *argv], capsys)


def test_unknown_ids_are_named(served, capsys):
    assert "unknown business id(s) 'zzz': not among the 12 businesses of data/split" in refused(
        ["--model", "majority", "predict", "u0", "zzz"], capsys)
    assert "unknown user id(s) 'nobody'" in refused(["--model", "majority", "recommend", "nobody"], capsys)


def test_predicting_no_business_is_refused(served):
    with pytest.raises(PipelineError, match="no business ids to score"):
        served.predict("u0", [])


def test_a_missing_split_file_is_named(served, capsys):
    paths.split_file("valid").unlink()
    error = refused(["--model", "majority", "predict", "u0", "b1"], capsys)
    assert "an input of data/models/majority is missing (" in error and "data/split/valid.parquet" in error
    assert error.endswith("run `dvc repro`\n")


def test_load_saved_gives_the_model_and_its_data():
    write_split()
    train("majority")
    model, data = load_saved(paths.model_dir("majority"), load_model_data)
    assert model.class_names == CLASS_NAMES and len(data.reviews) == 240
