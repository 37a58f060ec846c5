"""SASNet: a set transformer over review embeddings that predicts the rating class of a (user, business) pair.

Each example is a set of S review embeddings written by the user and a set of S written about the business, each
with a boolean mask (True = a real review). The model:

1. projects every review embedding down to ``hidden_dim`` with one linear layer;
2. runs a self-attention transformer core, *shared* by the user and the business sets, with no positional
   encoding, so it sees each set as a set: the output does not depend on the order of its members;
3. averages the core's outputs over the real members of each set: one vector per entity;
4. cross-attention: the user vector is the query, the business set (the core's per-review outputs) the keys and
   values, followed by a feed-forward layer, both residual;
5. classifies the concatenation [user side, business vector] with an MLP.

Blocks are pre-norm (LayerNorm before attention and feed-forward, as in GPT-2): the residual stream stays
unnormalised, which trains stably without warm-up; the core ends in a LayerNorm so that pooled vectors and
cross-attention keys share one scale.

Masking: masked slots are zeroed on entry and are never attended to nor pooled, so whatever they hold cannot
change the output. An entity whose set is entirely masked (no history at all) pools to the zero vector, and a
user query with no business review to attend to receives a zero attention update (its vector passes through
the residual unchanged).

With ``cross_attention`` off (an ablation) step 4 is skipped: the classifier sees [user vector, business vector].
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn


@dataclass(frozen=True)
class SasnetConfig:
    """The ``train_sasnet`` section: architecture and training. The input width comes from the embedding."""

    sample_size: int  # S: reviews drawn per user set and per business set
    batch_size: int
    hidden_dim: int  # width after the down-projection
    heads: int  # attention heads, in the core and in the cross-attention
    ffn_dim: int  # inner width of every feed-forward layer
    blocks: int  # self-attention blocks in the shared core (0: the sets are only projected and pooled)
    dropout: float
    epochs: int  # upper bound; early stopping usually ends sooner
    patience: int  # epochs without a better validation macro-F1 before stopping
    lr: float  # AdamW learning rate
    weight_decay: float  # AdamW decoupled weight decay, on weight matrices only
    seed: int  # weights, dropout, set draws and batch order
    cross_attention: bool  # False (ablation): concatenate the two entity vectors instead
    resample_sets: bool  # True: re-draw the train sets every epoch ("combinatorial training"); False: draw once
    device: Literal["auto", "cpu", "cuda"]  # auto: cuda when available

    def check(self) -> list[str]:
        positive = ["sample_size", "batch_size", "hidden_dim", "heads", "ffn_dim", "epochs", "patience"]
        problems = [f"{name}: must be >= 1 (got {getattr(self, name)})" for name in positive if getattr(self, name) < 1]
        if self.heads >= 1 and self.hidden_dim % self.heads:
            problems.append(f"hidden_dim: must be divisible by heads ({self.hidden_dim} % {self.heads} != 0)")
        if self.blocks < 0:
            problems.append(f"blocks: must be >= 0 (got {self.blocks})")
        if not 0.0 <= self.dropout < 1.0:
            problems.append(f"dropout: must be in [0, 1) (got {self.dropout})")
        if self.lr <= 0:
            problems.append(f"lr: must be > 0 (got {self.lr})")
        if self.weight_decay < 0:
            problems.append(f"weight_decay: must be >= 0 (got {self.weight_decay})")
        if self.seed < 0:
            problems.append(f"seed: must be >= 0 (got {self.seed})")
        return problems


class Attention(nn.Module):
    """Multi-head attention of ``queries`` over ``keys`` (which also give the values), restricted to real keys."""

    def __init__(self, dim: int, heads: int, dropout: float):
        super().__init__()
        self.heads = heads
        self.weight_dropout = dropout  # on the attention weights
        self.query = nn.Linear(dim, dim)
        self.key_value = nn.Linear(dim, 2 * dim)
        self.out = nn.Linear(dim, dim)

    def forward(self, queries: torch.Tensor, keys: torch.Tensor, key_mask: torch.Tensor) -> torch.Tensor:
        batch, n_queries, dim = queries.shape
        head_dim = dim // self.heads
        q = self.query(queries).view(batch, n_queries, self.heads, head_dim).transpose(1, 2)
        k, v = self.key_value(keys).view(batch, keys.shape[1], 2, self.heads, head_dim).permute(2, 0, 3, 1, 4)
        has_keys = key_mask.any(dim=1)
        # A set with no real key would make the softmax 0/0; let it attend to its masked slots, then drop the result.
        attendable = key_mask | ~has_keys[:, None]
        mixed = F.scaled_dot_product_attention(
            q, k, v, attn_mask=attendable[:, None, None, :], dropout_p=self.weight_dropout if self.training else 0.0
        )
        update = self.out(mixed.transpose(1, 2).reshape(batch, n_queries, dim))
        return torch.where(has_keys[:, None, None], update, 0.0)


class FeedForward(nn.Sequential):
    def __init__(self, dim: int, inner_dim: int, dropout: float):
        super().__init__(nn.Linear(dim, inner_dim), nn.GELU(), nn.Linear(inner_dim, dim), nn.Dropout(dropout))


class Block(nn.Module):
    """Pre-norm transformer block: attention, then feed-forward, each added to the residual stream.

    Self-attention when ``keys`` is None; otherwise cross-attention of ``x`` over ``keys`` (already normalised).
    """

    def __init__(self, dim: int, heads: int, ffn_dim: int, dropout: float):
        super().__init__()
        self.attention_norm = nn.LayerNorm(dim)
        self.attention = Attention(dim, heads, dropout)
        self.attention_dropout = nn.Dropout(dropout)
        self.feed_forward_norm = nn.LayerNorm(dim)
        self.feed_forward = FeedForward(dim, ffn_dim, dropout)

    def forward(self, x: torch.Tensor, key_mask: torch.Tensor, keys: torch.Tensor | None = None) -> torch.Tensor:
        normed = self.attention_norm(x)
        x = x + self.attention_dropout(self.attention(normed, normed if keys is None else keys, key_mask))
        return x + self.feed_forward(self.feed_forward_norm(x))


def masked_mean(members: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean of each set's real members, (batch, S, dim) -> (batch, dim); a set with none gives zeros."""
    weights = mask.to(members.dtype)
    total = (members * weights[..., None]).sum(dim=1)
    return total / weights.sum(dim=1, keepdim=True).clamp(min=1.0)


class SASNet(nn.Module):
    def __init__(self, config: SasnetConfig, input_dim: int, n_classes: int):
        super().__init__()
        self.config = config
        self.input_dim = input_dim
        self.n_classes = n_classes
        dim = config.hidden_dim

        def block() -> Block:
            return Block(dim, config.heads, config.ffn_dim, config.dropout)

        self.down_projection = nn.Linear(input_dim, dim)
        self.core = nn.ModuleList(block() for _ in range(config.blocks))
        self.core_norm = nn.LayerNorm(dim)
        self.cross = block() if config.cross_attention else None
        self.classifier = nn.Sequential(
            nn.LayerNorm(2 * dim),
            nn.Linear(2 * dim, dim),
            nn.GELU(),
            nn.Dropout(config.dropout),
            nn.Linear(dim, n_classes),
        )

    def encode_set(self, reviews: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """The shared core: (batch, S, input_dim) review embeddings -> (batch, S, hidden_dim) member vectors."""
        # Zeroing masked slots first keeps even absurd padding values (inf, 1e30) out of every intermediate.
        x = self.down_projection(torch.where(mask[..., None], reviews, 0.0))
        for block in self.core:
            x = block(x, mask)
        return self.core_norm(x)

    def forward(
        self,
        user_reviews: torch.Tensor,
        user_mask: torch.Tensor,
        business_reviews: torch.Tensor,
        business_mask: torch.Tensor,
    ) -> torch.Tensor:
        """Class logits (batch, n_classes) from the two sets of review embeddings and their masks."""
        user = masked_mean(self.encode_set(user_reviews, user_mask), user_mask)
        business_members = self.encode_set(business_reviews, business_mask)
        business = masked_mean(business_members, business_mask)
        if self.cross is not None:
            user = self.cross(user[:, None, :], business_mask, keys=business_members)[:, 0, :]
        return self.classifier(torch.cat([user, business], dim=-1))

    def parameter_count(self) -> int:
        return sum(parameter.numel() for parameter in self.parameters())
