"""The ``star_history`` family: a text-free baseline on the classes of the user's and the business's other reviews.

Features per example: the class shares of the user's other reviews and of the business's other train reviews,
each shrunk toward the train class shares by ``prior_strength`` pseudo-reviews, and log(1 + count) of each pool;
a multinomial logistic regression maps them to class probabilities. Every text model is judged against it.
"""

from __future__ import annotations

from dataclasses import dataclass

from sasnet.config import bounded

READS = "ratings"  # sasnet.inputs: the task's own split, no text


@dataclass(frozen=True)
class StarHistoryConfig:
    prior_strength: float = bounded(ge=0)  # pseudo-reviews at the train class shares added to every pool (shrinkage)
    C: float = bounded(gt=0)  # inverse L2 strength of the logistic regression
    max_iter: int = bounded(ge=1)  # lbfgs iterations; a fit that reaches it is reported as not converged


Config = StarHistoryConfig

MODEL = "StarHistoryRecommender"  # the Recommender subclass in model.py
TASKS = ("classify",)
