"""The typed params loader: every kind of mistake is caught before work starts, named by its dotted key."""

from __future__ import annotations

import shlex
import shutil
from dataclasses import dataclass
from typing import Literal

import pytest
import yaml
from dvc.utils.hydra import apply_overrides

from sasnet.config import ParamsError, build, leaf_paths
from sasnet.params import Params, load_params
from conftest import REPO_ROOT


@dataclass(frozen=True)
class Inner:
    rate: float
    names: list[str]


@dataclass(frozen=True)
class Outer:
    mode: Literal["fast", "exact"]
    size: int
    limit: float | None
    inner: Inner
    weights: dict[str, int]

    def check(self) -> list[str]:
        return [] if self.size > 0 else [f"size: must be > 0 (got {self.size})"]


GOOD = {"mode": "fast", "size": 3, "limit": None, "inner": {"rate": 1, "names": ["a"]}, "weights": {"x": 1}}


def with_change(path: str, value) -> dict:
    data = yaml.safe_load(yaml.safe_dump(GOOD))
    *parents, last = path.split(".")
    node = data
    for key in parents:
        node = node[key]
    if value is KeyError:
        del node[last]
    else:
        node[last] = value
    return data


def problems_for(data: dict) -> list[str]:
    with pytest.raises(ParamsError) as caught:
        build(Outer, data)
    return caught.value.problems


def test_valid_mapping_builds_typed_frozen_values():
    built = build(Outer, GOOD)
    assert built.inner.rate == 1.0 and isinstance(built.inner.rate, float)
    assert built.inner.names == ("a",)
    with pytest.raises(TypeError):
        built.weights["y"] = 2  # read-only view: params cannot drift at run time


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        ("inner.rtae", 0.5, "inner.rtae: unknown key; valid keys here: rate, names"),
        ("size", "3", "size: got '3' (str); expected an integer"),
        ("size", True, "size: got True (bool); expected an integer"),
        ("mode", "slow", "mode: got 'slow' (str); valid values: 'fast', 'exact'"),
        ("inner.rate", KeyError, "inner.rate: missing (expected float)"),
        ("limit", "none", "limit: got 'none' (str); expected float or null"),
        ("inner.names", "a", "inner.names: got 'a' (str); expected a list"),
        ("weights.x", 1.5, "weights.x: got 1.5 (float); expected an integer"),
        ("size", 0, "size: must be > 0 (got 0)"),
    ],
)
def test_each_mistake_is_named_with_what_is_valid(path, value, expected):
    assert expected in problems_for(with_change(path, value))


def test_all_problems_are_reported_together():
    data = with_change("mode", "slow")
    data["inner"]["rtae"] = 1
    data["size"] = "big"
    assert len(problems_for(data)) == 3


def test_leaf_paths_lists_nested_keys():
    assert leaf_paths(Outer) == ["mode", "size", "limit", "inner.rate", "inner.names", "weights"]


def test_repository_params_yaml_is_valid():
    params = load_params(REPO_ROOT / "params.yaml")
    assert isinstance(params, Params)


def test_typo_in_repository_params_fails_before_any_work(tmp_path):
    raw = yaml.safe_load((REPO_ROOT / "params.yaml").read_text())
    raw["filter"]["min_user_review"] = raw["filter"].pop("min_user_reviews")
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(raw))
    with pytest.raises(ParamsError, match="filter.min_user_review: unknown key; valid keys here: min_user_reviews"):
        load_params(tmp_path / "params.yaml")


def test_the_readme_paper_command_sets_valid_params(tmp_path):
    """The README's one command for the paper's exact settings, applied as `dvc exp run -S` applies it (DVC's own
    override parser: an unknown key without '+' fails), gives params that validate."""
    readme = (REPO_ROOT / "README.md").read_text()
    block = readme.split("**The paper's exact settings**", 1)[1].split("```bash\n", 1)[1].split("```", 1)[0]
    words = shlex.split(block.replace("\\\n", " "))
    params_file = tmp_path / "params.yaml"
    shutil.copy(REPO_ROOT / "params.yaml", params_file)
    apply_overrides(params_file, [words[i + 1] for i, word in enumerate(words) if word == "-S"])
    paper = load_params(params_file)
    assert (paper.sasnet.patience, paper.sasnet.eval_draws, paper.sasnet.valid_draws) == (150, 1, 1)
    assert "llm_plain" in paper.embed.encoders and paper.normalize.fit_on == "all"
