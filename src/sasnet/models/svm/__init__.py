"""The ``svm`` family: the paper's SVM baselines on the mean of the user's and the business's other reviews.

This module holds the family's params section only; the model is in ``model``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sasnet.config import bounded

READS = "embedding"  # sasnet.inputs: a normalised review embedding and its pooling


@dataclass(frozen=True)
class SvmConfig:
    kernel: Literal["linear", "rbf"]  # linear: LinearSVC, scales to the full train split; rbf: SVC, use a subset
    C: float = bounded(gt=0)  # inverse regularisation strength
    gamma: Literal["scale", "auto"] | float = bounded(gt=0)  # rbf kernel width; scale: 1 / (features x feature variance)
    class_weight: Literal["balanced"] | None  # balanced: weight each class by its inverse train frequency
    max_train_reviews: int | None = bounded(ge=2)  # fit on a seeded random subset of this many train examples (paper: 4000); null: all
    max_iter: int = bounded(ge=1)  # solver iteration cap (liblinear or libsvm iterations); a fit that reaches it has not converged
    seed: int  # the subset, and liblinear's coordinate order
    include_target: bool  # ablation (the paper's likely protocol): average the target into its own means; a leak


Config = SvmConfig

MODEL = "SvmRecommender"  # the Recommender subclass in model.py
TASKS = ("classify",)
