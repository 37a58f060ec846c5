"""TF-IDF: fitted on train reviews only, deterministic, float32 CSR in input row order."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from conftest import config_problems
from sasnet.config import build
from sasnet.embeddings.configs import TfidfConfig
from sasnet.embeddings.tfidf import tfidf_embed, vectorizer
from sasnet.errors import PipelineError

PARAMS = {
    "max_features": None,
    "ngram_range": [1, 2],
    "min_df": 1,
    "max_df": 1.0,
    "sublinear_tf": True,
    "stop_words": None,
    "strip_accents": "unicode",
    "norm": "l2",
}

TEXTS = [
    "the pasta was great and the service was friendly",  # train
    "terrible pizza, cold, late",  # valid
    "great coffee and a friendly barista",  # train
    "zanzibar xylophone pasta",  # test: two words nowhere in train
    "the service was slow but the pasta was great",  # train
]
IS_TRAIN = np.array([True, False, True, False, True])


def config(**changes) -> TfidfConfig:
    return build(TfidfConfig, {**PARAMS, **changes})


def test_vocabulary_and_idf_come_from_train_rows_only():
    matrix, stats = tfidf_embed(TEXTS, IS_TRAIN, config())
    train_only = vectorizer(config()).fit([t for t, train in zip(TEXTS, IS_TRAIN) if train])

    fitted_on_all = vectorizer(config()).fit(TEXTS)
    assert "zanzibar" in fitted_on_all.vocabulary_  # the test word would be there if test rows leaked
    assert "zanzibar" not in train_only.vocabulary_ and "pizza" not in train_only.vocabulary_

    expected = train_only.transform(TEXTS)
    assert stats["vocabulary"] == len(train_only.vocabulary_) == matrix.shape[1]
    np.testing.assert_array_equal(matrix.toarray(), expected.toarray())
    # the test review keeps only its train word, "pasta"
    assert matrix[3].nnz == 1 and matrix[3, train_only.vocabulary_["pasta"]] == pytest.approx(1.0)


def test_output_is_float32_csr_in_input_order_with_stats():
    matrix, stats = tfidf_embed(TEXTS, IS_TRAIN, config())
    assert sp.issparse(matrix) and matrix.format == "csr" and matrix.dtype == np.float32
    assert matrix.shape[0] == len(TEXTS)
    assert stats["nnz"] == matrix.nnz and stats["reviews"] == 5 and stats["train_reviews"] == 3
    assert stats["empty_reviews"] == 1  # the valid review shares no word with train
    np.testing.assert_allclose(np.linalg.norm(matrix[[0, 2, 3, 4]].toarray(), axis=1), 1.0, rtol=1e-6)


def test_changing_non_train_rows_does_not_change_train_rows():
    changed = list(TEXTS)
    changed[1] = "great great great pasta pasta"
    changed[3] = "friendly"
    before, _ = tfidf_embed(TEXTS, IS_TRAIN, config())
    after, _ = tfidf_embed(changed, IS_TRAIN, config())
    np.testing.assert_array_equal(before[IS_TRAIN].toarray(), after[IS_TRAIN].toarray())


def test_deterministic_and_max_features_caps_the_vocabulary():
    first, _ = tfidf_embed(TEXTS, IS_TRAIN, config(max_features=5))
    second, _ = tfidf_embed(TEXTS, IS_TRAIN, config(max_features=5))
    assert first.shape[1] == 5
    assert (first != second).nnz == 0


def test_unfittable_settings_are_reported_with_the_keys_to_change():
    with pytest.raises(PipelineError, match="min_df"):
        tfidf_embed(TEXTS, IS_TRAIN, config(min_df=10))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"ngram_range": [2, 1]}, "ngram_range: must be"),
        ({"ngram_range": [1, 2, 3]}, "ngram_range: must be"),
        ({"ngram_range": [0, 1]}, "ngram_range: must be"),
        ({"min_df": 0}, "min_df: must be >= 1"),
        ({"max_df": 0.0}, "max_df: must be > 0 and <= 1"),
        ({"max_df": 1.5}, "max_df: must be > 0 and <= 1"),
        ({"max_features": 0}, "max_features: must be >= 1"),
        ({"norm": "l3"}, "norm: got 'l3'"),
    ],
)
def test_config_problems_name_the_key(change, message):
    problems = config_problems(config, **change)
    assert any(problem.startswith(message) for problem in problems), problems
