"""The ``sasnet`` family: SASNet, a Siamese set transformer over sets of review embeddings (SPEC §1).

This module holds the family's params section only, free of torch so that validating params stays fast; the
network is in ``network``, its training loop in ``training`` and the Recommender and the Ranker in ``model``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

READS_EMBEDDING = True
STAR_LEVELS = 5  # star ratings 1..5, embedded as 0..4 with history_stars


@dataclass(frozen=True)
class SasnetConfig:
    """The ``sasnet`` section: architecture and training. The input width comes from the embedding."""

    sample_size: int  # S: reviews drawn per user set and per business set
    batch_size: int
    hidden_dim: int  # width after the down-projection
    heads: int  # attention heads, in the core and in the cross-attention
    ffn_dim: int  # inner width of every feed-forward layer
    blocks: int  # self-attention blocks in the shared core (0: the sets are only projected and pooled)
    dropout: float
    epochs: int  # upper bound; early stopping usually ends sooner
    patience: int  # epochs without a better validation macro-F1 before stopping
    lr: float  # AdamW learning rate
    weight_decay: float  # AdamW decoupled weight decay, on weight matrices only
    seed: int  # weights, dropout, set draws and batch order
    cross_attention: bool  # False (ablation): concatenate the two entity vectors instead
    resample_sets: bool  # True: re-draw the train sets every epoch ("combinatorial training"); False: draw once
    device: Literal["auto", "cpu", "cuda"]  # auto: cuda when available
    precision: Literal["auto", "float32", "bfloat16"]  # bfloat16: autocast; auto: bfloat16 on CUDA and bf16-native CPUs
    eval_draws: int  # set draws whose class probabilities are averaged in the scores and predictions; 1: the paper
    valid_draws: int  # the same, in each epoch's validation (what early stopping reads); 1: the paper
    history_stars: bool  # beyond the paper: each history review's vector also carries its star rating
    class_weight: Literal["none", "balanced"]  # balanced: cross-entropy weighted by inverse train class frequency

    def check(self) -> list[str]:
        positive = ["sample_size", "batch_size", "hidden_dim", "heads", "ffn_dim", "epochs", "patience", "eval_draws",
                    "valid_draws"]
        problems = [f"{name}: must be >= 1 (got {getattr(self, name)})" for name in positive if getattr(self, name) < 1]
        if self.heads >= 1 and self.hidden_dim % self.heads:
            problems.append(f"hidden_dim: must be divisible by heads ({self.hidden_dim} % {self.heads} != 0)")
        if self.blocks < 0:
            problems.append(f"blocks: must be >= 0 (got {self.blocks})")
        if not 0.0 <= self.dropout < 1.0:
            problems.append(f"dropout: must be in [0, 1) (got {self.dropout})")
        if self.lr <= 0:
            problems.append(f"lr: must be > 0 (got {self.lr})")
        if self.weight_decay < 0:
            problems.append(f"weight_decay: must be >= 0 (got {self.weight_decay})")
        if self.seed < 0:
            problems.append(f"seed: must be >= 0 (got {self.seed})")
        return problems


Config = SasnetConfig

RECOMMENDER = "SasnetRecommender"  # the Recommender subclass in model.py
RANKER = "SasnetRanker"  # ranks the catalogue by P(best class) (rankers entries with input normalized/<run>)
