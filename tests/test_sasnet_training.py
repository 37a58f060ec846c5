"""Training SASNet end to end on a generated task with a known signal: learning, determinism, early stopping,
set re-drawing, class weights and evaluation draws."""

import dataclasses
import json
from dataclasses import dataclass

import numpy as np
import pytest
import torch
from sklearn.metrics import f1_score
from test_sasnet_model import tiny_config

from sasnet.models import early_stopping
from sasnet.models.sasnet.network import SASNet
from sasnet.models.sasnet.training import EntitySets, predict_proba, train_sasnet

pytestmark = pytest.mark.usefixtures("single_torch_thread")

CLASS_NAMES = ("bad", "good", "excellent")
SAMPLE_SIZE = 5


@dataclass(frozen=True)
class SyntheticTask:
    """Reviews whose embeddings carry their user's bias along one direction and their business's quality along
    another; the class is the tercile of bias + quality. Only the *other* reviews of the two entities reveal it."""

    embeddings: np.ndarray
    labels: np.ndarray
    stars: np.ndarray
    users: np.ndarray
    businesses: np.ndarray
    train_rows: np.ndarray
    valid_rows: np.ndarray

    def draw_sets(self, rows: np.ndarray, rng: np.random.Generator) -> EntitySets:
        """Up to S of the user's other reviews, and of the business's other train reviews."""
        in_train = np.isin(np.arange(len(self.labels)), self.train_rows)

        def sample(owners: np.ndarray, candidates: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            chosen = np.zeros((len(rows), SAMPLE_SIZE), dtype=np.int64)
            mask = np.zeros((len(rows), SAMPLE_SIZE), dtype=bool)
            for i, row in enumerate(rows):
                others = np.flatnonzero((owners == owners[row]) & candidates & (np.arange(len(owners)) != row))
                count = min(SAMPLE_SIZE, len(others))
                chosen[i, :count] = rng.choice(others, size=count, replace=False)
                mask[i, :count] = True
            return chosen, mask

        return EntitySets(*sample(self.users, np.ones_like(in_train)), *sample(self.businesses, in_train))


def synthetic_task(n_users: int = 60, reviews_per_user: int = 10, n_businesses: int = 30, dim: int = 12):
    rng = np.random.default_rng(0)
    user_bias, quality = rng.normal(size=n_users), rng.normal(size=n_businesses)
    users = np.repeat(np.arange(n_users), reviews_per_user)
    businesses = rng.integers(n_businesses, size=len(users))
    bias_direction, quality_direction = np.linalg.qr(rng.normal(size=(dim, 2)))[0].T
    embeddings = (
        np.outer(user_bias[users], bias_direction)
        + np.outer(quality[businesses], quality_direction)
        + 0.3 * rng.normal(size=(len(users), dim))
    ).astype(np.float32)
    utility = user_bias[users] + quality[businesses]
    labels = np.digitize(utility, np.quantile(utility, [1 / 3, 2 / 3]))
    train_users = users < int(0.8 * n_users)  # split by user, as the pipeline does
    return SyntheticTask(
        embeddings, labels, 1 + 2 * labels, users, businesses, np.flatnonzero(train_users), np.flatnonzero(~train_users)
    )


TASK = synthetic_task()


def config(**changes):
    training = dict(sample_size=SAMPLE_SIZE, batch_size=64, blocks=1, epochs=40, patience=10, lr=3e-3, seed=0)
    return tiny_config(**{**training, **changes})


def train(draw_sets=TASK.draw_sets, **changes):
    return train_sasnet(
        config(**changes),
        embeddings=TASK.embeddings,
        labels=TASK.labels,
        train_rows=TASK.train_rows,
        valid_rows=TASK.valid_rows,
        stars=TASK.stars,
        draw_sets=draw_sets,
        class_names=CLASS_NAMES,
        progress=False,
    )


@pytest.fixture(scope="module")
def trained():
    """The run's result, and the validation draws it scored every epoch."""
    valid_draws = []

    def draw_sets(rows, rng):
        sets = TASK.draw_sets(rows, rng)
        if np.array_equal(rows, TASK.valid_rows):
            valid_draws.append(sets)
        return sets

    return train(draw_sets=draw_sets), valid_draws


def test_training_learns_the_signal_far_beyond_the_majority_class(trained):
    result, _ = trained
    majority = np.bincount(TASK.labels[TASK.valid_rows]).max() / len(TASK.valid_rows)
    assert result.best_valid.accuracy >= majority + 0.25, (result.best_valid, majority)
    assert result.best_valid.macro_f1 >= 0.6
    assert result.history[-1].train.loss < result.history[0].train.loss


def test_the_result_reports_the_best_epoch_and_the_run(trained):
    result, valid_draws = trained
    scores = [record.valid.macro_f1 for record in result.history]
    assert result.best_epoch == 1 + int(np.argmax(scores))  # the first epoch with the best valid macro-F1
    assert result.stopped_early and result.best_epoch < len(result.history)  # so the last epoch's weights differ
    # the model returned is the best epoch's: scored again on the same validation draws, it gives that epoch's scores
    config_ = config()
    probabilities = predict_proba(result.model, TASK.embeddings, TASK.stars, valid_draws, config_.batch_size)
    assert len(valid_draws) == config_.valid_draws
    labels, predicted = TASK.labels[TASK.valid_rows], probabilities.argmax(axis=1)
    assert np.mean(predicted == labels) == pytest.approx(result.best_valid.accuracy)
    assert f1_score(labels, predicted, average="macro") == pytest.approx(result.best_valid.macro_f1)
    assert [record.epoch for record in result.history] == list(range(1, len(result.history) + 1))
    # the count is every value the model holds (its state, as saved), and training moved it from its seeded start
    torch.manual_seed(config_.seed)
    fresh = SASNet(config_, TASK.embeddings.shape[1], len(CLASS_NAMES))
    assert result.parameter_count == sum(weight.numel() for weight in fresh.state_dict().values())
    start = fresh.state_dict()
    assert any(not torch.equal(weight, start[name]) for name, weight in result.model.state_dict().items())
    assert result.seconds_per_epoch > 0 and result.train_examples_per_second > 0
    curves = result.curves()
    assert list(curves.index) == [record.epoch for record in result.history]
    assert curves.loc[result.best_epoch, "valid/macro_f1"] == result.best_valid.macro_f1
    summary = json.loads(json.dumps(result.summary()))
    assert summary["best_epoch"] == result.best_epoch and summary["epochs_run"] == len(result.history)


def test_evaluation_draws_average_their_probabilities(trained):
    result, _ = trained
    draws = [TASK.draw_sets(TASK.valid_rows, np.random.default_rng(seed)) for seed in (7, 8)]
    expected = predict_proba(result.model, TASK.embeddings, TASK.stars, draws)
    np.testing.assert_allclose(expected.sum(axis=1), 1.0, rtol=1e-6)
    single = [predict_proba(result.model, TASK.embeddings, TASK.stars, [sets]) for sets in draws]
    np.testing.assert_allclose(expected, (single[0] + single[1]) / 2, rtol=1e-5)


def test_history_stars_let_sasnet_read_the_stars_of_uninformative_reviews():
    """With embeddings that carry no signal, only the history reviews' stars can reveal the class."""
    noise = TASK.embeddings[np.random.default_rng(1).permutation(len(TASK.embeddings))]
    blind = dataclasses.replace(TASK, embeddings=noise)
    kwargs = dict(embeddings=noise, labels=blind.labels, train_rows=blind.train_rows, valid_rows=blind.valid_rows,
                  stars=blind.stars, draw_sets=blind.draw_sets, class_names=CLASS_NAMES, progress=False)
    without = train_sasnet(config(history_stars=False), **kwargs).best_valid.accuracy
    with_stars = train_sasnet(config(history_stars=True), **kwargs).best_valid.accuracy
    assert with_stars >= without + 0.1, (with_stars, without)


def test_the_same_seed_gives_the_same_run():
    first, second = train(epochs=3), train(epochs=3)
    without_timing = [dataclasses.replace(record, seconds=0.0) for record in first.history]
    assert without_timing == [dataclasses.replace(record, seconds=0.0) for record in second.history]
    assert all(torch.equal(a, b) for a, b in zip(first.model.state_dict().values(), second.model.state_dict().values()))
    other_seed = train(epochs=3, seed=1)
    assert other_seed.history[0].train != first.history[0].train


def counting(draw_sets):
    """``draw_sets`` that records how many examples each call drew for."""
    calls = []

    def draw(rows, rng):
        calls.append(len(rows))
        return draw_sets(rows, rng)

    return draw, calls


@pytest.mark.parametrize("resample_sets", [True, False])
def test_train_sets_are_redrawn_every_epoch_unless_disabled_and_valid_sets_once(resample_sets):
    draw, calls = counting(TASK.draw_sets)
    train(draw_sets=draw, epochs=3, resample_sets=resample_sets, valid_draws=2, eval_draws=3)
    train_draws = calls.count(len(TASK.train_rows))
    assert calls.count(len(TASK.valid_rows)) == 2  # valid_draws draws, once for the whole run
    assert train_draws == (3 if resample_sets else 1)


def test_training_stops_after_patience_epochs_without_improvement():
    result = train(lr=1e-12, epochs=50, patience=3)  # too small a step to change a prediction
    assert result.stopped_early
    assert result.best_epoch == 1 and len(result.history) == 1 + 3


def test_the_progress_bar_ends_where_early_stopping_would_stop(monkeypatch):
    bars = []

    class RecordingBar:  # tqdm's interface as train_sasnet uses it
        def __init__(self, total, **kwargs):
            self.total, self.n, self.totals = total, 0, []
            bars.append(self)

        def update(self, steps):
            self.n += steps
            self.totals.append(self.total)

        def set_postfix(self, **kwargs):
            self.postfix = kwargs

        def close(self):
            pass

    monkeypatch.setattr(early_stopping, "tqdm", RecordingBar)  # train_sasnet's StoppingBar
    result = train(epochs=40, patience=4)
    (bar,) = bars
    bests = np.maximum.accumulate([record.valid.macro_f1 for record in result.history])
    best_epochs = [1 + int(np.flatnonzero(bests[: epoch] == bests[epoch - 1])[0])
                   for epoch in range(1, len(bests) + 1)]
    assert bar.totals == [min(40, best + 4) for best in best_epochs]  # never the 40-epoch upper bound itself
    assert bar.n == len(result.history) == bar.totals[-1]  # it fills exactly when the run stops
    assert bar.postfix["patience_left"] == 0


def test_a_sampler_returning_bad_shapes_is_reported():
    def truncated(rows, rng):
        return tuple(array[:, :-1] if i == 0 else array for i, array in enumerate(TASK.draw_sets(rows, rng)))

    with pytest.raises(ValueError, match="draw_sets must return four"):
        train(draw_sets=truncated, epochs=1)


def test_bfloat16_autocast_learns_as_float32_does_and_keeps_float32_weights():
    runs = {precision: train(precision=precision, epochs=15, patience=15) for precision in ("float32", "bfloat16")}
    assert [runs[p].precision for p in runs] == ["float32", "bfloat16"]
    assert all(parameter.dtype == torch.float32 for parameter in runs["bfloat16"].model.parameters())
    scores = {p: run.best_valid.macro_f1 for p, run in runs.items()}
    assert scores["bfloat16"] >= 0.6 and abs(scores["bfloat16"] - scores["float32"]) < 0.1, scores
    # Different arithmetic, so a different run: autocast is really on.
    assert runs["bfloat16"].history[0].train.loss != runs["float32"].history[0].train.loss
