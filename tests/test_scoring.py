"""Embedding scoring (Table 1): the paper's own numbers as an oracle, hand-computed toy cases, bootstrap, probe."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from scipy import stats

from sasnet.analysis_configs import ScoringConfig
from sasnet.config import ParamsError, build
from sasnet.errors import PipelineError
from sasnet.io import write_json
from sasnet.plots import interval_bars, similarity_heatmaps, similarity_scatter
from sasnet.scoring import (
    CategoryNameEmbeddings,
    composite_scores,
    eligible_categories,
    group_metrics,
    min_max,
    paper_score,
    review_groups,
    score_embeddings,
    similarity_matrices,
)

CLASSES = ["bad", "good", "excellent"]
CONFIG = {
    "score_splits": ["train", "valid", "test"],
    "negative_class": "bad",
    "positive_class": "excellent",
    "min_reviews_per_category": 1,
    "bootstrap_samples": 0,
    "bootstrap_seed": 0,
    "confidence": 0.95,
    "probe": {"C": 1.0, "max_iter": 500},
}

# Paper Table 1 (SPEC §5): NMSE_c, NPR_c, NAE_s, score, normalised score, each rounded to two decimals.
PAPER_TABLE_1 = np.array(
    [
        [0.13, 1.00, 0.00, 0.22, 1.00],  # Phi3-Instructed Attentional
        [0.48, 0.76, 0.01, 0.07, 0.84],  # LastToken
        [0.75, 0.99, 0.01, 0.05, 0.82],  # Positional
        [0.89, 0.97, 0.02, 0.01, 0.78],  # GAP
        [0.78, 0.45, 0.04, -0.10, 0.66],  # GMP
        [0.00, 0.10, 0.75, -0.35, 0.38],  # all-MiniLM
        [0.42, 0.08, 0.65, -0.41, 0.32],  # Phi3-NotInstructed GMP
        [0.45, 0.00, 0.62, -0.42, 0.30],  # LastToken
        [0.91, 0.18, 0.99, -0.68, 0.03],  # GAP
        [1.00, 0.18, 1.00, -0.71, 0.00],  # Positional
    ]
)


def config(**changes) -> ScoringConfig:
    return build(ScoringConfig, {**CONFIG, **changes})


def test_paper_table_1_scores_and_normalised_scores():
    normalised, paper_scores, paper_normalised = PAPER_TABLE_1[:, :3], PAPER_TABLE_1[:, 3], PAPER_TABLE_1[:, 4]
    scores = paper_score(normalised)
    assert scores[0] == pytest.approx(0.2175) and scores[5] == pytest.approx(-0.35)
    # the score only suffers the output rounding; the normalised score also inherits the inputs' rounding
    np.testing.assert_allclose(scores, paper_scores, atol=0.005 + 1e-12)
    np.testing.assert_allclose(min_max(scores), paper_normalised, atol=0.01)
    # each paper column spans [0, 1], so normalising it again is the identity and the whole chain agrees
    renormalised, chain_scores, chain_normalised = composite_scores(normalised)
    np.testing.assert_allclose(renormalised, normalised)
    np.testing.assert_allclose(chain_scores, scores)
    np.testing.assert_allclose(chain_normalised, min_max(scores))


def test_min_max_without_spread_is_zero_and_keeps_missing_values():
    values = np.array([[2.0, 1.0, np.nan], [2.0, 3.0, np.nan], [2.0, np.nan, np.nan]])
    normalised = min_max(values, axis=0)
    np.testing.assert_array_equal(normalised[:, 0], [0, 0, 0])
    np.testing.assert_array_equal(normalised[:2, 1], [0, 1])
    assert np.isnan(normalised[2, 1]) and np.isnan(normalised[:, 2]).all()


def toy_reviews() -> tuple[pd.DataFrame, np.ndarray]:
    """Two bad reviews (mean (1, 0)), two excellent ones (mean (-1, 1)), four 'good' ones carrying the categories.

    Category means: A = mean((1, 0), (1, 1)) = (1, .5); B = mean((0, 1), (1, 1)) = (.5, 1); C = (1, -1).
    """
    rows = [
        ("bad", None, (2, 0)),
        ("bad", None, (0, 0)),
        ("excellent", None, (-1, 2)),
        ("excellent", None, (-1, 0)),
        ("good", "A", (1, 0)),
        ("good", "B", (0, 1)),
        ("good", "A, B", (1, 1)),
        ("good", "C", (1, -1)),
    ]
    reviews = pd.DataFrame(
        {
            "split": "train",
            "label": [CLASSES.index(label) for label, _, _ in rows],
            "categories": [categories for _, categories, _ in rows],
        }
    )
    return reviews, np.array([vector for _, _, vector in rows], dtype=float)


NAMES = CategoryNameEmbeddings(["C", "B", "A", "unused"], np.array([[1.0, 1.0], [0.0, 1.0], [1.0, 0.0], [5, 5]]))


@pytest.mark.parametrize("as_matrix", [np.asarray, sp.csr_matrix, lambda x: np.asarray(x, dtype=np.float32)])
def test_toy_sentiment_and_category_metrics_by_hand(as_matrix):
    reviews, embeddings = toy_reviews()
    groups = review_groups(reviews, CLASSES, NAMES, config())
    assert list(groups.categories.index) == ["A", "B", "C"]  # 2, 2, 1 reviews; ties by name
    (mse, pr, ae), predicted = group_metrics(as_matrix(embeddings), groups)

    assert ae == pytest.approx(1 - 1 / np.sqrt(2), rel=1e-6)  # cos((1, 0), (-1, 1)) = -1/sqrt(2)
    expected = np.array([0.8, 1 / np.sqrt(10), -1 / np.sqrt(10)])  # pairs AB, AC, BC
    reference = np.array([0.0, 1 / np.sqrt(2), 1 / np.sqrt(2)])  # names: A (1, 0), B (0, 1), C (1, 1)
    np.testing.assert_allclose(predicted, expected, rtol=1e-6)
    np.testing.assert_allclose(groups.reference_pairs, reference)
    assert mse == pytest.approx(np.mean((expected - reference) ** 2), rel=1e-6)
    assert pr == pytest.approx(stats.pearsonr(expected, reference).statistic, rel=1e-6)


def test_only_the_score_splits_enter_the_metrics():
    reviews, embeddings = toy_reviews()
    held_out = pd.DataFrame({"split": ["test"] * 2, "label": [0, 2], "categories": ["A", "C"]})
    reviews = pd.concat([reviews, held_out], ignore_index=True)
    embeddings = np.vstack([embeddings, [[-50, 3], [9, 9]]])
    groups = review_groups(reviews, CLASSES, NAMES, config(score_splits=["train", "valid"]))
    (_, _, ae), predicted = group_metrics(embeddings, groups)
    assert ae == pytest.approx(1 - 1 / np.sqrt(2))
    np.testing.assert_allclose(predicted, [0.8, 1 / np.sqrt(10), -1 / np.sqrt(10)])


def test_eligible_categories_parse_count_and_order():
    reviews = pd.DataFrame(
        {
            "split": ["train", "train", "valid", "test", "train"],
            "label": 0,
            "categories": ["Pizza, Bars", " Bars ,Pizza,Pizza", "Bars", "Pizza, Cafes", None],
        }
    )
    counts = eligible_categories(reviews, config(min_reviews_per_category=2, score_splits=["train", "valid"]))
    assert counts.to_dict() == {"Bars": 3, "Pizza": 2}
    assert list(eligible_categories(reviews, config(min_reviews_per_category=1)).index) == ["Bars", "Pizza", "Cafes"]


def synthetic(n_reviews: int, seed: int = 0) -> tuple[pd.DataFrame, dict[str, np.ndarray], CategoryNameEmbeddings]:
    """Reviews of five categories whose embeddings carry the class, noise, and a direction per category that is
    close to, but not exactly, the direction of the category's name (so MSE_c has a systematic part, as in life)."""
    rng = np.random.default_rng(seed)
    names = np.array(["A", "B", "C", "D", "E"])
    name_vectors = rng.normal(size=(len(names), 16))
    category_vectors = name_vectors + rng.normal(scale=0.5, size=name_vectors.shape)
    category = rng.integers(0, len(names), n_reviews)
    label = rng.integers(0, 3, n_reviews)
    sentiment = np.zeros(16)
    sentiment[0] = 3.0
    category_part, sentiment_part = category_vectors[category], np.outer(label - 1, sentiment)
    signal = category_part + sentiment_part
    reviews = pd.DataFrame(
        {
            "split": rng.choice(["train", "valid", "test"], n_reviews, p=[0.8, 0.1, 0.1]),
            "label": label.astype(np.int8),
            "categories": names[category],
        }
    )
    embeddings = {
        "strong": (signal + rng.normal(scale=1.0, size=signal.shape)).astype(np.float32),
        "weak": (0.3 * category_part + rng.normal(scale=1.0, size=signal.shape)).astype(np.float32),
        "tfidf-like": sp.csr_matrix(np.abs(signal + rng.normal(size=signal.shape)) * (rng.random(signal.shape) < 0.3)),
    }
    return reviews, embeddings, CategoryNameEmbeddings(list(names), name_vectors)


def test_score_table_intervals_and_best_method():
    reviews, embeddings, names = synthetic(600)
    result = score_embeddings(embeddings, reviews, CLASSES, names, config(bootstrap_samples=100))
    table = result.table.set_index("method")
    assert result.best_method == "strong"
    assert table.loc["strong", "score_normalised"] == 1.0 and table["score_normalised"].min() == 0.0
    for column in ("MSE_c", "PR_c", "AE_s", "score"):
        assert (table[f"{column}_low"] <= table[column]).all() and (table[column] <= table[f"{column}_high"]).all()
    assert table["sentiment_cosine"].between(-1, 1).all()
    assert len(result.pairs) == 3 * 10 and set(result.pairs["method"]) == set(embeddings)
    summary = json.loads(json.dumps(result.summary()))  # plain Python types throughout
    assert summary["best_method"] == "strong" and summary["category_pairs"] == 10
    assert summary["methods"]["weak"]["AE_s"] == pytest.approx(table.loc["weak", "AE_s"])


def test_bootstrap_shrinks_with_more_reviews_and_shares_resamples_across_methods():
    widths = {}
    for n_reviews in (300, 3000):
        reviews, embeddings, names = synthetic(n_reviews)
        table = score_embeddings(embeddings, reviews, CLASSES, names, config(bootstrap_samples=60)).table
        high, low = (table[[f"{column}_{end}" for column in ("MSE_c", "PR_c", "AE_s")]] for end in ("high", "low"))
        widths[n_reviews] = high.to_numpy() - low.to_numpy()
    assert (widths[3000] < widths[300]).all()

    alone = score_embeddings({"weak": embeddings["weak"]}, reviews, CLASSES, names, config(bootstrap_samples=60))
    together = table.set_index("method").loc["weak"]
    for column in ("MSE_c_low", "PR_c_high", "AE_s_low"):  # the same resamples whichever methods are compared
        assert alone.table.loc[0, column] == together[column]


def test_probe_beats_chance_on_separable_embeddings():
    reviews, embeddings, names = synthetic(900)
    result = score_embeddings(embeddings, reviews, CLASSES, names, config(bootstrap_samples=50))
    strong = result.table.set_index("method").loc["strong"]
    assert strong["probe_accuracy"] > 0.8 and strong["probe_majority_accuracy"] < 0.45
    assert strong["probe_accuracy_low"] <= strong["probe_accuracy"] <= strong["probe_accuracy_high"]
    assert strong["probe_converged"]


@pytest.mark.parametrize(
    "change, reason",
    [
        (lambda reviews: reviews.drop(columns="categories"), "no categories"),
        (lambda reviews: reviews.assign(categories=None), "no categories"),
        (lambda reviews: reviews.assign(categories="A"), "only 1 categories"),
    ],
)
def test_without_categories_the_score_is_null_with_a_reason(tmp_path, change, reason):
    reviews, embeddings, names = synthetic(400)
    result = score_embeddings(embeddings, change(reviews), CLASSES, names, config(bootstrap_samples=20))
    table = result.table
    assert reason in result.category_unavailable and result.best_method is None
    null_columns = ["MSE_c", "PR_c", "NMSE_c", "NPR_c", "score", "score_normalised", "score_low", "MSE_c_high"]
    assert table[null_columns].isna().all().all()
    assert table[["AE_s", "NAE_s", "AE_s_low", "probe_accuracy"]].notna().all().all()
    assert result.pairs.empty
    write_json(result.summary(), tmp_path / "scores.json")
    written = json.loads((tmp_path / "scores.json").read_text())
    assert written["methods"]["strong"]["score"] is None
    assert written["category_unavailable"] == result.category_unavailable


def test_without_name_embeddings_the_category_part_is_unavailable():
    reviews, embeddings, _ = synthetic(300)
    result = score_embeddings(embeddings, reviews, CLASSES, None, config())
    assert "no category name embeddings" in result.category_unavailable
    assert result.table["score"].isna().all()


def test_missing_name_embedding_or_class_is_an_error():
    reviews, embeddings, names = synthetic(200)
    partial = CategoryNameEmbeddings(list(names.names[:4]), names.vectors[:4])
    with pytest.raises(PipelineError, match="no name embedding for categories \\['E'\\]"):
        score_embeddings(embeddings, reviews, CLASSES, partial, config())
    with pytest.raises(PipelineError, match="'awful' is not one of the classes"):
        score_embeddings(embeddings, reviews, CLASSES, names, config(negative_class="awful"))


def test_similarity_matrices_are_symmetric_with_unit_diagonal():
    reviews, embeddings, names = synthetic(300)
    result = score_embeddings(embeddings, reviews, CLASSES, names, config())
    matrices = similarity_matrices(result.pairs, "strong", list(result.categories.index))
    for matrix in matrices.values():
        np.testing.assert_allclose(matrix.to_numpy(), matrix.to_numpy().T)
        np.testing.assert_array_equal(np.diag(matrix), 1.0)
    first = result.pairs.iloc[0]
    assert matrices["predicted"].loc[first["category_b"], first["category_a"]] == first["predicted"]


@pytest.mark.parametrize(
    "changes, fields",
    [
        ({"score_splits": ["train", "holdout"], "positive_class": "bad", "confidence": 1.5},
         ("score_splits", "negative_class", "confidence")),
        ({"bootstrap_samples": -1, "min_reviews_per_category": 0}, ("min_reviews_per_category", "bootstrap_samples")),
        ({"probe": {"C": 0, "max_iter": 0}}, ("probe.C", "probe.max_iter")),
    ],
)
def test_config_rules_name_their_fields(changes, fields):
    with pytest.raises(ParamsError) as error:
        config(**changes)
    assert sorted(problem.split(":")[0] for problem in error.value.problems) == sorted(fields)


def test_table_1_figures_are_written(tmp_path):
    reviews, embeddings, names = synthetic(300)
    result = score_embeddings(embeddings, reviews, CLASSES, names, config(bootstrap_samples=20))
    interval_bars(result.table, "method", "score_normalised", "Table 1", tmp_path / "scores.png")
    similarity_scatter(result.pairs, ["strong", "weak"], tmp_path / "scatter.png")
    matrices = similarity_matrices(result.pairs, result.best_method, list(result.categories.index))
    similarity_heatmaps(matrices, f"category similarity: {result.best_method}", tmp_path / "heatmap.png")
    for name in ("scores", "scatter", "heatmap"):
        assert (tmp_path / f"{name}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
