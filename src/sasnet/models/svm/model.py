"""The paper's SVM baselines: an SVM on each example's per-user and per-business review averages (SPEC §1).

The features are ``Histories.mean_features`` (leave-target-out averages over the example's pools; with
``include_target``, the paper's likely protocol, the target is averaged in too: a labelled leak). A model is a
scikit-learn Pipeline, standardisation then SVM, so the scaling is fitted on the training examples only. Sparse
(TF-IDF) features are scaled without centring, which would densify them. An SVM gives hard labels: its class
probabilities are one-hot.

- ``linear``: LinearSVC (liblinear, one-vs-rest). Its cost grows about linearly with the examples, so it trains on
  the full train split (~60k examples at the paper's scale) and takes sparse input as it is.
- ``rbf``: SVC (libsvm, one-vs-one). Its cost grows between quadratically and cubically with the examples: pair it
  with ``max_train_reviews`` (the paper's SVMs saw a 4,000-review subset).
"""

from __future__ import annotations

import time
import warnings

import numpy as np
import scipy.sparse as sp
from sklearn.exceptions import ConvergenceWarning
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC, LinearSVC

from sasnet.errors import PipelineError
from sasnet.histories import Examples
from sasnet.model_data import ModelData
from sasnet.models.base import FitResult, Recommender
from sasnet.models.sklearn_state import load_pipeline, pipeline_state
from sasnet.models.svm import SvmConfig


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


def history_features(data: ModelData, examples: Examples, include_target: bool) -> np.ndarray | sp.csr_matrix:
    """The user-pool and business-pool means of each example; with ``include_target`` the example's own review is
    averaged into both (the paper's likely protocol: a leak, for the ablation only)."""
    features = data.histories.mean_features(data.matrix, examples)
    if not include_target:
        return features
    sizes = [pools.pool_sizes(group, own) for pools, group, own in (
        (data.histories.users, examples.users, examples.user_own),
        (data.histories.businesses, examples.businesses, examples.business_own),
    )]
    own = data.matrix[examples.rows]
    halves, width = [], data.matrix.shape[1]
    for side, size in enumerate(sizes):
        mean = features[:, side * width : (side + 1) * width]
        if sp.issparse(mean):
            halves.append(sp.diags(1.0 / (size + 1)) @ (sp.diags(size.astype(float)) @ mean + own))
        else:
            halves.append((mean * size[:, None] + own) / (size + 1)[:, None])
    return sp.hstack(halves, format="csr") if sp.issparse(features) else np.hstack(halves)


class SvmRecommender(Recommender):
    model: Pipeline

    def fit(self, data: ModelData, progress: bool = True) -> FitResult:
        if data.matrix is None:
            raise PipelineError("the SVM reads a review embedding: give the model an input normalized/<encoder run>")
        train = data.histories.examples(data.rows_of("train"))
        start = time.perf_counter()
        features = history_features(data, train, self.config.include_target)
        self.model = train_svm(features, data.labels[train.rows], self.config)
        facts = {
            "kernel": self.config.kernel,
            "include_target": self.config.include_target,
            "train_reviews": len(training_subset(len(train), self.config)),
            "features": int(features.shape[1]),
            "converged": converged(self.model, self.config),
            "fit_seconds": time.perf_counter() - start,
            "pools": data.histories.pool_statistics(set_size=1),
        }
        if not facts["converged"]:
            print(f"warning: the SVM reached svm.max_iter={self.config.max_iter} without converging")
        return FitResult(facts)

    def predict_proba(self, data: ModelData, examples: Examples) -> np.ndarray:
        if self.config.include_target and np.any(examples.rows < 0):
            raise PipelineError("an SVM with include_target scores reviews only: it needs each pair's own review")
        predicted = self.model.predict(history_features(data, examples, self.config.include_target))
        return np.eye(len(self.class_names))[predicted]

    def arrays(self) -> dict[str, np.ndarray]:
        return pipeline_state(self.model, "svm")[0]

    def restore(self, arrays: dict[str, np.ndarray], state: dict, data: ModelData) -> None:
        self.model = load_pipeline(arrays, state["steps"], "svm")

    def state(self) -> dict:
        return {"steps": pipeline_state(self.model, "svm")[1]}
