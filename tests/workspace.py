"""A tiny, CPU-quick copy of the real pipeline: the repository's params.yaml shrunk, in a temporary folder.

``pinned_params`` is the tiny pipeline the tests train once (conftest's session fixture ``tiny_pipeline``): not
params.yaml's default entries but one ``models`` entry per family that classifies and one ``rankers`` entry per
family that ranks, derived from the family registry (src/sasnet/models), so a new family is covered without
editing the tests and a new default entry in params.yaml does not slow them.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import importlib.util
import subprocess
from pathlib import Path

import yaml

import driver_kit  # benchmarks/driver_kit.py (pytest's pythonpath): the workspace helpers the study drivers use too
from conftest import REPO_ROOT
from driver_kit import PIPELINE_FILES as PIPELINE_FILES, make_workspace as make_workspace, repository_params
from sasnet import models
from sasnet.config import build
from sasnet.inputs import ENCODER_POOLINGS, NORMALIZED, input_kind
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
    "evaluation.min_examples": 10,  # the tiny split's valid and test sets hold 16 reviews each
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
    "semantic_mf.epochs": 3,
    "ctr.epochs": 3,
    "ctr.patience": 2,
    "ctr.hidden_dims": [8],
    "cornac_seq.epochs": 2,
    "cornac_seq.val_every": 1,
    "cornac_seq.hidden_dim": 8,
    "cornac_seq.max_len": 8,
    "cornac_seq.blocks": 1,
    "cornac_seq.negatives": 16,
    "tiger.epochs": 2,
    "tiger.d_model": 8,
    "tiger.d_ff": 16,
    "tiger.d_kv": 4,
    "tiger.encoder_layers": 1,
    "tiger.decoder_layers": 1,
    "tiger.max_len": 4,
    "tiger.beams": 10,  # ranking.k
}
# The embed.encoders entry that every pinned family reading a review embedding reads: dense (SASNet refuses a
# sparse one), and MiniLM runs in any case (semantic_ids and score_embeddings embed texts with it).
PINNED_ENCODER = "minilm"
DVC_STAGES = yaml.safe_load((REPO_ROOT / "dvc.yaml").read_text())["stages"]


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
    params = repository_params()
    overrides = {"embed.llm.model": str(llm_dir), **{k.replace("__", "."): v for k, v in overrides.items()}}
    for dotted, value in {**TINY_OVERRIDES, **overrides}.items():
        set_dotted(params, dotted, value)
    return params


def pinned_input(family: str, task: str, encoders: dict) -> dict:
    """The input (and pooling) of a pinned ``task`` entry (classify or rank) of ``family``, from the kind of input
    the family reads (sasnet.inputs): its first valid input, an embedding being PINNED_ENCODER's first pooling."""
    kind = input_kind(models.family(family))
    model_input = kind.valid_inputs(task, {PINNED_ENCODER: encoders[PINNED_ENCODER]})[0]
    if not model_input.startswith(NORMALIZED):
        return {"input": model_input}
    return {"input": model_input, "pooling": ENCODER_POOLINGS[encoders[PINNED_ENCODER]["encoder"]][0]}


def pinned_entries(encoders: dict) -> tuple[dict, dict]:
    """(models, rankers): one entry per family that classifies and one per family that ranks, each named after its
    family, with the family's own params section (no overrides)."""
    return tuple(
        {family: {"family": family, **pinned_input(family, task, encoders)}
         for family in models.FAMILIES if models.serves(family, task)}
        for task in ("classify", "rank")
    )


def pinned_params(llm_dir: Path, **overrides) -> dict:
    """``tiny_params`` with the pinned entries in place of params.yaml's ``models`` and ``rankers``, and as
    encoders the first embed.encoders entry of each encoder (tfidf, minilm, llm: every embedding code path, and
    more than one method for score_embeddings and significance to compare) plus any a pinned entry reads."""
    params = tiny_params(llm_dir, **overrides)
    encoders = params["embed"]["encoders"]
    params["models"], params["rankers"] = pinned_entries(encoders)
    kept = {}
    for name, run in encoders.items():
        kept.setdefault(run["encoder"], name)
    read = {entry["input"].removeprefix(NORMALIZED) for section in ("models", "rankers")
            for entry in params[section].values() if entry["input"].startswith(NORMALIZED)}
    params["embed"]["encoders"] = {name: run for name, run in encoders.items() if name in {*kept.values(), *read}}
    return params


PINNED_MODELS, PINNED_RANKERS = pinned_entries(repository_params()["embed"]["encoders"])


def command_env() -> dict:
    """Environment for dvc and stage subprocesses: this interpreter's venv first on PATH, no analytics, one thread
    (see ``one_thread``)."""
    return dict(driver_kit.command_env(), OMP_NUM_THREADS="1")


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


@contextlib.contextmanager
def one_thread():
    """torch, BLAS and OpenMP on one thread, as the stage processes of ``command_env`` run: the same arithmetic as
    theirs, and on a shared 2-core machine no thread spinning for a core another job holds (tiny pipelines ran up to
    20x slower with two)."""
    import torch
    from threadpoolctl import threadpool_limits

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with threadpool_limits(1):
            yield
    finally:
        torch.set_num_threads(threads)


class Recorder:
    """Wraps a params dataclass and records the dotted path of every leaf value read through it.

    It passes for the wrapped dataclass (``dataclasses.is_dataclass``, ``fields`` and ``__class__``), so code that
    walks a section's fields or copies it with changes (``dataclasses.replace``, as ``sasnet.config.with_overrides``
    does) reads, and records, each field it takes from it.
    """

    _classes: dict[type, type] = {}

    def __new__(cls, node, path: str, reads: set[str]):
        wrapped = type(node)
        if wrapped not in Recorder._classes:
            Recorder._classes[wrapped] = type(f"Recorded{wrapped.__name__}", (Recorder,),
                                              {"__dataclass_fields__": wrapped.__dataclass_fields__,
                                               "__class__": property(lambda _self: wrapped)})
        return object.__new__(Recorder._classes[wrapped])

    def __init__(self, node, path: str, reads: set[str]):
        self._node, self._path, self._reads = node, path, reads

    def __getattr__(self, name: str):
        value = getattr(self._node, name)
        path = f"{self._path}.{name}" if self._path else name
        if dataclasses.is_dataclass(value):
            return Recorder(value, path, self._reads)
        if name in {field.name for field in dataclasses.fields(self._node)}:
            self._reads.add(path)
        return value


def run_in_process(params: dict, stop_after: str | None = None, reads: dict[str, set[str]] | None = None) -> None:
    """Run every stage's ``run`` in pipeline order in the current folder (no DVC), up to ``stop_after``; with
    ``reads``, each stage's params go through a Recorder and ``reads[stage]`` collects the params it read."""
    built = build(Params, params)
    for name, script, _, arguments in expand_stages(params):
        stage_params = built if reads is None else Recorder(built, "", reads.setdefault(name, set()))
        stage_module(script).run(stage_params, *arguments)
        if name == stop_after:
            return


def file_digests(folder: Path, under: str = "data") -> dict[str, str]:
    """md5 of every file below ``folder/under``, by its path relative to ``folder``."""
    return {
        path.relative_to(folder).as_posix(): hashlib.md5(path.read_bytes()).hexdigest()
        for path in sorted((folder / under).rglob("*"))
        if path.is_file()
    }
