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

READS_EMBEDDING = False
READS_SEMANTIC_IDS = True

ARCHITECTURES = ("wide_deep", "deepfm", "dlrm")


@dataclass(frozen=True)
class CTRConfig:
    architecture: Literal["wide_deep", "deepfm", "dlrm"]
    items: Literal["id", "semantic"]  # the item's field(s): its ID, or its semantic-ID tokens
    code_keys: Literal["prefix", "level"]  # semantic: a field per ID prefix, or per token value
    embedding_dim: int
    hidden_dims: list[int]  # the MLPs' layers (DLRM: its top MLP; its bottom MLP is one layer to embedding_dim)
    dropout: float
    epochs: int  # upper bound; early stopping ends sooner
    patience: int
    batch_size: int
    lr: float  # AdamW
    weight_decay: float
    negatives: int  # ranking: sampled negatives per train interaction
    prior_strength: float  # pseudo-reviews at the train class shares added to each user's shares
    seed: int
    device: Literal["auto", "cpu", "cuda"] = "auto"

    def check(self) -> list[str]:
        rules = (
            ("embedding_dim", self.embedding_dim, self.embedding_dim >= 1, ">= 1"),
            ("hidden_dims", list(self.hidden_dims), all(width >= 1 for width in self.hidden_dims),
             "a list of widths >= 1"),
            ("dropout", self.dropout, 0 <= self.dropout < 1, "in [0, 1)"),
            ("epochs", self.epochs, self.epochs >= 1, ">= 1"),
            ("patience", self.patience, self.patience >= 1, ">= 1"),
            ("batch_size", self.batch_size, self.batch_size >= 1, ">= 1"),
            ("lr", self.lr, self.lr > 0, "> 0"),
            ("weight_decay", self.weight_decay, self.weight_decay >= 0, ">= 0"),
            ("negatives", self.negatives, self.negatives >= 1, ">= 1"),
            ("prior_strength", self.prior_strength, self.prior_strength >= 0, ">= 0"),
            ("seed", self.seed, self.seed >= 0, ">= 0"),
        )
        return [f"{name}: must be {bound} (got {value})" for name, value, valid, bound in rules if not valid]


Config = CTRConfig

RECOMMENDER = "CTRRecommender"
RANKER = "CTRRanker"
