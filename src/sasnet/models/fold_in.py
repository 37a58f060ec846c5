"""What the mf, bpr, semantic_mf and hft families share on the class task: cornac's train set, the fitted item side,
and folding users in; and one class for both tasks (``CalibratedRecommender``), whose ranking side is
``sasnet.models.factors``.

The split is by user, so a valid/test user is unknown to the fitted library model. For one protocol on every split,
EVERY example, train ones too, gets its user's parameters refitted from its user pool (the user's other reviews,
never the target) with the item side held fixed:

- rating models (mf, hft): ridge regression of the pool's stars on r = mu + b_i + b_u + p.q_i, penalty
  ``reg (|p|^2 + b_u^2)``, solved in closed form per example (``fold_in_ratings``);
- bpr: the BPR log-likelihood of the pool's items over every other train item, plus ``reg |p|^2``, maximised by a
  few Newton steps per example (``fold_in_bpr``).

A business without train reviews has b_i = 0 and q_i = 0. The fitted state is plain arrays in cornac's item order
with the business id of each item, so predicting needs no cornac object and maps any review table's businesses.
"""

from __future__ import annotations

import itertools
import time
import warnings
from abc import abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from cornac.data import Dataset
from scipy.special import expit
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sasnet.data.configs import STARS
from sasnet.errors import PipelineError
from sasnet.models.base import FitResult, Recommender
from sasnet.models.factors import CatalogueFactors
from sasnet.models.sklearn_state import load_pipeline, pipeline_state

if TYPE_CHECKING:  # each task's data, for the annotations only
    from sasnet.histories import Examples
    from sasnet.model_data import ModelData
    from sasnet.ranking.data import RankingData

RIDGE_BATCH = 2048  # examples per batch of ridge systems: bounds the [batch, (k+1)^2] arrays
BPR_BATCH_CELLS = 2**21  # pool entries x items per batch of BPR problems: bounds its [entries, items] arrays
NEWTON_STEPS = 30  # at most; a BPR batch stops once every step in it is below NEWTON_TOLERANCE
NEWTON_TOLERANCE = 1e-6
MAX_NEWTON_STEP = 1.0  # longest step (Euclidean) of the user vector, so an early overshoot cannot run away
CALIBRATOR_MAX_ITER = 1000  # one feature: lbfgs converges in a few dozen iterations


@dataclass(frozen=True)
class ItemSide:
    """The item parameters a library fitted, in its item order, and the business id of each item."""

    business_ids: list  # item index -> business id (cornac's iid_map order)
    biases: np.ndarray  # [items]
    factors: np.ndarray  # [items, k]
    offset: float  # the global mean mu a rating model adds; 0 for bpr

    @classmethod
    def from_library(cls, iid_map: dict, biases: np.ndarray, factors: np.ndarray, offset: float = 0.0) -> ItemSide:
        ids = sorted(iid_map, key=iid_map.get)
        if [iid_map[business] for business in ids] != list(range(len(ids))):
            raise PipelineError("cornac's item ids are not 0..n-1: cannot align the item side with its businesses")
        return cls(ids, np.asarray(biases, np.float64).ravel(), np.asarray(factors, np.float64), float(offset))

    @property
    def unknown(self) -> int:
        """The index of the all-zero item that every business without train reviews maps to."""
        return len(self.business_ids)

    def padded(self) -> tuple[np.ndarray, np.ndarray]:
        """Biases [items + 1] and factors [items + 1, k], the last row the unknown business's zeros."""
        return np.append(self.biases, 0.0), np.vstack([self.factors, np.zeros((1, self.factors.shape[1]))])

    def item_of_groups(self, business_ids: pd.Index) -> np.ndarray:
        """Per business group of a review table (``Histories.business_ids``): its item, or ``unknown``."""
        items = pd.Index(self.business_ids).get_indexer(business_ids)
        return np.where(items < 0, self.unknown, items)

    def arrays(self) -> dict[str, np.ndarray]:
        return {"item_biases": self.biases, "item_factors": self.factors}

    def state(self) -> dict[str, Any]:
        return {"business_ids": self.business_ids, "offset": self.offset}

    @classmethod
    def restore(cls, arrays: dict[str, np.ndarray], state: dict[str, Any]) -> ItemSide:
        return cls(list(state["business_ids"]), arrays["item_biases"], arrays["item_factors"], state["offset"])


def cornac_train_set(data: ModelData) -> tuple[Dataset, int]:
    """cornac's Dataset of the train reviews (user, business, stars), and how many repeated pairs it dropped
    (cornac keeps a user's first review of a business; fold-in still sees every review)."""
    train = data.reviews.iloc[data.rows_of("train")]
    triples = list(zip(train["user_id"], train["business_id"], train["stars"].astype(float)))
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*duplicated observations are removed")
        train_set = Dataset.from_uir(triples)
    return train_set, len(triples) - train_set.num_ratings


def fit_library(library: type, config: Any, train_set: Dataset, progress: bool = False) -> Any:
    """cornac's ``MF`` or ``BPR`` (``library``), which take the same settings, fitted on ``train_set``."""
    model = library(
        k=config.k, max_iter=config.max_iter, learning_rate=config.learning_rate, lambda_reg=config.lambda_reg,
        use_bias=True, seed=config.seed, verbose=progress,
    )
    return model.fit(train_set)


def library_facts(train_set: Dataset, duplicates: int, fit_seconds: float, config: Any) -> dict[str, Any]:
    """What every cornac fit reports: its size, its time and its main settings."""
    return {
        "train_reviews": train_set.num_ratings + duplicates,
        "train_repeated_pairs_dropped": duplicates,
        "train_users": train_set.num_users,
        "train_businesses": train_set.num_items,
        "k": config.k,
        "iterations": config.max_iter,
        "fold_in_reg": config.fold_in_reg,
        "fit_seconds": fit_seconds,
    }


def fitted_rmse(train_set: Dataset, items: ItemSide, user_biases: np.ndarray, user_factors: np.ndarray) -> float:
    """In-sample RMSE of the library's own user parameters on the train pairs: the fold-in RMSE's reference."""
    users, item_index, stars = train_set.uir_tuple
    predicted = (items.offset + np.ravel(user_biases)[users] + items.biases[item_index]
                 + np.sum(user_factors[users] * items.factors[item_index], axis=1))
    return float(np.sqrt(np.mean((np.clip(predicted, 1, 5) - stars) ** 2)))


def _pool_items(data: ModelData, examples: Examples, items: ItemSide) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every (example, member row, member's item) of the examples' user pools, targets left out."""
    example, member = data.histories.users.pool_entries(examples.users, examples.user_own)
    item_of_group = items.item_of_groups(data.histories.business_ids)
    return example, member, item_of_group[data.histories.businesses.group[member]]


def _target_items(data: ModelData, examples: Examples, items: ItemSide) -> np.ndarray:
    return items.item_of_groups(data.histories.business_ids)[examples.businesses]


def fold_in_ratings(data: ModelData, examples: Examples, items: ItemSide, reg: float) -> np.ndarray:
    """Predicted stars (unclipped) of each example, its user's b_u and p ridge-fitted to its user pool's stars.

    Per example the normal equations (X'X + reg I) [p, b_u] = X'(r - mu - b_i) over its pool's rows x_i = [q_i, 1];
    X'X sums each pool item's outer product, so one sparse [examples, items] count matrix times the items' outer
    products builds every system at once. An empty pool gives p = 0, b_u = 0: mu + b_i.
    """
    biases, factors = items.padded()
    design = np.hstack([factors, np.ones((len(factors), 1))])  # [items + 1, k + 1]: x_i = [q_i, 1]
    width = design.shape[1]
    example, member, item = _pool_items(data, examples, items)
    residual = data.stars[member] - items.offset - biases[item]
    shape = (len(examples), len(design))
    counts = sp.csr_matrix((np.ones(len(example)), (example, item)), shape=shape)
    residual_sums = sp.csr_matrix((residual, (example, item)), shape=shape)
    outer = np.einsum("ia,ib->iab", design, design).reshape(len(design), -1)
    target = _target_items(data, examples, items)
    predicted = np.empty(len(examples))
    for start in range(0, len(examples), RIDGE_BATCH):
        batch = slice(start, start + RIDGE_BATCH)
        gram = np.asarray(counts[batch] @ outer).reshape(-1, width, width) + reg * np.eye(width)
        user = np.linalg.solve(gram, np.asarray(residual_sums[batch] @ design)[..., None])[..., 0]
        predicted[batch] = items.offset + biases[target[batch]] + np.sum(design[target[batch]] * user, axis=1)
    return predicted


def fold_in_bpr(data: ModelData, examples: Examples, items: ItemSide, reg: float) -> tuple[np.ndarray, float]:
    """Each example's user vector p maximising sum_{i in pool} mean_{j not in pool} log sigmoid(s_i - s_j) - reg |p|^2
    (s = b + Q p over the train items), and the largest gradient norm left (convergence).

    The data term sums over the pool, the penalty is fixed, as in the ridge: a long pool outweighs the prior. Pool
    items unknown to train carry no vector and are left out. The objective is concave, so Newton from p = 0
    converges in a few steps; each costs O(pool x items) per example (``_BPRBatch``).
    """
    n_items, k = items.factors.shape
    example, _, item = _pool_items(data, examples, items)
    known = item < n_items
    example, item = example[known], item[known]
    entry_ends = np.cumsum(np.bincount(example, minlength=len(examples)))
    users = np.zeros((len(examples), k))
    worst_gradient = 0.0
    bounds = _batch_bounds(entry_ends, max(BPR_BATCH_CELLS // max(n_items, 1), 1))
    for start, stop in itertools.pairwise(bounds):
        entries = slice(entry_ends[start - 1] if start else 0, entry_ends[stop - 1])
        batch = _BPRBatch.build(items, example[entries] - start, item[entries], stop - start, reg)
        user = np.zeros((stop - start, k))
        for _ in range(NEWTON_STEPS):
            gradient, hessian = batch.derivatives(user)
            step = np.linalg.solve(hessian, gradient[..., None])[..., 0]  # the Hessian is negative definite
            length = np.linalg.norm(step, axis=1, keepdims=True)
            if length.max(initial=0.0) < NEWTON_TOLERANCE:
                break
            user = user - step * (MAX_NEWTON_STEP / np.maximum(length, MAX_NEWTON_STEP))
        else:
            gradient, _ = batch.derivatives(user)
        users[start:stop] = user
        worst_gradient = max(worst_gradient, float(np.linalg.norm(gradient, axis=1).max(initial=0.0)))
    return users, worst_gradient


def _batch_bounds(entry_ends: np.ndarray, max_entries: int) -> list[int]:
    """Example boundaries of consecutive batches of at most ``max_entries`` pool entries (a bigger pool: alone)."""
    bounds = [0]
    while bounds[-1] < len(entry_ends):
        before = entry_ends[bounds[-1] - 1] if bounds[-1] else 0
        bounds.append(max(int(np.searchsorted(entry_ends, before + max_entries, side="right")), bounds[-1] + 1))
    return bounds


@dataclass(frozen=True)
class _BPRBatch:
    """A batch of BPR fold-in problems: its pool entries (i) against every train item (j).

    The Hessian's sum over j of curvature_ij (q_i - q_j)(q_i - q_j)^T expands into products with [items] weight
    vectors, so no [entries, items, k, k] array is formed. The [entries, items] terms are float32 (their cost is
    memory traffic), which limits the precision to about NEWTON_TOLERANCE.
    """

    items: ItemSide
    factors32: np.ndarray  # [items, k]: q_j, for the float32 products
    outer: np.ndarray  # [items, k * k]: q_j q_j^T flattened
    example: np.ndarray  # per pool entry (sorted by example): its example in the batch
    item: np.ndarray  # per pool entry: its item i
    is_negative: np.ndarray  # [entries, items] float32: 1 where item j is not in the entry's pool
    to_example: sp.csr_matrix  # [examples, entries] float32: sums each example's entries, weighted 1 / its negatives
    reg: float

    @classmethod
    def build(cls, items: ItemSide, example: np.ndarray, item: np.ndarray, n: int, reg: float) -> _BPRBatch:
        n_items = len(items.biases)
        in_pool = np.zeros((n, n_items), dtype=bool)
        in_pool[example, item] = True
        weight = 1.0 / np.maximum(n_items - in_pool.sum(axis=1), 1)  # the mean over negatives
        to_example = sp.csr_matrix(
            (weight[example].astype(np.float32), (example, np.arange(len(example)))), shape=(n, len(example))
        )
        outer = np.einsum("ja,jb->jab", items.factors, items.factors).reshape(n_items, -1)
        return cls(items, items.factors.astype(np.float32), outer, example, item,
                   (~in_pool[example]).astype(np.float32), to_example, reg)

    def derivatives(self, user: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Gradient [n, k] and Hessian [n, k, k] of each example's objective at ``user``."""
        n, k = user.shape
        scores = (self.items.biases + user @ self.items.factors.T).astype(np.float32)  # [n, items]
        slope = scores[self.example]
        slope -= scores[self.example, self.item][:, None]  # s_j - s_i
        expit(slope, out=slope)  # d log sigmoid(s_i - s_j) / d(s_i - s_j)
        slope *= self.is_negative
        q_i = self.items.factors[self.item]
        # gradient: sum_j slope_ij (q_i - q_j)
        gradient = self.to_example @ (slope.sum(axis=1, dtype=np.float64)[:, None] * q_i - slope @ self.factors32)
        curvature = slope
        curvature *= 1.0 - slope  # minus the second derivative, in place of the slope
        # Hessian: -sum_j curvature_ij (q_i q_i^T - q_i q_j^T - q_j q_i^T + q_j q_j^T)
        cross = np.einsum("ea,eb->eab", q_i, curvature @ self.factors32)
        per_entry = curvature.sum(axis=1, dtype=np.float64)[:, None, None] * np.einsum("ea,eb->eab", q_i, q_i)
        per_entry -= cross + cross.transpose(0, 2, 1)
        spread = self.to_example @ per_entry.reshape(len(self.item), -1) + (self.to_example @ curvature) @ self.outer
        spread = spread.reshape(n, k, k)
        return gradient - 2.0 * self.reg * user, -spread - 2.0 * self.reg * np.eye(k)


def bpr_scores(data: ModelData, examples: Examples, items: ItemSide, users: np.ndarray) -> np.ndarray:
    """b_i + p.q_i of each example's business (0 for a business without train reviews)."""
    biases, factors = items.padded()
    target = _target_items(data, examples, items)
    return biases[target] + np.sum(users * factors[target], axis=1)


class ScoreCalibrator:
    """A multinomial logistic regression from one score (a predicted rating, a BPR score) to the classes, fitted on
    the train reviews' fold-in scores, each computed without its target: so skewed classes and a rating's spread
    are learned rather than assumed."""

    def __init__(self, n_classes: int):
        self.n_classes = n_classes
        self.model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=CALIBRATOR_MAX_ITER))

    def fit(self, scores: np.ndarray, labels: np.ndarray) -> bool:
        """Fit; whether lbfgs converged."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            self.model.fit(np.asarray(scores)[:, None], labels)
        return bool(np.max(self.model[-1].n_iter_) < CALIBRATOR_MAX_ITER)

    def predict_proba(self, scores: np.ndarray) -> np.ndarray:
        probabilities = np.zeros((len(scores), self.n_classes))
        probabilities[:, self.model.classes_] = self.model.predict_proba(np.asarray(scores)[:, None])  # absent: 0
        return probabilities

    def arrays(self) -> dict[str, np.ndarray]:
        return pipeline_state(self.model, "calibrator")[0]

    def state(self) -> dict[str, Any]:
        return {"calibrator": pipeline_state(self.model, "calibrator")[1]}

    def restore(self, arrays: dict[str, np.ndarray], state: dict[str, Any]) -> None:
        self.model = load_pipeline(arrays, state["calibrator"], "calibrator")


class CalibratedRecommender(Recommender):
    """What mf, hft, bpr and semantic_mf share. The class task: a fitted item side, a per-example fold-in score, and
    the calibrator that turns the score into class probabilities (stored: the item side's and the calibrator's
    arrays). The ranking task: the fit's own factors of every user and item (``factors.CatalogueFactors``)."""

    items: ItemSide
    calibrator: ScoreCalibrator
    catalogue: CatalogueFactors

    @abstractmethod
    def fold_in_score(self, data: ModelData, examples: Examples) -> np.ndarray:
        """Each example's fold-in score (a predicted rating, a BPR score)."""

    def predict_proba(self, data: ModelData, examples: Examples) -> np.ndarray:
        return self.calibrator.predict_proba(self.fold_in_score(data, examples))

    def score(self, data: RankingData, split: str, users: np.ndarray) -> np.ndarray:
        return self.catalogue.score(users)

    def arrays(self) -> dict[str, np.ndarray]:
        if self.task == "rank":
            return self.catalogue.arrays()
        return {**self.items.arrays(), **self.calibrator.arrays()}

    def state(self) -> dict[str, Any]:
        return {} if self.task == "rank" else {**self.items.state(), **self.calibrator.state()}

    def restore(self, arrays: dict[str, np.ndarray], state: dict[str, Any], data: ModelData | RankingData) -> None:
        if self.task == "rank":
            self.catalogue = CatalogueFactors.restore(arrays, data)
            return
        self.items = ItemSide.restore(arrays, state)
        self.calibrator = ScoreCalibrator(len(self.class_names))
        self.calibrator.restore(arrays, state)


class RatingRecommender(CalibratedRecommender):
    """mf and hft: cornac fits the item side on the train ratings, users are ridge-folded in, and a calibrator fitted
    on the train fold-in ratings turns each predicted rating into class probabilities."""

    @abstractmethod
    def fit_item_side(self, data: ModelData, progress: bool) -> tuple[ItemSide, dict[str, Any]]:
        """The library's fitted item side, and the facts of its fit."""

    def fit_classes(self, data: ModelData, progress: bool) -> FitResult:
        self.items, facts = self.fit_item_side(data, progress)
        train = data.histories.examples(data.rows_of("train"))
        start = time.perf_counter()
        ratings = self.predict_rating(data, train)
        fold_in_rmse = float(np.sqrt(np.mean((ratings - data.stars[train.rows]) ** 2)))
        self.calibrator = ScoreCalibrator(len(self.class_names))
        converged = self.calibrator.fit(ratings, data.labels[train.rows])
        return FitResult({
            **facts,
            "train_fold_in_rmse": fold_in_rmse,
            "fold_in_seconds": time.perf_counter() - start,
            "global_mean": self.items.offset,
            "calibrator_converged": converged,
        })

    def predict_rating(self, data: ModelData, examples: Examples) -> np.ndarray:
        return np.clip(fold_in_ratings(data, examples, self.items, self.config.fold_in_reg), STARS[0], STARS[-1])

    def fold_in_score(self, data: ModelData, examples: Examples) -> np.ndarray:
        return self.predict_rating(data, examples)
