"""The kinds of input a model or ranker reads, in one registry: how params.yaml names it, its validation rule, the
DVC path its stage depends on, what its loader is given, and its label in the report.

A family declares the kind it reads as ``READS`` in its package (``sasnet/models/<family>/__init__.py``); an entry
of params.yaml's ``models`` or ``rankers`` map names the input itself (``input``, and ``pooling`` for an embedding).
dvc.yaml declares ``data/<input>`` as the stage's dep, so an input is always a folder under data/.

Light on purpose: validating params.yaml imports it, never the loaders.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from sasnet.embeddings.configs import POOLINGS



@dataclass(frozen=True)
class TaskLayout:
    """Where a task lives: its params.yaml map of entries, the dvc.yaml foreach stage that fits one entry
    (``<stage>@<entry>``), and its own data (``data/<split>``: the user split, or leave-last-out by time), the input
    of a family that reads nothing else."""

    section: str
    stage: str
    split: str


TASKS = {"classify": TaskLayout("models", "train", "split"), "rank": TaskLayout("rankers", "rank", "rank_split")}
NORMALIZED = "normalized/"  # an embedding input: normalized/<embed.encoders entry>
SEMANTIC_IDS = "semantic_ids"

# The matrices each encoder writes (data/normalized/<encoder run>/<pooling>.npy or .npz).
ENCODER_POOLINGS = {"tfidf": ("tfidf",), "minilm": ("mean",), "llm": POOLINGS}


@dataclass(frozen=True)
class ModelInput:
    """What a model's loader is given: the embedding entry and pooling, or whether it reads the semantic IDs."""

    embedding: str | None = None  # an embed.encoders entry
    pooling: str | None = None
    semantic_ids: bool = False


@dataclass(frozen=True)
class InputKind:
    """One kind of input. ``READS`` in a family package names it."""

    name: str
    reads_text: bool  # refused when data.source has no review text
    summary: str  # for messages: what the family reads

    def valid_inputs(self, task: str, encoders: Mapping[str, Any]) -> list[str]:
        if self.name == "embedding":
            return [f"{NORMALIZED}{run}" for run in encoders]
        return [SEMANTIC_IDS] if self.name == "semantic_ids" else [TASKS[task].split]

    def problems(self, family: str, task: str, model_input: str, pooling: str | None,
                 encoders: Mapping[str, Any]) -> list[str]:
        """What is wrong with an entry's ``input`` and ``pooling`` (messages start with '.<key>')."""
        valid = self.valid_inputs(task, encoders)
        if model_input not in valid:
            return [f".input: family {family!r} reads {self.summary}: use {' or '.join(map(repr, valid)) or 'none'} "
                    f"(got {model_input!r})"]
        if self.name != "embedding":
            return [] if pooling is None else [f".pooling: only an embedding has a pooling (got {pooling!r})"]
        encoder = encoders[model_input.removeprefix(NORMALIZED)].encoder
        if pooling not in ENCODER_POOLINGS[encoder]:
            return [f".pooling: got {pooling!r}; encoder {encoder!r} writes "
                    + ", ".join(map(repr, ENCODER_POOLINGS[encoder]))]
        return []

    def loader_input(self, model_input: str, pooling: str | None) -> ModelInput:
        if self.name == "embedding":
            return ModelInput(model_input.removeprefix(NORMALIZED), pooling)
        return ModelInput(semantic_ids=self.name == "semantic_ids")

    def label(self, model_input: str, pooling: str | None) -> str:
        """How the report names the input: 'ratings', 'minilm/mean', 'semantic IDs', ..."""
        if self.name == "embedding":
            return f"{model_input.removeprefix(NORMALIZED)}/{pooling}"
        return {"ratings": "ratings", "review_text": "ratings and text", "semantic_ids": "semantic IDs"}[self.name]


INPUT_KINDS = {kind.name: kind for kind in (
    InputKind("ratings", reads_text=False, summary="only its task's ratings"),
    InputKind("review_text", reads_text=True, summary="its task's ratings and review text"),
    InputKind("embedding", reads_text=True, summary="a review embedding"),
    InputKind("semantic_ids", reads_text=False, summary="the catalogue's semantic IDs"),
)}


def input_kind(family_package: Any) -> InputKind:
    """The kind a family package's ``READS`` names."""
    return INPUT_KINDS[family_package.READS]
