"""Item slices (cold-start, popularity head to tail) and the last-class scores every model reports, on hand cases."""

from __future__ import annotations

import numpy as np

from sasnet.analysis_configs import ItemSlicesConfig
from sasnet.evaluation import last_class_scores
from sasnet.item_slices import slice_facts, slice_masks
from sasnet.analysis_configs import EvaluationConfig


def test_popularity_slices_split_the_evaluated_items_not_the_examples_and_cold_start_counts_train():
    # items a (9 train), b (4), c (1), d (0); a has four examples, the others one each
    items = np.array(["a", "a", "a", "a", "b", "c", "d"])
    counts = np.array([9, 9, 9, 9, 4, 1, 0])
    masks = slice_masks(items, counts, ItemSlicesConfig(cold_start_max_train=1, popularity_slices=2))
    np.testing.assert_array_equal(masks["cold_start"], [0, 0, 0, 0, 0, 1, 1])
    np.testing.assert_array_equal(masks["popularity_1"], [1, 1, 1, 1, 1, 0, 0])  # head: a and b
    np.testing.assert_array_equal(masks["popularity_2"], [0, 0, 0, 0, 0, 1, 1])  # tail: c and d
    facts = slice_facts(masks, items, counts)
    assert facts["popularity_1"] == {"examples": 5, "items": 2, "train_interactions_min": 4,
                                     "train_interactions_max": 9}
    unseen = slice_masks(items, counts, ItemSlicesConfig(cold_start_max_train=0, popularity_slices=1))
    np.testing.assert_array_equal(unseen["cold_start"], [0, 0, 0, 0, 0, 0, 1])  # no train interaction at all
    assert unseen["popularity_1"].all()


def test_last_class_auc_and_f1_on_a_hand_case():
    labels = np.array([2, 2, 0, 1])
    # P(excellent) 0.9, 0.4, 0.5, 0.1: the positives rank 1st and 3rd of 4, so AUC = (2 + 1) / 4 = 0.75
    probabilities = np.array([[0.05, 0.05, 0.9], [0.3, 0.3, 0.4], [0.2, 0.3, 0.5], [0.6, 0.3, 0.1]])
    report = last_class_scores(labels, probabilities, EvaluationConfig(bootstrap_samples=50, confidence=0.95, seed=0, min_examples=1))
    assert report["last_class_auc"] == 0.75
    # predicted excellent (argmax): rows 0, 1 and 2; true positives 2 of them: F1 = 2 * 2 / (2 + 3) = 0.8
    assert report["last_class_f1"] == 0.8
    assert report["last_class_auc_low"] <= 0.75 <= report["last_class_auc_high"]
    none = last_class_scores(np.array([0, 1]), probabilities[:2], EvaluationConfig(0, 0.95, 0, 1))
    assert none["last_class_auc"] is None and none["last_class_f1"] == 0.0


def test_the_weighted_auc_equals_scikit_learns_on_resampled_examples_with_ties():
    from sklearn.metrics import roc_auc_score

    from sasnet.evaluation import _weighted_auc

    rng = np.random.default_rng(1)
    truth = rng.random(200) < 0.3
    score = np.round(rng.random(200) + truth * 0.3, 1)  # rounded: many ties
    drawn = rng.integers(200, size=(5, 200))
    counts = np.stack([np.bincount(rows, minlength=200) for rows in drawn])
    expected = [roc_auc_score(truth[rows], score[rows]) for rows in drawn]
    np.testing.assert_allclose(_weighted_auc(truth, score, truth, counts), expected)
