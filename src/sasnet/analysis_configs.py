"""Params sections of the embedding analysis (score_embeddings: the paper's Table 1; significance: Table 3) and
of ``evaluation``, kept apart from their code so that validating params.yaml never imports scipy or scikit-learn."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sasnet.config import bounded
from sasnet.data.configs import SPLITS


@dataclass(frozen=True)
class ProbeConfig:
    C: float = bounded(gt=0)  # inverse L2 regularisation strength of the logistic regression
    max_iter: int = bounded(ge=1)


@dataclass(frozen=True)
class ScoringConfig:
    score_splits: list[str]  # the reviews the sentiment and category metrics use; all three reproduce the paper
    negative_class: str  # the sentiment cosine is between the mean embeddings of these two classes
    positive_class: str
    min_reviews_per_category: int = bounded(ge=1)
    bootstrap_samples: int = bounded(ge=0)  # 0 skips the intervals
    bootstrap_seed: int
    confidence: float = bounded(gt=0, lt=1)  # of the percentile intervals
    probe: ProbeConfig

    def check(self) -> list[str]:
        problems = []
        if not self.score_splits or len(set(self.score_splits)) != len(self.score_splits) or not set(
            self.score_splits
        ) <= set(SPLITS):
            problems.append(f"score_splits: distinct names among {', '.join(SPLITS)} (got {list(self.score_splits)})")
        if self.negative_class == self.positive_class:
            problems.append(f"negative_class: must differ from positive_class (both {self.negative_class!r})")
        return problems


@dataclass(frozen=True)
class SignificanceConfig:
    # independent: Fisher z for two correlations from independent samples (the paper's Table 3);
    # dependent: Meng-Rosenthal-Rubin, for two correlations with the same reference on the same pairs (correct here)
    correlation_test: Literal["independent", "dependent"]


@dataclass(frozen=True)
class ItemSlicesConfig:
    """The item slices every model and ranker is also scored on: cold-start items and popularity slices."""

    cold_start_max_train: int = bounded(ge=0)  # items with at most this many train interactions are cold-start (0: none in train)
    popularity_slices: int = bounded(ge=1)  # slices of the evaluated items by train interactions, head to tail, equal item counts


@dataclass(frozen=True)
class EvaluationConfig:
    """How every model is scored on the valid and test reviews (SPEC §2.5)."""

    bootstrap_samples: int = bounded(ge=0)  # resamples for the 95% intervals of accuracy and macro-F1; 0 skips them
    confidence: float = bounded(gt=0, lt=1)
    seed: int = bounded(ge=0)
    # the split stage refuses valid or test sets smaller than this: their intervals would mean nothing
    min_examples: int = bounded(ge=1)
