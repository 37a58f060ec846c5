"""The ``mf`` family: biased matrix factorisation (cornac's MF) of the train stars, users folded in per example.

cornac fits r = mu + b_u + b_i + p_u.q_i to the train reviews by SGD; only the item side (mu, b_i, q_i) is kept.
Every example's user is then ridge-fitted to its user pool's stars (``sasnet.models.fold_in``), so train, valid and
test users are treated alike and no target review reaches its own prediction. A Gaussian around the predicted rating,
with the train fold-in RMSE as its spread, gives the class probabilities. Text-free, like ``star_history``.
"""

from __future__ import annotations

from dataclasses import dataclass

READS_EMBEDDING = False


@dataclass(frozen=True)
class MFConfig:
    k: int  # latent factors
    max_iter: int  # SGD epochs over the train reviews
    learning_rate: float  # SGD step
    lambda_reg: float  # L2 strength of every parameter, per review (cornac's lambda_reg)
    fold_in_reg: float  # ridge penalty on a folded-in user's (p, b_u); the pool's reviews outweigh it as they grow
    seed: int  # cornac's initialisation; a seed also makes its SGD single-threaded, hence deterministic

    def check(self) -> list[str]:
        rules = (
            ("k", self.k, self.k >= 1, ">= 1"),
            ("max_iter", self.max_iter, self.max_iter >= 1, ">= 1"),
            ("learning_rate", self.learning_rate, self.learning_rate > 0, "> 0"),
            ("lambda_reg", self.lambda_reg, self.lambda_reg >= 0, ">= 0"),
            ("fold_in_reg", self.fold_in_reg, self.fold_in_reg > 0, "> 0"),
            ("seed", self.seed, self.seed >= 0, ">= 0"),
        )
        return [f"{name}: must be {bound} (got {value})" for name, value, valid, bound in rules if not valid]


Config = MFConfig

RECOMMENDER = "MFRecommender"  # the Recommender subclass in model.py
RANKER = "MFRanker"  # ranks the catalogue on the ranking task (sasnet.models.factor_ranking)
