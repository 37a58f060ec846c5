"""The ``bpr`` family: Bayesian personalised ranking (cornac's BPR) of who reviews what, calibrated to classes.

cornac fits item vectors q_i and biases b_i so that a user's reviewed businesses outscore the others (every train
review is a positive; stars are not used). Every example's user vector is refitted from its user pool alone
(``sasnet.models.fold_in``), its score b_i + p.q_i for the example's business goes through a multinomial logistic
regression fitted on the train reviews' fold-in scores. It predicts no rating.
"""

from __future__ import annotations

from dataclasses import dataclass

READS_EMBEDDING = False


@dataclass(frozen=True)
class BPRConfig:
    k: int  # latent factors
    max_iter: int  # SGD epochs (each draws as many (user, positive, negative) triples as there are train reviews)
    learning_rate: float  # SGD step
    lambda_reg: float  # L2 strength, per drawn triple (cornac's lambda_reg)
    fold_in_reg: float  # L2 penalty on a folded-in user's p against its pool's summed log-likelihood
    seed: int  # cornac's initialisation and triple draws, and the calibration subset; also single-threads its SGD
    calibration_reviews: int  # train reviews (a seeded subset) whose fold-in scores fit the calibrator

    def check(self) -> list[str]:
        rules = (
            ("k", self.k, self.k >= 1, ">= 1"),
            ("max_iter", self.max_iter, self.max_iter >= 1, ">= 1"),
            ("learning_rate", self.learning_rate, self.learning_rate > 0, "> 0"),
            ("lambda_reg", self.lambda_reg, self.lambda_reg >= 0, ">= 0"),
            ("fold_in_reg", self.fold_in_reg, self.fold_in_reg > 0, "> 0"),
            ("seed", self.seed, self.seed >= 0, ">= 0"),
            ("calibration_reviews", self.calibration_reviews, self.calibration_reviews >= 10, ">= 10"),
        )
        return [f"{name}: must be {bound} (got {value})" for name, value, valid, bound in rules if not valid]


Config = BPRConfig

RECOMMENDER = "BPRRecommender"  # the Recommender subclass in model.py
RANKER = "BPRRanker"  # ranks the catalogue on the ranking task (sasnet.models.factor_ranking)
