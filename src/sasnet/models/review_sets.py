"""SASNet on the pipeline's reviews: sets drawn from the leakage-free histories, training, and evaluation draws.

Shared by the train_sasnet stage and the ablation benchmark, so that both train and score exactly alike.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from sasnet.data.splitting import SPLITS
from sasnet.evaluation import ModelData
from sasnet.histories import Histories
from sasnet.models.configs import SasnetConfig
from sasnet.models.sasnet import SASNet
from sasnet.models.training import DrawSets, EntitySets, EpochRecord, TrainingResult, predict_proba, train_sasnet


def set_sampler(histories: Histories, sample_size: int) -> DrawSets:
    def draw_sets(rows: np.ndarray, rng: np.random.Generator) -> EntitySets:
        return EntitySets(*histories.draw_sets(rows, sample_size, rng))

    return draw_sets


def fit(
    config: SasnetConfig,
    data: ModelData,
    class_names: Sequence[str],
    checkpoint_path: str | Path,
    on_epoch: Callable[[EpochRecord], None] | None = None,
    progress: bool = True,
) -> TrainingResult:
    """Train on the train reviews, early-stop on the valid ones, save the best checkpoint."""
    return train_sasnet(
        config,
        embeddings=data.matrix,
        labels=data.labels,
        train_rows=data.histories.rows_of("train"),
        valid_rows=data.histories.rows_of("valid"),
        draw_sets=set_sampler(data.histories, config.sample_size),
        class_names=class_names,
        checkpoint_path=checkpoint_path,
        on_epoch=on_epoch,
        progress=progress,
    )


def split_probabilities(model: SASNet, data: ModelData, config: SasnetConfig, split: str) -> np.ndarray:
    """Class probabilities of a split's reviews: ``eval_draws`` fresh draws from a stream seeded by (seed, split)."""
    rows = data.histories.rows_of(split)
    rng = np.random.default_rng([config.seed, SPLITS.index(split)])
    draw_sets = set_sampler(data.histories, config.sample_size)
    return predict_proba(
        model, data.matrix, [draw_sets(rows, rng) for _ in range(config.eval_draws)], config.batch_size
    )
