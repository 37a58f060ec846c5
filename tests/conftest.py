"""Shared fixtures: the research-only datasets beside the checkout (never copied into the repository)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from sasnet.config import ParamsError

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("DVC_NO_ANALYTICS", "1")

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("SASNET_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))


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
