"""The paper's SVM baselines: an SVM on each example's per-user and per-business review averages (SPEC §1).

The features are ``Histories.mean_features`` (leave-target-out averages over the example's pools). A model is a
scikit-learn Pipeline, standardisation then SVM, so the scaling is fitted on the training examples only; predict
with ``model.predict``. Sparse (TF-IDF) features are scaled without centring, which would densify them.

- ``linear``: LinearSVC (liblinear, one-vs-rest). Its cost grows about linearly with the examples, so it trains on
  the full train split (~60k examples at the paper's scale) and takes sparse input as it is.
- ``rbf``: SVC (libsvm, one-vs-one). Its cost grows between quadratically and cubically with the examples: pair it
  with ``max_train_reviews`` (the paper's SVMs saw a 4,000-review subset).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Literal

import numpy as np
import scipy.sparse as sp
from sklearn.exceptions import ConvergenceWarning
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC, LinearSVC


@dataclass(frozen=True)
class SvmConfig:
    kernel: Literal["linear", "rbf"]  # linear: LinearSVC, scales to the full train split; rbf: SVC, use a subset
    C: float  # inverse regularisation strength
    gamma: Literal["scale", "auto"] | float  # rbf kernel width; scale: 1 / (features x feature variance)
    class_weight: Literal["balanced"] | None  # balanced: weight each class by its inverse train frequency
    max_train_reviews: int | None  # fit on a seeded random subset of this many train examples (paper: 4000); null: all
    max_iter: int  # solver iteration cap (liblinear or libsvm iterations); a fit that reaches it has not converged
    seed: int  # the subset, and liblinear's coordinate order

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


def training_subset(n_examples: int, config: SvmConfig) -> np.ndarray:
    """Indices of the training examples the SVM fits on: all, or a seeded random ``max_train_reviews`` of them."""
    if config.max_train_reviews is None or config.max_train_reviews >= n_examples:
        return np.arange(n_examples)
    rng = np.random.default_rng(config.seed)
    return np.sort(rng.choice(n_examples, config.max_train_reviews, replace=False))


def build_svm(config: SvmConfig, sparse: bool) -> Pipeline:
    """An unfitted standardise-then-SVM Pipeline."""
    if config.kernel == "linear":
        classifier = LinearSVC(
            C=config.C, class_weight=config.class_weight, max_iter=config.max_iter, random_state=config.seed
        )
    else:
        classifier = SVC(
            kernel="rbf",
            C=config.C,
            gamma=config.gamma,
            class_weight=config.class_weight,
            max_iter=config.max_iter,
            random_state=config.seed,  # libsvm's shuffling, should probability estimates ever be switched on
        )
    return make_pipeline(StandardScaler(with_mean=not sparse), classifier)


def train_svm(features: np.ndarray | sp.spmatrix, labels: np.ndarray, config: SvmConfig) -> Pipeline:
    """Fit on the training subset; convergence is read from ``converged`` rather than warned about."""
    subset = training_subset(features.shape[0], config)
    model = build_svm(config, sp.issparse(features))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(features[subset], np.asarray(labels)[subset])
    return model


def converged(model: Pipeline, config: SvmConfig) -> bool:
    """Whether the solver stopped before its iteration cap (for every one-vs-rest / one-vs-one problem)."""
    return bool(np.max(model[-1].n_iter_) < config.max_iter)
