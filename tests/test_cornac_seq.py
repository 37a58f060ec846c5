"""cornac_seq: cornac's SASRec, BERT4Rec and GRU4Rec behind the Ranker interface, on sequences that walk a cycle."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sasnet.config import ParamsError, build
from sasnet.errors import PipelineError
from sasnet.models import family
from sasnet.models.base import load_model
from sasnet.ranking import metrics
from sasnet.ranking.data import RankingData
from sasnet.ranking.evaluation import rank_targets

MODELS = ("sasrec", "bert4rec", "gru4rec")
CYCLE = 30  # items 0..29; every user walks i -> i + 1 (mod 30)
K = 10
SETTINGS = {  # small and few epochs: each fit takes seconds on one core
    "hidden_dim": 32, "max_len": 20, "blocks": 1, "heads": 2, "dropout": 0.1, "negatives": 32, "epochs": 8,
    "batch_size": 128, "selection": "last", "val_every": 1, "val_k": K, "seed": 0,
}
LEARNING_RATES = {"sasrec": 0.005, "bert4rec": 0.005, "gru4rec": 0.05}  # Adam for the transformers, AdaGrad


def config(model: str, **changes):
    return build(family("cornac_seq").Config,
                 {"model": model, "lr": LEARNING_RATES[model], **SETTINGS, **changes})


def cycle_data(users: int = 300, seed: int = 0) -> RankingData:
    """Each user walks 5 to 11 steps of the cycle from a random item: the next item is always the previous + 1.
    The catalogue is shuffled (so cornac's numbering differs from ours) and has one item nobody chose."""
    rng = np.random.default_rng(seed)
    rows = []
    for user in range(users):
        start, length = rng.integers(CYCLE), rng.integers(5, 12)
        for position in range(length):
            split = "test" if position == length - 1 else "valid" if position == length - 2 else "train"
            rows.append((f"u{user}", f"b{(start + position) % CYCLE}", int(rng.integers(1, 6)),
                         f"2021-01-{position + 1:02d}T12:00:00", position, split))
    interactions = pd.DataFrame(rows, columns=["user_id", "business_id", "stars", "date", "position", "split"])
    ids = rng.permutation([f"b{item}" for item in range(CYCLE)] + ["never_chosen"])
    items = pd.DataFrame({"business_id": ids, "name": ids, "categories": ""})
    return RankingData.from_frames(interactions, items)


class Popularity:
    def score(self, data: RankingData, split: str, users: np.ndarray) -> np.ndarray:
        return np.tile(data.train_counts.astype(np.float64), (len(users), 1))


def ndcg(model, data: RankingData) -> float:
    return float(metrics.per_user(rank_targets(model, data, "test", K).ranks, K)["ndcg"].mean())


pytestmark = pytest.mark.usefixtures("single_torch_thread")


@pytest.fixture(scope="module")
def data() -> RankingData:
    return cycle_data()


@pytest.fixture(scope="module", params=MODELS)
def fitted(request, data):
    from sasnet.models.cornac_seq.model import CornacSequentialRanker

    model = CornacSequentialRanker(config(request.param), ["excellent"], "rank")
    return model, model.fit(data, progress=False)


def test_family_only_ranks_and_its_config_checks_name_the_key():
    assert family("cornac_seq").TASKS == ("rank",)
    with pytest.raises(ParamsError) as caught:
        config("sasrec", epochs=0, heads=3, dropout=1.0)
    assert "epochs: must be >= 1 (got 0)" in caught.value.problems
    assert "heads: must be a divisor of hidden_dim 32 (got 3)" in caught.value.problems
    assert "dropout: must be >= 0 and < 1 (got 1.0)" in caught.value.problems
    assert config("gru4rec").device == "cpu"


@pytest.mark.slow
def test_a_short_fit_learns_the_cycle_far_above_popularity(fitted, data):
    model, result = fitted
    assert ndcg(model, data) > ndcg(Popularity(), data) + 0.4
    assert result.facts["epochs"] == 8 and result.facts["parameters"] > 0
    assert result.facts["library_items"] == CYCLE and result.facts["unknown_items"] == 1
    never_chosen = int(np.flatnonzero(data.items["business_id"] == "never_chosen")[0])
    assert np.all(model.score(data, "test", np.arange(5))[:, never_chosen] == -np.inf)  # cornac cannot rank it


@pytest.mark.slow
def test_a_saved_model_loads_with_identical_scores(fitted, data, tmp_path):
    model, _ = fitted
    model.save(tmp_path, {"family": "cornac_seq"})
    loaded = load_model(tmp_path, data)
    users = np.arange(data.n_users)
    for split in ("valid", "test"):
        np.testing.assert_array_equal(loaded.score(data, split, users), model.score(data, split, users))
    with pytest.raises(PipelineError, match="cornac's items do not match"):
        load_model(tmp_path, cycle_data(seed=1))  # other interactions: the weights would score the wrong items


@pytest.mark.slow
def test_scores_are_the_librarys_own_for_a_user(fitted, data):
    """cornac's ``score`` on the user's history (in cornac's numbering, through its own iid_map) gives our row,
    each of its items at our catalogue index."""
    model, _ = fitted
    user = 7
    history = data.sequences("test")[user]
    library = model.library.score(None, history_items=[model.library.iid_map[item] for item in history])
    ours = model.score(data, "test", np.array([user]))[0]
    for item, index in model.library.iid_map.items():
        assert ours[item] == library[index]


@pytest.mark.slow
def test_a_refit_with_the_same_seed_is_identical(fitted, data):
    from sasnet.models.cornac_seq.model import CornacSequentialRanker

    model, _ = fitted
    again = CornacSequentialRanker(model.config, ["excellent"], "rank")
    again.fit(data, progress=False)
    first, second = model.arrays(), again.arrays()
    assert first.keys() == second.keys()
    for name in first:
        np.testing.assert_array_equal(first[name], second[name], err_msg=name)


@pytest.mark.slow
def test_selection_on_valid_runs_cornacs_own_evaluation(data):
    """selection best: cornac scores the valid targets every val_every epochs and keeps the best epoch."""
    from sasnet.models.cornac_seq.model import CornacSequentialRanker, train_set, valid_set

    valid = valid_set(data, train_set(data, 0), 0)
    assert len(valid.sessions) == data.n_users and valid.num_items == CYCLE  # every target is a known item
    model = CornacSequentialRanker(config("gru4rec", selection="best", val_every=2), ["excellent"], "rank")
    model.fit(data, progress=False)
    assert ndcg(model, data) > ndcg(Popularity(), data) + 0.4
