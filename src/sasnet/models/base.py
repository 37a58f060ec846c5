"""The one interface every model family implements, for each task it serves, and how a fitted model is stored.

A family has one ``Recommender`` subclass (``<family>/model.py``, named by its package's ``MODEL``), built for one
task (``task``: classify or rank, among the family's ``TASKS``), as cornac's ``Recommender`` derives rating and
ranking from one fitted model. ``fit`` reads the task's data and calls the family's fit for that task:

- classify (``fit_classes``): fitted on the user split's train reviews (its valid reviews may stop it early or
  select it), then class probabilities (``predict_proba``) for any (user, business) examples
  (``histories.Examples``): the evaluated reviews, each left out of its own histories, or pairs asked about at
  inference; and, for the families that model them, star ratings (``predict_rating``);
- rank (``fit_ranking``): fitted on the leave-last-out split's train interactions (``sasnet.ranking.data``), the
  task's ``Validation`` its early-stopping or selection score, then a score of every catalogue item for users
  (``score``).

A family that serves both tasks keeps one fitted state, one save and one restore; what a task asks is derived from
the same network or factors. Families differ only in what they read (``READS``) and how they fit; evaluation, the
report and inference treat them all alike, and model code never imports a task's data or evaluation modules (the
task hands its data and its validation in), so a classifier's stage never runs ranking code and a ranker's never
runs the class task's.

A model folder holds ``model.safetensors`` (every array of the fitted state) and ``model.json`` (the family, the
task, its config, the class names, the model's input and any scalars of the state). Nothing is pickled.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
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


@dataclass(frozen=True)
class Validation:
    """A task's score of the model being fitted on its valid split, for the families that stop early or select on
    it. The task owns its metric (as RecBole's trainer owns its evaluator), so model code imports no evaluation."""

    metric: str  # the curves' column is valid/<metric>
    score: Callable[[Recommender], float]
    k: int  # the ranking cutoff, for a library that validates by itself (cornac's val_k)


class Recommender(ABC):
    """A model of one family with its config (the family's section with the entry's overrides), for one task."""

    def __init__(self, config: Any, class_names: Sequence[str], task: str):
        self.config = config
        self.class_names = list(class_names)
        self.task = task
        serving = family(self.family_name).TASKS
        if task not in serving:
            raise PipelineError(f"{type(self).__name__} serves {', '.join(serving)}, not {task!r}")

    @property
    def family_name(self) -> str:
        """The family's name: the folder its class lives in (sasnet/models/<family>/model.py)."""
        return type(self).__module__.split(".")[2]

    def fit(self, data: ModelData | RankingData, progress: bool = True,
            validation: Validation | None = None) -> FitResult:
        """Fit on the task's data: its train part, its valid part only to stop early or select (for rank, by
        ``validation``, which the rank task always gives)."""
        if self.task == "rank":
            return self.fit_ranking(data, validation, progress)
        return self.fit_classes(data, progress)

    # the class task
    def fit_classes(self, data: ModelData, progress: bool) -> FitResult:
        raise NotImplementedError

    def predict_proba(self, data: ModelData, examples: Examples) -> np.ndarray:
        """[n_examples, n_classes] class probabilities, rows summing to 1."""
        raise NotImplementedError

    def predict_rating(self, data: ModelData, examples: Examples) -> np.ndarray | None:
        """Predicted star ratings, for families that model them (their RMSE is reported); None otherwise."""
        return None

    # the ranking task
    def fit_ranking(self, data: RankingData, validation: Validation, progress: bool) -> FitResult:
        raise NotImplementedError

    def score(self, data: RankingData, split: str, users: np.ndarray) -> np.ndarray:
        """[len(users), n_items] scores (higher ranks first) from what each user showed before ``split``'s target
        (``RankingData.history``); the caller removes the items already seen."""
        raise NotImplementedError

    # the fitted state
    @abstractmethod
    def arrays(self) -> dict[str, np.ndarray]:
        """Every array of the fitted state, by name."""

    def state(self) -> dict[str, Any]:
        """JSON scalars of the fitted state besides its arrays."""
        return {}

    @abstractmethod
    def restore(self, arrays: dict[str, np.ndarray], state: dict[str, Any], data: ModelData | RankingData) -> None:
        """Set the fitted state from ``arrays()`` and ``state()`` as saved."""

    def save(self, folder: str | Path, model_input: dict[str, Any],
             data: ModelData | RankingData | None = None) -> None:
        """Save to ``folder``; with the ``data`` it was fitted on, its fingerprint, which inference requires."""
        folder = Path(folder)
        with atomic_path(folder / WEIGHTS) as tmp:
            # safetensors stores whole buffers: a transposed or broadcast view must be made contiguous first
            save_file({name: np.ascontiguousarray(array) for name, array in self.arrays().items()}, str(tmp))
        info = {
            "family": self.family_name,
            "task": self.task,
            "config": asdict(self.config),
            "class_names": self.class_names,
            "input": model_input,
            "fingerprint": None if data is None else fingerprint.of(data),
            "state": self.state(),
        }
        write_json(info, folder / INFO)


def read_info(folder: str | Path) -> dict[str, Any]:
    path = Path(folder) / INFO
    if not path.is_file():
        raise PipelineError(f"{path} is missing: not a trained model folder (run `dvc repro`)")
    return json.loads(path.read_text())


def load_model(folder: str | Path, data: ModelData | RankingData, info: dict[str, Any] | None = None) -> Recommender:
    """The model saved in ``folder``, ready to predict on ``data`` (the reviews or interactions it was trained with);
    ``info``: its ``read_info``, when the caller has read it already."""
    info = info or read_info(folder)
    config = build(family(info["family"]).Config, info["config"])
    model = model_class(info["family"])(config, info["class_names"], info["task"])
    model.restore(load_file(str(Path(folder) / WEIGHTS)), info["state"], data)
    return model
