"""The ``star_history`` family: a text-free baseline on the classes of the user's and the business's other reviews.

Features per example: the class shares of the user's other reviews and of the business's other train reviews,
each shrunk toward the train class shares by ``prior_strength`` pseudo-reviews, and log(1 + count) of each pool;
a multinomial logistic regression maps them to class probabilities. Every text model is judged against it.
"""

from __future__ import annotations

from dataclasses import dataclass

READS_EMBEDDING = False


@dataclass(frozen=True)
class StarHistoryConfig:
    prior_strength: float  # pseudo-reviews at the train class shares added to every pool (shrinkage)
    C: float  # inverse L2 strength of the logistic regression
    max_iter: int  # lbfgs iterations; a fit that reaches it is reported as not converged

    def check(self) -> list[str]:
        problems = []
        if self.prior_strength < 0:
            problems.append(f"prior_strength: must be >= 0 (got {self.prior_strength})")
        if self.C <= 0:
            problems.append(f"C: must be > 0 (got {self.C})")
        if self.max_iter < 1:
            problems.append(f"max_iter: must be >= 1 (got {self.max_iter})")
        return problems


Config = StarHistoryConfig

RECOMMENDER = "StarHistoryRecommender"  # the Recommender subclass in model.py
