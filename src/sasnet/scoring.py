"""Embedding scoring (the paper's Table 1): does an embedding separate sentiment and understand categories?

For each embedding method (a matrix, one row per review; dense, memory-mapped or sparse TF-IDF):

- sentiment: the cosine between the mean embedding of the negative-class reviews ("bad") and that of the
  positive class ("excellent"); ``AE_s = |cos + 1|``, since the ideal is opposite means (cos = -1).
- category understanding: a review belongs to every category of its business; each category with at least
  ``min_reviews_per_category`` scored reviews gets its mean embedding; the cosine of every pair of categories is
  compared with the reference, the cosine between MiniLM embeddings of the two category *names*: ``MSE_c`` and
  Pearson ``PR_c`` between the predicted and the reference pair lists.
- across the methods compared, each of MSE_c, PR_c and AE_s is min-max normalised (NMSE_c, NPR_c, NAE_s);
  ``score = -0.25 NMSE_c + 0.25 NPR_c - 0.5 NAE_s``; the scores are min-max normalised again.
  A column with no spread (every method equal, or a single method) normalises to 0 for every method: it cannot
  rank the methods, and any constant would shift every score alike, leaving the ranking and the normalised score
  unchanged. A missing value (NaN) stays missing.

Beyond the paper:

- percentile bootstrap intervals for the raw metrics and both scores, resampling the scored reviews with
  replacement. A replicate applies the same resample to every method, because the normalisation couples them;
  each replicate has its own seed derived from ``bootstrap_seed``, so methods can be scored one at a time.
  A category that a resample happens to leave empty drops out of that replicate's pairs.
- a linear probe: logistic regression from one review's embedding to its class, fitted on train rows and scored on
  valid rows, reported beside the score (with the valid majority-class accuracy), never inside it.

Without categories (Amazon has none, no name embeddings were given, or too few categories are frequent enough)
the category columns, the score and the normalised score are null and the reason is recorded: the score is not
recomputed from the sentiment term alone, since that would be a different quantity under the paper's name.
NAE_s and the probe are still reported.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Iterator, Mapping, Sequence

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from tqdm import tqdm

from sasnet.analysis_configs import ScoringConfig
from sasnet.errors import PipelineError
from sasnet.stats import pearson, percentile_interval

Matrix = np.ndarray | sp.csr_matrix

RAW_COLUMNS = ("MSE_c", "PR_c", "AE_s")
NORMALISED_COLUMNS = ("NMSE_c", "NPR_c", "NAE_s")
PAPER_WEIGHTS = np.array([-0.25, 0.25, -0.5])  # on NMSE_c, NPR_c, NAE_s
SCORE_COLUMNS = ("score", "score_normalised")
MIN_CATEGORIES = 3  # three categories give three pairs, the fewest a correlation can be computed on
SENTIMENT_GROUPS = 2  # rows 0 and 1 of the group indicator: negative class, positive class


@dataclass(frozen=True)
class CategoryNameEmbeddings:
    """The reference: one embedding (row of ``vectors``) per category name, in the order of ``names``."""

    names: Sequence[str]
    vectors: np.ndarray

    def __post_init__(self):
        if len(self.names) != len(self.vectors):
            raise ValueError(f"{len(self.names)} names but {len(self.vectors)} name embeddings")


@dataclass(frozen=True)
class ReviewGroups:
    """Which reviews each mean embedding averages, shared by every method.

    ``indicator`` is a 0/1 sparse matrix, groups x reviews (all rows of the embedding matrices): row 0 the negative
    class, row 1 the positive class, then one row per category of ``categories``; only scored reviews are set.
    """

    indicator: sp.csr_matrix
    scored_rows: np.ndarray
    categories: pd.Series  # category -> scored reviews, in the indicator's order; empty when unavailable
    reference_pairs: np.ndarray  # reference cosine per category pair, in upper-triangle order
    category_unavailable: str | None  # why there is no category part, or None

    @property
    def pair_index(self) -> tuple[np.ndarray, np.ndarray]:
        return np.triu_indices(len(self.categories), 1)


@dataclass(frozen=True)
class ScoringResult:
    table: pd.DataFrame  # one row per method: raw, normalised and score columns, intervals, probe
    pairs: pd.DataFrame  # method, category_a, category_b, reference, predicted: one row per method and pair
    categories: pd.Series  # category -> scored reviews, most frequent first
    best_method: str | None  # highest normalised score; None without a score
    category_unavailable: str | None

    def summary(self) -> dict:
        """JSON-ready: every column of the table keyed by method, the best method, and the category coverage."""
        return {
            "methods": self.table.set_index("method").to_dict(orient="index"),
            "best_method": self.best_method,
            "categories": len(self.categories),
            "category_pairs": len(self.categories) * (len(self.categories) - 1) // 2,
            "category_unavailable": self.category_unavailable,
        }


def category_memberships(categories: pd.Series) -> pd.DataFrame:
    """(row, category) for each category of each review; Yelp lists a business's categories comma-separated."""
    names = categories.reset_index(drop=True).fillna("").str.split(",").explode().str.strip()
    members = pd.DataFrame({"row": names.index.to_numpy(dtype=np.int64), "category": names.to_numpy()})
    return members[members["category"] != ""].drop_duplicates(ignore_index=True)


def scored_memberships(reviews: pd.DataFrame, config: ScoringConfig) -> pd.DataFrame:
    """The (row, category) memberships of the reviews in ``score_splits``; none without a categories column."""
    if "categories" not in reviews:
        return pd.DataFrame({"row": np.empty(0, dtype=np.int64), "category": np.empty(0, dtype=object)})
    members = category_memberships(reviews["categories"])
    return members[reviews["split"].isin(config.score_splits).to_numpy()[members["row"].to_numpy()]]


def eligible_categories(reviews: pd.DataFrame, config: ScoringConfig) -> pd.Series:
    """Scored reviews per category with at least ``min_reviews_per_category``, most frequent first (ties by name).

    These are the names the caller must embed for the reference.
    """
    counts = scored_memberships(reviews, config)["category"].value_counts()
    counts = counts[counts >= config.min_reviews_per_category].rename("reviews").rename_axis("category")
    return counts.sort_index().sort_values(ascending=False, kind="stable")


def cosine_matrix(vectors: np.ndarray) -> np.ndarray:
    """Cosine between every pair of rows; NaN for a row of zeros (a group with no reviews in a resample)."""
    gram = vectors @ vectors.T
    norms = np.sqrt(np.diag(gram))
    with np.errstate(invalid="ignore", divide="ignore"):
        return gram / np.outer(norms, norms)


def review_groups(
    reviews: pd.DataFrame,
    class_names: Sequence[str],
    name_embeddings: CategoryNameEmbeddings | None,
    config: ScoringConfig,
) -> ReviewGroups:
    """The groups of ``reviews`` (rows in embedding-matrix order; columns split, label, optionally categories)."""
    scored = reviews["split"].isin(config.score_splits).to_numpy()
    labels = reviews["label"].to_numpy()
    sentiment_rows = []
    for name in (config.negative_class, config.positive_class):
        if name not in class_names:
            raise PipelineError(f"scoring: class {name!r} is not one of the classes {list(class_names)}")
        sentiment_rows.append(np.flatnonzero(scored & (labels == list(class_names).index(name))))
        if not len(sentiment_rows[-1]):
            raise PipelineError(f"scoring: no {name!r} reviews in splits {list(config.score_splits)}")

    categories = eligible_categories(reviews, config)
    unavailable = _why_no_categories(reviews, categories, name_embeddings, config)
    if unavailable:
        categories = categories.iloc[:0]
    members = scored_memberships(reviews, config)
    members = members[members["category"].isin(categories.index)]
    group = np.concatenate(
        [
            np.zeros(len(sentiment_rows[0]), dtype=np.int64),
            np.ones(len(sentiment_rows[1]), dtype=np.int64),
            SENTIMENT_GROUPS + categories.index.get_indexer(members["category"]),
        ]
    )
    row = np.concatenate([*sentiment_rows, members["row"].to_numpy()])
    indicator = sp.csr_matrix(
        (np.ones(len(row)), (group, row)), shape=(SENTIMENT_GROUPS + len(categories), len(reviews))
    )
    reference_pairs = np.empty(0) if unavailable else _reference_pairs(categories.index, name_embeddings)
    return ReviewGroups(indicator, np.flatnonzero(scored), categories, reference_pairs, unavailable)


def _why_no_categories(
    reviews: pd.DataFrame,
    categories: pd.Series,
    name_embeddings: CategoryNameEmbeddings | None,
    config: ScoringConfig,
) -> str | None:
    if "categories" not in reviews or not reviews["categories"].notna().any():
        return "the reviews have no categories (Amazon reviews carry none)"
    if len(categories) < MIN_CATEGORIES:
        return (
            f"only {len(categories)} categories have >= {config.min_reviews_per_category} scored reviews; "
            f"at least {MIN_CATEGORIES} are needed for a correlation"
        )
    if name_embeddings is None:
        return "no category name embeddings were given for the reference"
    return None


def _reference_pairs(categories: pd.Index, name_embeddings: CategoryNameEmbeddings) -> np.ndarray:
    position = pd.Index(name_embeddings.names).get_indexer(categories)
    if (position < 0).any():
        missing = list(categories[position < 0][:10])
        raise PipelineError(f"scoring: no name embedding for categories {missing} (and maybe more)")
    return cosine_matrix(np.asarray(name_embeddings.vectors)[position])[np.triu_indices(len(categories), 1)]


def group_metrics(
    embeddings: Matrix, groups: ReviewGroups, weights: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(MSE_c, PR_c, AE_s) and the predicted cosine per category pair, with reviews weighted by ``weights``.

    ``weights`` (one count per row; None = every scored review once) is how the bootstrap resamples.
    """
    # the indicator takes the embeddings' float type, so scipy never copies a float32 matrix to float64
    indicator = groups.indicator.astype(np.result_type(embeddings.dtype, np.float32))
    if weights is not None:
        indicator = indicator @ sp.diags(weights.astype(indicator.dtype))
    sums = indicator @ embeddings  # the cosine of two means is the cosine of the two sums
    # groups x dims is small even over a TF-IDF vocabulary, and a dense Gram matrix is far faster than a sparse one
    cosines = cosine_matrix(np.asarray(sums.toarray() if sp.issparse(sums) else sums, dtype=np.float64))
    sentiment_error = abs(cosines[0, 1] + 1)
    predicted = cosines[SENTIMENT_GROUPS:, SENTIMENT_GROUPS:][groups.pair_index]
    defined = np.isfinite(predicted)
    if not defined.any():
        return np.array([np.nan, np.nan, sentiment_error]), predicted
    errors = predicted[defined] - groups.reference_pairs[defined]
    return (
        np.array([np.mean(errors**2), pearson(predicted[defined], groups.reference_pairs[defined]), sentiment_error]),
        predicted,
    )


def replicate_weights(groups: ReviewGroups, config: ScoringConfig) -> Iterator[np.ndarray]:
    """Per bootstrap replicate, how often each row was drawn; seeded per replicate, identical for every method."""
    n_scored = len(groups.scored_rows)
    for seed in np.random.SeedSequence(config.bootstrap_seed).spawn(config.bootstrap_samples):
        drawn = groups.scored_rows[np.random.default_rng(seed).integers(n_scored, size=n_scored)]
        yield np.bincount(drawn, minlength=groups.indicator.shape[1])


def min_max(values: np.ndarray, axis: int = -1) -> np.ndarray:
    """Min-max normalise along ``axis``, ignoring NaN; with no spread every value becomes 0 (see the module doc)."""
    low = np.fmin.reduce(values, axis=axis, keepdims=True)
    spread = np.fmax.reduce(values, axis=axis, keepdims=True) - low
    return (values - low) / np.where(spread > 0, spread, 1.0)


def paper_score(normalised: np.ndarray) -> np.ndarray:
    """``-0.25 NMSE_c + 0.25 NPR_c - 0.5 NAE_s`` from the normalised columns (last axis, in that order)."""
    return normalised @ PAPER_WEIGHTS


def composite_scores(raw: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Normalised columns, score and normalised score from raw[..., method, (MSE_c, PR_c, AE_s)].

    Leading axes are independent comparisons (bootstrap replicates); the normalisation runs across methods.
    """
    normalised = min_max(raw, axis=-2)
    score = paper_score(normalised)
    return normalised, score, min_max(score, axis=-1)


def probe_accuracy(embeddings: Matrix, reviews: pd.DataFrame, config: ScoringConfig) -> dict:
    """Logistic regression from one review's embedding to its class: fitted on train rows, scored on valid rows.

    The interval resamples the valid reviews; the valid majority-class accuracy (train's most frequent class) is
    the baseline to read it against.
    """
    split, labels = reviews["split"].to_numpy(), reviews["label"].to_numpy()
    train, valid = np.flatnonzero(split == "train"), np.flatnonzero(split == "valid")
    model = LogisticRegression(C=config.probe.C, max_iter=config.probe.max_iter)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # reported as probe_converged instead
        model.fit(embeddings[train], labels[train])
    correct = model.predict(embeddings[valid]) == labels[valid]
    rng = np.random.default_rng(config.bootstrap_seed)
    resampled = correct[rng.integers(len(correct), size=(config.bootstrap_samples, len(correct)))].mean(axis=1)
    low, high = percentile_interval(resampled, config.confidence)
    return {
        "probe_accuracy": float(correct.mean()),
        "probe_accuracy_low": float(low),
        "probe_accuracy_high": float(high),
        "probe_majority_accuracy": float(np.mean(labels[valid] == np.bincount(labels[train]).argmax())),
        "probe_converged": bool(np.max(model.n_iter_) < config.probe.max_iter),
    }


def score_embeddings(
    embeddings: Mapping[str, Matrix],
    reviews: pd.DataFrame,
    class_names: Sequence[str],
    name_embeddings: CategoryNameEmbeddings | None,
    config: ScoringConfig,
) -> ScoringResult:
    """Table 1 for the methods in ``embeddings`` (method -> matrix whose rows follow ``reviews``).

    ``reviews`` has columns split, label (class index into ``class_names``) and, where the data has them,
    categories (the business's comma-separated categories). Matrices may be memory-mapped: only the probe's train
    rows are copied. Time per method: 1 + bootstrap_samples sparse-dense products of about
    (memberships per review + 1) x reviews x dims operations, and one probe fit.
    """
    if len(embeddings) == 0:
        raise PipelineError("scoring: no embedding methods to compare")
    for method, matrix in embeddings.items():
        if matrix.shape[0] != len(reviews):
            raise PipelineError(f"scoring: {method} has {matrix.shape[0]} rows for {len(reviews)} reviews")
    groups = review_groups(reviews, list(class_names), name_embeddings, config)
    methods = list(embeddings)
    raw = np.empty((len(methods), len(RAW_COLUMNS)))
    replicates = np.empty((config.bootstrap_samples, len(methods), len(RAW_COLUMNS)))
    predicted_pairs, probes = [], []
    # each method takes 1 + bootstrap_samples products: minutes in all on 2 cores
    for m, method in enumerate(tqdm(methods, desc="score_embeddings", unit="method")):
        raw[m], predicted = group_metrics(embeddings[method], groups)
        predicted_pairs.append(predicted)
        for b, weights in enumerate(replicate_weights(groups, config)):
            replicates[b, m] = group_metrics(embeddings[method], groups, weights)[0]
        probes.append(probe_accuracy(embeddings[method], reviews, config))

    normalised, score, score_normalised = composite_scores(raw)
    table = pd.DataFrame(
        np.column_stack([raw, normalised, score, score_normalised]),
        columns=[*RAW_COLUMNS, *NORMALISED_COLUMNS, *SCORE_COLUMNS],
    )
    table.insert(0, "method", methods)
    table.insert(1, "sentiment_cosine", raw[:, RAW_COLUMNS.index("AE_s")] - 1)  # AE_s = |cos + 1| = cos + 1
    _, replicate_score, replicate_score_normalised = composite_scores(replicates)
    low, high = percentile_interval(
        np.dstack([replicates, replicate_score, replicate_score_normalised]), config.confidence
    )
    for i, name in enumerate((*RAW_COLUMNS, *SCORE_COLUMNS)):
        table[f"{name}_low"], table[f"{name}_high"] = low[:, i], high[:, i]
    table = pd.concat([table, pd.DataFrame(probes)], axis=1)
    return ScoringResult(
        table=table,
        pairs=_pair_table(methods, predicted_pairs, groups),
        categories=groups.categories,
        best_method=None if np.isnan(score_normalised).all() else methods[int(np.nanargmax(score_normalised))],
        category_unavailable=groups.category_unavailable,
    )


def _pair_table(methods: list[str], predicted_pairs: list[np.ndarray], groups: ReviewGroups) -> pd.DataFrame:
    first, second = groups.pair_index
    names = groups.categories.index.to_numpy()
    return pd.DataFrame(
        {
            "method": np.repeat(methods, len(first)),
            "category_a": np.tile(names[first], len(methods)),
            "category_b": np.tile(names[second], len(methods)),
            "reference": np.tile(groups.reference_pairs, len(methods)),
            "predicted": np.concatenate(predicted_pairs),
        }
    )


def similarity_matrices(pairs: pd.DataFrame, method: str, categories: Sequence[str]) -> dict[str, pd.DataFrame]:
    """Square predicted and reference category-similarity matrices of ``method`` (1 on the diagonal)."""
    of_method = pairs[pairs["method"] == method]
    matrices = {}
    for kind in ("predicted", "reference"):
        square = of_method.pivot(index="category_a", columns="category_b", values=kind)
        square = square.reindex(index=categories, columns=categories).to_numpy()
        square = np.where(np.isnan(square), square.T, square)  # pairs are stored once, upper triangle
        np.fill_diagonal(square, 1.0)
        matrices[kind] = pd.DataFrame(square, index=list(categories), columns=list(categories))
    return matrices
