"""The ``tiger`` family: TIGER (Rajput et al. 2023, generative retrieval) as a ranker, cornac 3.0.1's ``TIGER`` over
our semantic IDs (input ``semantic_ids``: data/semantic_ids, ``sasnet.item_codes``).

TIGER names every item by a short tuple of tokens (its semantic ID) and trains a T5-style encoder-decoder to
generate the next item's ID from the IDs of the items before it; a user is ranked by the IDs it generates. Each
user's train interactions are one cornac session, in time order, as for cornac_seq; items without train
interactions are unknown to cornac and never rank.

Why giving cornac our IDs is sound. cornac's TIGER has two stages: a tokenizer that turns item content features
into level codes (an RQ-VAE, or residual k-means: GRID's ``rkmeans``), and the seq2seq model, which reads only the
resulting ID table (each item's tokens, each token's vocabulary size, the prefix trie of the constrained beam
search). The tokenizer is fixed before the seq2seq stage starts and nothing flows back into it, so replacing its
output by our table is TIGER with another tokenizer, not another model. Ours is of GRID's kind too: residual
k-means, over MiniLM embeddings of each item's text. Our IDs are used whole, collision suffix included. cornac
would append a suffix of its own by the same rule as ours (an item's rank among the items sharing its codes, in
row order), but over its items only (those with train interactions), in its own order (first appearance in
train), so its suffixes would differ from ours wherever codes collide; keeping ours gives an item the same ID in
every family that reads data/semantic_ids. The IDs stay unique (data/semantic_ids guarantees it), so an ID names
one item; the suffix vocabulary is the whole catalogue's (a suffix some unknown item uses is just never
generated), and the trie holds only cornac's items, so the beam search never generates an unknown one.

Fields are cornac's constructor arguments under our names. Each model keeps cornac's loss (cross-entropy summed
over the ID's tokens), optimiser (AdamW) and constant learning rate (GRID_CONFIG's ``lr_schedule``); the best
epoch (``selection: best``) is by cornac's valid NDCG@ranking.k on up to 2,000 users (cornac's ``val_sample``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sasnet.config import bounded

READS = "semantic_ids"  # sasnet.inputs: the catalogue's semantic IDs and metadata


@dataclass(frozen=True)
class TigerConfig:
    d_model: int = bounded(ge=1)  # token embedding and hidden size of the encoder and the decoder
    d_ff: int = bounded(ge=1)  # feed-forward width of every T5 layer
    heads: int = bounded(ge=1)  # attention heads per layer
    d_kv: int = bounded(ge=1)  # size of each head's keys and values (T5: heads * d_kv need not equal d_model)
    encoder_layers: int = bounded(ge=1)
    decoder_layers: int = bounded(ge=1)
    dropout: float = bounded(ge=0, lt=1)
    max_len: int = bounded(ge=1)  # the encoder reads the last max_len items of a history: max_len * (levels + 1) tokens
    epochs: int = bounded(ge=1)
    batch_size: int = bounded(ge=1)  # training prefixes per step (every prefix of every train sequence is one)
    lr: float = bounded(gt=0)  # AdamW, constant
    weight_decay: float = bounded(ge=0)
    selection: Literal["last", "best"]  # cornac's model_selection: the last epoch, or the best by valid NDCG
    val_every: int = bounded(ge=1)  # with selection best: epochs between valid evaluations (cornac's val_eval_every)
    beams: int = bounded(ge=1)  # constrained beam width (cornac's n_beams): with scoring beam, only these items get a real score
    scoring: Literal["beam", "exact"]  # beam search, or every item's exact log-likelihood (slower per user)
    seed: int = bounded(ge=0)  # torch's and cornac's sampling seed: a fit on the CPU is reproducible
    device: Literal["auto", "cpu", "cuda"] = "cpu"  # auto: cuda when available

    def check(self) -> list[str]:
        if self.selection == "best" and self.val_every > self.epochs:  # cornac would never evaluate valid
            return [f"val_every: must be >= 1 and, with selection best, <= epochs {self.epochs} (got {self.val_every})"]
        return []


Config = TigerConfig

MODEL = "TigerRanker"  # the Recommender subclass in model.py
TASKS = ("rank",)
