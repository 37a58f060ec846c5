"""The ``bert4rec`` family: BERT4Rec (Sun et al. 2019), bidirectional self-attention trained by cloze (masked items).

Ranks only. At scoring time the mask token follows the user's history and is predicted over the whole catalogue.
"""

from __future__ import annotations

from dataclasses import dataclass

from sasnet.models.next_item_config import AttentionConfig

READS = "ratings"  # sasnet.inputs: the task's own split, no text


@dataclass(frozen=True)
class BERT4RecConfig(AttentionConfig):
    pass


Config = BERT4RecConfig

MODEL = "BERT4RecRanker"  # the Recommender subclass in model.py
TASKS = ("rank",)
