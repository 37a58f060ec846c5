"""BERT4Rec on the ranking task: the shared transformer without the causal mask, cloze-trained."""

from __future__ import annotations

from sasnet.models.next_item import NextItemRanker
from sasnet.models.transformer import TransformerEncoder


class BERT4RecRanker(NextItemRanker):
    OBJECTIVE = "cloze"

    def build_network(self, n_items: int) -> TransformerEncoder:
        return TransformerEncoder(self.config, n_items, causal=False)
