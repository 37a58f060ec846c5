"""The ``sasnet`` family: SASNet, a Siamese set transformer over sets of review embeddings (SPEC §1).

This module holds the family's params section only, free of torch so that validating params stays fast; the
network is in ``network``, its training loop in ``training`` and the model of both tasks in ``model``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sasnet.config import bounded

READS = "embedding"  # sasnet.inputs: a normalised review embedding and its pooling
STAR_LEVELS = 5  # star ratings 1..5, embedded as 0..4 with history_stars


@dataclass(frozen=True)
class SasnetConfig:
    """The ``sasnet`` section: architecture and training. The input width comes from the embedding."""

    sample_size: int = bounded(ge=1)  # S: reviews drawn per user set and per business set
    batch_size: int = bounded(ge=1)
    hidden_dim: int = bounded(ge=1)  # width after the down-projection
    heads: int = bounded(ge=1)  # attention heads, in the core and in the cross-attention
    ffn_dim: int = bounded(ge=1)  # inner width of every feed-forward layer
    blocks: int = bounded(ge=0)  # self-attention blocks in the shared core (0: the sets are only projected and pooled)
    dropout: float = bounded(ge=0, lt=1)
    epochs: int = bounded(ge=1)  # upper bound; early stopping usually ends sooner
    patience: int = bounded(ge=1)  # epochs without a better validation macro-F1 before stopping
    lr: float = bounded(gt=0)  # AdamW learning rate
    weight_decay: float = bounded(ge=0)  # AdamW decoupled weight decay, on weight matrices only
    seed: int = bounded(ge=0)  # weights, dropout, set draws and batch order
    cross_attention: bool  # False (ablation): concatenate the two entity vectors instead
    resample_sets: bool  # True: re-draw the train sets every epoch ("combinatorial training"); False: draw once
    device: Literal["auto", "cpu", "cuda"]  # auto: cuda when available
    precision: Literal["auto", "float32", "bfloat16"]  # bfloat16: autocast; auto: bfloat16 on CUDA and bf16-native CPUs
    eval_draws: int = bounded(ge=1)  # set draws whose class probabilities are averaged in the scores and predictions; 1: the paper
    valid_draws: int = bounded(ge=1)  # the same, in each epoch's validation (what early stopping reads); 1: the paper
    history_stars: bool  # beyond the paper: each history review's vector also carries its star rating
    class_weight: Literal["none", "balanced"]  # balanced: cross-entropy weighted by inverse train class frequency

    def check(self) -> list[str]:
        if self.heads >= 1 and self.hidden_dim % self.heads:
            return [f"hidden_dim: must be divisible by heads ({self.hidden_dim} % {self.heads} != 0)"]
        return []


Config = SasnetConfig

MODEL = "SasnetRecommender"  # the Recommender subclass in model.py
TASKS = ("classify", "rank")  # one model class for both (sasnet.models.base)
