"""The ``semantic_mf`` family: biased MF whose item vectors are item IDs or compositions of semantic-ID codes.

r = mu + b_u + b_i + p_u . q_i fitted to the train stars by minibatch Adam (torch). With ``items: id`` every item
has its own (q_i, b_i), as in cornac's MF; with ``items: semantic`` an item's (q_i, b_i) is a sum of learned
embeddings of its semantic ID, weighted by learned level weights (softmax), so items that share a code prefix
share parameters and an item with few or no train reviews still gets a vector from its codes (the semantic-ID
seed's cold-start question). ``code_keys: prefix`` keys level l's embedding by the item's ID prefix of length l
(the last, with the collision suffix, is the item's own: the ID's capacity plus the hierarchy's sharing);
``code_keys: level`` by the level-l code alone, the suffix left out (then an item has no parameter of its own, and
a code is shared by items under different prefixes). Both modes read the same input (data/semantic_ids), so they
differ in the item representation alone.

Classes: the item side is kept and every example's user ridge-folded in from its other reviews, then calibrated,
exactly as the ``mf`` family (``sasnet.models.fold_in``). Ranking: the user vectors of the fit score the
catalogue (b_i + p_u . q_i), as the mf ranker; an item without train interactions ranks last in ID mode.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sasnet.config import bounded

READS = "semantic_ids"  # sasnet.inputs: the catalogue's semantic IDs and metadata


@dataclass(frozen=True)
class SemanticMFConfig:
    items: Literal["id", "semantic"]  # an item's vector: its own, or composed from its semantic-ID codes
    code_keys: Literal["prefix", "level"]  # semantic: an embedding per ID prefix, or per level code
    k: int = bounded(ge=1)  # latent factors
    epochs: int = bounded(ge=1)  # passes over the train stars
    batch_size: int = bounded(ge=1)
    lr: float = bounded(gt=0)  # Adam
    lambda_reg: float = bounded(ge=0)  # L2 of every parameter an example touches (p_u, q_i, b_u, b_i), per review, as cornac's MF
    fold_in_reg: float = bounded(gt=0)  # ridge penalty of a folded-in user's (p, b_u) on the class task
    seed: int = bounded(ge=0)
    device: Literal["auto", "cpu", "cuda"] = "auto"


Config = SemanticMFConfig

MODEL = "SemanticMFRecommender"  # the Recommender subclass in model.py
TASKS = ("classify", "rank")  # one model class for both (sasnet.models.base)
