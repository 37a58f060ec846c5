"""The fit-and-score skeleton both tasks share: build the entry's model, fit it, save it, score it on valid and test,
write its curves and metrics. A ``Task`` (``classify``: the user split's classes; ``rank``: top-k over the catalogue
on the leave-last-out split) owns what differs: its params map, its data loader, its evaluation, its output paths
and its metrics layout.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from sasnet.errors import PipelineError
from sasnet.inputs import TASKS
from sasnet.io import atomic_dir, write_csv, write_json
from sasnet.models import model_class
from sasnet.models.base import FitResult, Recommender
from sasnet.params import ModelEntry, Params, entry_config
from sasnet.stage import stage_seconds


class Task(ABC):
    name: str  # classify | rank: a key of sasnet.inputs.TASKS, what a family's TASKS name
    entry_key: str  # the metrics' key naming the entry

    @property
    def section(self) -> str:
        """The params.yaml map of its entries."""
        return TASKS[self.name].section

    @property
    def stage(self) -> str:
        """The DVC foreach stage that runs an entry: <stage>@<entry>."""
        return TASKS[self.name].stage

    def entry(self, params: Params, name: str) -> ModelEntry:
        entries = getattr(params, self.section)
        if name not in entries:
            raise PipelineError(f"{self.section}: no entry {name!r}; entries: {', '.join(map(repr, entries))}")
        return entries[name]

    @abstractmethod
    def load_data(self, params: Params, entry: ModelEntry) -> Any:
        """What the entry's model reads: its task's split with the entry's input (``sasnet.inputs``)."""

    @abstractmethod
    def fit(self, model: Recommender, data: Any, params: Params) -> FitResult: ...

    @abstractmethod
    def evaluate(self, model: Recommender, data: Any, params: Params, name: str) -> tuple[dict, dict]:
        """Score the fitted model on valid and test and write its per-example output: (the metrics' header fields
        besides the entry's input, {split: scores})."""

    @abstractmethod
    def valid_scores(self, scores: dict, params: Params) -> dict[str, float]:
        """The curve of a one-shot fit: its valid scores, as the columns an iterative fit writes per epoch."""

    # where an entry's outputs go (sasnet.paths), each a function of the entry's name
    model_dir: Callable[[str], Path]
    metrics_file: Callable[[str], Path]
    curves_file: Callable[[str], Path]


def fit_and_score(task: Task, params: Params, name: str) -> None:
    """Fit entry ``name`` of the task's params map and write its model, outputs, curves and metrics."""
    entry = task.entry(params, name)
    data = task.load_data(params, entry)
    model = model_class(entry.family)(entry_config(params, task.section, name), list(params.split.bins), task.name)
    fitted = task.fit(model, data, params)
    with atomic_dir(task.model_dir(name)) as out_dir:
        model.save(out_dir, entry.describe(), data)
    header, scores = task.evaluate(model, data, params, name)
    curves = fitted.curves
    if curves is None:  # a one-shot fit: its valid scores as the only epoch
        valid = {column: [value] for column, value in task.valid_scores(scores, params).items()}
        curves = pd.DataFrame(valid, index=pd.RangeIndex(1, 2, name="epoch"))
    write_csv(curves.reset_index(), task.curves_file(name))
    write_json({task.entry_key: name, **entry.describe(), **header, **scores, "fit": fitted.facts,
                "stage_seconds": stage_seconds()}, task.metrics_file(name))
