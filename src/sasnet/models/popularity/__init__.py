"""The ``popularity`` family: every user gets the items with the most train interactions (the ranking task's floor).

It has no params (its section in params.yaml is empty). Ranks only.
"""

from __future__ import annotations

from dataclasses import dataclass

READS = "ratings"  # sasnet.inputs: the task's own split, no text


@dataclass(frozen=True)
class PopularityConfig:
    pass


Config = PopularityConfig

MODEL = "PopularityRanker"  # the Recommender subclass in model.py
TASKS = ("rank",)
