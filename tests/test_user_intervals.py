"""Intervals that respect the split by user: the cluster bootstrap of sasnet.stats, the classification task's user
intervals and paired tests, the ranking task's user bootstrap, and the under-trained flag."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from sasnet.classification import (
    classification_report,
    confusion_counts,
    confusion_scores,
    macro_f1_metric,
    paired_bootstrap_difference,
)
from sasnet.evaluation import last_class_scores, score_model
from sasnet.models.early_stopping import under_trained, under_trained_fit
from sasnet.stats import cluster_draws, cluster_resamples, mean_metric, paired_bootstrap, percentile_interval

CLASSES = ["bad", "good", "excellent"]
EVALUATION = SimpleNamespace(bootstrap_samples=1000, confidence=0.95, seed=0)


def accuracy(truth: np.ndarray, predicted: np.ndarray) -> float:
    return float(np.mean(truth == predicted))


def macro_f1(truth: np.ndarray, predicted: np.ndarray) -> float:
    return float(confusion_scores(confusion_counts(truth, predicted, len(CLASSES)))["macro_f1"])


ACCURACY, MACRO_F1 = mean_metric(np.equal), macro_f1_metric(len(CLASSES))  # the same, as the bootstrap sums them


def clustered_predictions(n_users: int = 40, per_user: int = 10, correct_share: float = 0.7, seed: int = 0):
    """Truth, a prediction that is right on all or none of each user's reviews, and the users (each review's)."""
    rng = np.random.default_rng(seed)
    users = np.repeat([f"u{u:03d}" for u in range(n_users)], per_user)
    truth = rng.integers(0, 3, len(users))
    user_right = rng.random(n_users) < correct_share
    right = np.repeat(user_right, per_user)
    return truth, np.where(right, truth, (truth + 1) % 3), users


def width(report: dict, metric: str, suffix: str = "") -> float:
    return report[f"{metric}_high{suffix}"] - report[f"{metric}_low{suffix}"]


# ---- the cluster bootstrap


def test_a_resample_takes_whole_clusters_and_as_many_clusters_as_there_are():
    clusters = np.array(["b", "a", "b", "c", "a", "b"])
    counts = cluster_resamples(clusters, 6, samples=200, seed=3)
    assert counts.shape == (200, 6)
    # every row of a cluster is drawn as often as its cluster: rows 0, 2, 5 (b) and 1, 4 (a) agree in every resample
    np.testing.assert_array_equal(counts[:, 0], counts[:, 2])
    np.testing.assert_array_equal(counts[:, 0], counts[:, 5])
    np.testing.assert_array_equal(counts[:, 1], counts[:, 4])
    # three clusters drawn per resample: a's count + b's + c's is 3, so the rows number 2 a + 3 b + 1 c
    drawn = counts[:, 1] + counts[:, 0] + counts[:, 3]
    assert (drawn == 3).all()
    assert len(np.unique(counts.sum(axis=1))) > 1  # the resample's size varies with the clusters drawn
    # each row its own cluster: the ordinary bootstrap, n rows per resample
    plain = cluster_resamples(None, 6, samples=200, seed=3)
    assert (plain.sum(axis=1) == 6).all() and not (plain == 1).all()
    with pytest.raises(ValueError, match="cluster labels"):
        cluster_resamples(clusters, 5, samples=2, seed=0)


def test_the_draws_are_seeded_and_do_not_depend_on_the_order_of_the_rows():
    _, _, users = clustered_predictions(n_users=12, per_user=3)
    counts = cluster_resamples(users, len(users), samples=50, seed=7)
    np.testing.assert_array_equal(cluster_resamples(users, len(users), samples=50, seed=7), counts)
    assert not np.array_equal(cluster_resamples(users, len(users), samples=50, seed=8), counts)
    order = np.random.default_rng(0).permutation(len(users))
    np.testing.assert_array_equal(cluster_resamples(users[order], len(users), samples=50, seed=7), counts[:, order])
    draws, cluster_of_row = cluster_draws(users, len(users), samples=50, seed=7)
    np.testing.assert_array_equal(draws[:, cluster_of_row], counts)
    assert draws.shape == (50, 12) and (draws.sum(axis=1) == 12).all()


def test_the_ranking_user_bootstrap_is_the_plain_bootstrap_of_its_users():
    from sasnet.ranking.metrics import summary

    rng = np.random.default_rng(2)
    hit = (rng.random(300) < 0.3).astype(float)
    values = {"recall": hit, "ndcg": hit * rng.random(300), "mrr": rng.random(300), "hit_rate": hit}
    report = summary(values, 10, 400, 5, 0.9)
    # resampling the users (one row each) by index arrays, from the same generator, gives the same interval
    drawn = np.random.default_rng(5).integers(300, size=(400, 300))
    low, high = percentile_interval(values["ndcg"][drawn].mean(axis=1), 0.9)
    assert (report["ndcg@10_low"], report["ndcg@10_high"]) == pytest.approx((low, high), abs=1e-12)
    assert report["users"] == 300 and report["ndcg@10_low"] < report["ndcg@10"] < report["ndcg@10_high"]


# ---- the classification task's intervals


def test_correlated_users_widen_the_interval_beyond_the_review_bootstrap():
    truth, predicted, users = clustered_predictions()
    by_users = classification_report(truth, predicted, CLASSES, 1, 2000, 0, 0.95, clusters=users)
    by_reviews = classification_report(truth, predicted, CLASSES, 1, 2000, 0, 0.95)
    assert by_users["users"] == 40 and by_users["bootstrap"]["resamples"] == "users"
    assert by_reviews["bootstrap"]["resamples"] == "reviews" and "users" not in by_reviews
    for metric in ("accuracy", "macro_f1"):
        assert by_users[f"{metric}_low"] < by_users[metric] < by_users[f"{metric}_high"]
        assert width(by_users, metric) > 2 * width(by_reviews, metric)
        # the review interval is kept beside it, labelled, and is the review bootstrap's
        assert (by_users[f"{metric}_low_reviews"], by_users[f"{metric}_high_reviews"]) == (
            by_reviews[f"{metric}_low"], by_reviews[f"{metric}_high"])
    # with equal users the accuracy is the mean of 40 users' all-or-nothing outcomes: its standard error is theirs
    share = by_users["accuracy"]
    assert width(by_users, "accuracy") == pytest.approx(2 * 1.96 * np.sqrt(share * (1 - share) / 40), rel=0.25)


def test_independent_reviews_give_about_the_same_interval_by_users_as_by_reviews():
    rng = np.random.default_rng(4)
    truth, _, users = clustered_predictions()
    predicted = np.where(rng.random(len(truth)) < 0.7, truth, (truth + 1) % 3)  # each review on its own
    by_users = classification_report(truth, predicted, CLASSES, 1, 2000, 0, 0.95, clusters=users)
    assert width(by_users, "accuracy") == pytest.approx(width(by_users, "accuracy", "_reviews"), rel=0.25)


def test_user_intervals_are_seeded():
    truth, predicted, users = clustered_predictions()
    first = classification_report(truth, predicted, CLASSES, 1, 300, 11, 0.95, clusters=users)
    assert classification_report(truth, predicted, CLASSES, 1, 300, 11, 0.95, clusters=users) == first
    assert classification_report(truth, predicted, CLASSES, 1, 300, 12, 0.95, clusters=users) != first
    assert classification_report(truth, predicted, CLASSES, 1, 0, 11, 0.95, clusters=users)["accuracy_low"] is None


def test_last_class_intervals_resample_users():
    truth, predicted, users = clustered_predictions()
    probabilities = np.full((len(truth), 3), 0.1)
    probabilities[np.arange(len(truth)), predicted] = 0.8
    probabilities[:, 2] += np.random.default_rng(1).random(len(truth)) * 0.05  # a few ties broken, the argmax kept
    by_users = last_class_scores(truth, probabilities, EVALUATION, clusters=users)
    by_reviews = last_class_scores(truth, probabilities, EVALUATION)
    for metric in ("last_class_auc", "last_class_f1"):
        assert by_users[metric] == by_reviews[metric]  # the estimate does not depend on the resampling
        assert width(by_users, metric) > 1.5 * width(by_reviews, metric)
    assert last_class_scores(truth, probabilities, EVALUATION, clusters=users) == by_users


def test_score_model_resamples_each_splits_users_and_each_slices_users():
    from sasnet.histories import Histories
    from sasnet.model_data import ModelData

    rng = np.random.default_rng(0)
    rows = []
    for split, n_users in (("train", 30), ("valid", 20), ("test", 25)):
        for u in range(n_users):
            for r in range(6):
                rows.append({"review_id": f"{split}{u}_{r}", "user_id": f"{split}_u{u}", "split": split,
                             "business_id": f"b{rng.integers(12)}", "stars": int(rng.integers(1, 6)),
                             "date": f"2020-01-{r + 1:02d}", "label": int(rng.integers(3))})
    reviews = pd.DataFrame(rows)
    data = ModelData(reviews, Histories.from_reviews(reviews))
    probabilities = {}
    for split in ("valid", "test"):
        labels = data.labels[data.rows_of(split)]
        users = reviews["user_id"].to_numpy()[data.rows_of(split)]
        right = {user: rng.random() < 0.6 for user in np.unique(users)}  # all or none of each user's reviews
        user_right = np.array([right[user] for user in users])
        predicted = np.where(user_right, labels, (labels + 1) % 3)
        probabilities[split] = np.eye(3)[predicted] * 0.7 + 0.1
    slices = SimpleNamespace(cold_start_max_train=0, popularity_slices=2)
    scores = score_model(data, probabilities, CLASSES, EVALUATION, slices)
    for split, n_users in (("valid", 20), ("test", 25)):
        report = scores[split]
        assert report["users"] == n_users and report["examples"] == 6 * n_users
        assert report["bootstrap"]["resamples"] == "users"
        assert width(report, "accuracy") > 1.5 * width(report, "accuracy", "_reviews")
        head = report["slices"]["popularity_1"]
        assert 1 <= head["users"] <= n_users and head["accuracy_low"] <= head["accuracy"] <= head["accuracy_high"]


# ---- paired bootstrap over users


def test_identical_predictions_differ_by_nothing():
    truth, predicted, users = clustered_predictions()
    for metric in (ACCURACY, MACRO_F1):
        result = paired_bootstrap(metric, truth, predicted, predicted.copy(), users, 500, 0, 0.95)
        assert result == {"difference": 0.0, "low": 0.0, "high": 0.0, "p_value": 1.0}
    same = paired_bootstrap_difference(truth, predicted, predicted, 3, 500, 0, 0.95, clusters=users)
    assert same["macro_f1_difference"] == 0 and same["bootstrap_p_value"] == 1.0
    assert same["bootstrap_resamples"] == "users"


def test_a_real_difference_is_detected_over_users():
    truth, baseline, users = clustered_predictions(n_users=60, correct_share=0.5)
    rng = np.random.default_rng(9)
    fixed = np.repeat(rng.random(60) < 0.6, 10)  # the better model fixes the baseline on 60% of the users
    better = np.where(fixed, truth, baseline)
    result = paired_bootstrap(ACCURACY, truth, better, baseline, users, 1000, 0, 0.95)
    assert result["difference"] == pytest.approx(accuracy(truth, better) - accuracy(truth, baseline))
    assert 0 < result["low"] < result["difference"] < result["high"]
    assert result["p_value"] == pytest.approx(1 / 1000)  # no resample reverses it: the finest p a bootstrap gives
    reverse = paired_bootstrap(ACCURACY, truth, baseline, better, users, 1000, 0, 0.95)
    assert reverse["difference"] == -result["difference"] and reverse["p_value"] == result["p_value"]


def test_users_who_disagree_wholesale_make_the_paired_test_less_sure_than_reviews_do():
    # A beats B on every review of 32 users, B beats A on every review of 28: a small net gain that rests on 60 users
    rng = np.random.default_rng(5)
    users = np.repeat(np.arange(60), 10)
    truth = rng.integers(0, 3, 600)
    a_wins = np.repeat(np.arange(60) < 32, 10)
    predicted_a = np.where(a_wins, truth, (truth + 1) % 3)
    predicted_b = np.where(a_wins, (truth + 1) % 3, truth)
    by_users = paired_bootstrap(ACCURACY, truth, predicted_a, predicted_b, users, 1000, 0, 0.95)
    by_reviews = paired_bootstrap(ACCURACY, truth, predicted_a, predicted_b, None, 1000, 0, 0.95)
    assert by_users["difference"] == by_reviews["difference"] == pytest.approx(4 / 60)
    assert by_users["high"] - by_users["low"] > 2 * (by_reviews["high"] - by_reviews["low"])
    assert by_users["p_value"] > 0.3 and by_reviews["p_value"] < by_users["p_value"]


@pytest.mark.parametrize("metric, reference", [(ACCURACY, accuracy), (MACRO_F1, macro_f1)])
def test_the_summed_paired_bootstrap_is_resampling_the_rows(metric, reference):
    """Each cluster summed once and the resamples as one product give what resampling the rows one by one gives."""
    truth, baseline, users = clustered_predictions(seed=3)
    other = np.where(np.random.default_rng(3).random(len(truth)) < 0.3, truth, baseline)
    for clusters in (users, None):
        summed = paired_bootstrap(metric, truth, other, baseline, clusters, 300, 4, 0.9)
        rows = [np.repeat(np.arange(len(truth)), counts) for counts in cluster_resamples(clusters, len(truth), 300, 4)]
        differences = [reference(truth[r], other[r]) - reference(truth[r], baseline[r]) for r in rows]
        low, high = percentile_interval(np.array(differences), 0.9)
        assert summed["difference"] == pytest.approx(reference(truth, other) - reference(truth, baseline), abs=1e-12)
        assert (summed["low"], summed["high"]) == pytest.approx((low, high), abs=1e-12)
        if metric is MACRO_F1:  # the report's macro-F1 difference, the same resamples
            report = paired_bootstrap_difference(truth, other, baseline, 3, 300, 4, 0.9, clusters=clusters)
            assert (report["macro_f1_difference_low"], report["macro_f1_difference_high"]) == pytest.approx(
                (low, high), abs=1e-12)
    assert paired_bootstrap(metric, truth, other, baseline, users, 0, 0, 0.95)["p_value"] is None


# ---- the under-trained flag


@pytest.mark.parametrize("best_epoch, epochs_run, max_epochs, flagged", [
    (99, 100, 100, True),   # the DeepFM case: the cap stopped it one epoch after its best
    (100, 100, 100, True),
    (91, 100, 100, True),   # the last 10% of 100 epochs
    (90, 100, 100, False),
    (5, 5, 5, True),        # at least the last epoch
    (4, 5, 5, False),
    (40, 50, 100, False),   # early stopping stopped it before the cap
    (50, 50, 100, False),
])
def test_the_under_trained_rule(best_epoch, epochs_run, max_epochs, flagged):
    assert under_trained_fit(best_epoch, epochs_run, max_epochs) is flagged


def test_under_trained_reads_every_familys_fit_facts():
    capped = {"best_epoch": 99, "epochs_run": 100, "max_epochs": 100, "stopped_early": False}
    assert under_trained({"family": "ctr", "fit": capped}) and under_trained(capped)
    assert not under_trained({"fit": {**capped, "best_epoch": 60}})
    # the verdict a fit recorded wins over the facts; metrics written before fits recorded it (nor max_epochs): not
    # stopping early means the cap stopped it
    assert not under_trained({"fit": {**capped, "under_trained": False}})
    assert under_trained({"fit": {"best_epoch": 15, "epochs_run": 15, "stopped_early": False}})
    assert not under_trained({"fit": {"best_epoch": 15, "epochs_run": 15, "stopped_early": True}})
    # one-shot fits and fixed epochs without validation say nothing either way
    assert not under_trained({"fit": {"kernel": "rbf", "converged": True}})
    assert not under_trained({"fit": {"epochs": 20, "fit_seconds": 3.0}})
    assert not under_trained({"fit": {"best_epoch": 12, "parameter_count": 10}})


@pytest.mark.parametrize("scores, flagged", [
    ([0.1, 0.2, 0.3, 0.4, 0.5, 0.6], True),  # still rising at the cap
    ([0.5, 0.4, 0.3, 0.2, 0.1, 0.0], False),  # the patience ran out at epoch 5
    ([0.1, 0.2, 0.6, 0.5, 0.4, 0.3], False),  # ran to the cap, but its best is well behind
])
def test_early_stopping_records_the_flag(scores, flagged):
    torch = pytest.importorskip("torch")
    from sasnet.models.early_stopping import early_stopping

    network = torch.nn.Linear(1, 1)
    valid = iter(scores)
    _, facts = early_stopping(network, lambda: 0.0, lambda: next(valid), SimpleNamespace(epochs=6, patience=4),
                              "ndcg", False, "test")
    assert facts["under_trained"] is flagged
    assert under_trained_fit(facts["best_epoch"], facts["epochs_run"], facts["max_epochs"]) is flagged
