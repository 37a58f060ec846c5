"""The ``gru4rec`` family: a recurrent next-item model (GRU4Rec, Hidasi et al. 2016; ``cell: lstm`` gives the LSTM
of the sequential seed), trained like SASRec by next-item cross-entropy over the whole catalogue. Ranks only."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sasnet.config import bounded
from sasnet.models.next_item_config import NextItemConfig

READS = "ratings"  # sasnet.inputs: the task's own split, no text


@dataclass(frozen=True)
class GRU4RecConfig(NextItemConfig):
    cell: Literal["gru", "lstm"]
    layers: int = bounded(ge=1)


Config = GRU4RecConfig

MODEL = "GRU4RecRanker"  # the Recommender subclass in model.py
TASKS = ("rank",)
