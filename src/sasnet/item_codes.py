"""Each catalogue item's semantic ID and metadata, as the semantic_ids stage wrote them (data/semantic_ids), for the
families that read them (input ``semantic_ids``): the ID-based and the semantic modes read the same table, so both
see the same metadata and differ only in how an item is named."""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import pandas as pd

from sasnet import paths
from sasnet.errors import PipelineError


def code_columns(levels: int) -> list[str]:
    """The table's token columns: one code per level, then the collision suffix."""
    return [f"code_{level}" for level in range(1, levels + 1)] + ["suffix"]


@dataclass(frozen=True)
class ItemCodes:
    """The catalogue (row order: business_id sorted) with its tokens and categories."""

    items: pd.DataFrame  # business_id, name, categories, text_source, code_1 .. code_<levels>, suffix
    codebook_size: int  # codes per level (level 1 .. levels); the suffix has its own range

    @property
    def levels(self) -> int:
        return sum(column.startswith("code_") for column in self.items.columns)

    @property
    def token_sizes(self) -> list[int]:
        """Vocabulary size of each token: codebook_size per level, then the largest suffix + 1."""
        return [self.codebook_size] * self.levels + [int(self.items["suffix"].to_numpy().max(initial=0)) + 1]

    def rows(self, business_ids) -> np.ndarray:
        """The table row of each business id; an id missing from the catalogue is an error."""
        rows = pd.Index(self.items["business_id"]).get_indexer(pd.Index(business_ids))
        if (rows < 0).any():
            raise PipelineError(f"{int((rows < 0).sum())} businesses have no semantic ID: data/semantic_ids is of "
                                "another sample (run `dvc repro semantic_ids`)")
        return rows

    def tokens(self, business_ids) -> np.ndarray:
        """[len(business_ids), levels + 1] int64: each item's codes then its suffix (unique per item)."""
        return self.items[code_columns(self.levels)].to_numpy(np.int64)[self.rows(business_ids)]

    def prefix_keys(self, business_ids) -> tuple[np.ndarray, list[int]]:
        """[len(business_ids), levels + 1]: column l numbers the item's ID prefix of length l + 1 among the
        catalogue's distinct prefixes of that length (the last, with the suffix, is unique per item), and the
        number of distinct prefixes per length. An embedding keyed by prefix is shared exactly by the items that
        share that prefix ("prefix n-grams", Singh et al. 2023), where one keyed by a level's code alone is shared
        by unrelated items that happen to get the same code under different prefixes."""
        tokens = self.items[code_columns(self.levels)].to_numpy(np.int64)
        keys = np.stack([np.unique(tokens[:, :length + 1], axis=0, return_inverse=True)[1].ravel()
                         for length in range(tokens.shape[1])], axis=1)
        return keys[self.rows(business_ids)], [int(column.max()) + 1 for column in keys.T]

    def category_lists(self, business_ids) -> list[list[str]]:
        """Each item's categories (or genres), in the table's order of names."""
        return [split_categories(text) for text in self.items["categories"].to_numpy()[self.rows(business_ids)]]


def require_codes(item_codes: ItemCodes | None, family: str) -> ItemCodes:
    """A model's item codes, or the error that says which input gives them."""
    if item_codes is None:
        raise PipelineError(f"family {family!r} reads the semantic IDs: give the model input 'semantic_ids'")
    return item_codes


def split_categories(text: str | None) -> list[str]:
    return [part.strip() for part in (text or "").split(",") if part.strip()]


def load_item_codes() -> ItemCodes:
    for path in (paths.SEMANTIC_IDS, paths.SEMANTIC_IDS_INFO):
        if not path.is_file():
            raise PipelineError(f"{path} is missing: run `dvc repro semantic_ids`")
    info = json.loads(paths.SEMANTIC_IDS_INFO.read_text())
    return ItemCodes(pd.read_parquet(paths.SEMANTIC_IDS), int(info["codebook_size"]))
