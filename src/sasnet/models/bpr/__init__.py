"""The ``bpr`` family: Bayesian personalised ranking (cornac's BPR) of who reviews what, calibrated to classes.

cornac fits item vectors q_i and biases b_i so that a user's reviewed businesses outscore the others (every train
review is a positive; stars are not used). Every example's user vector is refitted from its user pool alone
(``sasnet.models.fold_in``), its score b_i + p.q_i for the example's business goes through a multinomial logistic
regression fitted on the train reviews' fold-in scores. It predicts no rating.
"""

from __future__ import annotations

from dataclasses import dataclass

from sasnet.config import bounded

READS = "ratings"  # sasnet.inputs: the task's own split, no text


@dataclass(frozen=True)
class BPRConfig:
    k: int = bounded(ge=1)  # latent factors
    max_iter: int = bounded(ge=1)  # SGD epochs (each draws as many (user, positive, negative) triples as there are train reviews)
    learning_rate: float = bounded(gt=0)  # SGD step
    lambda_reg: float = bounded(ge=0)  # L2 strength, per drawn triple (cornac's lambda_reg)
    fold_in_reg: float = bounded(gt=0)  # L2 penalty on a folded-in user's p against its pool's summed log-likelihood
    seed: int = bounded(ge=0)  # cornac's initialisation and triple draws, and the calibration subset; also single-threads its SGD
    calibration_reviews: int = bounded(ge=10)  # train reviews (a seeded subset) whose fold-in scores fit the calibrator


Config = BPRConfig

MODEL = "BPRRecommender"  # the Recommender subclass in model.py
TASKS = ("classify", "rank")  # one model class for both (sasnet.models.base)
