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
With ``history_stars`` on, each member's projected vector also gets a learned embedding of that review's star
rating (which the protocol observes for every history review), added before the core.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from sasnet.models.sasnet import STAR_LEVELS, SasnetConfig


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
        return self.attend(queries, self.keys_values(keys), key_mask)

    def keys_values(self, keys: torch.Tensor) -> torch.Tensor:
        """(batch, n_keys, dim) -> the heads' keys and values, (2, batch, heads, n_keys, head_dim)."""
        batch, n_keys, dim = keys.shape
        return self.key_value(keys).view(batch, n_keys, 2, self.heads, dim // self.heads).permute(2, 0, 3, 1, 4)

    def attend(self, queries: torch.Tensor, keys_values: torch.Tensor, key_mask: torch.Tensor) -> torch.Tensor:
        batch, n_queries, dim = queries.shape
        head_dim = dim // self.heads
        q = self.query(queries).view(batch, n_queries, self.heads, head_dim).transpose(1, 2)
        k, v = keys_values
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
        return self.attend(x, self.attention.keys_values(normed if keys is None else keys), key_mask, normed)

    def attend(
        self, x: torch.Tensor, keys_values: torch.Tensor, key_mask: torch.Tensor, normed: torch.Tensor | None = None
    ) -> torch.Tensor:
        """The block given its attention's keys and values (``Attention.keys_values``), computed once for keys that
        many queries share."""
        normed = self.attention_norm(x) if normed is None else normed
        x = x + self.attention_dropout(self.attention.attend(normed, keys_values, key_mask))
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
        self.star_embedding = nn.Embedding(STAR_LEVELS, dim) if config.history_stars else None
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

    def encode_set(self, reviews: torch.Tensor, mask: torch.Tensor, stars: torch.Tensor | None) -> torch.Tensor:
        """The shared core: (batch, S, input_dim) review embeddings -> (batch, S, hidden_dim) member vectors.

        ``stars`` (batch, S) holds each member's star rating minus one; it is read only with ``history_stars``.
        """
        # Zeroing masked slots first keeps even absurd padding values (inf, 1e30) out of every intermediate.
        x = self.down_projection(torch.where(mask[..., None], reviews, 0.0))
        if self.star_embedding is not None:
            x = x + self.star_embedding(torch.where(mask, stars, 0))
        for block in self.core:
            x = block(x, mask)
        return self.core_norm(x)

    def entity(
        self, reviews: torch.Tensor, mask: torch.Tensor, stars: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """One side's sets -> (member vectors (batch, S, hidden_dim), the entity vector (batch, hidden_dim))."""
        members = self.encode_set(reviews, mask, stars)
        return members, masked_mean(members, mask)

    def business_keys(self, business_members: torch.Tensor) -> torch.Tensor | None:
        """The cross-attention's keys and values of each business's members (None without cross-attention)."""
        return None if self.cross is None else self.cross.attention.keys_values(business_members)

    def pair_logits(
        self, user: torch.Tensor, business_keys: torch.Tensor | None, business_mask: torch.Tensor,
        business: torch.Tensor,
    ) -> torch.Tensor:
        """Class logits (batch, n_classes) of (user vector, business) pairs, each side from ``entity`` and
        ``business_keys``: a ranker encodes every user and every item once and pairs them here."""
        if self.cross is not None:
            user = self.cross.attend(user[:, None, :], business_keys, business_mask)[:, 0, :]
        return self.classifier(torch.cat([user, business], dim=-1))

    def forward(
        self,
        user_reviews: torch.Tensor,
        user_mask: torch.Tensor,
        business_reviews: torch.Tensor,
        business_mask: torch.Tensor,
        user_stars: torch.Tensor | None = None,
        business_stars: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Class logits (batch, n_classes) from the two sets of review embeddings, their masks (and stars)."""
        _, user = self.entity(user_reviews, user_mask, user_stars)
        business_members, business = self.entity(business_reviews, business_mask, business_stars)
        return self.pair_logits(user, self.business_keys(business_members), business_mask, business)

    def parameter_count(self) -> int:
        return sum(parameter.numel() for parameter in self.parameters())
