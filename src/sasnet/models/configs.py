"""The SASNet section of params.yaml, kept free of torch so that loading params stays fast."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class SasnetConfig:
    """The ``train_sasnet`` section: architecture and training. The input width comes from the embedding."""

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
    eval_draws: int  # set draws whose class probabilities are averaged when validating and predicting; 1: the paper

    def check(self) -> list[str]:
        positive = ["sample_size", "batch_size", "hidden_dim", "heads", "ffn_dim", "epochs", "patience", "eval_draws"]
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
