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

from sasnet.config import bounded

READS = "ratings"  # sasnet.inputs: the task's own split, no text


@dataclass(frozen=True)
class CornacSeqConfig:
    model: Literal["sasrec", "bert4rec", "gru4rec"]
    hidden_dim: int = bounded(ge=1)  # item embedding and hidden size (gru4rec: its GRU layer's units)
    max_len: int = bounded(ge=1)  # the transformers read the last max_len items of a history (gru4rec: ignored)
    blocks: int = bounded(ge=1)  # transformer layers (gru4rec: ignored)
    heads: int = bounded(ge=1)  # attention heads, dividing hidden_dim (gru4rec: ignored)
    dropout: float = bounded(ge=0, lt=1)  # the transformers' dropout; gru4rec's hidden-layer dropout (dropout_p_hidden)
    negatives: int = bounded(ge=0)  # popularity-sampled negatives shared by a batch (cornac's n_sample); 0: in-batch ones only
    epochs: int = bounded(ge=1)
    batch_size: int = bounded(ge=2)  # training prefixes (transformers) or parallel sessions (gru4rec) per step; cornac skips batches of one
    lr: float = bounded(gt=0)
    selection: Literal["last", "best"]  # cornac's model_selection: the last epoch, or the best by valid NDCG
    val_every: int = bounded(ge=1)  # with selection best: epochs between valid evaluations (cornac's val_eval_every)
    val_k: int = bounded(ge=1)  # with selection best: the cut of the valid NDCG
    seed: int = bounded(ge=0)  # torch's and cornac's sampling seed: a fit on the CPU is reproducible
    device: Literal["auto", "cpu", "cuda"] = "cpu"  # auto: cuda when available

    def check(self) -> list[str]:
        problems = []
        if self.heads >= 1 and self.hidden_dim % self.heads:
            problems.append(f"heads: must be a divisor of hidden_dim {self.hidden_dim} (got {self.heads})")
        if self.selection == "best" and self.val_every > self.epochs:  # cornac would never evaluate valid
            problems.append(f"val_every: must be >= 1 and, with selection best, <= epochs {self.epochs} "
                            f"(got {self.val_every})")
        return problems


Config = CornacSeqConfig

MODEL = "CornacSequentialRanker"  # the Recommender subclass in model.py
TASKS = ("rank",)
