"""The ``cornac_seq`` family: cornac's own next-item recommenders (SASRec, BERT4Rec, GRU4Rec) as rankers.

Our torch SASRec, BERT4Rec and GRU4Rec are written from their papers; the library's versions, fitted on the same
leave-last-out split and scored by the same full-catalogue metrics, are the reference they are compared with.
Each user's train interactions are one cornac session, in time order; a user's history before a target is
scored by the library's own ``score``. Items without train interactions are unknown to cornac and never rank.

Fields are cornac's constructor arguments under our names. BERT4Rec is cornac's ``BERT4Rec`` (a BERT encoder
trained on the next item at the last position, cornac's default, not the paper's Cloze task). GRU4Rec has one GRU
layer of ``hidden_dim`` units (``layers=[hidden_dim]``) with tied item embeddings, reads the whole history,
and ignores ``max_len``, ``blocks`` and ``heads``. Each model keeps cornac's default loss (softmax cross-entropy
over the batch's targets and the sampled negatives) and optimiser (Adam for the transformers, AdaGrad for GRU4Rec:
their learning rates differ by an order, cornac's defaults being 1e-3 and 0.05).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

READS_EMBEDDING = False


@dataclass(frozen=True)
class CornacSeqConfig:
    model: Literal["sasrec", "bert4rec", "gru4rec"]
    hidden_dim: int  # item embedding and hidden size (gru4rec: its GRU layer's units)
    max_len: int  # the transformers read the last max_len items of a history (gru4rec: ignored)
    blocks: int  # transformer layers (gru4rec: ignored)
    heads: int  # attention heads, dividing hidden_dim (gru4rec: ignored)
    dropout: float  # the transformers' dropout; gru4rec's hidden-layer dropout (dropout_p_hidden)
    negatives: int  # popularity-sampled negatives shared by a batch (cornac's n_sample); 0: in-batch ones only
    epochs: int
    batch_size: int  # training prefixes (transformers) or parallel sessions (gru4rec) per step
    lr: float
    selection: Literal["last", "best"]  # cornac's model_selection: the last epoch, or the best by valid NDCG
    val_every: int  # with selection best: epochs between valid evaluations (cornac's val_eval_every)
    val_k: int  # with selection best: the cut of the valid NDCG
    seed: int  # torch's and cornac's sampling seed: a fit on the CPU is reproducible
    device: Literal["auto", "cpu", "cuda"] = "cpu"  # auto: cuda when available

    def check(self) -> list[str]:
        rules = (
            ("hidden_dim", self.hidden_dim, self.hidden_dim >= 1, ">= 1"),
            ("max_len", self.max_len, self.max_len >= 1, ">= 1"),
            ("blocks", self.blocks, self.blocks >= 1, ">= 1"),
            ("heads", self.heads, self.heads >= 1 and self.hidden_dim % self.heads == 0,
             f"a divisor of hidden_dim {self.hidden_dim}"),
            ("dropout", self.dropout, 0 <= self.dropout < 1, "in [0, 1)"),
            ("negatives", self.negatives, self.negatives >= 0, ">= 0"),
            ("epochs", self.epochs, self.epochs >= 1, ">= 1"),
            ("batch_size", self.batch_size, self.batch_size >= 2, ">= 2"),  # cornac skips batches of one
            ("lr", self.lr, self.lr > 0, "> 0"),
            ("val_every", self.val_every,  # beyond epochs, cornac would never evaluate valid
             self.val_every >= 1 and (self.selection == "last" or self.val_every <= self.epochs),
             f">= 1 and, with selection best, <= epochs {self.epochs}"),
            ("val_k", self.val_k, self.val_k >= 1, ">= 1"),
            ("seed", self.seed, self.seed >= 0, ">= 0"),
        )
        return [f"{name}: must be {bound} (got {value})" for name, value, valid, bound in rules if not valid]


Config = CornacSeqConfig

RECOMMENDER = None  # ranks only
RANKER = "CornacSequentialRanker"  # the Ranker subclass in model.py
