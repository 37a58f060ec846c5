"""Shared fixtures: the research-only datasets beside the checkout (never copied into the repository), and the one
tiny pipeline every test of a trained workspace reads.

Tiers (markers declared in pyproject.toml): no marker is the fast tier (pytest -m "not slow and not realdata");
``slow`` marks a test of several seconds or more, and is added here to each test of the tiny pipeline
(``tiny_pipeline``); ``realdata`` is added here to each test that reads ../shared/data (``shared_data``). Plain
``pytest`` runs them all.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from sasnet.config import ParamsError

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("DVC_NO_ANALYTICS", "1")

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("SASNET_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))


def pytest_collection_modifyitems(config, items):
    """Every test that reads ../shared/data (through the shared_data fixture) is in the realdata tier, and every test
    of the session's tiny pipeline (the tiny_pipeline fixture, directly or through another fixture) in the slow one."""
    for item in items:
        fixtures = getattr(item, "fixturenames", ())
        if "shared_data" in fixtures:
            item.add_marker(pytest.mark.realdata)
        if "tiny_pipeline" in fixtures:
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def shared_data():
    """Return a function mapping a dataset name to its folder under ../shared/data, skipping when absent."""

    def locate(name: str) -> Path:
        folder = SHARED_DATA / name
        if not folder.is_dir():
            pytest.skip(f"{folder} is not present (research-only data lives beside the checkout)")
        return folder

    return locate


@pytest.fixture(scope="session")
def tiny_llm_dir(tmp_path_factory) -> Path:
    """A tiny random Llama folder, standing in for the LLM in quick pipeline runs."""
    from tiny_llm import save_tiny_llama

    return save_tiny_llama(tmp_path_factory.mktemp("tiny_llm"), ["The food was great and the service slow."])


def config_problems(make_config, **changes) -> list[str]:
    """The ParamsError problems raised when ``make_config(**changes)`` builds an invalid config section."""
    with pytest.raises(ParamsError) as caught:
        make_config(**changes)
    return caught.value.problems


@pytest.fixture(scope="module")
def single_torch_thread():
    """Tiny tensors: a second torch thread only adds synchronisation, several times slower on shared cores."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@dataclass(frozen=True)
class TinyPipeline:
    """The pinned tiny pipeline (workspace.pinned_params), run once in process in ``folder``."""

    folder: Path  # the workspace: tests that read or rerun its stages chdir here (and leave its outputs as they were)
    snapshot: Path  # a copy of the workspace as the run left it, never modified
    raw: dict  # its params.yaml
    reads: dict[str, set[str]]  # stage -> the params it read (dotted leaf paths)

    def restore(self, *paths: str | os.PathLike) -> None:
        """Put back files (relative to the workspace) that a test changed, as the run left them."""
        for path in paths:
            shutil.copy2(self.snapshot / path, self.folder / path)


@pytest.fixture(scope="session")
def tiny_pipeline(tmp_path_factory, tiny_llm_dir) -> TinyPipeline:
    """Every stage of the pinned tiny pipeline, run once per session in process (no DVC, one thread), each with its
    params recorded: one models entry per family that classifies, one rankers entry per family that ranks."""
    from workspace import make_workspace, one_thread, pinned_params, run_in_process

    raw = pinned_params(tiny_llm_dir)
    root = tmp_path_factory.mktemp("tiny_pipeline")
    folder = make_workspace(root / "repo", raw)
    reads: dict[str, set[str]] = {}
    with pytest.MonkeyPatch.context() as patch, one_thread():
        patch.chdir(folder)
        run_in_process(raw, reads=reads)
    snapshot = root / "snapshot"
    shutil.copytree(folder, snapshot)
    return TinyPipeline(folder, snapshot, raw, reads)
