"""What the study drivers share (not a driver): a workspace of the pipeline, DVC run in it, and their tables' cells.

A workspace is a folder holding a copy of the pipeline (dvc.yaml, stages, the library) and a params.yaml of its own,
so that a run never touches the checkout's data/, metrics/ or params.yaml. The drivers make theirs with
``dvc_workspace`` (a DVC repository without git); tests/workspace.py builds its tiny pipeline with ``make_workspace``
and ``PIPELINE_FILES`` (the DVC and git files too: its workspaces are git repositories). This module lives here, not
in tests/, because a driver runs as ``python benchmarks/bench_x.py``, with benchmarks/ on sys.path and tests/ not,
while pytest's pythonpath has both (tests/workspace.py, which needs pytest's conftest, is no module for a driver).

Table cells: an estimate with its interval is ``sasnet.report.markdown.with_interval`` (results.md's own; ``number``,
``signed``, ``p_value`` and ``slice_cell`` likewise), a signed difference with its interval ``signed_interval``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parents[1]
# What a stage needs to run: the pipeline, its scripts and the library (src, for the workspace's own PYTHONPATH).
PIPELINE_CODE = ("dvc.yaml", "stages", "src", "data/raw/README.md")
# ... and the repository's DVC and git files, for a workspace that is a DVC repository in git as the checkout is.
PIPELINE_FILES = (*PIPELINE_CODE, ".dvc/config", ".dvc/.gitignore", ".gitignore")


def repository_params() -> dict:
    """The checkout's params.yaml, as a plain tree to edit."""
    return yaml.safe_load((REPO_ROOT / "params.yaml").read_text())


def write_params(folder: Path, params: dict) -> None:
    (folder / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))


def make_workspace(folder: Path, params: dict, files: tuple[str, ...] = PIPELINE_FILES) -> Path:
    """Copy ``files`` of the checkout (not data, not the venv) into ``folder`` and write ``params`` there."""
    for name in files:
        source, target = REPO_ROOT / name, folder / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__", "tmp"))
        else:
            shutil.copy2(source, target)
    write_params(folder, params)
    return folder


def command_env(src: Path | None = None, threads: int | None = None) -> dict:
    """Environment for dvc and stage subprocesses: this interpreter's venv first on PATH, no analytics, the Hugging
    Face hub offline; with ``src``, that copy of the library on PYTHONPATH (a workspace's own, not the editable
    checkout's, which may change during a run); with ``threads``, OpenMP and MKL on that many threads."""
    env = dict(os.environ, DVC_NO_ANALYTICS="1", HF_HUB_OFFLINE="1")
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    if src is not None:
        env["PYTHONPATH"] = str(src)
    if threads:
        env |= {"OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
    return env


def dvc_workspace(folder: Path, params: dict, threads: int | None = None) -> dict:
    """A workspace of PIPELINE_CODE with ``params`` in ``folder``, made a DVC repository without git (`dvc init
    --no-scm`); returns the environment to run dvc and its stages there (``command_env`` with the workspace's own
    library)."""
    make_workspace(folder, params, PIPELINE_CODE)
    env = command_env(folder / "src", threads)
    subprocess.run(["dvc", "init", "--no-scm", "-q"], cwd=folder, env=env, check=True)
    return env


def run_in_parallel(stages: list[str], upstream: list[str], folder: Path, env: dict, jobs: int) -> None:
    """``dvc repro`` of ``upstream``, then each foreach stage's own command (``train@x``: python stages/train.py x)
    ``jobs`` at a time in the order given, and ``dvc commit`` records them: `dvc repro` runs one stage at a time,
    and two concurrent `dvc repro` calls fail on the repository lock."""
    subprocess.run(["dvc", "repro", *upstream], cwd=folder, env=env, check=True)
    queue, running = list(stages), []
    while queue or running:
        while queue and len(running) < jobs:
            template, _, key = queue.pop(0).partition("@")
            running.append(subprocess.Popen([sys.executable, f"stages/{template}.py", key], cwd=folder, env=env))
        time.sleep(1)
        for process in [process for process in running if process.poll() is not None]:
            if process.returncode:
                for other in running:
                    other.kill()
                raise subprocess.CalledProcessError(process.returncode, process.args)
            running.remove(process)
    subprocess.run(["dvc", "commit", "--force", *stages], cwd=folder, env=env, check=True)


def signed_interval(report: Mapping[str, Any], metric: str) -> str:
    """A difference with its interval, every number signed ("+0.012 [-0.004, +0.030]"); "—" for a missing one,
    no interval where a bound is missing: ``sasnet.report.markdown.with_interval`` for a difference."""
    from sasnet.report.markdown import signed  # here, not above: tests/workspace.py imports this module without torch

    low, high = report.get(f"{metric}_low"), report.get(f"{metric}_high")
    return signed(report[metric]) + ("" if low is None or high is None else f" [{signed(low)}, {signed(high)}]")
