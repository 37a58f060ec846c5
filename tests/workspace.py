"""A tiny, CPU-quick copy of the real pipeline: the repository's params.yaml shrunk, in a temporary folder."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from conftest import REPO_ROOT
from sasnet.config import build
from sasnet.params import Params

# Only sizes change; every other value is the repository's own default.
TINY_OVERRIDES = {
    "demo.n_users": 400,
    "demo.n_businesses": 60,
    "filter.min_user_reviews": 4,
    "filter.min_business_reviews": 8,
    "sample.target_users": 40,
    "sample.reviews_per_user": 4,
    "sample.target_businesses": 15,
    "sample.reviews_per_business": 8,
    "scoring.min_reviews_per_category": 5,
    "scoring.bootstrap_samples": 20,
    "evaluation.bootstrap_samples": 20,
    "sasnet.batch_size": 64,
    "sasnet.hidden_dim": 16,
    "sasnet.heads": 2,
    "sasnet.ffn_dim": 32,
    "sasnet.epochs": 3,
    "sasnet.patience": 2,
    "sasnet.eval_draws": 2,
    "ranking.bootstrap_samples": 20,
    "sasrec.epochs": 3,
    "sasrec.patience": 2,
    "sasrec.hidden_dim": 8,
    "sasrec.max_len": 8,
    "bert4rec.epochs": 3,
    "bert4rec.patience": 2,
    "bert4rec.hidden_dim": 8,
    "bert4rec.max_len": 8,
    "gru4rec.epochs": 3,
    "gru4rec.patience": 2,
    "gru4rec.hidden_dim": 8,
    "gru4rec.max_len": 8,
    "xlstm.epochs": 3,
    "xlstm.patience": 2,
    "xlstm.hidden_dim": 8,
    "xlstm.max_len": 8,
}
DVC_STAGES = yaml.safe_load((REPO_ROOT / "dvc.yaml").read_text())["stages"]
PIPELINE_FILES = ("dvc.yaml", "stages", "src", "data/raw/README.md", ".dvc/config", ".dvc/.gitignore", ".gitignore")


def set_dotted(tree: dict, dotted: str, value) -> None:
    *parents, last = dotted.split(".")
    for key in parents:
        tree = tree[key]
    if last not in tree:
        raise KeyError(f"{dotted} is not in params.yaml")
    tree[last] = value


def tiny_params(llm_dir: Path, **overrides) -> dict:
    """The repository's params.yaml with TINY_OVERRIDES, the tiny LLM in ``llm_dir``, then ``overrides``
    (dotted keys with '__' for '.')."""
    params = yaml.safe_load((REPO_ROOT / "params.yaml").read_text())
    overrides = {"embed.llm.model": str(llm_dir), **{k.replace("__", "."): v for k, v in overrides.items()}}
    for dotted, value in {**TINY_OVERRIDES, **overrides}.items():
        set_dotted(params, dotted, value)
    return params


def make_workspace(folder: Path, params: dict) -> Path:
    """Copy the pipeline (not data, not the venv) into ``folder`` and write ``params`` there."""
    for name in PIPELINE_FILES:
        source, target = REPO_ROOT / name, folder / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__", "tmp"))
        else:
            shutil.copy2(source, target)
    (folder / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    return folder


def command_env() -> dict:
    """Environment for dvc and stage subprocesses: this interpreter's venv first on PATH, no analytics."""
    env = dict(os.environ, DVC_NO_ANALYTICS="1", HF_HUB_OFFLINE="1")
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return env


def run(folder: Path, *command: str) -> str:
    """Run a command in ``folder``; on failure raise with its full output."""
    done = subprocess.run(command, cwd=folder, env=command_env(), capture_output=True, text=True)
    if done.returncode != 0:
        raise AssertionError(f"{' '.join(command)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return done.stdout + done.stderr


def expand_stages(
    params: dict, section: str = "params", dvc_stages: dict | None = None
) -> list[tuple[str, str, list[str], tuple[str, ...]]]:
    """(stage name, script, declared entries of ``section`` (params or deps), script arguments) for every stage of
    ``dvc_stages`` (default: dvc.yaml's), foreach stages expanded as DVC does."""
    stages = []
    for name, stage in (DVC_STAGES if dvc_stages is None else dvc_stages).items():
        if "foreach" not in stage:
            stages.append((name, stage["cmd"].split()[1], stage[section], ()))
            continue
        items = params
        for key in stage["foreach"].removeprefix("${").removesuffix("}").split("."):
            items = items[key]
        for key, item in items.items():
            values = {"${key}": key, **{f"${{item.{field}}}": str(value) for field, value in item.items()}}
            declared = []
            for entry in stage["do"][section]:
                for placeholder, value in values.items():
                    entry = entry.replace(placeholder, value)
                declared.append(entry)
            stages.append((f"{name}@{key}", stage["do"]["cmd"].split()[1], declared, (key,)))
    return stages


def stage_module(script: str):
    spec = importlib.util.spec_from_file_location(Path(script).stem, REPO_ROOT / script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_in_process(params: dict, stop_after: str | None = None) -> None:
    """Run every stage's ``run`` in pipeline order in the current folder (no DVC), up to ``stop_after``."""
    built = build(Params, params)
    for name, script, _, arguments in expand_stages(params):
        stage_module(script).run(built, *arguments)
        if name == stop_after:
            return
