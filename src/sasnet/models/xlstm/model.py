"""xLSTM on the ranking task: item embeddings through the xLSTM encoder (``network``)."""

from __future__ import annotations

import torch
from torch import nn

from sasnet.models.next_item import PAD, NextItemRanker
from sasnet.models.xlstm.network import XLSTMEncoder


class XLSTMNetwork(nn.Module):
    def __init__(self, config, n_items: int):
        super().__init__()
        self.item_embedding = nn.Embedding(n_items + 2, config.hidden_dim, padding_idx=PAD)
        self.dropout = nn.Dropout(config.dropout)
        self.encoder = XLSTMEncoder(config.hidden_dim, config.blocks, config.heads, config.dropout, config.max_len,
                                    config.slstm_blocks)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.encoder(self.dropout(self.item_embedding(tokens)))


class XLSTMRanker(NextItemRanker):
    OBJECTIVE = "causal"

    def build_network(self, n_items: int) -> XLSTMNetwork:
        return XLSTMNetwork(self.config, n_items)
