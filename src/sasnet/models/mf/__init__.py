"""The ``mf`` family: biased matrix factorisation (cornac's MF) of the train stars, users folded in per example.

cornac fits r = mu + b_u + b_i + p_u.q_i to the train reviews by SGD; only the item side (mu, b_i, q_i) is kept.
Every example's user is then ridge-fitted to its user pool's stars (``sasnet.models.fold_in``), so train, valid and
test users are treated alike and no target review reaches its own prediction. A Gaussian around the predicted rating,
with the train fold-in RMSE as its spread, gives the class probabilities. Text-free, like ``star_history``.
"""

from __future__ import annotations

from dataclasses import dataclass

from sasnet.config import bounded

READS = "ratings"  # sasnet.inputs: the task's own split, no text


@dataclass(frozen=True)
class MFConfig:
    k: int = bounded(ge=1)  # latent factors
    max_iter: int = bounded(ge=1)  # SGD epochs over the train reviews
    learning_rate: float = bounded(gt=0)  # SGD step
    lambda_reg: float = bounded(ge=0)  # L2 strength of every parameter, per review (cornac's lambda_reg)
    fold_in_reg: float = bounded(gt=0)  # ridge penalty on a folded-in user's (p, b_u); the pool's reviews outweigh it as they grow
    seed: int = bounded(ge=0)  # cornac's initialisation; a seed also makes its SGD single-threaded, hence deterministic


Config = MFConfig

MODEL = "MFRecommender"  # the Recommender subclass in model.py
TASKS = ("classify", "rank")  # one model class for both (sasnet.models.base)
