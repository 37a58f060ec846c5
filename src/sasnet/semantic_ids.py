"""Compositional semantic IDs for items: text embedding -> residual k-means -> collision suffix.

An item's ID is L codes, one per level of residual k-means over its text embedding, plus a suffix that tells apart
the items whose L codes coincide, so every item gets a unique (L+1)-token ID. Items with similar text share ID
prefixes, which lets a sequence model generalise across items (and reach new ones) through shared tokens instead of
one opaque ID each. Everything is deterministic for a seed, so a rerun of the pipeline reproduces the same IDs.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from sklearn.cluster import KMeans

from sasnet.data.leave_last_out import leave_last_out
from sasnet.io import write_csv
from sasnet.plots import save_figure

TEXT_MODES = ("metadata", "reviews", "auto")


@dataclass(frozen=True)
class Quantisation:
    """Residual k-means of item vectors: the codes, each level's codebook and what each level leaves unexplained."""

    codes: np.ndarray  # [n, levels] int64, level l's code of each item
    centroids: list[np.ndarray]  # per level [codebook_l, d] float64, codebook_l = min(K, distinct residual rows)
    level_errors: list[float]  # mean squared norm of the residual after levels 1..L
    initial_error: float  # mean squared norm of the vectors minus their mean (what level 0 leaves)


def _level_seed(seed: int, level: int) -> int:
    """KMeans' random_state for one level: independent streams per level, all fixed by the one seed."""
    return int(np.random.SeedSequence([seed, level]).generate_state(1)[0])


def _mean_squared_norm(rows: np.ndarray) -> float:
    return float(np.mean(np.sum(rows**2, axis=1)))


def residual_kmeans(
    vectors: np.ndarray, levels: int, codebook_size: int, seed: int, n_init: int = 4, max_iter: int = 100
) -> Quantisation:
    """Level 1 clusters the vectors, level l the residuals left by levels < l. Deterministic for a seed (KMeans'
    random_state derived from seed and level). K is capped at the number of distinct residual rows, so catalogues
    smaller than K (down to one item) still quantise."""
    residual = np.array(vectors, dtype=np.float64)  # a copy: the residual is updated in place below
    if residual.ndim != 2 or len(residual) == 0:
        raise ValueError(f"vectors must be a non-empty [n, d] array, got shape {residual.shape}")
    if not np.isfinite(residual).all():
        raise ValueError("vectors must be finite")
    if levels < 1 or codebook_size < 1:
        raise ValueError(f"levels and codebook_size must be >= 1, got {levels} and {codebook_size}")
    initial_error = _mean_squared_norm(residual - residual.mean(axis=0))
    codes, centroids, level_errors = [], [], []
    for level in range(1, levels + 1):
        # KMeans refuses more clusters than distinct points; a residual already at zero is one distinct row
        clusters = min(codebook_size, len(np.unique(residual, axis=0)))
        kmeans = KMeans(
            n_clusters=clusters, n_init=n_init, max_iter=max_iter, random_state=_level_seed(seed, level)
        ).fit(residual)
        level_codes = kmeans.labels_.astype(np.int64)
        centres = kmeans.cluster_centers_.astype(np.float64)
        residual -= centres[level_codes]
        codes.append(level_codes)
        centroids.append(centres)
        level_errors.append(_mean_squared_norm(residual))
    return Quantisation(np.stack(codes, axis=1), centroids, level_errors, initial_error)


def collision_suffix(codes: np.ndarray) -> np.ndarray:
    """[n] int64: each row's rank among the rows with identical codes, in row order (0 for a unique one)."""
    codes = np.asarray(codes)
    if codes.ndim != 2:
        raise ValueError(f"codes must be an [n, levels] array, got shape {codes.shape}")
    if len(codes) == 0:
        return np.zeros(0, dtype=np.int64)
    groups = np.unique(codes, axis=0, return_inverse=True)[1].reshape(-1)
    order = np.argsort(groups, kind="stable")  # stable: within a group, rows stay in row order
    sizes = np.bincount(groups)
    group_starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    suffix = np.empty(len(codes), dtype=np.int64)
    suffix[order] = np.arange(len(codes)) - group_starts[groups[order]]
    return suffix


def semantic_tokens(codes: np.ndarray, suffix: np.ndarray) -> np.ndarray:
    """[n, levels+1] int64: each item's codes then its collision suffix; raises unless the rows are unique."""
    codes, suffix = np.asarray(codes, dtype=np.int64), np.asarray(suffix, dtype=np.int64)
    if codes.ndim != 2 or suffix.shape != (len(codes),):
        raise ValueError(f"codes must be [n, levels] and suffix [n], got {codes.shape} and {suffix.shape}")
    tokens = np.column_stack([codes, suffix])
    if len(np.unique(tokens, axis=0)) != len(tokens):
        raise ValueError("the suffix does not make the IDs unique (is it collision_suffix of these codes?)")
    return tokens


def _metadata_text(name: str, categories: str) -> str:
    parts = ([name] if name else []) + ([f"Categories: {categories}"] if categories else [])
    return ". ".join(parts)


def _review_texts(business_ids: pd.Series, train_reviews: pd.DataFrame, max_review_chars: int) -> list[str]:
    """Each business's reviews oldest first (ties in the frame's order, undated ones last), joined with newlines
    and cut to ``max_review_chars``; '' for a business without any."""
    wanted = train_reviews[train_reviews["business_id"].isin(set(business_ids))]
    frame = pd.DataFrame({
        "business_id": wanted["business_id"].to_numpy(),
        "text": wanted["text"].fillna("").astype(str).str.strip().to_numpy(),
        "moment": pd.to_datetime(wanted["date"], format="ISO8601", utc=True).to_numpy(),
        "row": np.arange(len(wanted)),
    })
    frame = frame[frame["text"] != ""].sort_values(["business_id", "moment", "row"])
    # drop the reviews that start beyond the cut before joining (a popular business has thousands); the same text
    # as joining them all and cutting
    length = frame["text"].str.len() + 1  # + the newline joining it to the next one
    start = frame.assign(length=length).groupby("business_id", sort=False)["length"].cumsum() - length
    kept = frame[start <= max_review_chars]
    joined = kept.groupby("business_id", sort=False)["text"].agg("\n".join).str[:max_review_chars]
    return [joined.get(business_id, "") for business_id in business_ids]


def text_reviews(reviews: pd.DataFrame, user_split_train: set, tie_seed: int) -> tuple[pd.DataFrame, bool]:
    """The reviews an item's text may read: train in the user split and train in the ranking task's leave-last-out
    (``sasnet.data.leave_last_out`` on the same sampled reviews with the same tie seed, so the same targets), so
    that no valid or test review of either task describes an item. Without dates there is no ranking task and the
    user split alone decides; the flag says whether the ranking split was applied."""
    allowed = reviews["review_id"].isin(user_split_train)
    dated = not (reviews["date"].fillna("") == "").any()
    if dated:
        interactions, _ = leave_last_out(reviews, tie_seed)
        allowed &= ~reviews["review_id"].isin(interactions.loc[interactions["split"] != "train", "review_id"])
    return reviews.loc[allowed, ["business_id", "text", "date"]].reset_index(drop=True), dated


def item_texts(
    items: pd.DataFrame, train_reviews: pd.DataFrame, mode: str, max_review_chars: int
) -> tuple[list[str], np.ndarray]:
    """One text per row of ``items`` (business_id, name, categories: a comma-separated string, may be '') and its
    source per row ('metadata' | 'reviews' | 'none'; 'none' wherever the text is '').

    'metadata': "<name>. Categories: <categories>", empty parts left out. 'reviews': the item's reviews from
    ``train_reviews`` (business_id, text, date), oldest first, joined with newlines, cut to ``max_review_chars``.
    'auto': metadata where the item has a name or categories, else reviews. ``train_reviews`` are the only reviews
    read, so a caller passing train reviews only keeps valid and test text out of the IDs.
    """
    if mode not in TEXT_MODES:
        raise ValueError(f"mode must be one of {', '.join(TEXT_MODES)}, got {mode!r}")
    if max_review_chars < 1:
        raise ValueError(f"max_review_chars must be >= 1, got {max_review_chars}")
    names = items["name"].fillna("").astype(str).str.strip()
    categories = items["categories"].fillna("").astype(str).str.strip()
    if mode == "reviews":
        texts = [""] * len(items)
    else:
        texts = [_metadata_text(name, listed) for name, listed in zip(names, categories)]
    sources = np.where([bool(text) for text in texts], "metadata", "none").astype(object)
    if mode != "metadata":
        lacking = np.flatnonzero(sources == "none")  # in 'auto' only these fall back to reviews
        reviews = _review_texts(items["business_id"].iloc[lacking], train_reviews, max_review_chars)
        for row, text in zip(lacking, reviews):
            texts[row] = text
            sources[row] = "reviews" if text else "none"
    return texts, sources


def _usage(codes: np.ndarray, codebook_size: int) -> np.ndarray:
    return np.bincount(codes, minlength=codebook_size)


def _pairs_within_groups(groups: np.ndarray, max_pairs: int, rng: np.random.Generator) -> tuple[np.ndarray, int]:
    """[k, 2] index pairs of distinct items in one group: all of them when there are at most ``max_pairs``, else
    ``max_pairs`` drawn uniformly (with replacement) from them; and how many such pairs there are in all."""
    order = np.argsort(groups, kind="stable")
    sizes = np.bincount(groups)
    group_starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    pair_counts = sizes * (sizes - 1) // 2
    total = int(pair_counts.sum())
    if total == 0:
        return np.zeros((0, 2), dtype=np.int64), 0
    if total <= max_pairs:
        pairs = [
            order[group_starts[group] + np.stack(np.triu_indices(sizes[group], 1), axis=1)]
            for group in np.flatnonzero(sizes > 1)
        ]
        return np.concatenate(pairs), total
    group = rng.choice(len(sizes), size=max_pairs, p=pair_counts / total)
    first = rng.integers(sizes[group])
    second = rng.integers(sizes[group] - 1)
    second += second >= first  # a second member other than the first
    return np.stack([order[group_starts[group] + first], order[group_starts[group] + second]], axis=1), total


def _mean_jaccard(pairs: np.ndarray, categories: list[set[str]]) -> float | None:
    if len(pairs) == 0:
        return None
    return float(np.mean([len(categories[a] & categories[b]) / len(categories[a] | categories[b]) for a, b in pairs]))


def _prefix_category_agreement(
    codes: np.ndarray, categories: list[set[str]], seed: int, max_pairs: int
) -> dict:
    """Mean category Jaccard over item pairs sharing each ID prefix, against random pairs: how far the codes group
    items the way their categories do."""
    described = np.flatnonzero([bool(listed) for listed in categories])  # an empty set says nothing either way
    described_categories = [categories[row] for row in described]
    random_pairs, _ = _pairs_within_groups(
        np.zeros(len(described), dtype=np.int64), max_pairs, np.random.default_rng([seed, 0])
    )
    random_jaccard = _mean_jaccard(random_pairs, described_categories)
    by_prefix = []
    for length in range(1, codes.shape[1] + 1):
        groups = np.unique(codes[described, :length], axis=0, return_inverse=True)[1].reshape(-1)
        pairs, total = _pairs_within_groups(groups, max_pairs, np.random.default_rng([seed, length]))
        by_prefix.append({
            "prefix_length": length,
            "mean_jaccard": _mean_jaccard(pairs, described_categories),
            "pairs": total,
            "pairs_used": len(pairs),
            "random_mean_jaccard": random_jaccard,
            "random_pairs_used": len(random_pairs),
        })
    return {"items_with_categories": len(described), "by_prefix_length": by_prefix}


def analyse(
    tokens: np.ndarray, categories: list[set[str]], quantisation: Quantisation, seed: int, max_pairs: int = 20000
) -> dict:
    """JSON-ready analysis of semantic IDs: code usage per level, collisions, how well ID prefixes agree with the
    items' categories (against random pairs) and how much of the vectors' spread each level explains."""
    levels = len(quantisation.centroids)
    if tokens.ndim != 2 or tokens.shape[1] != levels + 1 or len(categories) != len(tokens):
        raise ValueError(
            f"tokens must be [n, {levels + 1}] with one category set per row, got {tokens.shape} and "
            f"{len(categories)} sets"
        )
    n = len(tokens)
    codes = tokens[:, :levels]
    per_level = []
    for level, centres in enumerate(quantisation.centroids, start=1):
        usage = _usage(codes[:, level - 1], len(centres))
        shares = usage[usage > 0] / n
        per_level.append({
            "level": level,
            "codes_used": int((usage > 0).sum()),
            "codebook_size": len(centres),
            "perplexity": math.exp(-float(np.sum(shares * np.log(shares)))),
            "largest_code_share": float(shares.max()),
        })
    group_sizes = np.unique(codes, axis=0, return_counts=True)[1]
    collisions = {
        "items": n,
        "items_sharing_codes": float(group_sizes[group_sizes > 1].sum() / n),
        "collision_groups": int((group_sizes > 1).sum()),
        "longest_group": int(group_sizes.max()),
        "max_suffix": int(tokens[:, -1].max()),
    }
    initial = quantisation.initial_error
    reconstruction = {
        "initial_error": initial,
        "levels": [
            # identical vectors leave nothing to explain: the share is undefined, not 0 or 1
            {"level": level, "error": error, "explained_share": 1 - error / initial if initial > 0 else None}
            for level, error in enumerate(quantisation.level_errors, start=1)
        ],
    }
    return {
        "levels": per_level,
        "collisions": collisions,
        "prefix_category_agreement": _prefix_category_agreement(codes, categories, seed, max_pairs),
        "reconstruction": reconstruction,
    }


def plot_semantic_ids(
    tokens: np.ndarray, quantisation: Quantisation, csv_path: str | os.PathLike, png_path: str | os.PathLike
) -> None:
    """One panel per level with the items per code (codes sorted by use, unused ones included) and one with the
    reconstruction error by level (0 = the vectors' spread about their mean); the plot data beside it as a long CSV
    (panel, level, rank, code, items, error)."""
    levels = len(quantisation.centroids)
    errors = [quantisation.initial_error, *quantisation.level_errors]
    usage_rows = []
    fig, axes = plt.subplots(1, levels + 1, figsize=(3.4 * (levels + 1), 3.2), squeeze=False)
    for level, (ax, centres) in enumerate(zip(axes[0], quantisation.centroids), start=1):
        usage = _usage(tokens[:, level - 1], len(centres))
        by_use = np.argsort(-usage, kind="stable")
        usage_rows.append(pd.DataFrame({
            "panel": "code_usage", "level": level, "rank": np.arange(len(by_use)), "code": by_use,
            "items": usage[by_use],
        }))
        ax.bar(np.arange(len(by_use)), usage[by_use], width=1.0, color="tab:blue")
        ax.set_title(f"level {level}: {int((usage > 0).sum())} of {len(centres)} codes used", fontsize=9)
        ax.set_xlabel("code (most used first)")
        ax.spines[["top", "right"]].set_visible(False)
    axes[0, 0].set_ylabel("items")
    error_ax = axes[0, -1]
    error_ax.plot(range(levels + 1), errors, marker="o", color="tab:orange")
    error_ax.set_xticks(range(levels + 1))
    error_ax.set_ylim(bottom=0)
    error_ax.set_xlabel("levels applied")
    error_ax.set_ylabel("mean squared residual norm")
    error_ax.set_title("reconstruction error", fontsize=9)
    error_ax.spines[["top", "right"]].set_visible(False)
    fig.tight_layout()
    save_figure(fig, png_path)
    error_rows = pd.DataFrame({"panel": "reconstruction", "level": range(levels + 1), "error": errors})
    table = pd.concat([*usage_rows, error_rows], ignore_index=True)
    # integer columns stay integers in the CSV although the error rows leave them empty
    table = table.astype({"rank": "Int64", "code": "Int64", "items": "Int64"})
    write_csv(table[["panel", "level", "rank", "code", "items", "error"]], csv_path)
