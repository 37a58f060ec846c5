"""Every model family's train stage, the report and inference, on the session's pinned tiny pipeline (conftest's
``tiny_pipeline``: one model per family, run in process): no leakage, every metric, predictions that agree with their
metrics, saved models that reload to the same predictions, reproducible fits, and clear errors."""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from workspace import PINNED_ENCODER, PINNED_MODELS, one_thread, stage_module, tiny_params

from sasnet import paths
from sasnet.config import ParamsError, build
from sasnet.errors import PipelineError
from sasnet.evaluation import EVALUATED_SPLITS
from sasnet.inputs import ModelInput
from sasnet.inference import TrainedModel, main
from sasnet.model_data import load_model_data
from sasnet.models.base import load_model
from sasnet.models.star_history.model import star_history_features
from sasnet.params import Params

MODELS = tuple(PINNED_MODELS)  # one per family that classifies, each named after its family
CLASS_COLUMNS = ["p_bad", "p_good", "p_excellent"]


@pytest.fixture(scope="module")
def pipeline(tiny_pipeline):
    """The pinned tiny pipeline's params, with the current folder in its workspace and one thread, as it ran."""
    with pytest.MonkeyPatch.context() as patch, one_thread():
        patch.chdir(tiny_pipeline.folder)
        yield tiny_pipeline.raw


def test_no_example_sees_its_own_review_or_a_held_out_one(pipeline):
    data = load_model_data(ModelInput(PINNED_ENCODER, PINNED_MODELS["sasnet"]["pooling"]))
    histories, reviews = data.histories, data.reviews
    users, businesses = reviews["user_id"].to_numpy(), reviews["business_id"].to_numpy()
    splits = reviews["split"].to_numpy()
    assert not set(users[splits == "train"]) & set(users[splits != "train"])  # held-out users are unseen

    rows = np.arange(len(reviews))
    for seed in range(3):
        drawn = histories.draw_sets(histories.examples(rows), 5, np.random.default_rng(seed))
        user_rows, user_mask, business_rows, business_mask = drawn
        example = np.broadcast_to(rows[:, None], user_rows.shape)
        assert np.all(user_rows != example) and np.all(business_rows != example)
        assert np.all(users[user_rows][user_mask] == users[example][user_mask])
        assert np.all(businesses[business_rows][business_mask] == businesses[example][business_mask])
        assert np.all(splits[business_rows][business_mask] == "train")

    # the SVM averages: each example's user half and business half weigh exactly its leave-one-out pools
    examples = histories.examples(rows)
    for pools, group, own, owner, member in (
        (histories.users, examples.users, examples.user_own, users, np.ones(len(rows), bool)),
        (histories.businesses, examples.businesses, examples.business_own, businesses, splits == "train"),
    ):
        weights = pools.averaging_matrix(group, own, len(rows), np.float64).toarray()
        expected = (owner[:, None] == owner[None, :]) & member[None, :] & ~np.eye(len(rows), dtype=bool)
        np.testing.assert_array_equal(weights > 0, expected)


def test_star_history_never_sees_the_target(pipeline):
    """Relabelling a review leaves its own features unchanged; relabelling another review of its user does not."""
    data = load_model_data()
    prior = np.full(3, 1 / 3)
    users = data.reviews["user_id"].to_numpy()

    def features_after_relabelling(row: int, relabelled: int) -> np.ndarray:
        reviews = data.reviews.copy()
        reviews.loc[relabelled, "label"] = (reviews.loc[relabelled, "label"] + 1) % 3
        return star_history_features(type(data)(reviews, data.histories), data.histories.examples([row]), prior, 2.0)

    for split in ("train", "valid", "test"):
        row = int(data.rows_of(split)[0])
        own = star_history_features(data, data.histories.examples([row]), prior, 2.0)
        np.testing.assert_array_equal(features_after_relabelling(row, row), own)
        sibling = int(np.flatnonzero((users == users[row]) & (np.arange(len(users)) != row))[0])
        assert not np.array_equal(features_after_relabelling(row, sibling), own)


@pytest.mark.parametrize("model", MODELS)
def test_every_model_reports_every_metric_and_its_predictions_agree(pipeline, model):
    metrics = pd.read_json(paths.model_metrics(model), typ="series")
    predictions = pd.read_parquet(paths.predictions_file(model))
    for split in EVALUATED_SPLITS:
        report = metrics[split]
        scored = predictions[predictions["split"] == split]
        assert report["examples"] == len(scored) > 0
        for name in ("accuracy", "macro_f1"):
            assert report[f"{name}_low"] <= report[f"{name}_high"]
        assert report["accuracy"] == pytest.approx(np.mean(scored["label"] == scored["predicted"]))
        confusion = np.zeros((3, 3), dtype=int)
        np.add.at(confusion, (scored["label"], scored["predicted"]), 1)
        assert report["confusion_matrix"] == confusion.tolist()
        assert set(report["f1_per_class"]) == {"bad", "good", "excellent"}
        assert 0 < report["majority_accuracy"] < 1 and "weighted_f1" in report
    probabilities = predictions[CLASS_COLUMNS].to_numpy()
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
    np.testing.assert_array_equal(probabilities.argmax(axis=1), predictions["predicted"])
    assert metrics["fit"] and metrics["stage_seconds"] > 0
    assert pd.read_csv(paths.training_curves(model))["valid/macro_f1"].notna().all()


@pytest.mark.parametrize("model", MODELS)
def test_a_saved_model_reloads_to_the_same_predictions(pipeline, model):
    trained = TrainedModel.load(model)
    predictions = pd.read_parquet(paths.predictions_file(model))
    rows = trained.data.rows_of("test")
    reloaded = load_model(paths.model_dir(model), trained.data).predict_proba(
        trained.data, trained.data.histories.examples(rows)
    )
    saved = predictions[predictions["split"] == "test"][CLASS_COLUMNS].to_numpy()
    np.testing.assert_allclose(reloaded, saved, rtol=1e-5, atol=1e-6)


def test_a_stage_rerun_gives_the_same_predictions(pipeline):
    params = build(Params, pipeline)
    for model in ("svm", "sasnet", "star_history"):
        before = pd.read_parquet(paths.predictions_file(model))
        stage_module("stages/train.py").run(params, model)
        pd.testing.assert_frame_equal(pd.read_parquet(paths.predictions_file(model)), before)


def test_the_report_names_every_model(pipeline):
    results = paths.RESULTS.read_text()
    assert all(f"| {model} |" in results for model in MODELS)
    for figure in ("model_comparison.png", "training_curves.png"):
        assert (paths.PLOTS / figure).stat().st_size > 0


def test_sasnet_refuses_a_sparse_embedding(pipeline):
    raw = copy.deepcopy(pipeline)
    raw["models"]["words"] = {"family": "sasnet", "input": "normalized/tfidf", "pooling": "tfidf"}
    with pytest.raises(PipelineError, match="needs a dense review embedding"):
        stage_module("stages/train.py").run(build(Params, raw), "words")
    assert sp.issparse(load_model_data(ModelInput("tfidf", "tfidf")).matrix)


def test_model_entries_are_checked_against_families_encoders_and_poolings(tiny_llm_dir):
    raw = tiny_params(tiny_llm_dir)
    raw["models"] = {
        "a": {"family": "svm", "input": "normalized/nope", "pooling": "mean"},
        "b": {"family": "svm", "input": "normalized/minilm", "pooling": "max"},
        "c": {"family": "star_history", "input": "normalized/minilm", "pooling": "mean"},
        "d": {"family": "gbdt", "input": "split"},
        "e": {"family": "sasnet", "input": "normalized/minilm", "pooling": "mean", "overrides": {"lr": -1.0}},
        "f": {"family": "svm", "input": "normalized/minilm", "pooling": "mean", "overrides": {"gama": 1.0}},
    }
    with pytest.raises(ParamsError) as raised:
        build(Params, raw)
    problems = raised.value.problems
    # each names its key, what was given and what is valid (the wording is the params module's)
    assert any(p.startswith("models.a.input: ") and "'normalized/tfidf' or 'normalized/minilm'" in p
               and p.endswith("(got 'normalized/nope')") for p in problems)
    assert "models.b.pooling: got 'max'; encoder 'minilm' writes 'mean'" in problems
    assert any(p.startswith("models.c.input: ") and "'split'" in p and p.endswith("(got 'normalized/minilm')")
               for p in problems)
    assert any(p.startswith("models.d.family: got 'gbdt'; ") and "'sasnet'" in p for p in problems)
    assert "models.e.overrides.lr: must be > 0 (got -1.0)" in problems
    assert any(p.startswith("models.f.overrides: unknown key(s) ['gama']; valid keys: kernel, C, gamma") for p in problems)


@pytest.mark.parametrize("model", ("sasnet", "star_history", "mf"))
def test_inference_predicts_pairs_and_ranks_unreviewed_businesses(pipeline, model):
    trained = TrainedModel.load(model)
    reviews = trained.data.reviews
    user = reviews.loc[reviews["split"] == "test", "user_id"].iloc[0]
    reviewed = set(reviews.loc[reviews["user_id"] == user, "business_id"])
    pairs = trained.predict(user, sorted(reviewed)[:2])
    np.testing.assert_allclose(pairs[CLASS_COLUMNS].sum(axis=1), 1.0, rtol=1e-5)
    pd.testing.assert_frame_equal(trained.predict(user, sorted(reviewed)[:2]), pairs)  # seeded
    alone = trained.predict(user, sorted(reviewed)[1:2]).reset_index(drop=True)
    pd.testing.assert_frame_equal(alone, pairs.iloc[1:].reset_index(drop=True))  # a pair's score ignores the others

    # a reviewed pair is scored as evaluation scored that review
    predictions = pd.read_parquet(paths.predictions_file(model)).set_index("review_id")
    first = reviews[(reviews["user_id"] == user) & (reviews["business_id"] == sorted(reviewed)[0])].iloc[0]
    np.testing.assert_allclose(pairs.loc[0, CLASS_COLUMNS].to_numpy(dtype=float),
                               predictions.loc[first["review_id"], CLASS_COLUMNS].to_numpy(dtype=float), rtol=1e-5)

    top = trained.recommend(user, top_k=5, min_business_reviews=3)
    assert len(top) == 5 and list(top.index) == [1, 2, 3, 4, 5]
    assert top["p_excellent"].is_monotonic_decreasing and not set(top["business_id"]) & reviewed
    assert (top["business_train_reviews"] >= 3).all()
    everything = trained.recommend(user, top_k=10_000, include_reviewed=True, min_business_reviews=1)
    with_train_reviews = set(reviews.loc[reviews["split"] == "train", "business_id"])
    assert reviewed & with_train_reviews <= set(everything["business_id"])


def test_inference_explains_unknown_ids(pipeline, capsys):
    with pytest.raises(PipelineError, match=r"unknown user id\(s\) 'nobody': not among the \d+ users"):
        TrainedModel.load("sasnet").recommend("nobody", top_k=3)
    trained = ", ".join(sorted(MODELS))
    with pytest.raises(PipelineError, match=f"no trained model 'sasnet_gpt'.*trained models: {trained}"):
        TrainedModel.load("sasnet_gpt")

    user = pd.read_parquet(paths.split_file("test"))["user_id"].iloc[0]
    assert main(["--model", "sasnet", "predict", user, "no-such-business"]) == 1
    assert "unknown business id(s) 'no-such-business'" in capsys.readouterr().err
    assert main(["--model", "star_history", "recommend", user, "--top-k", "3"]) == 0
    assert "p_excellent" in capsys.readouterr().out


def test_scoring_without_categories_still_writes_every_declared_output(pipeline, tiny_pipeline):
    """Amazon data has no categories: the stage must write its declared plots anyway, or `dvc repro` fails."""
    businesses = pd.read_parquet(paths.BUSINESSES)
    outputs = ("embedding_scores.csv", "embedding_scores.png", "category_similarity.csv", "category_similarity.png",
               "category_heatmap.png")
    try:
        businesses.assign(categories=None).to_parquet(paths.BUSINESSES)
        for name in outputs:
            (paths.PLOTS / name).unlink()
        stage_module("stages/score_embeddings.py").run(build(Params, pipeline))
        assert all((paths.PLOTS / name).stat().st_size > 0 for name in outputs)
        assert pd.read_json(paths.EMBEDDING_SCORES, typ="series")["best_method"] is None
    finally:  # the session's workspace as the pipeline left it, for the tests after this one
        tiny_pipeline.restore(paths.BUSINESSES, paths.EMBEDDING_SCORES, paths.CATEGORY_PAIRS,
                              *(paths.PLOTS / name for name in outputs))
