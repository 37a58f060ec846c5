"""The paper's SVM baselines: an SVM on each example's per-user and per-business review averages (SPEC §1).

The features are ``Histories.mean_features`` (leave-target-out averages over the example's pools; with
``include_target``, the paper's likely protocol, the target is averaged in too: a labelled leak). A model is a
scikit-learn Pipeline, standardisation then SVM, so the scaling is fitted on the training examples only. Sparse
(TF-IDF) features are scaled without centring, which would densify them. An SVM gives hard labels: its class
probabilities are one-hot.

- ``linear``: LinearSVC (liblinear, one-vs-rest). Its cost grows about linearly with the examples, so it trains on
  the full train split (~60k examples at the paper's scale) and takes sparse input as it is.
- ``rbf``: SVC (libsvm, one-vs-one). Its cost grows between quadratically and cubically with the examples: pair it
  with ``max_train_reviews`` (the paper's SVMs saw a 4,000-review subset). The RBF kernel matrix of the training
  examples is computed once with BLAS and handed to libsvm precomputed: libsvm's own kernel evaluates each pair as
  a sparse dot product, many times over, which made the TF-IDF SVM (34k sparse features) a 170-second fit. The
  model keeps its support vectors and ``gamma``, and predicts from their kernel with the test examples.
"""

from __future__ import annotations

import time
import warnings

import numpy as np
import scipy.sparse as sp
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics.pairwise import rbf_kernel
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
    """An unfitted standardise-then-SVM Pipeline (for ``rbf``, an SVC on a precomputed kernel: see ``RbfSvm``)."""
    if config.kernel == "linear":
        classifier = LinearSVC(
            C=config.C, class_weight=config.class_weight, max_iter=config.max_iter, random_state=config.seed
        )
    else:
        classifier = SVC(
            kernel="precomputed",
            C=config.C,
            class_weight=config.class_weight,
            max_iter=config.max_iter,
            random_state=config.seed,  # libsvm's shuffling, should probability estimates ever be switched on
        )
    return make_pipeline(StandardScaler(with_mean=not sparse), classifier)


def kernel_gamma(features: np.ndarray | sp.spmatrix, gamma: str | float) -> float:
    """The RBF width as scikit-learn's SVC resolves it: ``scale`` 1 / (features x variance), ``auto`` 1 / features."""
    if gamma == "scale":
        variance = (features.multiply(features).mean() - features.mean() ** 2) if sp.issparse(features) \
            else features.var()
        return 1.0 / (features.shape[1] * variance) if variance != 0 else 1.0
    return 1.0 / features.shape[1] if gamma == "auto" else float(gamma)


class RbfSvm:
    """A fitted standardise-then-SVC(precomputed) Pipeline with the scaled support vectors and the kernel width."""

    def __init__(self, pipeline: Pipeline, support_vectors: np.ndarray | sp.csr_matrix, gamma: float):
        self.pipeline, self.support_vectors, self.gamma = pipeline, support_vectors, gamma

    @classmethod
    def fit(cls, features: np.ndarray | sp.spmatrix, labels: np.ndarray, config: SvmConfig) -> RbfSvm:
        pipeline = build_svm(config, sp.issparse(features))
        scaled = pipeline[0].fit_transform(features)
        gamma = kernel_gamma(scaled, config.gamma)
        pipeline[-1].fit(rbf_kernel(scaled, gamma=gamma), labels)
        return cls(pipeline, scaled[pipeline[-1].support_], gamma)

    def predict(self, features: np.ndarray | sp.spmatrix) -> np.ndarray:
        """libsvm reads a precomputed kernel row at the support vectors' training positions only."""
        classifier = self.pipeline[-1]
        kernel = np.zeros((features.shape[0], classifier.shape_fit_[0]))
        kernel[:, classifier.support_] = rbf_kernel(self.pipeline[0].transform(features), self.support_vectors,
                                                    gamma=self.gamma)
        return classifier.predict(kernel)


def train_svm(features: np.ndarray | sp.spmatrix, labels: np.ndarray, config: SvmConfig) -> Pipeline | RbfSvm:
    """Fit on the training subset; convergence is read from ``converged`` rather than warned about."""
    subset = training_subset(features.shape[0], config)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        if config.kernel == "rbf":
            return RbfSvm.fit(features[subset], np.asarray(labels)[subset], config)
        model = build_svm(config, sp.issparse(features))
        model.fit(features[subset], np.asarray(labels)[subset])
    return model


def converged(model: Pipeline | RbfSvm, config: SvmConfig) -> bool:
    """Whether the solver stopped before its iteration cap (for every one-vs-rest / one-vs-one problem)."""
    pipeline = model.pipeline if isinstance(model, RbfSvm) else model
    return bool(np.max(pipeline[-1].n_iter_) < config.max_iter)


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
    model: Pipeline | RbfSvm

    def fit_classes(self, data: ModelData, progress: bool) -> FitResult:
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
        if not isinstance(self.model, RbfSvm):
            return pipeline_state(self.model, "svm")[0]
        vectors = self.model.support_vectors
        parts = {f"support.{part}": getattr(vectors, part) for part in ("data", "indices", "indptr")} \
            if sp.issparse(vectors) else {"support.dense": vectors}
        return {**pipeline_state(self.model.pipeline, "svm")[0], **parts}

    def restore(self, arrays: dict[str, np.ndarray], state: dict, data: ModelData) -> None:
        pipeline = load_pipeline({k: v for k, v in arrays.items() if k.startswith("svm.")}, state["steps"], "svm")
        if "gamma" not in state:
            self.model = pipeline
            return
        vectors = arrays["support.dense"] if "support.dense" in arrays else sp.csr_matrix(
            tuple(arrays[f"support.{part}"] for part in ("data", "indices", "indptr")), shape=state["support_shape"])
        self.model = RbfSvm(pipeline, vectors, state["gamma"])

    def state(self) -> dict:
        if not isinstance(self.model, RbfSvm):
            return {"steps": pipeline_state(self.model, "svm")[1]}
        return {"steps": pipeline_state(self.model.pipeline, "svm")[1], "gamma": self.model.gamma,
                "support_shape": list(self.model.support_vectors.shape)}
