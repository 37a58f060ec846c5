"""The train class shares as every example's probabilities; ties go to the lower class (``majority_class``)."""

from __future__ import annotations

import numpy as np

from sasnet.classification import class_shares
from sasnet.histories import Examples
from sasnet.model_data import ModelData
from sasnet.models.base import FitResult, Recommender


class MajorityRecommender(Recommender):
    shares: np.ndarray

    def fit_classes(self, data: ModelData, progress: bool) -> FitResult:
        self.shares = class_shares(data.labels[data.rows_of("train")], len(self.class_names))
        return FitResult({"train_class_shares": dict(zip(self.class_names, self.shares.tolist()))})

    def predict_proba(self, data: ModelData, examples: Examples) -> np.ndarray:
        return np.tile(self.shares, (len(examples), 1))

    def arrays(self) -> dict[str, np.ndarray]:
        return {"shares": self.shares}

    def restore(self, arrays: dict[str, np.ndarray], state: dict, data: ModelData) -> None:
        self.shares = arrays["shares"]
