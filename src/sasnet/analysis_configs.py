"""Params sections of the embedding analysis (score_embeddings: the paper's Table 1; significance: Table 3) and
the bootstrap rule shared with ``evaluation``, kept apart from their code so that validating params.yaml never
imports scipy or scikit-learn."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sasnet.data.configs import SPLITS


def bootstrap_problems(bootstrap_samples: int, confidence: float) -> list[str]:
    """The params rules of every section with bootstrap intervals (``check`` messages)."""
    problems = [] if bootstrap_samples >= 0 else [f"bootstrap_samples: must be >= 0 (got {bootstrap_samples})"]
    if not 0 < confidence < 1:
        problems.append(f"confidence: must be in (0, 1) (got {confidence})")
    return problems


@dataclass(frozen=True)
class ProbeConfig:
    C: float  # inverse L2 regularisation strength of the logistic regression
    max_iter: int

    def check(self) -> list[str]:
        problems = []
        if self.C <= 0:
            problems.append(f"C: must be > 0 (got {self.C})")
        if self.max_iter < 1:
            problems.append(f"max_iter: must be >= 1 (got {self.max_iter})")
        return problems


@dataclass(frozen=True)
class ScoringConfig:
    score_splits: list[str]  # the reviews the sentiment and category metrics use; all three reproduce the paper
    negative_class: str  # the sentiment cosine is between the mean embeddings of these two classes
    positive_class: str
    min_reviews_per_category: int
    bootstrap_samples: int  # 0 skips the intervals
    bootstrap_seed: int
    confidence: float  # of the percentile intervals
    probe: ProbeConfig

    def check(self) -> list[str]:
        problems = []
        if not self.score_splits or len(set(self.score_splits)) != len(self.score_splits) or not set(
            self.score_splits
        ) <= set(SPLITS):
            problems.append(f"score_splits: distinct names among {', '.join(SPLITS)} (got {list(self.score_splits)})")
        if self.negative_class == self.positive_class:
            problems.append(f"negative_class: must differ from positive_class (both {self.negative_class!r})")
        if self.min_reviews_per_category < 1:
            problems.append(f"min_reviews_per_category: must be >= 1 (got {self.min_reviews_per_category})")
        return problems + bootstrap_problems(self.bootstrap_samples, self.confidence)


@dataclass(frozen=True)
class SignificanceConfig:
    # independent: Fisher z for two correlations from independent samples (the paper's Table 3);
    # dependent: Meng-Rosenthal-Rubin, for two correlations with the same reference on the same pairs (correct here)
    correlation_test: Literal["independent", "dependent"]


@dataclass(frozen=True)
class ItemSlicesConfig:
    """The item slices every model and ranker is also scored on: cold-start items and popularity slices."""

    cold_start_max_train: int  # items with at most this many train interactions are cold-start (0: none in train)
    popularity_slices: int  # slices of the evaluated items by train interactions, head to tail, equal item counts

    def check(self) -> list[str]:
        problems = [] if self.cold_start_max_train >= 0 else [
            f"cold_start_max_train: must be >= 0 (got {self.cold_start_max_train})"]
        if self.popularity_slices < 1:
            problems.append(f"popularity_slices: must be >= 1 (got {self.popularity_slices})")
        return problems
