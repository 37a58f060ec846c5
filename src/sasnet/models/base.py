"""The interfaces model families implement (class probabilities, ranking), and how a fitted model is stored.

A ``Recommender`` is fitted on the train reviews (the valid reviews may stop it early or select it) and then gives
class probabilities for any (user, business) examples (``histories.Examples``): the evaluated reviews, each left
out of its own histories, or pairs asked about at inference. Families differ only in what they read
(``READS``) and how they fit; evaluation, the report and inference treat them all alike.

A model folder holds ``model.safetensors`` (every array of the fitted state) and ``model.json`` (the family, its
config, the class names, the model's input and any scalars of the state). Nothing is pickled.

A ``Ranker`` scores every item of the catalogue for users of the ranking task's leave-last-out split
(``sasnet.ranking.data.RankingData``): the same save and load, another task.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from safetensors.numpy import load_file, save_file

from sasnet import fingerprint
from sasnet.config import build
from sasnet.errors import PipelineError
from sasnet.io import atomic_path, write_json
from sasnet.models import family, model_class

if TYPE_CHECKING:  # each task's data, for the annotations only: a classifier's stage never imports ranking code
    from sasnet.histories import Examples
    from sasnet.model_data import ModelData
    from sasnet.ranking.data import RankingData

WEIGHTS = "model.safetensors"
INFO = "model.json"


@dataclass
class FitResult:
    facts: dict[str, Any]  # JSON scalars about the fit (time, size, convergence, epochs) for the model's metrics
    curves: pd.DataFrame | None = None  # per-epoch scores (index: epoch from 1), for families that iterate


class StoredModel(ABC):
    """A fitted model whose state is arrays plus JSON scalars, saved as model.safetensors and model.json."""

    def __init__(self, config: Any, class_names: Sequence[str]):
        self.config = config
        self.class_names = list(class_names)

    @abstractmethod
    def arrays(self) -> dict[str, np.ndarray]:
        """Every array of the fitted state, by name."""

    def state(self) -> dict[str, Any]:
        """JSON scalars of the fitted state besides its arrays."""
        return {}

    @abstractmethod
    def restore(self, arrays: dict[str, np.ndarray], state: dict[str, Any], data: Any) -> None:
        """Set the fitted state from ``arrays()`` and ``state()`` as saved."""

    def save(self, folder: str | Path, model_input: dict[str, Any],
             data: ModelData | RankingData | None = None) -> None:
        """Save to ``folder``; with the ``data`` it was fitted on, its fingerprint, which inference requires."""
        folder = Path(folder)
        with atomic_path(folder / WEIGHTS) as tmp:
            # safetensors stores whole buffers: a transposed or broadcast view must be made contiguous first
            save_file({name: np.ascontiguousarray(array) for name, array in self.arrays().items()}, str(tmp))
        info = {
            "family": type(self).__module__.split(".")[2],
            "task": self.TASK,
            "config": asdict(self.config),
            "class_names": self.class_names,
            "input": model_input,
            "fingerprint": None if data is None else fingerprint.of(data),
            "state": self.state(),
        }
        write_json(info, folder / INFO)


class Recommender(StoredModel):
    """A model of one family with its config (the family's section with the model's overrides)."""

    TASK = "classify"

    @abstractmethod
    def fit(self, data: ModelData, progress: bool = True) -> FitResult:
        """Fit on ``data``'s train reviews (its valid reviews only for early stopping or selection)."""

    @abstractmethod
    def predict_proba(self, data: ModelData, examples: Examples) -> np.ndarray:
        """[n_examples, n_classes] class probabilities, rows summing to 1."""

    def predict_rating(self, data: ModelData, examples: Examples) -> np.ndarray | None:
        """Predicted star ratings, for families that model them (their RMSE is reported); None otherwise."""
        return None


class Ranker(StoredModel):
    """A model that orders the catalogue for a user (``class_names`` as for every stored model: split.bins)."""

    TASK = "rank"

    @abstractmethod
    def fit(self, data: RankingData, progress: bool = True, k: int = 10) -> FitResult:
        """Fit on the train interactions (the valid targets only for early stopping or selection: by NDCG@k, or by
        the family's own criterion, which its facts name)."""

    @abstractmethod
    def score(self, data: RankingData, split: str, users: np.ndarray) -> np.ndarray:
        """[len(users), n_items] scores (higher ranks first) from what each user showed before ``split``'s target
        (``RankingData.history``); the caller removes the items already seen."""


def read_info(folder: str | Path) -> dict[str, Any]:
    path = Path(folder) / INFO
    if not path.is_file():
        raise PipelineError(f"{path} is missing: not a trained model folder (run `dvc repro`)")
    return json.loads(path.read_text())


def load_model(folder: str | Path, data: ModelData | RankingData) -> StoredModel:
    """The model saved in ``folder``, ready to predict on ``data`` (the reviews or interactions it was trained with)."""
    info = read_info(folder)
    config = build(family(info["family"]).Config, info["config"])
    model = model_class(info["family"], info["task"])(config, info["class_names"])
    model.restore(load_file(str(Path(folder) / WEIGHTS)), info["state"], data)
    return model
