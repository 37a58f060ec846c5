"""Numeric params keys: every number is finite, and every declared bound (``sasnet.config.bounded``) is enforced by
``build`` with a message naming the dotted key and the bound. The cases are derived from the schema itself (every
section and family Config reachable from ``Params``) and the repository's params.yaml, not listed by hand."""

from __future__ import annotations

import copy
import dataclasses
import math
import types
import typing
from typing import Any, Union

import pytest
import yaml

from sasnet.config import Bounds, ParamsError, build
from sasnet.params import Params
from conftest import REPO_ROOT

RAW = yaml.safe_load((REPO_ROOT / "params.yaml").read_text())


@dataclasses.dataclass(frozen=True)
class Leaf:
    """A numeric value in params.yaml: where it is, its schema type and, for a dataclass field, its bounds."""

    location: tuple[str | int, ...]  # keys (and list indices) from the top of params.yaml
    tp: Any
    bounds: Bounds | None

    @property
    def key(self) -> str:
        """The dotted key ``build`` names in its messages (list items as key[i])."""
        text = ""
        for part in self.location:
            text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
        return text


def _options(tp: Any) -> tuple[Any, ...]:
    return typing.get_args(tp) if typing.get_origin(tp) in (Union, types.UnionType) else (tp,)


def _number_type(tp: Any) -> type | None:
    """float if the type accepts a float, int if it accepts an int (not a float), else None."""
    options = _options(tp)
    if float in options:
        return float
    if int in options:
        return int
    return None


def _walk(tp: Any, raw: Any, location: tuple, bounds: Bounds | None, leaves: list[Leaf]) -> None:
    if dataclasses.is_dataclass(tp):
        hints = typing.get_type_hints(tp)
        for item in dataclasses.fields(tp):
            if isinstance(raw, dict) and item.name in raw:
                _walk(hints[item.name], raw[item.name], location + (item.name,), item.metadata.get("bounds"), leaves)
        return
    origin = typing.get_origin(tp)
    if origin is dict and isinstance(raw, dict):
        item_type = typing.get_args(tp)[1]
        for key, value in raw.items():
            _walk(item_type, value, location + (key,), None, leaves)
    elif origin is list and isinstance(raw, list):
        (item_type,) = typing.get_args(tp)
        for index, value in enumerate(raw):
            _walk(item_type, value, location + (index,), None, leaves)
    elif _number_type(tp) is not None:
        leaves.append(Leaf(location, tp, bounds))


def leaves() -> list[Leaf]:
    """Every numeric value of params.yaml's schema that params.yaml gives, with its bounds."""
    found: list[Leaf] = []
    _walk(Params, RAW, (), None, found)
    return found


LEAVES = leaves()
FLOATS = [leaf for leaf in LEAVES if _number_type(leaf.tp) is float]
BOUNDED = [leaf for leaf in LEAVES if leaf.bounds is not None]


def problems_with(location: tuple, value: Any) -> list[str]:
    """The problems ``build(Params, ...)`` reports for params.yaml with the value at ``location`` replaced."""
    raw = copy.deepcopy(RAW)
    node = raw
    for part in location[:-1]:
        node = node[part]
    node[location[-1]] = value
    try:
        build(Params, raw)
    except ParamsError as error:
        return error.problems
    return []


def outside(leaf: Leaf) -> list[tuple[str, int | float]]:
    """For each limit of the leaf's bounds, the value just beyond it (the limit itself where it is exclusive)."""
    number = _number_type(leaf.tp)
    bounds = leaf.bounds
    values = []
    if bounds.ge is not None:
        values.append(("ge", bounds.ge - 1 if number is int else math.nextafter(bounds.ge, -math.inf)))
    if bounds.gt is not None:
        values.append(("gt", bounds.gt))
    if bounds.le is not None:
        values.append(("le", bounds.le + 1 if number is int else math.nextafter(bounds.le, math.inf)))
    if bounds.lt is not None:
        values.append(("lt", bounds.lt))
    return [(limit, number(value)) for limit, value in values]


def test_params_yaml_builds():
    assert problems_with(("split", "seed"), RAW["split"]["seed"]) == []


def test_the_schema_walk_finds_the_numeric_keys_and_their_bounds():
    keys = {leaf.key: leaf.bounds for leaf in LEAVES}
    # A few from every kind of section: data, embedding, analysis, ranking and model families (inherited fields too).
    for key, bounds in {
        "demo.noise_sd": Bounds(gt=0), "demo.disposition_rate": Bounds(ge=0, le=1), "ingest.chunk_lines": Bounds(ge=1),
        "filter.min_user_reviews": Bounds(ge=1), "sample.time_limit_s": Bounds(gt=0),
        "quantize.damp_percent": Bounds(gt=0, lt=1), "embed.llm.max_tokens": Bounds(ge=1),
        "embed.minilm.max_seq_length": Bounds(ge=3, le=512), "embed.tfidf.max_df": Bounds(gt=0, le=1),
        "normalize.min_std": Bounds(ge=0), "semantic_ids.codebook_size": Bounds(ge=2),
        "scoring.confidence": Bounds(gt=0, lt=1), "scoring.probe.C": Bounds(gt=0),
        "item_slices.cold_start_max_train": Bounds(ge=0), "ranking.k": Bounds(ge=1),
        "ranking.bootstrap_samples": Bounds(ge=0), "sasnet.dropout": Bounds(ge=0, lt=1), "sasnet.blocks": Bounds(ge=0),
        "sasrec.max_len": Bounds(ge=2), "sasrec.heads": Bounds(ge=1), "gru4rec.layers": Bounds(ge=1),
        "xlstm.disliked_rating": Bounds(ge=0, le=5), "bpr.calibration_reviews": Bounds(ge=10),
        "hft.seed": Bounds(ge=0, lt=2**32), "cornac_seq.batch_size": Bounds(ge=2), "svm.C": Bounds(gt=0),
    }.items():
        assert keys.get(key) == bounds, key
    assert "split.fractions.train" in keys and "demo.star_shares[0]" in keys
    assert len(FLOATS) >= 50 and len(BOUNDED) >= 150


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf], ids=["nan", "inf", "-inf"])
@pytest.mark.parametrize("leaf", FLOATS, ids=lambda leaf: leaf.key)
def test_every_float_key_refuses_nan_and_infinity(leaf, value):
    problems = problems_with(leaf.location, value)
    assert any(problem.startswith(f"{leaf.key}: got {value}") for problem in problems), problems


@pytest.mark.parametrize("leaf", BOUNDED, ids=lambda leaf: leaf.key)
def test_every_bound_refuses_the_value_just_beyond_it(leaf):
    for limit, value in outside(leaf):
        problems = problems_with(leaf.location, value)
        assert f"{leaf.key}: must be {leaf.bounds} (got {value})" in problems, (limit, problems)


@pytest.mark.parametrize("leaf", BOUNDED, ids=lambda leaf: leaf.key)
def test_an_inclusive_limit_itself_is_accepted(leaf):
    number = _number_type(leaf.tp)
    for limit in (leaf.bounds.ge, leaf.bounds.le):
        if limit is not None:
            problems = problems_with(leaf.location, number(limit))
            # (a rule spanning keys may still refuse it: sasnet.hidden_dim 1 is not divisible by heads)
            assert not [problem for problem in problems if problem.startswith(f"{leaf.key}: must be {leaf.bounds}")]


def test_a_bounded_optional_key_may_be_null():
    for location in (("svm", "max_train_reviews"), ("embed", "tfidf", "max_features")):
        assert problems_with(location, None) == []


def test_every_class_needs_a_star():
    bins = {"unused": [], **RAW["split"]["bins"]}
    assert problems_with(("split", "bins"), bins) == [
        "split.bins: every class needs at least one star (empty: unused)"
    ]
