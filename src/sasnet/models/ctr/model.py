"""The ctr family's networks on the class task and on the ranking task, one class (see the package for the model).

Both tasks score (user, item) rows through the same network over the item's fields, its category bag and dense user
features; the class task reads its softmax over the classes, the ranking task its one logit per row."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import torch
import torch.nn.functional as F

from sasnet.classification import class_shares, confusion_counts, confusion_scores
from sasnet.device import peak_memory_mb, resolve_device
from sasnet.errors import PipelineError
from sasnet.histories import Examples
from sasnet.item_codes import ItemCodes, require_codes
from sasnet.models.base import FitResult, Recommender, Validation
from sasnet.models.ctr.network import CTRNetwork
from sasnet.models.early_stopping import early_stopping, minibatches

if TYPE_CHECKING:  # each task's data, for the annotations only
    from sasnet.model_data import ModelData
    from sasnet.ranking.data import RankingData

SCORING_ROWS = 262144  # (user, item) rows per forward pass when a ranker scores the catalogue


class ItemInputs:
    """Each catalogue item's fields (its ID, or its semantic-ID tokens) and its padded category bag."""

    def __init__(self, codes: ItemCodes, config: Any):
        self.codes = codes
        catalogue = codes.items["business_id"]
        if config.items == "id":
            self.fields, self.field_sizes = np.arange(len(catalogue))[:, None], [len(catalogue)]
        elif config.code_keys == "prefix":
            self.fields, self.field_sizes = codes.prefix_keys(catalogue)
        else:
            self.fields, self.field_sizes = codes.tokens(catalogue), codes.token_sizes
        categories = codes.category_lists(catalogue)
        vocabulary = {name: index for index, name in enumerate(sorted({name for names in categories
                                                                        for name in names}))}
        self.bag_size = len(vocabulary)
        width = max((len(names) for names in categories), default=0)
        self.bags = np.full((len(catalogue), max(width, 1)), self.bag_size, dtype=np.int64)  # padding: bag_size
        for row, names in enumerate(categories):
            self.bags[row, :len(names)] = [vocabulary[name] for name in names]

    def rows(self, business_ids) -> np.ndarray:
        return self.codes.rows(business_ids)


def shrunk_shares(counts: np.ndarray, prior: np.ndarray, strength: float) -> np.ndarray:
    """[n, classes + 1]: class shares pulled towards ``prior`` by ``strength`` pseudo-reviews, and log(1 + size)."""
    sizes = counts.sum(axis=1, keepdims=True)
    shares = (counts + strength * prior) / np.maximum(sizes + strength, 1e-12)
    return np.hstack([shares, np.log1p(sizes)]).astype(np.float32)


def network_for(config: Any, field_sizes: list[int], inputs: ItemInputs, n_dense: int, n_outputs: int,
                device: torch.device) -> CTRNetwork:
    torch.manual_seed(config.seed)
    return CTRNetwork(config.architecture, field_sizes, inputs.bag_size, n_dense, config.embedding_dim,
                      list(config.hidden_dims), config.dropout, n_outputs).to(device)


class CTRRecommender(Recommender):
    """One network per task: the class task's softmax over the classes (no user ID: a held-out user has none), the
    ranking task's logit with the user's index as a field."""

    network: CTRNetwork
    device: torch.device
    prior: np.ndarray  # the class task's train class shares

    def describe(self) -> dict[str, Any]:
        """The fit facts that say which model this is."""
        return {"architecture": self.config.architecture, "items": self.config.items,
                "code_keys": self.config.code_keys if self.config.items == "semantic" else None}

    def arrays(self) -> dict[str, np.ndarray]:
        weights = {f"network.{name}": value.cpu().numpy() for name, value in self.network.state_dict().items()}
        return {"prior": self.prior, **weights} if self.task == "classify" else weights

    def restore_network(self, arrays: dict[str, np.ndarray]) -> None:
        weights = {name.removeprefix("network."): torch.tensor(value) for name, value in arrays.items()
                   if name.startswith("network.")}
        try:
            self.network.load_state_dict(weights)
        except RuntimeError as error:
            raise PipelineError(f"the saved ctr model does not fit this catalogue (run `dvc repro`): {error}") from None
        self.network.eval()

    def _setup_items(self, data: ModelData | RankingData) -> None:
        self.inputs = ItemInputs(require_codes(data.item_codes, "ctr"), self.config)
        self.device = torch.device(resolve_device(self.config.device, "ctr.device"))

    # the class task
    def _setup_classes(self, data: ModelData) -> None:
        self._setup_items(data)
        self.network = network_for(self.config, self.inputs.field_sizes, self.inputs, len(self.class_names) + 1,
                                   len(self.class_names), self.device)

    def _class_tensors(self, data: ModelData, examples: Examples) -> tuple[torch.Tensor, ...]:
        items = self.inputs.rows(data.histories.business_ids[examples.businesses])
        counts = data.histories.pool_label_counts(data.labels, len(self.class_names), examples)[:, 0]
        dense = shrunk_shares(counts, self.prior, self.config.prior_strength)
        return tuple(torch.as_tensor(array, device=self.device)
                     for array in (self.inputs.fields[items], self.inputs.bags[items], dense))

    def fit_classes(self, data: ModelData, progress: bool) -> FitResult:
        train = data.histories.examples(data.rows_of("train"))
        valid = data.histories.examples(data.rows_of("valid"))
        self.prior = class_shares(data.labels[train.rows], len(self.class_names))
        self._setup_classes(data)
        fields, bags, dense = self._class_tensors(data, train)
        labels = torch.as_tensor(data.labels[train.rows], device=self.device)
        valid_inputs, valid_labels = self._class_tensors(data, valid), data.labels[valid.rows]  # built once, not per epoch
        optimizer = torch.optim.AdamW(self.network.parameters(), lr=self.config.lr,
                                      weight_decay=self.config.weight_decay)
        rng = np.random.default_rng(self.config.seed)

        def train_epoch() -> float:
            total = 0.0
            for batch in minibatches(len(labels), self.config.batch_size, rng):
                loss = F.cross_entropy(self.network(fields[batch], bags[batch], dense[batch]), labels[batch])
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                total += loss.item() * len(batch)
            return total / len(labels)

        def valid_macro_f1() -> float:
            predicted = self._probabilities(*valid_inputs).argmax(axis=1)
            confusion = confusion_counts(valid_labels, predicted, len(self.class_names))
            return float(confusion_scores(confusion)["macro_f1"])

        curves, facts = early_stopping(self.network, train_epoch, valid_macro_f1, self.config, "macro_f1", progress,
                                       self.config.architecture)
        return FitResult({**facts, **self.describe(), "train_reviews": len(train), "fields": len(self.inputs.field_sizes),
                          "categories": self.inputs.bag_size, "peak_memory_mb": peak_memory_mb(self.device),
                          "device": str(self.device)}, curves[["valid/macro_f1"]])

    def predict_proba(self, data: ModelData, examples: Examples) -> np.ndarray:
        return self._probabilities(*self._class_tensors(data, examples))

    def _probabilities(self, fields: torch.Tensor, bags: torch.Tensor, dense: torch.Tensor) -> np.ndarray:
        with torch.no_grad():
            return torch.softmax(self.network(fields, bags, dense), dim=1).double().cpu().numpy()

    # the ranking task: implicit feedback, a train interaction is a positive, sampled catalogue items are negatives
    # (a sample may hit an item the user did interact with: with a catalogue far larger than a history that noise
    # is small)
    def _setup_ranking(self, data: RankingData) -> None:
        self._setup_items(data)
        train = data.part("train")
        n_classes = len(self.class_names)
        counts = np.zeros((data.n_users, n_classes))
        np.add.at(counts, (train["user"].to_numpy(), data.labels[train.index]), 1)
        self.user_dense = torch.as_tensor(
            shrunk_shares(counts, class_shares(data.labels[train.index], n_classes), self.config.prior_strength),
            device=self.device)
        catalogue = self.inputs.rows(data.items["business_id"])
        self.item_fields = torch.as_tensor(self.inputs.fields[catalogue], device=self.device)
        self.item_bags = torch.as_tensor(self.inputs.bags[catalogue], device=self.device)
        self.network = network_for(self.config, [data.n_users, *self.inputs.field_sizes], self.inputs,
                                   n_classes + 1, 1, self.device)

    def _logits(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        fields = torch.cat([users[:, None], self.item_fields[items]], dim=1)
        return self.network(fields, self.item_bags[items], self.user_dense[users])[:, 0]

    def fit_ranking(self, data: RankingData, validation: Validation, progress: bool) -> FitResult:
        self._setup_ranking(data)
        train = data.part("train")
        users = torch.tensor(train["user"].to_numpy(), device=self.device)  # copies: pandas' arrays are read-only
        items = torch.tensor(train["item"].to_numpy(), device=self.device)
        negatives = self.config.negatives
        optimizer = torch.optim.AdamW(self.network.parameters(), lr=self.config.lr,
                                      weight_decay=self.config.weight_decay)
        rng = np.random.default_rng(self.config.seed)
        labels = torch.cat([torch.ones(1), torch.zeros(negatives)]).to(self.device)

        def train_epoch() -> float:
            total = 0.0
            for batch in minibatches(len(users), self.config.batch_size, rng):
                sampled = torch.as_tensor(rng.integers(data.n_items, size=(len(batch), negatives)), device=self.device)
                batch_items = torch.cat([items[batch, None], sampled], dim=1)  # [batch, 1 + negatives]
                logits = self._logits(users[batch, None].expand_as(batch_items).reshape(-1), batch_items.reshape(-1))
                loss = F.binary_cross_entropy_with_logits(logits, labels.repeat(len(batch)))
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                total += loss.item() * len(batch)
            return total / len(users)

        curves, facts = early_stopping(self.network, train_epoch, lambda: validation.score(self), self.config,
                                       validation.metric, progress, self.config.architecture)
        return FitResult({**facts, **self.describe(), "train_interactions": len(train), "negatives": negatives,
                          "peak_memory_mb": peak_memory_mb(self.device), "device": str(self.device)},
                         curves[[f"valid/{validation.metric}"]])

    def score(self, data: RankingData, split: str, users: np.ndarray) -> np.ndarray:
        """The user features are of the train interactions for every split (the fit's, not refitted)."""
        pairs_users = np.repeat(users, data.n_items)
        pairs_items = np.tile(np.arange(data.n_items), len(users))
        scores = np.empty(len(pairs_users), dtype=np.float32)
        with torch.no_grad():
            for start in range(0, len(scores), SCORING_ROWS):
                chunk = slice(start, start + SCORING_ROWS)
                scores[chunk] = self._logits(torch.as_tensor(pairs_users[chunk], device=self.device),
                                             torch.as_tensor(pairs_items[chunk], device=self.device)).cpu().numpy()
        return scores.reshape(len(users), data.n_items)

    def restore(self, arrays: dict[str, np.ndarray], state: dict[str, Any], data: ModelData | RankingData) -> None:
        if self.task == "classify":
            self.prior = arrays["prior"]
            self._setup_classes(data)
        else:
            self._setup_ranking(data)
        self.restore_network(arrays)
