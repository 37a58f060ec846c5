"""Star ratings to classes, and the split by user: a user's reviews all land in one split."""

from __future__ import annotations

import numpy as np
import pandas as pd

from sasnet.data.configs import SPLITS, STARS, SplitConfig
from sasnet.errors import PipelineError


def star_to_class(bins: dict[str, list[int]]) -> np.ndarray:
    """Lookup table: index a star (1-5) to get its class index."""
    table = np.full(len(STARS) + 1, -1, dtype=np.int8)
    for label, members in enumerate(bins.values()):
        table[list(members)] = label
    return table


def assign_users(user_ids: pd.Series, fractions: dict[str, float], seed: int) -> pd.Series:
    """Map each distinct user to a split: a seeded permutation of the sorted users, cut by the fractions."""
    users = np.sort(user_ids.unique())
    order = np.random.default_rng(seed).permutation(len(users))
    n_valid = int(round(fractions["valid"] * len(users)))
    n_test = int(round(fractions["test"] * len(users)))
    n_train = len(users) - n_valid - n_test
    if min(n_train, n_valid, n_test) < 1:
        raise PipelineError(
            f"{len(users)} users cannot be split {dict(fractions)} with at least one user per split: "
            "sample more users (sample.target_users) or change split.fractions"
        )
    labels = np.empty(len(users), dtype=object)
    labels[order[:n_train]] = "train"
    labels[order[n_train : n_train + n_valid]] = "valid"
    labels[order[n_train + n_valid :]] = "test"
    return pd.Series(labels, index=users)


def split_reviews(reviews: pd.DataFrame, config: SplitConfig) -> dict[str, pd.DataFrame]:
    """Add the class ``label`` (int8) and return the train / valid / test frames, rows in input order."""
    labelled = reviews.assign(label=star_to_class(config.bins)[reviews["stars"].to_numpy()])
    split_of_user = assign_users(labelled["user_id"], config.fractions, config.seed)
    split_of_review = labelled["user_id"].map(split_of_user)
    return {name: labelled.loc[split_of_review == name].reset_index(drop=True) for name in SPLITS}


def class_counts(splits: dict[str, pd.DataFrame], class_names: list[str]) -> pd.DataFrame:
    """Long table (split, class, reviews) with a row for every split and class, zeros included."""
    rows = [
        {"split": name, "class": class_names[label], "reviews": int((frame["label"] == label).sum())}
        for name, frame in splits.items()
        for label in range(len(class_names))
    ]
    return pd.DataFrame(rows)


def bayes_oracle(frame: pd.DataFrame, truth: pd.DataFrame, bins: dict[str, list[int]]) -> dict:
    """Accuracy of the Bayes-optimal rule given the demo's latent truth (per-star probabilities), on ``frame``."""
    probs = frame[["review_id", "label"]].merge(truth, on="review_id", how="left", validate="one_to_one")
    class_probs = np.stack(
        [probs[[f"p_star_{star}" for star in members]].sum(axis=1).to_numpy() for members in bins.values()],
        axis=1,
    )
    return {
        "reviews": len(frame),
        "bayes_accuracy_expected": float(class_probs.max(axis=1).mean()) if len(frame) else None,
        "bayes_accuracy_realised": float((class_probs.argmax(axis=1) == probs["label"]).mean())
        if len(frame)
        else None,
    }
