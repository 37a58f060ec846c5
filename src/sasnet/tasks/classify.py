"""The classification task: every model gives class probabilities for the valid and test reviews of the user
split (each review left out of its own histories), scored with intervals (``sasnet.evaluation``)."""

from __future__ import annotations

from sasnet import paths
from sasnet.evaluation import EVALUATED_SPLITS, score_model, write_predictions
from sasnet.model_data import ModelData, load_model_data
from sasnet.models.base import FitResult, Recommender
from sasnet.params import ModelEntry, Params
from sasnet.tasks import Task


class Classify(Task):
    name, entry_key = "classify", "model"
    model_dir, metrics_file, curves_file = (staticmethod(paths.model_dir), staticmethod(paths.model_metrics),
                                            staticmethod(paths.training_curves))

    def load_data(self, params: Params, entry: ModelEntry) -> ModelData:
        return load_model_data(entry.loader_input)

    def fit(self, model: Recommender, data: ModelData, params: Params) -> FitResult:
        return model.fit(data)

    def evaluate(self, model: Recommender, data: ModelData, params: Params, name: str) -> tuple[dict, dict]:
        class_names = list(params.split.bins)
        examples = {split: data.histories.examples(data.rows_of(split)) for split in EVALUATED_SPLITS}
        probabilities = {split: model.predict_proba(data, examples[split]) for split in EVALUATED_SPLITS}
        ratings = {split: model.predict_rating(data, examples[split]) for split in EVALUATED_SPLITS}
        write_predictions(name, data, probabilities, class_names)
        return {}, score_model(data, probabilities, class_names, params.evaluation, params.item_slices,
                               None if ratings["valid"] is None else ratings)

    def valid_scores(self, scores: dict, params: Params) -> dict[str, float]:
        return {f"valid/{score}": scores["valid"][score] for score in ("accuracy", "macro_f1")}


CLASSIFY = Classify()
