"""cornac's TIGER fitted on each user's train sequence over our semantic IDs; every score is cornac's ``score``.

The ranker is cornac_seq's (same sessions, item numbering, scoring loop and saved arrays) with cornac's TIGER in
place of its SASRec: only the fit, which hands cornac our IDs, and the restore, which checks them, differ.
"""

from __future__ import annotations

import time
from collections import defaultdict
from typing import Any

import cornac
import numpy as np
import torch
from cornac.data import SequentialDataset
from cornac.models import TIGER

from sasnet.device import resolve_device
from sasnet.errors import PipelineError
from sasnet.models.base import FitResult, Validation
from sasnet.models.cornac_seq.model import CornacSequentialRanker, item_order, train_set, valid_set
from sasnet.ranking.data import RankingData


class GivenCodesTIGER(TIGER):
    """cornac's TIGER with the semantic IDs given instead of learnt: ``tokens`` row i is cornac item i's ID (its
    level codes, then its collision suffix; rows unique), ``token_sizes`` each token's vocabulary size.

    cornac's fit reads item features (``_get_item_features``), quantises them (``_tokenize``) and appends a suffix
    of its own (``_build_semantic_ids``); here the features are the IDs themselves, tokenising them is the
    identity, and the IDs are used whole, suffix included. cornac's tokenizer settings are therefore unused."""

    def __init__(self, tokens: np.ndarray, token_sizes: list[int], **kwargs: Any):
        super().__init__(**kwargs)
        self.tokens = tokens
        self.token_sizes = token_sizes

    def _get_item_features(self) -> np.ndarray:
        return self.tokens

    def _tokenize(self, torch_module: Any, feats_t: torch.Tensor) -> np.ndarray:
        return feats_t.cpu().numpy()

    def _build_semantic_ids(self, codes: np.ndarray) -> None:
        """cornac's tables from whole IDs: the ID of each item, every token's vocabulary (the decoder's heads),
        each item of an ID, and the tokens that may follow each prefix (the constrained beam search's trie)."""
        self.sid_table = codes
        self.level_sizes = list(self.token_sizes)
        self.sid_to_item = {tuple(int(token) for token in sid): item for item, sid in enumerate(codes)}
        children = [defaultdict(set) for _ in self.level_sizes]
        for sid in self.sid_to_item:
            for level, token in enumerate(sid):
                children[level][sid[:level]].add(token)
        self.prefix_children = [
            {prefix: np.fromiter(sorted(tokens), dtype=np.int64) for prefix, tokens in level.items()}
            for level in children
        ]


def library_tokens(data: RankingData, items: np.ndarray) -> tuple[np.ndarray, list[int]]:
    """Our semantic ID of each of cornac's items (``items``: their catalogue indices) and each token's vocabulary
    size, from data/semantic_ids."""
    if data.item_codes is None:
        raise PipelineError("the tiger family ranks by semantic IDs: give the ranker input semantic_ids "
                            "(data/semantic_ids, `dvc repro semantic_ids`)")
    codes = data.item_codes
    return codes.tokens(data.items["business_id"].to_numpy()[items]), codes.token_sizes


def library_model(config: Any, tokens: np.ndarray, token_sizes: list[int], epochs: int, progress: bool,
                  val_k: int = 10) -> GivenCodesTIGER:
    return GivenCodesTIGER(
        tokens, token_sizes, d_model=config.d_model, d_ff=config.d_ff, num_heads=config.heads, d_kv=config.d_kv,
        num_enc_layers=config.encoder_layers, num_dec_layers=config.decoder_layers, dropout=config.dropout,
        max_len=config.max_len, n_epochs=epochs, learning_rate=config.lr, weight_decay=config.weight_decay,
        batch_size=config.batch_size, model_selection=config.selection, val_metric="ndcg",
        val_eval_every=config.val_every, val_k=val_k, scoring=config.scoring, n_beams=config.beams,
        device=resolve_device(config.device, "tiger.device"), seed=config.seed, verbose=progress,
    )


class TigerRanker(CornacSequentialRanker):
    library: GivenCodesTIGER

    def fit_ranking(self, data: RankingData, validation: Validation, progress: bool) -> FitResult:
        k = validation.k
        if self.config.scoring == "beam" and self.config.beams < k:
            # beam scoring ranks only the beams' items: fewer than k would leave the top k to ties
            raise PipelineError(f"tiger.beams: must be >= ranking.k {k} with scoring beam (got {self.config.beams})")
        train = train_set(data, self.config.seed)
        valid = valid_set(data, train, self.config.seed) if self.config.selection == "best" else None
        items = item_order(train)
        tokens, token_sizes = library_tokens(data, items)
        start = time.perf_counter()
        self.library = library_model(self.config, tokens, token_sizes, self.config.epochs, progress, k).fit(
            train, valid)
        seconds = time.perf_counter() - start
        self.items = items
        return FitResult({
            "fit_seconds": seconds,
            "parameters": sum(parameter.numel() for parameter in self.library.model.parameters()),
            "epochs": self.config.epochs,
            "selection": self.config.selection,
            "library_items": len(self.items),
            "unknown_items": data.n_items - len(self.items),  # no train interaction: they never rank
            "cornac_version": cornac.__version__,
            "levels": data.item_codes.levels,
            "codebook_size": data.item_codes.codebook_size,
        })

    def arrays(self) -> dict[str, np.ndarray]:
        return super().arrays() | {"sid_table": self.library.sid_table}

    def state(self) -> dict[str, Any]:
        return super().state() | {"token_sizes": self.library.level_sizes}

    def untrained_library(self, train: SequentialDataset, arrays: dict[str, np.ndarray], state: dict[str, Any],
                          data: RankingData) -> GivenCodesTIGER:
        tokens, token_sizes = library_tokens(data, arrays["items"])
        if not np.array_equal(tokens, arrays["sid_table"]) or token_sizes != state["token_sizes"]:
            raise PipelineError("data/semantic_ids differs from the IDs the model was trained on: retrain it")
        return library_model(self.config, tokens, token_sizes, 0, progress=False).fit(train)
