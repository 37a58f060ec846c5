"""Poolings of a decoder's token states into one vector per review, over the review's own tokens only.

Every function takes ``hidden`` (batch, tokens, dims), the last hidden state, and ``review_mask`` (batch, tokens),
True exactly at the review's tokens: prompt tokens before the review and pad tokens (on either side) are False and
never reach the result, even when their states hold NaN or infinities. Each review needs at least one token.
Results are float32 whatever the model's dtype.
"""

from __future__ import annotations

import torch

from sasnet.embeddings.configs import POOLINGS  # noqa: F401 (re-exported: the poolings pool_all returns)



def mean_pool(hidden: torch.Tensor, review_mask: torch.Tensor) -> torch.Tensor:
    return _weighted_sum(hidden, review_mask.float()) / review_mask.sum(1, keepdim=True)


def max_pool(hidden: torch.Tensor, review_mask: torch.Tensor) -> torch.Tensor:
    return hidden.float().masked_fill(~review_mask[..., None], float("-inf")).amax(1)


def last_pool(hidden: torch.Tensor, review_mask: torch.Tensor) -> torch.Tensor:
    """The state of the review's last token, wherever the padding is."""
    positions = torch.arange(review_mask.shape[1], device=review_mask.device).expand_as(review_mask)
    last = torch.where(review_mask, positions, -1).amax(1)
    return hidden[torch.arange(hidden.shape[0], device=hidden.device), last].float()


def weighted_pool(hidden: torch.Tensor, review_mask: torch.Tensor) -> torch.Tensor:
    """Average weighted by position in the review: the k-th of n tokens weighs k / (1 + 2 + ... + n)."""
    rank = review_mask.float().cumsum(1) * review_mask
    return _weighted_sum(hidden, rank / rank.sum(1, keepdim=True))


def attention_pool(hidden: torch.Tensor, review_mask: torch.Tensor, attention: torch.Tensor) -> torch.Tensor:
    """The paper's attentional pooling, restricted to the review: mean over review rows of ``A @ H``.

    ``attention`` (batch, tokens, tokens) is the last layer's attention probabilities averaged over heads, row =
    query, column = key. Only review rows and review columns are kept, and each kept row is renormalised to sum to
    one, so a review token's context vector is a convex mix of review-token states: without renormalising, the mass
    a token puts on the prompt (and on the first token, the usual attention sink) would just shrink the vector.
    The mean over rows of ``A @ H`` is computed as ``(column weights) @ H``, the same sum without the
    tokens x tokens x dims product.
    """
    pair_mask = review_mask[:, :, None] & review_mask[:, None, :]
    kept = torch.where(pair_mask, attention.float(), 0.0)
    rows = kept / kept.sum(2, keepdim=True).clamp_min(torch.finfo(torch.float32).tiny)
    column_weights = rows.sum(1) / review_mask.sum(1, keepdim=True)
    return _weighted_sum(hidden, column_weights)


def pool_all(hidden: torch.Tensor, review_mask: torch.Tensor, attention: torch.Tensor) -> dict[str, torch.Tensor]:
    """Every pooling of ``POOLINGS``, from the same states."""
    return {
        "mean": mean_pool(hidden, review_mask),
        "max": max_pool(hidden, review_mask),
        "last": last_pool(hidden, review_mask),
        "weighted": weighted_pool(hidden, review_mask),
        "attention": attention_pool(hidden, review_mask, attention),
    }


def _weighted_sum(hidden: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Sum of token states times (batch, tokens) weights; zero-weight tokens are dropped, not multiplied."""
    states = torch.where(weights[..., None] != 0, hidden.float(), 0.0)
    return torch.einsum("bt,btd->bd", weights, states)
