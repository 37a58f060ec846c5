"""Every value is checked before any work: non-finite numbers, references between sections, unknown families and
inputs, and sets too small to score. Each message names the key and what is valid."""

from __future__ import annotations

import copy

import pandas as pd
import pytest
import yaml
from conftest import REPO_ROOT
from workspace import stage_module

from sasnet.config import ParamsError, build
from sasnet.errors import PipelineError
from sasnet.params import Params

RAW = yaml.safe_load((REPO_ROOT / "params.yaml").read_text())


def problems(**changes) -> list[str]:
    """The problems of params.yaml with dotted ``changes`` ('__' for '.'); [] when it validates."""
    raw = copy.deepcopy(RAW)
    for dotted, value in changes.items():
        *parents, last = dotted.split("__")
        tree = raw
        for key in parents:
            tree = tree[key]
        tree[last] = value
    try:
        build(Params, raw)
    except ParamsError as error:
        return error.problems
    return []


def test_the_repository_params_validate():
    assert problems() == []


@pytest.mark.parametrize("key", ["sasnet.lr", "mf.learning_rate", "sample.time_limit_s", "svm.C",
                                 "evaluation.confidence", "scoring.probe.C"])
@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_a_non_finite_number_is_refused_naming_its_key(key, value):
    found = problems(**{key.replace(".", "__"): value})
    assert any(problem.startswith(f"{key}: got {value}") and "finite" in problem for problem in found), found


def test_a_non_finite_override_is_refused_naming_the_entry():
    found = problems(models__sasnet_llm__overrides={"lr": float("inf")})
    assert any(problem.startswith("models.sasnet_llm.overrides.lr: got inf") for problem in found), found


def test_renamed_bins_must_rename_the_classes_scoring_reads():
    bins = {"low": [1, 2, 3], "mid": [4], "high": [5]}
    found = problems(split__bins=bins)
    assert any(problem.startswith("scoring.negative_class: got 'bad'") and "'low', 'mid', 'high'" in problem
               for problem in found), found
    assert any(problem.startswith("scoring.positive_class: got 'excellent'") for problem in found), found
    assert problems(split__bins=bins, scoring__negative_class="low", scoring__positive_class="high") == []


def test_an_empty_class_is_refused():
    found = problems(split__bins={"bad": [1, 2, 3], "good": [], "excellent": [4, 5]})
    assert any("split.bins" in problem and "good" in problem for problem in found), found


@pytest.mark.parametrize("section, family, valid", [
    ("models", "nosuch", "families that classify: "),
    ("rankers", "nosuch", "families that rank: "),
    ("rankers", "svm", "families that rank: "),  # a family that only classifies
    ("models", "sasrec", "families that classify: "),  # a family that only ranks
])
def test_an_unknown_family_names_the_key_and_the_valid_families(section, family, valid):
    found = problems(**{f"{section}__probe": {"family": family, "input": "split"}})
    assert any(problem.startswith(f"{section}.probe.family: got {family!r}; {valid}") for problem in found), found


@pytest.mark.parametrize("entry, expected", [
    ({"family": "svm", "input": "normalized/nosuch", "pooling": "mean"}, "'normalized/tfidf'"),
    ({"family": "svm", "input": "split", "pooling": "mean"}, "'normalized/minilm'"),
    ({"family": "mf", "input": "normalized/minilm"}, "'split'"),
    ({"family": "ctr", "input": "split"}, "'semantic_ids'"),
    ({"family": "svm", "input": "normalized/minilm", "pooling": "attention"}, "encoder 'minilm' writes 'mean'"),
])
def test_an_input_the_family_cannot_read_names_the_valid_inputs(entry, expected):
    found = problems(models__probe=entry)
    assert any(problem.startswith("models.probe.") and expected in problem for problem in found), found


def test_a_text_free_source_refuses_every_model_that_reads_text_before_any_work():
    found = problems(data__source="ratings")
    for name in ("hft", "svm_tfidf", "sasnet_llm"):
        assert any(problem.startswith(f"models.{name}.family:") and "no review text" in problem
                   for problem in found), found
    assert not any(problem.startswith(("models.mf.", "models.mf_ids.", "rankers.sasrec.")) for problem in found)


@pytest.mark.parametrize("key", ["evaluation.min_examples", "ranking.min_users"])
@pytest.mark.parametrize("value", [0, -3])
def test_the_minimum_evaluated_sizes_are_positive(key, value):
    assert any(problem.startswith(f"{key}: must be >= 1") for problem in problems(**{key.replace(".", "__"): value}))


def split_of(users_per_split: dict[str, int], reviews_per_user: int = 1) -> dict[str, pd.DataFrame]:
    return {split: pd.DataFrame({"user_id": [f"{split}{u}" for u in range(users) for _ in range(reviews_per_user)]})
            for split, users in users_per_split.items()}


def test_the_split_stage_refuses_valid_or_test_sets_too_small_to_score():
    require = stage_module("stages/split.py").require_evaluated_size
    with pytest.raises(PipelineError, match=r"1 valid, 1 test reviews, under evaluation.min_examples \(30\)"):
        require(split_of({"train": 8, "valid": 1, "test": 1}), 30)
    with pytest.raises(PipelineError, match=r"^the split leaves 29 test reviews"):
        require(split_of({"train": 8, "valid": 30, "test": 29}), 30)
    require(split_of({"train": 8, "valid": 30, "test": 30}), 30)
