"""`dvc repro` killed at random points resumes to the very outputs of an uninterrupted run.

Every stage writes atomically (a temporary sibling renamed into place; a killed write's temporary is removed by the
next run), and the LLM stage resumes from its shards. So a SIGKILL anywhere must leave nothing that a rerun keeps
wrong: after the rerun, every data output is byte-identical to an uninterrupted run's and `dvc status` is clean.
The pipeline is the tiny pinned one, through one classifier and one ranker (every data stage on their way, the
three encoders included); the kill times are seeded, their count and each run's time bounded.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time

import numpy as np
import pytest
from workspace import command_env, file_digests, make_workspace, pinned_params, run

pytestmark = pytest.mark.slow

TARGETS = ("train@svm", "rank@popularity")
SEEDS = (0, 1, 2)


def data_digests(workspace) -> dict[str, str]:
    """Every file under data/ but the LLM shard cache (a cache, not an output: resumed runs may hold more shards)."""
    return {path: digest for path, digest in file_digests(workspace).items() if not path.startswith("data/cache/")}


def repro(workspace) -> float:
    start = time.perf_counter()
    run(workspace, "dvc", "repro", *TARGETS)
    return time.perf_counter() - start


@pytest.fixture(scope="module")
def pristine(tmp_path_factory, tiny_llm_dir):
    """A committed tiny workspace that has never run, and the outputs of one uninterrupted run of a copy of it."""
    folder = tmp_path_factory.mktemp("faults")
    workspace = make_workspace(folder / "pristine", pinned_params(tiny_llm_dir))
    for command in (("git", "init", "-q"), ("git", "config", "user.email", "ci@example.invalid"),
                    ("git", "config", "user.name", "ci"), ("git", "add", "-A"), ("git", "commit", "-qm", "tiny")):
        run(workspace, *command)
    reference = folder / "reference"
    shutil.copytree(workspace, reference)
    seconds = repro(reference)
    return workspace, data_digests(reference), seconds


@pytest.mark.parametrize("seed", SEEDS)
def test_a_killed_repro_resumes_to_the_uninterrupted_outputs(pristine, tmp_path, seed):
    workspace, expected, seconds = pristine
    copy = tmp_path / "workspace"
    shutil.copytree(workspace, copy)
    kill_after = np.random.default_rng(seed).uniform(0.1, 0.9) * seconds
    process = subprocess.Popen(["dvc", "repro", *TARGETS], cwd=copy, env=command_env(), start_new_session=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    with pytest.raises(subprocess.TimeoutExpired):  # a run that ends before the kill would prove nothing
        process.wait(timeout=kill_after)
    os.killpg(process.pid, signal.SIGKILL)  # dvc and the stage it runs, mid-write
    process.wait()
    run(copy, "dvc", "repro", *TARGETS)
    assert data_digests(copy) == expected
    assert json.loads(run(copy, "dvc", "status", "--json", *TARGETS)) == {}
    leftovers = [path for path in copy.rglob("*.tmp") if ".dvc" not in path.parts]
    assert not leftovers, leftovers
