"""Biased MF in torch with ID or semantic-code item vectors, for both tasks (see the family's package)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from sasnet.device import resolve_device
from sasnet.item_codes import ItemCodes, require_codes
from sasnet.models.base import FitResult, Validation
from sasnet.models.factors import CatalogueFactors
from sasnet.models.fold_in import ItemSide, RatingRecommender

if TYPE_CHECKING:  # each task's data, for the annotations only
    from sasnet.model_data import ModelData
    from sasnet.ranking.data import RankingData

INIT_STD = 0.1  # of the factor columns; biases start at 0


class ItemVectors(nn.Module):
    """[q_i, b_i] (width k + 1) of catalogue items: a row of an ID table, or the level-weighted sum of the rows of
    the item's codes in one table per level."""

    def __init__(self, n_items: int, width: int, codes: np.ndarray | None, sizes: list[int]):
        super().__init__()
        self.semantic = codes is not None
        if self.semantic:
            self.register_buffer("codes", torch.as_tensor(codes, dtype=torch.long))
            self.levels = nn.ModuleList(nn.Embedding(size, width) for size in sizes)
            self.level_logits = nn.Parameter(torch.zeros(codes.shape[1]))
            tables = [level.weight for level in self.levels]
        else:
            self.table = nn.Embedding(n_items, width)
            tables = [self.table.weight]
        with torch.no_grad():
            for table in tables:
                table[:, :-1].normal_(0.0, INIT_STD)
                table[:, -1].zero_()

    def level_weights(self) -> torch.Tensor:
        return torch.softmax(self.level_logits, dim=0)

    def forward(self, items: torch.Tensor) -> torch.Tensor:
        if not self.semantic:
            return self.table(items)
        codes = self.codes[items]  # [batch, levels]
        parts = torch.stack([level(codes[:, index]) for index, level in enumerate(self.levels)], dim=1)
        return (self.level_weights()[None, :, None] * parts).sum(dim=1)


@dataclass(frozen=True)
class Factors:
    users: np.ndarray  # [users, k + 1]: p_u, b_u
    items: np.ndarray  # [items, k + 1]: q_i, b_i (ID mode: untrained rows for items without train stars)
    mean: float  # mu
    facts: dict[str, Any]


def fit_factors(users: np.ndarray, items: np.ndarray, stars: np.ndarray, n_users: int, n_items: int,
                codes: np.ndarray | None, sizes: list[int], config: Any, progress: bool) -> Factors:
    """Minimise the squared error of mu + b_u + b_i + p_u . q_i on the given stars, plus lambda_reg times the
    squared norms of the parameters each review touches (cornac's MF objective), by minibatch Adam."""
    device = resolve_device(config.device, "semantic_mf.device")
    torch.manual_seed(config.seed)
    user_table = nn.Embedding(n_users, config.k + 1)
    with torch.no_grad():
        user_table.weight[:, :-1].normal_(0.0, INIT_STD)
        user_table.weight[:, -1].zero_()
    item_vectors = ItemVectors(n_items, config.k + 1, codes, sizes)
    modules = nn.ModuleList([user_table, item_vectors]).to(device)
    optimizer = torch.optim.Adam(modules.parameters(), lr=config.lr)
    mean = float(stars.mean())
    user_t, item_t = (torch.tensor(values, dtype=torch.long, device=device) for values in (users, items))
    star_t = torch.as_tensor(stars - mean, dtype=torch.float32, device=device)
    generator = torch.Generator().manual_seed(config.seed)
    start = time.perf_counter()
    rmse = []
    for _ in tqdm(range(config.epochs), desc="semantic_mf", disable=not progress):
        squared = 0.0
        for batch in torch.randperm(len(stars), generator=generator).to(device).split(config.batch_size):
            user, item = user_table(user_t[batch]), item_vectors(item_t[batch])
            predicted = user[:, -1] + item[:, -1] + (user[:, :-1] * item[:, :-1]).sum(dim=1)
            error = ((predicted - star_t[batch]) ** 2).sum()
            loss = (error + config.lambda_reg * ((user ** 2).sum() + (item ** 2).sum())) / len(batch)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            squared += error.item()
        rmse.append(float(np.sqrt(squared / len(stars))))
    with torch.no_grad():
        item_rows = item_vectors(torch.arange(n_items, device=device)).cpu().numpy().astype(np.float64)
        facts = {
            "fit_seconds": time.perf_counter() - start,
            "train_stars": len(stars),
            "train_rmse_last_epoch": rmse[-1],  # before the epoch's last steps, in training mode
            "parameters": sum(parameter.numel() for parameter in modules.parameters()),
            "k": config.k,
            "epochs": config.epochs,
            "items": config.items,
        }
        if item_vectors.semantic:
            facts["level_weights"] = [round(float(weight), 4) for weight in item_vectors.level_weights()]
    return Factors(user_table.weight.detach().cpu().numpy().astype(np.float64), item_rows, mean, facts)


def semantic_keys(codes: ItemCodes, business_ids, config: Any) -> tuple[np.ndarray | None, list[int]]:
    """Each business's code keys and their vocabulary sizes (``code_keys``: its ID prefixes of every length, or its
    level codes without the suffix), or (None, []) in ID mode."""
    if config.items == "id":
        return None, []
    if config.code_keys == "prefix":
        return codes.prefix_keys(business_ids)
    return codes.tokens(business_ids)[:, :codes.levels], [codes.codebook_size] * codes.levels


class SemanticMFRecommender(RatingRecommender):
    def fit_item_side(self, data: ModelData, progress: bool) -> tuple[ItemSide, dict[str, Any]]:
        codes = require_codes(data.item_codes, "semantic_mf")
        catalogue = codes.items["business_id"].to_numpy()
        train = data.reviews.iloc[data.rows_of("train")]
        users = np.unique(train["user_id"].to_numpy(), return_inverse=True)[1]
        items = codes.rows(train["business_id"])
        factors = fit_factors(users, items, train["stars"].to_numpy(np.float64), int(users.max()) + 1,
                              len(catalogue), *semantic_keys(codes, catalogue, self.config), self.config, progress)
        # an ID-mode item without train stars has no fitted vector: fold-in treats it as unknown (b_i = q_i = 0)
        placed = np.arange(len(catalogue)) if self.config.items == "semantic" else np.unique(items)
        side = ItemSide(list(catalogue[placed]), factors.items[placed, -1], factors.items[placed, :-1], factors.mean)
        return side, {**factors.facts, "items_placed": len(placed), "fold_in_reg": self.config.fold_in_reg}

    def fit_ranking(self, data: RankingData, validation: Validation, progress: bool) -> FitResult:
        codes = require_codes(data.item_codes, "semantic_mf")
        train = data.part("train")
        items = train["item"].to_numpy()
        factors = fit_factors(train["user"].to_numpy(), items, train["stars"].to_numpy(np.float64), data.n_users,
                              data.n_items, *semantic_keys(codes, data.items["business_id"], self.config),
                              self.config, progress)
        seen = np.bincount(items, minlength=data.n_items) > 0
        placed = np.ones(data.n_items, bool) if self.config.items == "semantic" else seen
        self.catalogue = CatalogueFactors.placed(factors.users[:, :-1], factors.items[:, -1], factors.items[:, :-1],
                                                 placed)
        return FitResult({**factors.facts, "items_unseen_in_train": int((~seen).sum())})
