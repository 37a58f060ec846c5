"""SASRec on the ranking task, and where its attention goes: the share on each of the most recent items."""

from __future__ import annotations

import numpy as np
import torch

from sasnet.models.next_item import PAD, NextItemRanker
from sasnet.models.transformer import TransformerEncoder
from sasnet.ranking.data import RankingData


class SASRecRanker(NextItemRanker):
    OBJECTIVE = "causal"

    def build_network(self, n_items: int) -> TransformerEncoder:
        return TransformerEncoder(self.config, n_items, causal=True)

    @torch.no_grad()
    def attention_by_recency(self, data: RankingData, split: str) -> np.ndarray:
        """Mean attention of the scoring position (the last one), over users, heads and blocks, on the item
        ``r`` steps back (entry 0: the most recent item itself); entries past a user's history count as 0."""
        inputs = self._inputs(data.sequences(split)).to(self.device)
        _, attentions = self.network(inputs, with_attention=True)
        last = torch.stack([attention[:, :, -1, :] for attention in attentions]).mean(dim=(0, 2))  # [B, L]
        last = last.masked_fill(inputs == PAD, 0.0)
        return last.flip(dims=[1]).mean(dim=0).cpu().numpy()
