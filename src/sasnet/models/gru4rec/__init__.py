"""The ``gru4rec`` family: a recurrent next-item model (GRU4Rec, Hidasi et al. 2016; ``cell: lstm`` gives the LSTM
of the sequential seed), trained like SASRec by next-item cross-entropy over the whole catalogue. Ranks only."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sasnet.models.next_item_config import NextItemConfig

READS_EMBEDDING = False


@dataclass(frozen=True)
class GRU4RecConfig(NextItemConfig):
    cell: Literal["gru", "lstm"]
    layers: int

    def architecture_problems(self) -> list[str]:
        return [f"layers: must be >= 1 (got {self.layers})"] if self.layers < 1 else []


Config = GRU4RecConfig

RECOMMENDER = None
RANKER = "GRU4RecRanker"  # the Ranker subclass in model.py
