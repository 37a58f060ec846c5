"""The ``ctr`` family: Wide&Deep, DeepFM and DLRM (``network.py``, torch), each with item IDs or semantic IDs.

Each example is a set of categorical fields, the item's categories/genres (a multi-hot bag) and dense user
features. ``items: id`` gives the item one field, its catalogue index (the baseline mode: item ID + metadata);
``items: semantic`` gives it one field per semantic-ID token in place of the ID: with ``code_keys: prefix`` the
field of token l is the item's ID prefix of length l (shared by the items under that prefix; the last one, with the
collision suffix, is the item's own), with ``code_keys: level`` the token's value alone. Both read
data/semantic_ids, so they see the same metadata.

- Classes (the user split): a held-out user has no ID to learn, so the user is described by the shrunk class
  shares and log(1 + size) of its other reviews (the target left out, as every family's pools); softmax over the
  classes, early stopping on valid macro-F1, the best epoch kept.
- Ranking (leave-last-out): every user has train interactions, so the user's index is a field too, with the
  class shares of its train interactions; each train interaction is a positive and ``negatives`` uniformly drawn
  catalogue items are negatives (binary cross-entropy); early stopping on valid NDCG@k.

Written in torch, not TorchRec: TorchRec installs here only as the 1.8.0 ``--no-deps`` pair beside a CUDA-only
dependency that every re-resolve tries to pull (RECSYS-LIBS), and each model is a few dozen lines.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sasnet.config import bounded

READS = "semantic_ids"  # sasnet.inputs: the catalogue's semantic IDs and metadata

ARCHITECTURES = ("wide_deep", "deepfm", "dlrm")


@dataclass(frozen=True)
class CTRConfig:
    architecture: Literal["wide_deep", "deepfm", "dlrm"]
    items: Literal["id", "semantic"]  # the item's field(s): its ID, or its semantic-ID tokens
    code_keys: Literal["prefix", "level"]  # semantic: a field per ID prefix, or per token value
    embedding_dim: int = bounded(ge=1)
    hidden_dims: list[int]  # the MLPs' layers (DLRM: its top MLP; its bottom MLP is one layer to embedding_dim)
    dropout: float = bounded(ge=0, lt=1)
    epochs: int = bounded(ge=1)  # upper bound; early stopping ends sooner
    patience: int = bounded(ge=1)
    batch_size: int = bounded(ge=1)
    lr: float = bounded(gt=0)  # AdamW
    weight_decay: float = bounded(ge=0)
    negatives: int = bounded(ge=1)  # ranking: sampled negatives per train interaction
    prior_strength: float = bounded(ge=0)  # pseudo-reviews at the train class shares added to each user's shares
    seed: int = bounded(ge=0)
    device: Literal["auto", "cpu", "cuda"] = "auto"

    def check(self) -> list[str]:
        if all(width >= 1 for width in self.hidden_dims):
            return []
        return [f"hidden_dims: must be a list of widths >= 1 (got {list(self.hidden_dims)})"]


Config = CTRConfig

MODEL = "CTRRecommender"  # the Recommender subclass in model.py
TASKS = ("classify", "rank")  # one model class for both (sasnet.models.base)
