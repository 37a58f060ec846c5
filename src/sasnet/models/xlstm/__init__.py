"""The ``xlstm`` family: an xLSTM stack (Beck et al. 2024; the ``xlstm`` package on CPU: sLSTM's vanilla backend,
mLSTM's parallel torch form) over a user's items in time order, trained like SASRec. Ranks only."""

from __future__ import annotations

from dataclasses import dataclass

from sasnet.config import bounded
from sasnet.models.next_item_config import NextItemConfig

READS = "ratings"  # sasnet.inputs: the task's own split, no text


@dataclass(frozen=True)
class XLSTMConfig(NextItemConfig):
    blocks: int = bounded(ge=1)
    heads: int = bounded(ge=1)
    slstm_blocks: list[int]  # which blocks are sLSTM (scalar memory, a time loop); the rest are mLSTM

    def architecture_problems(self) -> list[str]:
        problems = []
        if self.heads >= 1 and self.hidden_dim % self.heads:
            problems.append(f"heads: must be >= 1 and divide hidden_dim {self.hidden_dim} (got {self.heads})")
        outside = [block for block in self.slstm_blocks if not 0 <= block < self.blocks]
        if outside:
            problems.append(f"slstm_blocks: block indices must lie in 0..{self.blocks - 1} (got {outside})")
        return problems


Config = XLSTMConfig

MODEL = "XLSTMRanker"  # the Recommender subclass in model.py
TASKS = ("rank",)
