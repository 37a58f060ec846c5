"""GRU4Rec / LSTM on the ranking task."""

from __future__ import annotations

import torch
from torch import nn

from sasnet.models.next_item import PAD, NextItemRanker


class RecurrentEncoder(nn.Module):
    """Item embeddings through a GRU or LSTM; left padding runs through the cell as zero vectors before the items."""

    def __init__(self, config, n_items: int):
        super().__init__()
        self.item_embedding = nn.Embedding(n_items + 2, config.hidden_dim, padding_idx=PAD)
        cell = nn.GRU if config.cell == "gru" else nn.LSTM
        self.recurrent = cell(config.hidden_dim, config.hidden_dim, num_layers=config.layers, batch_first=True,
                              dropout=config.dropout if config.layers > 1 else 0.0)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        hidden, _ = self.recurrent(self.dropout(self.item_embedding(tokens)))
        return self.dropout(hidden)


class GRU4RecRanker(NextItemRanker):
    OBJECTIVE = "causal"

    def build_network(self, n_items: int) -> RecurrentEncoder:
        return RecurrentEncoder(self.config, n_items)
