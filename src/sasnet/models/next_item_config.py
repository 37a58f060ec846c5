"""The params every next-item sequence family shares (sasrec, bert4rec, gru4rec, xlstm), kept light: params.yaml is
validated without importing torch."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sasnet.config import bounded


@dataclass(frozen=True)
class NextItemConfig:
    max_len: int = bounded(ge=2)  # the most recent interactions a user's sequence keeps (longer histories are cut into windows)
    hidden_dim: int = bounded(ge=1)  # item embedding and hidden size
    dropout: float = bounded(ge=0, lt=1)
    epochs: int = bounded(ge=1)  # upper bound; early stopping on valid NDCG@ranking.k ends sooner
    patience: int = bounded(ge=1)  # epochs without a better valid NDCG
    batch_size: int = bounded(ge=1)  # sequence windows per step
    lr: float = bounded(gt=0)  # AdamW
    weight_decay: float = bounded(ge=0)
    seed: int = bounded(ge=0)
    device: Literal["auto", "cpu", "cuda"]
    # Disliked items (stars <= disliked_rating; 0: none disliked): with disliked_as_negatives, a position whose next
    # item is disliked is no positive target; the item is pushed down there instead (a binary term), weighted by
    # disliked_weight.
    disliked_rating: int = bounded(ge=0, le=5)
    disliked_as_negatives: bool
    disliked_weight: float = bounded(gt=0)

    def check(self) -> list[str]:
        problems = []
        if self.disliked_weight != 1 and not self.disliked_as_negatives:
            problems.append("disliked_weight: weighs disliked negatives, so it needs disliked_as_negatives: true")
        return problems + self.architecture_problems()

    def architecture_problems(self) -> list[str]:
        return []


@dataclass(frozen=True)
class AttentionConfig(NextItemConfig):
    """Transformer families (sasrec, bert4rec)."""

    blocks: int = bounded(ge=1)
    heads: int = bounded(ge=1)

    def architecture_problems(self) -> list[str]:
        if self.heads >= 1 and self.hidden_dim % self.heads:
            return [f"heads: must be >= 1 and divide hidden_dim {self.hidden_dim} (got {self.heads})"]
        return []
