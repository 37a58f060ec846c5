"""What every ranker reads: the catalogue and each user's interactions in time order, from data/rank_split, and for
the review-embedding rankers (SASNet) the normalised embedding of each interaction's review."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import cached_property

import numpy as np
import pandas as pd
import scipy.sparse as sp

from sasnet import paths
from sasnet.embeddings import store
from sasnet.errors import PipelineError
from sasnet.histories import Histories
from sasnet.inputs import ModelInput
from sasnet.item_codes import ItemCodes, load_item_codes

# What a user has shown before each target; "next" is the whole history, to recommend what comes after it.
HISTORY_OF = {"valid": ("train",), "test": ("train", "valid"), "next": ("train", "valid", "test")}


@dataclass(frozen=True)
class RankingData:
    """Users (rows) and items (columns, the catalogue) as indices; ``interactions`` in per-user time order."""

    interactions: pd.DataFrame  # user, item (indices), stars, date, position, split (and review_id, label where
    # rank_split wrote them); sorted by (user, position)
    items: pd.DataFrame  # business_id, name, categories; row i is item index i
    users: np.ndarray  # user ids; entry u is user index u
    embedding: np.ndarray | sp.csr_matrix | None = None  # row i: interaction i's review (``with_embedding``)
    item_codes: ItemCodes | None = None  # the catalogue's semantic IDs and metadata, for families that read them
    # per-split sequences and seen items, built once: rankers ask for them every epoch and every scoring batch
    _cache: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    @classmethod
    def from_frames(cls, interactions: pd.DataFrame, items: pd.DataFrame) -> RankingData:
        """From the rank_split stage's frames (business_id / user_id columns); the catalogue is ``items``."""
        index = pd.Index(items["business_id"])
        unknown = ~interactions["business_id"].isin(index)
        if unknown.any():
            raise PipelineError(f"{int(unknown.sum())} interactions name items missing from the catalogue")
        users, user_index = np.unique(interactions["user_id"].to_numpy(), return_inverse=True)
        frame = pd.DataFrame({
            "user": user_index.astype(np.int64),
            "item": index.get_indexer(interactions["business_id"]).astype(np.int64),
            "stars": interactions["stars"].to_numpy(dtype=np.int64),
            "date": interactions["date"].to_numpy(),
            "position": interactions["position"].to_numpy(dtype=np.int64),
            "split": interactions["split"].to_numpy(),
            **{column: interactions[column].to_numpy() for column in ("review_id", "label") if column in interactions},
        }).sort_values(["user", "position"], kind="stable").reset_index(drop=True)
        return cls(frame, items.reset_index(drop=True), users)

    def with_embedding(self, review_ids: pd.Series, matrix: np.ndarray | sp.csr_matrix, source: str) -> RankingData:
        """These interactions with their reviews' rows of ``matrix`` (rows named by ``review_ids``, from ``source``)."""
        if "review_id" not in self.interactions:
            raise PipelineError("data/rank_split has no review ids: run `dvc repro rank_split`")
        rows = pd.Index(review_ids).get_indexer(self.interactions["review_id"])
        if (rows < 0).any():
            raise PipelineError(f"{int((rows < 0).sum())} of {len(rows)} ranking interactions have no review in "
                                f"{source}: the embedding is of other reviews (run `dvc repro`)")
        return replace(self, embedding=matrix[rows])

    @property
    def labels(self) -> np.ndarray:
        """Each interaction's class index under split.bins (written by rank_split)."""
        if "label" not in self.interactions:
            raise PipelineError("data/rank_split has no classes: run `dvc repro rank_split`")
        return self.interactions["label"].to_numpy(dtype=np.int64)

    @property
    def n_users(self) -> int:
        return len(self.users)

    @property
    def n_items(self) -> int:
        return len(self.items)

    def part(self, split: str) -> pd.DataFrame:
        return self.interactions[self.interactions["split"] == split]

    def targets(self, split: str) -> pd.DataFrame:
        """The held-out interaction of every user for ``split`` (valid or test): user, item, stars; one per user."""
        return self.part(split)[["user", "item", "stars"]].reset_index(drop=True)

    def history(self, split: str) -> pd.DataFrame:
        """What every user has shown before ``split``'s target, in time order (train for valid; train and valid
        for test; everything for next)."""
        return self.interactions[self.interactions["split"].isin(HISTORY_OF[split])]

    def histories_before(self, split: str) -> Histories:
        """The pools before ``split``'s targets (``sasnet.histories``): a user's interactions of HISTORY_OF[split],
        an item's train ones; the interactions of ``split`` are the examples."""
        frame = self.interactions
        return Histories.before_targets(frame["user"].to_numpy(), frame["item"].to_numpy(), frame["split"].to_numpy(),
                                        HISTORY_OF[split], self.n_users, self.n_items)

    def sequences(self, split: str) -> list[np.ndarray]:
        """Each user's item indices before ``split``'s target, oldest first (``train``: the whole train part)."""
        return self._per_user(split, "item")

    def star_sequences(self, split: str) -> list[np.ndarray]:
        """The stars of ``sequences(split)``, aligned with them."""
        return self._per_user(split, "stars")

    def seen_matrix(self, split: str) -> sp.csr_matrix:
        """[users, items] 1 where the user interacted before ``split``'s target: those items are never ranked."""
        if ("seen", split) not in self._cache:
            seen = self.history(split)
            ones = np.ones(len(seen), dtype=np.float32)
            self._cache["seen", split] = sp.csr_matrix((ones, (seen["user"], seen["item"])),
                                                       shape=(self.n_users, self.n_items))
        return self._cache["seen", split]

    def _per_user(self, split: str, column: str) -> list[np.ndarray]:
        if (column, split) not in self._cache:
            seen = self.part("train") if split == "train" else self.history(split)
            bounds = np.searchsorted(seen["user"].to_numpy(), np.arange(self.n_users + 1))  # users arrive sorted
            values = seen[column].to_numpy()
            self._cache[column, split] = [values[bounds[u]:bounds[u + 1]] for u in range(self.n_users)]
        return self._cache[column, split]

    def require_size(self, n_users: int | None, n_items: int) -> None:
        """Refuse a saved ranker fitted on another split: its users or its catalogue differ from these."""
        if n_items != self.n_items or (n_users is not None and n_users != self.n_users):
            raise PipelineError(
                f"the ranker was fitted on {n_users if n_users is not None else 'any'} users and {n_items} items, "
                f"data/rank_split has {self.n_users} users and a catalogue of {self.n_items} items: it was trained on "
                "another rank_split (run `dvc repro`)")

    @cached_property
    def train_counts(self) -> np.ndarray:
        """Train interactions per item (popularity)."""
        return np.bincount(self.part("train")["item"], minlength=self.n_items)


def load_ranking_data(model_input: ModelInput = ModelInput()) -> RankingData:
    """data/rank_split; for an embedding input, the normalised pooling of each interaction's review; for a
    semantic-ID input, the catalogue's semantic IDs (data/semantic_ids)."""
    embedding, pooling = model_input.embedding, model_input.pooling
    try:
        interactions = pd.read_parquet(paths.RANK_INTERACTIONS)
        items = pd.read_parquet(paths.RANK_ITEMS)
    except FileNotFoundError as error:
        raise PipelineError(f"{error.filename} is missing: run `dvc repro rank_split`") from None
    data = RankingData.from_frames(interactions, items)
    if model_input.semantic_ids:
        codes = load_item_codes()
        codes.rows(data.items["business_id"])  # every catalogue item has an ID
        data = replace(data, item_codes=codes)
    if embedding is None:
        return data
    index, matrix = store.read_normalized(embedding, pooling)
    return data.with_embedding(index["review_id"], matrix, str(paths.normalized_dir(embedding)))
