"""The params every next-item sequence family shares (sasrec, bert4rec, gru4rec, xlstm), kept light: params.yaml is
validated without importing torch."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class NextItemConfig:
    max_len: int  # the most recent interactions a user's sequence keeps (longer histories are cut into windows)
    hidden_dim: int  # item embedding and hidden size
    dropout: float
    epochs: int  # upper bound; early stopping on valid NDCG@ranking.k ends sooner
    patience: int  # epochs without a better valid NDCG
    batch_size: int  # sequence windows per step
    lr: float  # AdamW
    weight_decay: float
    seed: int
    device: Literal["auto", "cpu", "cuda"]
    # Disliked items (stars <= disliked_rating): with disliked_as_negatives, a position whose next item is disliked
    # is no positive target; the item is pushed down there instead (a binary term), weighted by disliked_weight.
    disliked_rating: int
    disliked_as_negatives: bool
    disliked_weight: float

    def check(self) -> list[str]:
        rules = (
            ("max_len", self.max_len, self.max_len >= 2, ">= 2"),
            ("hidden_dim", self.hidden_dim, self.hidden_dim >= 1, ">= 1"),
            ("dropout", self.dropout, 0 <= self.dropout < 1, "in [0, 1)"),
            ("epochs", self.epochs, self.epochs >= 1, ">= 1"),
            ("patience", self.patience, self.patience >= 1, ">= 1"),
            ("batch_size", self.batch_size, self.batch_size >= 1, ">= 1"),
            ("lr", self.lr, self.lr > 0, "> 0"),
            ("weight_decay", self.weight_decay, self.weight_decay >= 0, ">= 0"),
            ("seed", self.seed, self.seed >= 0, ">= 0"),
            ("disliked_rating", self.disliked_rating, 0 <= self.disliked_rating <= 5, "in 0..5 (0: none disliked)"),
            ("disliked_weight", self.disliked_weight, self.disliked_weight > 0, "> 0"),
        )
        problems = [f"{name}: must be {bound} (got {value})" for name, value, valid, bound in rules if not valid]
        if self.disliked_weight != 1 and not self.disliked_as_negatives:
            problems.append("disliked_weight: weighs disliked negatives, so it needs disliked_as_negatives: true")
        return problems + self.architecture_problems()

    def architecture_problems(self) -> list[str]:
        return []


@dataclass(frozen=True)
class AttentionConfig(NextItemConfig):
    """Transformer families (sasrec, bert4rec)."""

    blocks: int
    heads: int

    def architecture_problems(self) -> list[str]:
        problems = [f"blocks: must be >= 1 (got {self.blocks})"] if self.blocks < 1 else []
        if self.heads < 1 or self.hidden_dim % self.heads:
            problems.append(f"heads: must be >= 1 and divide hidden_dim {self.hidden_dim} (got {self.heads})")
        return problems
