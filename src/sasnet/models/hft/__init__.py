"""The ``hft`` family: Hidden Factors and Hidden Topics (cornac's HFT), a rating model whose item factors are tied
to a topic model of each business's review text.

cornac fits r = alpha + b_u + b_i + p_u.q_i jointly with an LDA-like model of each business's document, the
concatenated text of its TRAIN reviews only (a valid/test review never reaches it). The item side is kept; every
example's user is ridge-folded in from its user pool (``sasnet.models.fold_in``) and its rating turned into class
probabilities as in ``mf``.
"""

from __future__ import annotations

from dataclasses import dataclass

from sasnet.config import bounded

READS = "review_text"  # sasnet.inputs: the task's own split with its review text


@dataclass(frozen=True)
class HFTConfig:
    k: int = bounded(ge=1)  # latent factors, also the number of topics
    max_iter: int = bounded(ge=1)  # EM iterations (one topic-assignment sweep plus one L-BFGS run each)
    grad_iter: int = bounded(ge=1)  # L-BFGS iterations per EM iteration
    lambda_text: float = bounded(ge=0)  # weight of the corpus log-likelihood against the squared rating errors
    l2_reg: float = bounded(ge=0)  # L2 strength of the user and item factors
    vocab_size: int = bounded(ge=1)  # the most frequent words kept (English stop words dropped)
    fold_in_reg: float = bounded(gt=0)  # ridge penalty on a folded-in user's (p, b_u); the pool's reviews outweigh it as they grow
    seed: int = bounded(ge=0, lt=2**32)  # cornac's initialisation and numpy's global generator, which HFT's topic sampling draws from


Config = HFTConfig

MODEL = "HFTRecommender"  # the Recommender subclass in model.py
TASKS = ("classify",)
