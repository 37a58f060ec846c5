"""Shrunk class shares of each example's two pools (its own review left out) into a multinomial logistic regression."""

from __future__ import annotations

import time
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from sasnet.classification import class_shares
from sasnet.histories import Examples
from sasnet.model_data import ModelData
from sasnet.models.base import FitResult, Recommender
from sasnet.models.sklearn_state import load_pipeline, pipeline_state


def star_history_features(data: ModelData, examples: Examples, prior: np.ndarray, strength: float) -> np.ndarray:
    """[n, 2 (classes + 1)]: per pool (user, then business), the shrunk class shares and log(1 + pool size)."""
    counts = data.histories.pool_label_counts(data.labels, len(prior), examples)  # [n, 2, classes]
    sizes = counts.sum(axis=2, keepdims=True)
    shares = (counts + strength * prior) / np.maximum(sizes + strength, 1e-12)
    return np.concatenate([shares, np.log1p(sizes)], axis=2).reshape(len(examples), -1)


class StarHistoryRecommender(Recommender):
    model: Pipeline
    prior: np.ndarray

    def fit_classes(self, data: ModelData, progress: bool) -> FitResult:
        train = data.histories.examples(data.rows_of("train"))
        start = time.perf_counter()
        self.prior = class_shares(data.labels[train.rows], len(self.class_names))
        features = star_history_features(data, train, self.prior, self.config.prior_strength)
        self.model = make_pipeline(StandardScaler(), LogisticRegression(C=self.config.C, max_iter=self.config.max_iter))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            self.model.fit(features, data.labels[train.rows])
        return FitResult({
            "train_reviews": len(train),
            "features": int(features.shape[1]),
            "converged": bool(np.max(self.model[-1].n_iter_) < self.config.max_iter),
            "fit_seconds": time.perf_counter() - start,
        })

    def predict_proba(self, data: ModelData, examples: Examples) -> np.ndarray:
        features = star_history_features(data, examples, self.prior, self.config.prior_strength)
        probabilities = np.zeros((len(examples), len(self.class_names)))
        probabilities[:, self.model.classes_] = self.model.predict_proba(features)  # a class absent from train: 0
        return probabilities

    def arrays(self) -> dict[str, np.ndarray]:
        return {"prior": self.prior, **pipeline_state(self.model, "model")[0]}

    def state(self) -> dict:
        return {"steps": pipeline_state(self.model, "model")[1]}

    def restore(self, arrays: dict[str, np.ndarray], state: dict, data: ModelData) -> None:
        self.prior = arrays["prior"]
        self.model = load_pipeline(arrays, state["steps"], "model")
