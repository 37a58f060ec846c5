"""The transformer encoder of SASRec (causal) and BERT4Rec (bidirectional): item and position embeddings, pre-norm
self-attention blocks, a final layer norm. Written out (not nn.TransformerEncoder) to return attention weights,
which the analysis of how much attention goes to the most recent items reads."""

from __future__ import annotations

import torch
from torch import nn

from sasnet.models.next_item import PAD
from sasnet.models.next_item_config import AttentionConfig


class Block(nn.Module):
    def __init__(self, dim: int, heads: int, dropout: float):
        super().__init__()
        self.heads = heads
        self.attention_norm, self.feed_forward_norm = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.qkv, self.out = nn.Linear(dim, 3 * dim), nn.Linear(dim, dim)
        self.feed_forward = nn.Sequential(nn.Linear(dim, dim), nn.GELU(), nn.Dropout(dropout), nn.Linear(dim, dim))
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, allowed: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``allowed`` [B, L, L]: query i may attend to key j. Returns the output and the attention [B, h, L, L]."""
        batch, length, dim = x.shape
        q, k, v = self.qkv(self.attention_norm(x)).view(batch, length, 3, self.heads, dim // self.heads).unbind(2)
        q, k, v = (t.transpose(1, 2) for t in (q, k, v))
        logits = (q @ k.transpose(-2, -1)) / (dim // self.heads) ** 0.5
        attention = logits.masked_fill(~allowed[:, None], float("-inf")).softmax(dim=-1)
        mixed = (self.dropout(attention) @ v).transpose(1, 2).reshape(batch, length, dim)
        x = x + self.dropout(self.out(mixed))
        return x + self.dropout(self.feed_forward(self.feed_forward_norm(x))), attention


class TransformerEncoder(nn.Module):
    def __init__(self, config: AttentionConfig, n_items: int, causal: bool):
        super().__init__()
        self.causal = causal
        self.item_embedding = nn.Embedding(n_items + 2, config.hidden_dim, padding_idx=PAD)
        self.position_embedding = nn.Embedding(config.max_len, config.hidden_dim)
        self.dropout = nn.Dropout(config.dropout)
        self.blocks = nn.ModuleList(Block(config.hidden_dim, config.heads, config.dropout) for _ in range(config.blocks))
        self.norm = nn.LayerNorm(config.hidden_dim)

    def forward(self, tokens: torch.Tensor, with_attention: bool = False):
        length = tokens.shape[1]
        positions = torch.arange(length, device=tokens.device)
        x = self.dropout(self.item_embedding(tokens) + self.position_embedding(positions))
        allowed = (tokens != PAD)[:, None, :].expand(-1, length, -1)
        if self.causal:
            allowed = allowed & torch.ones(length, length, dtype=torch.bool, device=tokens.device).tril()
        allowed = allowed | torch.eye(length, dtype=torch.bool, device=tokens.device)  # no query sees nothing
        attentions = []
        for block in self.blocks:
            x, attention = block(x, allowed)
            attentions.append(attention)
        x = self.norm(x)
        return (x, attentions) if with_attention else x
