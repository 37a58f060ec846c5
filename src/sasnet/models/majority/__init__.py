"""The ``majority`` family: every example gets the train class shares, so it predicts the train majority class.

It reads nothing but the train labels, and has no params (its section in params.yaml is empty).
"""

from __future__ import annotations

from dataclasses import dataclass

READS = "ratings"  # sasnet.inputs: the task's own split, no text


@dataclass(frozen=True)
class MajorityConfig:
    pass


Config = MajorityConfig

MODEL = "MajorityRecommender"  # the Recommender subclass in model.py
TASKS = ("classify",)
