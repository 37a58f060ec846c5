"""The ``sasrec`` family: SASRec (Kang & McAuley 2018), causal self-attention over a user's items in time order.

Ranks only (the ranking task's leave-last-out split). Trained by next-item cross-entropy over the whole catalogue;
disliked items can be put among the negatives, with extra weight (``sasnet.models.next_item_config``).
"""

from __future__ import annotations

from dataclasses import dataclass

from sasnet.models.next_item_config import AttentionConfig

READS = "ratings"  # sasnet.inputs: the task's own split, no text


@dataclass(frozen=True)
class SASRecConfig(AttentionConfig):
    pass


Config = SASRecConfig

MODEL = "SASRecRanker"  # the Recommender subclass in model.py
TASKS = ("rank",)
