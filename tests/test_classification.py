"""Classification metrics against scikit-learn, and the bootstrap intervals."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score

from sasnet.classification import classification_report, majority_class
from sasnet.errors import PipelineError

CLASSES = ["bad", "good", "excellent"]


def predictions(n: int = 400, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Imbalanced truth and a noisy classifier that is right about 70% of the time."""
    rng = np.random.default_rng(seed)
    truth = rng.choice(3, n, p=[0.3, 0.4, 0.3])
    return truth, np.where(rng.random(n) < 0.7, truth, rng.integers(0, 3, n))


def report(truth, predicted, samples: int = 500, seed: int = 0, majority: int = 1) -> dict:
    return classification_report(truth, predicted, CLASSES, majority, samples, seed, confidence=0.95)


def test_metrics_equal_sklearn():
    truth, predicted = predictions()
    result = report(truth, predicted)
    labels = [0, 1, 2]
    assert result["examples"] == len(truth)
    assert result["accuracy"] == pytest.approx(accuracy_score(truth, predicted))
    assert result["macro_f1"] == pytest.approx(f1_score(truth, predicted, labels=labels, average="macro"))
    assert result["weighted_f1"] == pytest.approx(f1_score(truth, predicted, labels=labels, average="weighted"))
    per_class = f1_score(truth, predicted, labels=labels, average=None)
    assert list(result["f1_per_class"]) == CLASSES
    np.testing.assert_allclose(list(result["f1_per_class"].values()), per_class)
    assert result["confusion_matrix"] == confusion_matrix(truth, predicted, labels=labels).tolist()
    assert list(result["support_per_class"].values()) == np.bincount(truth, minlength=3).tolist()
    json.dumps(result, allow_nan=False)


def test_a_class_neither_present_nor_predicted_scores_zero_as_in_sklearn():
    truth = np.array([0, 0, 1, 1, 1])
    predicted = np.array([0, 1, 1, 1, 0])
    result = report(truth, predicted, samples=50)
    assert result["f1_per_class"]["excellent"] == 0.0
    expected = f1_score(truth, predicted, labels=[0, 1, 2], average="macro", zero_division=0)
    assert result["macro_f1"] == pytest.approx(expected)


def test_majority_accuracy_uses_the_given_train_majority():
    truth, predicted = predictions()
    train_labels = np.array([2, 2, 2, 0, 1])
    result = report(truth, predicted, majority=majority_class(train_labels))
    assert result["majority_class"] == "excellent"
    assert result["majority_accuracy"] == pytest.approx(np.mean(truth == 2))
    assert majority_class(np.array([1, 0, 1, 0])) == 0  # ties: the lowest label


def test_intervals_contain_the_estimate_and_are_seeded():
    truth, predicted = predictions()
    result = report(truth, predicted, seed=1)
    for metric in ("accuracy", "macro_f1"):
        assert result[f"{metric}_low"] < result[metric] < result[f"{metric}_high"]
    # the binomial standard error of a 70% accuracy on 400 examples gives a 95% interval about 0.09 wide
    width = result["accuracy_high"] - result["accuracy_low"]
    assert width == pytest.approx(2 * 1.96 * np.sqrt(0.7 * 0.3 / 400), rel=0.2)
    assert report(truth, predicted, seed=1) == result
    assert report(truth, predicted, seed=2)["accuracy_low"] != result["accuracy_low"]


def test_bootstrap_matches_resampling_the_examples():
    truth, predicted = predictions(n=200)
    result = report(truth, predicted, samples=2000)
    rng = np.random.default_rng(0)
    resampled = rng.integers(0, len(truth), size=(2000, len(truth)))
    macro = [f1_score(truth[i], predicted[i], labels=[0, 1, 2], average="macro") for i in resampled[:300]]
    accuracy = (truth[resampled] == predicted[resampled]).mean(axis=1)
    assert result["accuracy_low"] == pytest.approx(np.quantile(accuracy, 0.025), abs=0.01)
    assert result["accuracy_high"] == pytest.approx(np.quantile(accuracy, 0.975), abs=0.01)
    assert result["macro_f1_low"] == pytest.approx(np.quantile(macro, 0.025), abs=0.02)
    assert result["macro_f1_high"] == pytest.approx(np.quantile(macro, 0.975), abs=0.02)


def test_no_bootstrap_gives_null_intervals_and_bad_input_is_refused():
    truth, predicted = predictions()
    result = report(truth, predicted, samples=0)
    assert result["accuracy_low"] is None and result["macro_f1_high"] is None
    json.dumps(result, allow_nan=False)
    with pytest.raises(PipelineError, match="no examples"):
        report(np.array([], dtype=int), np.array([], dtype=int))
    with pytest.raises(ValueError, match="class indices"):
        report(np.array([0, 3]), np.array([0, 1]))
