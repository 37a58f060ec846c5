"""The one epoch loop of every early-stopped fit (sasnet, ctr, next_item's sequence families): train an epoch, score
valid, keep the best epoch's weights, stop after ``patience`` epochs without a better score; and the shuffled
minibatches of an epoch."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd
import torch
from tqdm import tqdm

UNDER_TRAINED_TAIL = 0.1  # the share of the epochs run, at the end, in which a best epoch counts as still rising


def under_trained_fit(best_epoch: int, epochs_run: int, max_epochs: int) -> bool:
    """The rule: the fit ran every one of its ``max_epochs`` (the cap stopped it, not the patience) and its best
    validation epoch is among the last ``UNDER_TRAINED_TAIL`` of them, at least the last one (the last 10 of 100, the
    last 1 of 5): its validation score was still improving when the cap stopped it."""
    tail = max(1, math.ceil(UNDER_TRAINED_TAIL * epochs_run))
    return epochs_run >= max_epochs and best_epoch > epochs_run - tail


def under_trained(metrics: Mapping[str, Any]) -> bool:
    """Whether a model's or ranker's metrics (or their ``fit`` facts alone) show an under-trained fit: the verdict the
    fit recorded (``under_trained``), else, for metrics written before fits recorded it, ``under_trained_fit`` from
    ``best_epoch``, ``epochs_run`` and the cap (``max_epochs``, or ``stopped_early`` False: it ran to the cap). A fit
    without them (one-shot, or a fixed number of epochs without validation) is never flagged."""
    fit = metrics.get("fit", metrics)
    if isinstance(fit.get("under_trained"), bool):
        return fit["under_trained"]
    best_epoch, epochs_run = fit.get("best_epoch"), fit.get("epochs_run")
    if not isinstance(best_epoch, int) or not isinstance(epochs_run, int) or epochs_run < 1:
        return False
    if isinstance(fit.get("max_epochs"), int):
        max_epochs = fit["max_epochs"]
    elif isinstance(fit.get("stopped_early"), bool):
        max_epochs = epochs_run + 1 if fit["stopped_early"] else epochs_run
    else:
        return False
    return under_trained_fit(best_epoch, epochs_run, max_epochs)


class StoppingBar:
    """The one progress-bar rule of every early-stopped fit: the bar ends where early stopping will stop unless the
    valid score improves again (the epoch cap is only an upper bound), so its time left is an honest estimate."""

    def __init__(self, name: str, epochs: int, patience: int, progress: bool):
        self.epochs, self.patience = epochs, patience
        self.bar = tqdm(total=min(epochs, patience), desc=f"{name} (to early stop)", unit="epoch",
                        disable=not progress)

    def update(self, epoch: int, best_epoch: int, **scores: Any) -> None:
        self.bar.total = min(self.epochs, best_epoch + self.patience)
        self.bar.set_postfix(**scores, best_epoch=best_epoch, patience_left=self.patience - (epoch - best_epoch),
                             refresh=False)
        self.bar.update(1)

    def close(self) -> None:
        self.bar.close()


def early_stopping(network: torch.nn.Module, train_epoch: Callable[[], float | Mapping[str, float]],
                   valid_score: Callable[[], float | Mapping[str, float]], config: Any, metric: str, progress: bool,
                   name: str) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Up to ``config.epochs`` epochs; the best epoch's weights are left in ``network`` (in eval mode).

    ``train_epoch`` returns the epoch's train loss, or its named train scores; ``valid_score`` the valid ``metric``,
    or named valid scores among which ``metric`` selects. Returns the per-epoch curves (index epoch: train/<score>,
    valid/<score>, seconds with validation, train_seconds without) and the facts every such model reports."""
    best = (-math.inf, 0, None)
    records = []
    bar = StoppingBar(name, config.epochs, config.patience, progress)
    for epoch in range(1, config.epochs + 1):
        start = time.perf_counter()
        network.train()
        train = train_epoch()
        trained = time.perf_counter()
        network.eval()
        with torch.no_grad():
            valid = valid_score()
        train = train if isinstance(train, Mapping) else {"loss": train}
        valid = valid if isinstance(valid, Mapping) else {metric: valid}
        score = valid[metric]
        records.append({"epoch": epoch, **{f"train/{key}": value for key, value in train.items()},
                        **{f"valid/{key}": value for key, value in valid.items()},
                        "seconds": time.perf_counter() - start, "train_seconds": trained - start})
        if score > best[0]:
            best = (score, epoch, {key: value.detach().clone() for key, value in network.state_dict().items()})
        bar.update(epoch, best[1], **{metric: f"{score:.4f}"})
        if epoch - best[1] >= config.patience:
            break
    bar.close()
    network.load_state_dict(best[2])
    network.eval()
    curves = pd.DataFrame(records).set_index("epoch")
    return curves, {
        "best_epoch": best[1], f"best_valid_{metric}": best[0], "epochs_run": len(records),
        "max_epochs": config.epochs, "stopped_early": len(records) < config.epochs,
        # the cap stopped it while its valid score was still rising (the rule: under_trained_fit)
        "under_trained": under_trained_fit(best[1], len(records), config.epochs),
        "seconds_per_epoch": float(curves["seconds"].mean()),
        "train_seconds_per_epoch": float(curves["train_seconds"].mean()),
        "parameter_count": sum(parameter.numel() for parameter in network.parameters()),
    }


def minibatches(n: int, batch_size: int, rng: np.random.Generator) -> list[np.ndarray]:
    """An epoch's example indices, shuffled, in ceil(n / batch_size) nearly equal batches."""
    return np.array_split(rng.permutation(n), max(1, math.ceil(n / batch_size)))
