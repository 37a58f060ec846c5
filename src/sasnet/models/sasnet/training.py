"""Training SASNet: combinatorial set draws, AdamW, early stopping on validation macro-F1.

The caller supplies the review embedding matrix (one row per review), a class label per row, the rows of the
train and validation examples, and ``draw_sets``, which picks each example's user and business sets as row indices
into that matrix. This module never sees users or businesses: keeping the predicted review out of its own sets
(and the validation users' reviews out of the business sets) is the sampler's job.

Every epoch re-draws the train sets ("combinatorial training"), unless ``resample_sets`` is off; the validation
sets are drawn once (``valid_draws`` times, their class probabilities averaged), from their own seeded stream, so
that validation scores are comparable across epochs. On CPU a run is a pure function of the seed; CUDA kernels may
add run-to-run noise.

The embeddings live on the training device, and each draw of sets is copied there once, so a step gathers its
inputs on the device and the loop waits for the device once per epoch, not once per step.

The epochs run in the loop every early-stopped family shares (``sasnet.models.early_stopping``);
``TrainingResult.curves`` has every epoch's scores.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, fields
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from sasnet.classification import confusion_counts, confusion_scores
from sasnet.device import cpu_has_native_bf16, resolve_device
from sasnet.errors import PipelineError
from sasnet.models.early_stopping import early_stopping, under_trained_fit
from sasnet.models.sasnet import STAR_LEVELS, SasnetConfig
from sasnet.models.sasnet.network import SASNet


class EntitySets(NamedTuple):
    """Each example's user and business sets: (n_examples, S) row indices into the embedding matrix, and masks.

    A mask is True where the slot holds a real review; a masked slot's row index is ignored.
    """

    user_rows: np.ndarray | torch.Tensor  # numpy from a sampler; tensors on the device once checked
    user_mask: np.ndarray | torch.Tensor
    business_rows: np.ndarray | torch.Tensor
    business_mask: np.ndarray | torch.Tensor


DrawSets = Callable[[np.ndarray, np.random.Generator], tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]
"""``draw_sets(example_rows, rng)``: the EntitySets (or the same four arrays) of the reviews at ``example_rows``."""


@dataclass(frozen=True)
class Scores:
    loss: float  # mean cross-entropy per example
    accuracy: float
    macro_f1: float


SCORE_NAMES = tuple(field.name for field in fields(Scores))


@dataclass(frozen=True)
class EpochRecord:
    epoch: int  # from 1
    train: Scores  # over the epoch's batches, in training mode (dropout on) as the weights moved
    valid: Scores
    seconds: float


@dataclass(frozen=True)
class TrainingResult:
    model: SASNet  # with the best epoch's weights, in eval mode
    best_epoch: int
    best_valid: Scores
    history: list[EpochRecord]
    stopped_early: bool  # the patience ran out before config.epochs
    max_epochs: int  # config.epochs, the cap
    seconds_per_epoch: float  # mean wall time of an epoch: drawing sets, training, validating
    train_examples_per_second: float  # drawing sets and training only
    parameter_count: int
    precision: str  # float32, or bfloat16 (autocast)

    def curves(self) -> pd.DataFrame:
        """One row per epoch (index from 1), columns ``<split>/<score>``: what the training-curve plot shows."""
        return pd.DataFrame(
            [
                {f"{split}/{name}": value for split in ("train", "valid")
                 for name, value in asdict(getattr(record, split)).items()}
                for record in self.history
            ],
            index=pd.RangeIndex(1, len(self.history) + 1, name="epoch"),
        )

    def summary(self) -> dict[str, Any]:
        """Everything but the model and the per-epoch history, as plain JSON types."""
        return {
            "best_epoch": self.best_epoch,
            "best_valid": asdict(self.best_valid),
            "epochs_run": len(self.history),
            "max_epochs": self.max_epochs,
            "stopped_early": self.stopped_early,
            "under_trained": under_trained_fit(self.best_epoch, len(self.history), self.max_epochs),
            "seconds_per_epoch": self.seconds_per_epoch,
            "train_examples_per_second": self.train_examples_per_second,
            "parameter_count": self.parameter_count,
            "precision": self.precision,
        }


def train_sasnet(
    config: SasnetConfig,
    *,
    embeddings: np.ndarray,
    labels: np.ndarray,
    train_rows: np.ndarray,
    valid_rows: np.ndarray,
    stars: np.ndarray,
    draw_sets: DrawSets,
    class_names: Sequence[str],
    progress: bool = True,
) -> TrainingResult:
    """Train on the reviews at ``train_rows``, early-stop on those at ``valid_rows``; the best epoch's model.

    ``embeddings`` (n_reviews, input_dim) may be memory-mapped: it is copied to the device once (the paper's LP
    sample, 75k x 3072 float32, is 0.9 GB). ``labels`` holds the class index (into ``class_names``) of every row,
    ``stars`` its star rating (read with ``history_stars`` only). The epochs run in the shared early-stopping loop
    (``sasnet.models.early_stopping``), selecting on valid macro-F1.
    """
    device = torch.device(resolve_device(config.device, "sasnet.device"))
    n_classes = len(class_names)
    train_labels = torch.as_tensor(_example_labels(labels, train_rows, n_classes, "train"), device=device)
    valid_labels = torch.as_tensor(_example_labels(labels, valid_rows, n_classes, "validation"), device=device)
    table = review_table(embeddings, stars, device)
    class_weight = _class_weight(config, train_labels, n_classes)

    train_rng, valid_rng = np.random.default_rng(config.seed).spawn(2)
    n_reviews = len(table.embeddings)
    valid_sets = [_draw(draw_sets, valid_rows, valid_rng, n_reviews, device) for _ in range(config.valid_draws)]

    # Seeds torch's global generator (weights, dropout) without leaking the change to the caller.
    with torch.random.fork_rng():
        torch.manual_seed(config.seed)
        model = SASNet(config, table.embeddings.shape[1], n_classes).to(device)
        optimizer = _adamw(model, config)
        drawn: list[EntitySets] = []  # the train sets: drawn in the first epoch, then every epoch with resample_sets

        def train_epoch() -> dict[str, float]:
            if not drawn or config.resample_sets:
                drawn[:] = [_draw(draw_sets, train_rows, train_rng, n_reviews, device)]
            order = torch.as_tensor(train_rng.permutation(len(train_rows)), device=device)
            return asdict(_train_epoch(model, optimizer, table, drawn[0], train_labels, order, config.batch_size,
                                       class_weight))

        def valid_scores() -> dict[str, float]:
            return asdict(_evaluate(model, table, valid_sets, valid_labels, config.batch_size))

        curves, facts = early_stopping(model, train_epoch, valid_scores, config, "macro_f1", progress, "train_sasnet")

    history = [EpochRecord(int(epoch), *(Scores(**{name: row[f"{split}/{name}"] for name in SCORE_NAMES})
                                         for split in ("train", "valid")), row["seconds"])
               for epoch, row in curves.iterrows()]
    return TrainingResult(
        model=model,
        best_epoch=facts["best_epoch"],
        best_valid=history[facts["best_epoch"] - 1].valid,
        history=history,
        stopped_early=facts["stopped_early"],
        max_epochs=config.epochs,
        seconds_per_epoch=facts["seconds_per_epoch"],
        train_examples_per_second=len(train_rows) * len(history) / float(curves["train_seconds"].sum()),
        parameter_count=model.parameter_count(),
        precision="bfloat16" if uses_bf16(model) else "float32",
    )


def predict_proba(
    model: SASNet, embeddings: np.ndarray, stars: np.ndarray, draws: Sequence[EntitySets], batch_size: int = 512
) -> np.ndarray:
    """Class probabilities (n_examples, n_classes), averaged over ``draws``: sets drawn by the caller."""
    table = review_table(embeddings, stars, next(model.parameters()).device)
    checked = [_device_sets(sets, len(draws[0][0]), len(table.embeddings), table.embeddings.device) for sets in draws]
    return _probabilities(model, table, checked, batch_size).cpu().numpy()


class ReviewTable(NamedTuple):
    """Every review's embedding (float32) and star rating minus one (int64), on the device batches are built on."""

    embeddings: torch.Tensor
    stars: torch.Tensor


def review_table(embeddings: np.ndarray, stars: np.ndarray, device: torch.device) -> ReviewTable:
    stars = np.asarray(stars, dtype=np.int64)
    if len(stars) != len(embeddings) or (len(stars) and (stars.min() < 1 or stars.max() > STAR_LEVELS)):
        raise ValueError(f"stars must give every embedding row a rating in 1..{STAR_LEVELS}")
    return ReviewTable(
        torch.tensor(np.asarray(embeddings), dtype=torch.float32, device=device),
        torch.as_tensor(stars - 1, device=device),
    )


def uses_bf16(model: SASNet) -> bool:
    """``precision`` bfloat16, or auto on CUDA or on a CPU with bf16 instructions (about 1.7x float32's speed for
    the demo's training epoch on 2 Zen 4 cores; emulated bf16 would be slower than float32)."""
    precision = model.config.precision
    device_type = next(model.parameters()).device.type
    return precision == "bfloat16" or (precision == "auto" and (device_type == "cuda" or cpu_has_native_bf16()))


def autocast(model: SASNet) -> torch.autocast:
    """The model's mixed-precision context: bfloat16 autocast (matmuls in bf16; the weights, the optimiser, the
    softmax and the loss stay float32) when ``uses_bf16``, else a no-op."""
    return torch.autocast(next(model.parameters()).device.type, dtype=torch.bfloat16, enabled=uses_bf16(model))


def _class_weight(config: SasnetConfig, train_labels: torch.Tensor, n_classes: int) -> torch.Tensor | None:
    """Inverse train class frequency, scaled to mean 1 over the examples (scikit-learn's 'balanced'), or None."""
    if config.class_weight == "none":
        return None
    counts = torch.bincount(train_labels, minlength=n_classes).clamp(min=1).to(torch.float32)
    return len(train_labels) / (n_classes * counts)


def _example_labels(labels: np.ndarray, rows: np.ndarray, n_classes: int, split: str) -> np.ndarray:
    if len(rows) == 0:
        raise PipelineError(f"SASNet has no {split} examples")
    chosen = np.asarray(labels, dtype=np.int64)[rows]
    if chosen.min() < 0 or chosen.max() >= n_classes:
        raise ValueError(f"{split} labels must be class indices in [0, {n_classes})")
    return chosen


def _draw(draw_sets: DrawSets, rows: np.ndarray, rng: np.random.Generator, n_reviews: int,
          device: torch.device) -> EntitySets:
    return _device_sets(draw_sets(rows, rng), len(rows), n_reviews, device)


def _device_sets(arrays: Sequence[np.ndarray], n_examples: int, n_reviews: int, device: torch.device) -> EntitySets:
    """The four arrays as EntitySets of tensors on ``device`` (copied once per draw: batches index them there),
    after checking that they agree: a sampler bug fails here, not in a gather."""
    sets = EntitySets(*(np.asarray(array) for array in arrays))
    shape = sets.user_rows.shape
    if len(shape) != 2 or shape[0] != n_examples or any(array.shape != shape for array in sets):
        raise ValueError(f"draw_sets must return four ({n_examples}, S) arrays, got {[a.shape for a in sets]}")
    for rows, mask in ((sets.user_rows, sets.user_mask), (sets.business_rows, sets.business_mask)):
        if mask.dtype != np.bool_:
            raise ValueError(f"set masks must be boolean, got {mask.dtype}")
        real = rows[mask]
        if real.size and (real.min() < 0 or real.max() >= n_reviews):
            raise ValueError(f"set rows must index the {n_reviews} embedding rows")
    return EntitySets(*(torch.as_tensor(array, device=device) for array in sets))


def _adamw(model: SASNet, config: SasnetConfig) -> torch.optim.AdamW:
    """AdamW decaying weight matrices only: decaying biases and LayerNorm gains would only fight the fit."""
    matrices = [parameter for parameter in model.parameters() if parameter.dim() >= 2]
    vectors = [parameter for parameter in model.parameters() if parameter.dim() < 2]
    groups = [{"params": matrices, "weight_decay": config.weight_decay}, {"params": vectors, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=config.lr)


def gather_members(
    table: ReviewTable, rows: np.ndarray, mask: np.ndarray
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Sets given as (n, S) rows and masks -> their embeddings, mask and stars on the table's device."""
    device = table.embeddings.device
    mask = torch.as_tensor(mask, device=device)
    rows = torch.where(mask, torch.as_tensor(rows, dtype=torch.long, device=device), 0)
    return table.embeddings[rows], mask, table.stars[rows]  # row 0 stands in for masked slots: ignored


def _batch(table: ReviewTable, sets: EntitySets, index: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """Model inputs of examples ``index``: user embeddings, user mask, business embeddings, business mask, then the
    user and business members' stars."""
    user, user_mask, user_stars = gather_members(table, sets.user_rows[index], sets.user_mask[index])
    business, business_mask, business_stars = gather_members(table, sets.business_rows[index],
                                                             sets.business_mask[index])
    return user, user_mask, business, business_mask, user_stars, business_stars


def _batches(order: torch.Tensor, batch_size: int) -> list[torch.Tensor]:
    return [order[start : start + batch_size] for start in range(0, len(order), batch_size)]


def _scores(loss: float, labels: torch.Tensor, predictions: torch.Tensor, n_classes: int) -> Scores:
    scores = confusion_scores(confusion_counts(labels.cpu().numpy(), predictions.cpu().numpy(), n_classes))
    return Scores(loss=loss, accuracy=float(scores["accuracy"]), macro_f1=float(scores["macro_f1"]))


def _train_epoch(
    model: SASNet,
    optimizer: torch.optim.Optimizer,
    table: ReviewTable,
    sets: EntitySets,
    labels: torch.Tensor,
    order: torch.Tensor,
    batch_size: int,
    class_weight: torch.Tensor | None,
) -> Scores:
    model.train()
    # Summed on the device in float64 (what Python's float did): no host sync per step, the same sum.
    loss_sum = torch.zeros((), dtype=torch.float64, device=labels.device)
    predictions = torch.empty_like(labels)
    mixed_precision = autocast(model)  # resolved once, entered every step
    for index in _batches(order, batch_size):
        with mixed_precision:
            logits = model(*_batch(table, sets, index)).float()
            loss = F.cross_entropy(logits, labels[index], weight=class_weight)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        loss_sum += loss.detach().double() * len(index)
        predictions[index] = logits.detach().argmax(dim=1)
    return _scores(loss_sum.item() / len(order), labels, predictions, model.n_classes)


@torch.inference_mode()
def _probabilities(model: SASNet, table: ReviewTable, draws: Sequence[EntitySets], batch_size: int) -> torch.Tensor:
    """Softmax outputs averaged over the draws: each draw is one look at the entities' histories."""
    model.eval()
    order = torch.arange(len(draws[0].user_rows), device=table.embeddings.device)
    total = 0.0
    mixed_precision = autocast(model)
    for sets in draws:
        with mixed_precision:
            logits = torch.cat([model(*_batch(table, sets, index)) for index in _batches(order, batch_size)]).float()
        total = total + torch.softmax(logits, dim=1)
    return total / len(draws)


def _evaluate(
    model: SASNet, table: ReviewTable, draws: Sequence[EntitySets], labels: torch.Tensor, batch_size: int
) -> Scores:
    probabilities = _probabilities(model, table, draws, batch_size)
    loss = F.nll_loss(torch.log(probabilities.clamp(min=1e-12)), labels).item()
    return _scores(loss, labels, probabilities.argmax(dim=1), model.n_classes)
