"""SVM baselines: they learn a separable problem, subset the train examples by seed, and validate their params."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import scipy.sparse as sp

from sasnet.config import ParamsError, build
from sasnet.models.svm import SvmConfig
from sasnet.models.svm.model import converged, train_svm, training_subset

CONFIG = SvmConfig(
    kernel="linear", C=0.1, gamma="scale", class_weight=None, max_train_reviews=None, max_iter=10_000, seed=0,
    include_target=False,
)


def separable_problem(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Three imbalanced classes (majority 60%) around distant centres, on features of very different scales."""
    rng = np.random.default_rng(seed)
    labels = rng.choice(3, n, p=[0.6, 0.25, 0.15])
    centres = np.random.default_rng(99).standard_normal((3, 20)) * 3
    scales = np.logspace(-3, 3, 20)  # standardisation inside the model has to undo this
    return (centres[labels] + rng.standard_normal((n, 20))) * scales, labels


@pytest.mark.parametrize(
    "config, sparse",
    [
        (CONFIG, False),
        (CONFIG, True),
        (dataclasses.replace(CONFIG, kernel="rbf", C=1.0, class_weight="balanced", max_train_reviews=300), False),
    ],
    ids=["linear", "linear-sparse", "rbf-subset"],
)
def test_svm_learns_a_separable_problem_well_above_majority(config, sparse):
    features, labels = separable_problem(1500, seed=0)
    test_features, test_labels = separable_problem(500, seed=1)
    if sparse:
        features, test_features = sp.csr_matrix(features), sp.csr_matrix(test_features)
    model = train_svm(features, labels, config)
    accuracy = np.mean(model.predict(test_features) == test_labels)
    majority = np.mean(test_labels == np.bincount(labels).argmax())
    assert majority < 0.7 and accuracy > 0.95
    assert converged(model, config)


def test_max_train_reviews_is_a_seeded_subset():
    config = dataclasses.replace(CONFIG, max_train_reviews=100, seed=3)
    subset = training_subset(1000, config)
    assert len(subset) == len(np.unique(subset)) == 100 and subset.max() < 1000
    np.testing.assert_array_equal(subset, training_subset(1000, config))
    assert not np.array_equal(subset, training_subset(1000, dataclasses.replace(config, seed=4)))
    np.testing.assert_array_equal(training_subset(80, config), np.arange(80))  # fewer examples than the cap: all
    features, labels = separable_problem(1000, seed=0)
    assert train_svm(features, labels, config)[0].n_samples_seen_ == 100


def test_a_capped_solver_reports_not_converged():
    features, labels = separable_problem(1000, seed=0)
    config = dataclasses.replace(CONFIG, C=100.0, max_iter=1)
    assert not converged(train_svm(features, labels, config), config)


def test_params_are_validated():
    raw = dict(kernel="rbf", C=1, gamma=0.01, class_weight=None, max_train_reviews=4000, max_iter=5, seed=0,
               include_target=False)
    assert build(SvmConfig, raw).gamma == 0.01
    assert build(SvmConfig, {**raw, "gamma": "scale"}).gamma == "scale"
    with pytest.raises(ParamsError, match="kernel"):
        build(SvmConfig, {**raw, "kernel": "poly"})
    with pytest.raises(ParamsError) as error:
        build(SvmConfig, {**raw, "C": 0, "gamma": -1.0, "max_train_reviews": 1, "max_iter": 0})
    assert all(key in str(error.value) for key in ("C:", "gamma:", "max_train_reviews:", "max_iter:"))


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "sparse"])
def test_the_precomputed_rbf_kernel_predicts_what_libsvms_own_kernel_does(sparse):
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    features, labels = separable_problem(400, seed=0)
    features = features + np.random.default_rng(5).standard_normal(features.shape) * features.std(0) * 2  # overlap
    test_features, _ = separable_problem(300, seed=1)
    if sparse:
        features, test_features = sp.csr_matrix(features), sp.csr_matrix(test_features)
    config = dataclasses.replace(CONFIG, kernel="rbf", C=1.0)
    reference = make_pipeline(StandardScaler(with_mean=not sparse), SVC(kernel="rbf", C=1.0, gamma="scale"))
    reference.fit(features, labels)
    model = train_svm(features, labels, config)
    assert model.gamma == pytest.approx(reference[-1]._gamma)
    np.testing.assert_array_equal(model.pipeline[-1].support_, reference[-1].support_)
    np.testing.assert_array_equal(model.predict(test_features), reference.predict(test_features))
