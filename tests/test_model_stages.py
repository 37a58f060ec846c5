"""The svm, train_sasnet and report stages and inference, on a tiny pipeline run in process: no leakage, every
metric, predictions that agree with their metrics, reproducible fits, and clear errors."""

from __future__ import annotations

import subprocess

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from sasnet import paths
from sasnet.config import ParamsError, build
from sasnet.errors import PipelineError
from sasnet.evaluation import EVALUATED_SPLITS, load_model_data
from sasnet.inference import Recommender, main
from sasnet.params import ModelInput, Params
from workspace import make_workspace, run_in_process, stage_module, tiny_params

MODELS = ("svm_tfidf", "svm_minilm", "svm_llm", "sasnet_llm", "sasnet_minilm")


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory, tiny_llm_dir):
    params = tiny_params(tiny_llm_dir)
    folder = make_workspace(tmp_path_factory.mktemp("models") / "repo", params)
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(folder)
        run_in_process(params)
        yield params


def test_no_example_sees_its_own_review_or_a_held_out_one(pipeline):
    data = load_model_data(ModelInput("minilm", "mean"))
    histories, reviews = data.histories, data.reviews
    users, businesses = reviews["user_id"].to_numpy(), reviews["business_id"].to_numpy()
    splits = reviews["split"].to_numpy()
    assert not set(users[splits == "train"]) & set(users[splits != "train"])  # held-out users are unseen

    rows = np.arange(len(reviews))
    for seed in range(3):
        user_rows, user_mask, business_rows, business_mask = histories.draw_sets(rows, 5, np.random.default_rng(seed))
        example = np.broadcast_to(rows[:, None], user_rows.shape)
        assert np.all(user_rows != example) and np.all(business_rows != example)
        assert np.all(users[user_rows][user_mask] == users[example][user_mask])
        assert np.all(businesses[business_rows][business_mask] == businesses[example][business_mask])
        assert np.all(splits[business_rows][business_mask] == "train")

    # the SVM averages: each example's user half and business half weigh exactly its leave-one-out pools
    for pools, owner, member in (
        (histories.users, users, np.ones(len(rows), bool)),
        (histories.businesses, businesses, splits == "train"),
    ):
        weights = pools.averaging_matrix(rows, len(rows), np.float64).toarray()
        expected = (owner[:, None] == owner[None, :]) & member[None, :] & ~np.eye(len(rows), dtype=bool)
        np.testing.assert_array_equal(weights > 0, expected)


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
    if model.startswith("sasnet"):
        probabilities = predictions[["p_bad", "p_good", "p_excellent"]].to_numpy()
        np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
        np.testing.assert_array_equal(probabilities.argmax(axis=1), predictions["predicted"])
        assert metrics["training"]["parameter_count"] > 0 and metrics["training"]["seconds_per_epoch"] > 0
        assert (paths.live_dir(model) / "plots" / "metrics" / "valid" / "macro_f1.tsv").is_file()


def test_a_stage_rerun_gives_the_same_predictions(pipeline):
    params = build(Params, pipeline)
    for script, name, model in (
        ("stages/svm.py", "tfidf", "svm_tfidf"),
        ("stages/train_sasnet.py", "minilm", "sasnet_minilm"),
    ):
        before = pd.read_parquet(paths.predictions_file(model))
        stage_module(script).run(params, name)
        pd.testing.assert_frame_equal(pd.read_parquet(paths.predictions_file(model)), before)


def test_the_report_names_every_model(pipeline):
    results = paths.RESULTS.read_text()
    assert all(model in results for model in MODELS)
    assert (paths.PLOTS / "model_comparison.png").stat().st_size > 0


def test_sasnet_refuses_a_sparse_embedding(pipeline):
    raw = tiny_params(
        pipeline["embed"]["llm"]["model"], train_sasnet__inputs={"words": {"embedding": "tfidf", "pooling": "tfidf"}}
    )
    with pytest.raises(PipelineError, match="needs a dense embedding"):
        stage_module("stages/train_sasnet.py").run(build(Params, raw), "words")
    assert sp.issparse(load_model_data(ModelInput("tfidf", "tfidf")).matrix)


def test_model_inputs_must_name_an_encoder_and_one_of_its_poolings(pipeline):
    raw = tiny_params(
        pipeline["embed"]["llm"]["model"],
        svm__inputs={"a": {"embedding": "nope", "pooling": "mean"}, "b": {"embedding": "minilm", "pooling": "max"}},
    )
    with pytest.raises(ParamsError) as raised:
        build(Params, raw)
    assert any(
        p.startswith("svm.inputs.a.embedding: 'nope' is not an embed.encoders entry; valid values: 'tfidf'")
        for p in raised.value.problems
    )
    assert (
        "svm.inputs.b.pooling: 'max' is not written by encoder 'minilm'; valid values: 'mean'" in raised.value.problems
    )


def test_inference_predicts_pairs_and_ranks_unreviewed_businesses(pipeline):
    recommender = Recommender.load("sasnet_llm")
    reviews = recommender.data.reviews
    user = reviews.loc[reviews["split"] == "test", "user_id"].iloc[0]
    reviewed = set(reviews.loc[reviews["user_id"] == user, "business_id"])
    pairs = recommender.predict(user, sorted(reviewed)[:2])
    np.testing.assert_allclose(pairs[["p_bad", "p_good", "p_excellent"]].sum(axis=1), 1.0, rtol=1e-5)
    pd.testing.assert_frame_equal(recommender.predict(user, sorted(reviewed)[:2]), pairs)  # seeded draws
    alone = recommender.predict(user, sorted(reviewed)[1:2]).reset_index(drop=True)
    pd.testing.assert_frame_equal(alone, pairs.iloc[1:].reset_index(drop=True))  # a pair's score ignores the others

    top = recommender.recommend(user, top_k=5)
    assert len(top) == 5 and list(top.index) == [1, 2, 3, 4, 5]
    assert top["p_excellent"].is_monotonic_decreasing and not set(top["business_id"]) & reviewed
    assert (top["business_train_reviews"] >= recommender.model.config.sample_size).all()
    everything = recommender.recommend(user, top_k=10_000, include_reviewed=True, min_business_reviews=1)
    with_train_reviews = set(reviews.loc[reviews["split"] == "train", "business_id"])
    assert reviewed & with_train_reviews <= set(everything["business_id"])


def test_inference_explains_unknown_ids(pipeline, capsys):
    with pytest.raises(PipelineError, match=r"unknown user id\(s\) 'nobody': not among the \d+ users"):
        Recommender.load("sasnet_llm").recommend("nobody", top_k=3)
    with pytest.raises(PipelineError, match="no trained model 'sasnet_gpt'.*sasnet_llm, sasnet_minilm"):
        Recommender.load("sasnet_gpt")

    user = pd.read_parquet(paths.split_file("test"))["user_id"].iloc[0]
    assert main(["predict", user, "no-such-business"]) == 1
    assert "unknown business id(s) 'no-such-business'" in capsys.readouterr().err
    assert main(["--model", "sasnet_minilm", "recommend", user, "--top-k", "3"]) == 0
    assert "p_excellent" in capsys.readouterr().out


def test_scoring_without_categories_still_writes_every_declared_output(pipeline):
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
    finally:
        businesses.to_parquet(paths.BUSINESSES)


def test_training_in_a_repository_without_commits_says_to_commit(tmp_path, monkeypatch):
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(PipelineError, match="commit once"):
        stage_module("stages/train_sasnet.py").open_live(tmp_path / "live")
