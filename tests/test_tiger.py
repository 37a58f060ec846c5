"""tiger: cornac's TIGER behind the Ranker interface over our semantic IDs, on cornac_seq's sequences that walk a
cycle (hand-made IDs in which neighbouring items collide)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from test_cornac_seq import CYCLE, K, Popularity, cycle_data, ndcg

from sasnet.config import ParamsError, build
from sasnet.errors import PipelineError
from sasnet.item_codes import ItemCodes
from sasnet.models import family
from sasnet.models.base import load_model
from sasnet.ranking.data import RankingData
from sasnet.ranking.evaluation import ndcg_validation, valid_ndcg

SETTINGS = {  # small: a fit takes seconds on one core
    "d_model": 32, "d_ff": 64, "heads": 2, "d_kv": 16, "encoder_layers": 1, "decoder_layers": 1, "dropout": 0.0,
    "max_len": 10, "epochs": 10, "batch_size": 64, "lr": 5e-3, "weight_decay": 0.0, "selection": "last",
    "val_every": 1, "beams": K, "scoring": "beam", "seed": 0,
}


def config(**changes):
    return build(family("tiger").Config, SETTINGS | changes)


def cycle_codes() -> ItemCodes:
    """Two levels of 4 codes: b<j> is (j // 8, j // 2 % 4), so b<2m> and b<2m+1> collide. never_chosen shares
    b0's codes and takes suffix 0, b0 and b1 suffixes 1 and 2: cornac's own suffix, over the items it knows, would
    give b0 and b1 0 and 1."""
    rows = [(f"b{j}", j // 8, j // 2 % 4, j % 2) for j in range(2, CYCLE)]
    rows += [("b0", 0, 0, 1), ("b1", 0, 0, 2), ("never_chosen", 0, 0, 0)]
    items = pd.DataFrame(rows, columns=["business_id", "code_1", "code_2", "suffix"]).sort_values("business_id")
    return ItemCodes(items.assign(name=items["business_id"], categories="", text_source="metadata"), codebook_size=4)


pytestmark = pytest.mark.usefixtures("single_torch_thread")


@pytest.fixture(scope="module")
def data() -> RankingData:
    return replace(cycle_data(), item_codes=cycle_codes())


@pytest.fixture(scope="module")
def fitted(data):
    from sasnet.models.tiger.model import TigerRanker

    model = TigerRanker(config(), ["excellent"], "rank")
    return model, model.fit(data, progress=False, validation=ndcg_validation(data, K))


def test_family_only_ranks_by_semantic_ids_and_its_config_checks_name_the_key():
    tiger = family("tiger")
    assert tiger.TASKS == ("rank",) and tiger.READS == "semantic_ids"
    with pytest.raises(ParamsError) as caught:
        config(epochs=0, dropout=1.0, selection="best", val_every=2)
    assert "epochs: must be >= 1 (got 0)" in caught.value.problems
    assert "dropout: must be >= 0 and < 1 (got 1.0)" in caught.value.problems
    assert "val_every: must be >= 1 and, with selection best, <= epochs 0 (got 2)" in caught.value.problems


def test_a_short_fit_learns_the_cycle_far_above_popularity(fitted, data):
    model, result = fitted
    assert valid_ndcg(model, data, K) > valid_ndcg(Popularity(), data, K) + 0.4
    assert ndcg(model, data) > ndcg(Popularity(), data) + 0.4
    assert result.facts["epochs"] == 10 and result.facts["parameters"] > 0
    assert result.facts["library_items"] == CYCLE and result.facts["unknown_items"] == 1
    assert result.facts["levels"] == 2 and result.facts["codebook_size"] == 4
    never_chosen = int(np.flatnonzero(data.items["business_id"] == "never_chosen")[0])
    assert np.all(model.score(data, "test", np.arange(5))[:, never_chosen] == -np.inf)  # cornac cannot rank it


def test_cornac_generates_our_ids_suffix_included(fitted, data):
    model, _ = fitted
    ours = data.item_codes.tokens(data.items["business_id"].to_numpy()[model.items])
    np.testing.assert_array_equal(model.library.sid_table, ours)
    assert model.library.level_sizes == data.item_codes.token_sizes == [4, 4, 3]
    b0 = int(np.flatnonzero(data.items["business_id"].to_numpy()[model.items] == "b0")[0])
    assert model.library.sid_to_item[(0, 0, 1)] == b0  # ours: cornac's own suffix would have named it (0, 0, 0)
    assert (0, 0, 0) not in model.library.sid_to_item  # never_chosen's ID: cornac never generates it


def test_a_saved_model_loads_with_identical_scores(fitted, data, tmp_path):
    model, _ = fitted
    model.save(tmp_path, {"family": "tiger"})
    loaded = load_model(tmp_path, data)
    users = np.arange(data.n_users)
    for split in ("valid", "test"):
        np.testing.assert_array_equal(loaded.score(data, split, users), model.score(data, split, users))
    other_codes = replace(data.item_codes, items=data.item_codes.items.assign(code_1=lambda items: 3 - items["code_1"]))
    with pytest.raises(PipelineError, match="semantic_ids differs"):
        load_model(tmp_path, replace(data, item_codes=other_codes))  # the weights would generate the wrong items


def test_the_ranker_needs_semantic_ids_and_enough_beams(data):
    from sasnet.models.tiger.model import TigerRanker

    with pytest.raises(PipelineError, match="input semantic_ids"):
        TigerRanker(config(), ["excellent"], "rank").fit(replace(data, item_codes=None), progress=False,
                                                         validation=ndcg_validation(data, K))
    with pytest.raises(PipelineError, match="beams: must be >= ranking.k 10"):
        TigerRanker(config(beams=5), ["excellent"], "rank").fit(data, progress=False,
                                                                validation=ndcg_validation(data, K))
