"""The ranking task's params section, apart from its code so that validating params.yaml stays light."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sasnet.analysis_configs import bootstrap_problems


@dataclass(frozen=True)
class RankingConfig:
    k: int  # the cut of Recall@k, NDCG@k, HitRate@k and of the recommended lists
    relevant: Literal["all", "excellent"]  # which held-out targets count: every one, or only the last class of split.bins
    tie_seed: int  # same-moment interactions are ordered by a random key with this seed
    bootstrap_samples: int  # users resampled for the 95% intervals; 0 skips them
    confidence: float
    seed: int

    def check(self) -> list[str]:
        problems = [] if self.k >= 1 else [f"k: must be >= 1 (got {self.k})"]
        return problems + bootstrap_problems(self.bootstrap_samples, self.confidence)
