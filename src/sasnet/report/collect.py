"""The report's inputs: every model's and ranker's metrics and the models' test predictions, read and checked against
params.yaml and against each other before anything is written."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from sasnet import paths
from sasnet.classification import confusion_counts
from sasnet.errors import PipelineError

REPORT_KEYS = (
    "examples", "users", "accuracy", "accuracy_low", "accuracy_high", "macro_f1", "macro_f1_low", "macro_f1_high",
    "weighted_f1", "majority_class", "majority_accuracy", "f1_per_class", "support_per_class", "confusion_matrix",
)
# The columns of collect_test_predictions that are not a model's predictions.
REVIEW_COLUMNS = ("review_id", "user_id", "label")


def expected_models(models: Mapping[str, Any]) -> dict[str, dict]:
    """Model name -> its family, input and pooling, from params.yaml's ``models`` map."""
    if not models:
        raise PipelineError("report: no models to compare (params.yaml's models map is empty)")
    return {name: entry.describe() for name, entry in models.items()}


def producing_stage(model: str) -> str:
    """The DVC stage that trains ``model``."""
    return f"train@{model}"


def require_output(path: str | os.PathLike, stage: str) -> Path:
    """``path``, which another stage writes; a missing one names the stage to run."""
    path = Path(path)
    if not path.is_file():
        raise PipelineError(f"{path} is missing: the `{stage}` stage writes it (run `dvc repro {stage}`)")
    return path


def read_metrics(path: str | os.PathLike, stage: str) -> dict:
    return json.loads(require_output(path, stage).read_text())


def collect_models(expected: Mapping[str, dict], class_names: Sequence[str]) -> dict[str, dict]:
    """Each model's metrics JSON, checked against params: same family, input, classes and the report's keys."""
    collected = {}
    for model, spec in expected.items():
        stage = producing_stage(model)
        path = paths.model_metrics(model)
        metrics = read_metrics(path, stage)
        stale = f"rerun `dvc repro {stage}`"
        written_for = {key: metrics.get(key) for key in spec}
        if written_for != spec:
            raise PipelineError(f"{path} is for {written_for}, params ask for {spec}: {stale}")
        for split in ("valid", "test"):
            missing = [key for key in REPORT_KEYS if key not in metrics.get(split, {})]
            if missing:
                raise PipelineError(f"{path}: '{split}' lacks {missing}: {stale}")
            if list(metrics[split]["f1_per_class"]) != list(class_names):
                raise PipelineError(
                    f"{path} scores classes {list(metrics[split]['f1_per_class'])}, split.bins has "
                    f"{list(class_names)}: {stale}"
                )
        collected[model] = metrics
    return collected


def collect_test_predictions(metrics: Mapping[str, dict], class_names: Sequence[str]) -> pd.DataFrame:
    """The test reviews (review_id, user_id, label) and one column of predicted class indices per model.

    Every model must score the same test reviews with the same users and labels, and its predictions must give the
    confusion matrix its metrics report (otherwise the two files come from different runs).
    """
    joined = None
    for model, model_metrics in metrics.items():
        stage = producing_stage(model)
        path = require_output(paths.predictions_file(model), stage)
        frame = pd.read_parquet(path)
        missing = {"review_id", "user_id", "split", "label", "predicted"} - set(frame.columns)
        if missing:
            raise PipelineError(f"{path} lacks columns {sorted(missing)}: rerun `dvc repro {stage}`")
        test = frame[frame["split"] == "test"].set_index("review_id")
        if test.index.has_duplicates:
            raise PipelineError(f"{path} lists some test reviews more than once: rerun `dvc repro {stage}`")
        confusion = confusion_counts(test["label"].to_numpy(), test["predicted"].to_numpy(), len(class_names))
        if confusion.tolist() != model_metrics["test"]["confusion_matrix"]:
            raise PipelineError(
                f"{path} and {paths.model_metrics(model)} disagree on the test confusion matrix: they come from "
                f"different runs; rerun `dvc repro {stage}`"
            )
        if joined is None:
            first = model
            joined = test[["user_id", "label"]].copy()
        elif set(test.index) != set(joined.index):
            only_here, only_first = len(test.index.difference(joined.index)), len(joined.index.difference(test.index))
            raise PipelineError(
                f"{model} and {first} score different test reviews ({only_here} only in {model}, {only_first} only "
                f"in {first}): McNemar's test needs the same reviews; rerun their stages on the same split"
            )
        elif not test["label"].reindex(joined.index).equals(joined["label"]):
            raise PipelineError(f"{model} and {first} give some test reviews different labels: rerun their stages")
        elif not test["user_id"].reindex(joined.index).equals(joined["user_id"]):
            raise PipelineError(f"{model} and {first} give some test reviews different users: rerun their stages")
        joined[model] = test["predicted"].reindex(joined.index)
    return joined.reset_index()


def iterative_curves(models: Sequence[str]) -> dict[str, pd.DataFrame]:
    """The per-epoch scores of every model that trained for more than one epoch."""
    curves = {}
    for model in models:
        history = pd.read_csv(require_output(paths.training_curves(model), producing_stage(model)), index_col="epoch")
        if len(history) > 1:
            curves[model] = history
    return curves


def collect_rankers(rankers: Mapping[str, Any]) -> dict[str, dict]:
    """Each ranker's metrics JSON (``rank@<ranker>``), checked against its params entry."""
    collected = {}
    for name, entry in rankers.items():
        stage = f"rank@{name}"
        metrics = read_metrics(paths.ranker_metrics(name), stage)
        if metrics.get("family") != entry.family:
            raise PipelineError(f"{paths.ranker_metrics(name)} is for family {metrics.get('family')!r}, params ask "
                                f"for {entry.family!r}: rerun `dvc repro {stage}`")
        collected[name] = metrics
    return collected
