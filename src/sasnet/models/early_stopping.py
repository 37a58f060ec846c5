"""The epoch loop of the iterative rankers and classifiers (next_item's sequence families, ctr): train an epoch,
score valid, keep the best epoch's weights, stop after ``patience`` epochs without a better score; and the
shuffled minibatches of an epoch."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import torch
from tqdm import tqdm


def early_stopping(network: torch.nn.Module, train_epoch: Callable[[], float], valid_score: Callable[[], float],
                   config: Any, metric: str, progress: bool, name: str) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Up to ``config.epochs`` epochs; the best epoch's weights are left in ``network`` (in eval mode). Returns the
    per-epoch curves (index epoch: train/loss, valid/<metric>, seconds with validation, train_seconds without) and
    the facts every such model reports. The progress bar counts the patience left, not the epochs' upper bound."""
    best = (-math.inf, 0, None)
    records = []
    bar = tqdm(total=config.patience, desc=f"{name}: patience left", unit="epoch", disable=not progress)
    for epoch in range(1, config.epochs + 1):
        start = time.perf_counter()
        network.train()
        loss = train_epoch()
        trained = time.perf_counter()
        network.eval()
        with torch.no_grad():
            score = valid_score()
        records.append({"epoch": epoch, "train/loss": loss, f"valid/{metric}": score,
                        "seconds": time.perf_counter() - start, "train_seconds": trained - start})
        if score > best[0]:
            best = (score, epoch, {key: value.detach().clone() for key, value in network.state_dict().items()})
        bar.n = config.patience - (epoch - best[1])
        bar.set_postfix(epoch=epoch, best_epoch=best[1], best=f"{best[0]:.4f}")
        bar.refresh()
        if epoch - best[1] >= config.patience:
            break
    bar.close()
    network.load_state_dict(best[2])
    network.eval()
    curves = pd.DataFrame(records).set_index("epoch")
    return curves, {
        "best_epoch": best[1], f"best_valid_{metric}": best[0], "epochs_run": len(records),
        "stopped_early": len(records) < config.epochs, "seconds_per_epoch": float(curves["seconds"].mean()),
        "train_seconds_per_epoch": float(curves["train_seconds"].mean()),
        "parameter_count": sum(parameter.numel() for parameter in network.parameters()),
    }


def minibatches(n: int, batch_size: int, rng: np.random.Generator) -> list[np.ndarray]:
    """An epoch's example indices, shuffled, in ceil(n / batch_size) nearly equal batches."""
    return np.array_split(rng.permutation(n), max(1, math.ceil(n / batch_size)))
