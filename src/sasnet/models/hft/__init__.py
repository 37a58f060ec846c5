"""The ``hft`` family: Hidden Factors and Hidden Topics (cornac's HFT), a rating model whose item factors are tied
to a topic model of each business's review text.

cornac fits r = alpha + b_u + b_i + p_u.q_i jointly with an LDA-like model of each business's document, the
concatenated text of its TRAIN reviews only (a valid/test review never reaches it). The item side is kept; every
example's user is ridge-folded in from its user pool (``sasnet.models.fold_in``) and its rating turned into class
probabilities as in ``mf``.
"""

from __future__ import annotations

from dataclasses import dataclass

READS_EMBEDDING = False


@dataclass(frozen=True)
class HFTConfig:
    k: int  # latent factors, also the number of topics
    max_iter: int  # EM iterations (one topic-assignment sweep plus one L-BFGS run each)
    grad_iter: int  # L-BFGS iterations per EM iteration
    lambda_text: float  # weight of the corpus log-likelihood against the squared rating errors
    l2_reg: float  # L2 strength of the user and item factors
    vocab_size: int  # the most frequent words kept (English stop words dropped)
    fold_in_reg: float  # ridge penalty on a folded-in user's (p, b_u); the pool's reviews outweigh it as they grow
    seed: int  # cornac's initialisation and numpy's global generator, which HFT's topic sampling draws from

    def check(self) -> list[str]:
        rules = (
            ("k", self.k, self.k >= 1, ">= 1"),
            ("max_iter", self.max_iter, self.max_iter >= 1, ">= 1"),
            ("grad_iter", self.grad_iter, self.grad_iter >= 1, ">= 1"),
            ("lambda_text", self.lambda_text, self.lambda_text >= 0, ">= 0"),
            ("l2_reg", self.l2_reg, self.l2_reg >= 0, ">= 0"),
            ("vocab_size", self.vocab_size, self.vocab_size >= 1, ">= 1"),
            ("fold_in_reg", self.fold_in_reg, self.fold_in_reg > 0, "> 0"),
            ("seed", self.seed, 0 <= self.seed < 2**32, "in [0, 2^32)"),
        )
        return [f"{name}: must be {bound} (got {value})" for name, value, valid, bound in rules if not valid]


Config = HFTConfig

RECOMMENDER = "HFTRecommender"  # the Recommender subclass in model.py
