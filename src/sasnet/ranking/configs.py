"""The ranking task's params section, apart from its code so that validating params.yaml stays light."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sasnet.config import bounded


@dataclass(frozen=True)
class RankingConfig:
    k: int = bounded(ge=1)  # the cut of Recall@k, NDCG@k, HitRate@k and of the recommended lists
    relevant: Literal["all", "excellent"]  # which held-out targets count: every one, or only the last class of split.bins
    tie_seed: int  # same-moment interactions are ordered by a random key with this seed
    bootstrap_samples: int = bounded(ge=0)  # users resampled for the 95% intervals; 0 skips them
    confidence: float = bounded(gt=0, lt=1)
    seed: int
    min_users: int = bounded(ge=1)  # rank_split refuses fewer users with a valid and a test target: no interval
