"""The ``svm`` family: the paper's SVM baselines on the mean of the user's and the business's other reviews.

This module holds the family's params section only; the model is in ``model``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

READS_EMBEDDING = True


@dataclass(frozen=True)
class SvmConfig:
    kernel: Literal["linear", "rbf"]  # linear: LinearSVC, scales to the full train split; rbf: SVC, use a subset
    C: float  # inverse regularisation strength
    gamma: Literal["scale", "auto"] | float  # rbf kernel width; scale: 1 / (features x feature variance)
    class_weight: Literal["balanced"] | None  # balanced: weight each class by its inverse train frequency
    max_train_reviews: int | None  # fit on a seeded random subset of this many train examples (paper: 4000); null: all
    max_iter: int  # solver iteration cap (liblinear or libsvm iterations); a fit that reaches it has not converged
    seed: int  # the subset, and liblinear's coordinate order
    include_target: bool  # ablation (the paper's likely protocol): average the target into its own means; a leak

    def check(self) -> list[str]:
        problems = []
        if self.C <= 0:
            problems.append(f"C: must be > 0 (got {self.C})")
        if isinstance(self.gamma, float) and self.gamma <= 0:
            problems.append(f"gamma: must be > 0, 'scale' or 'auto' (got {self.gamma})")
        if self.max_train_reviews is not None and self.max_train_reviews < 2:
            problems.append(f"max_train_reviews: must be >= 2 or null (got {self.max_train_reviews})")
        if self.max_iter < 1:
            problems.append(f"max_iter: must be >= 1 (got {self.max_iter})")
        return problems


Config = SvmConfig

RECOMMENDER = "SvmRecommender"  # the Recommender subclass in model.py
