"""TF-IDF review vectors: vocabulary and idf fitted on the train reviews only, then every review transformed.

Fitting on all reviews would let words and document frequencies of the valid/test users shape the features;
here a word seen only outside train is simply not in the vocabulary.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer

from sasnet.embeddings.configs import TfidfConfig
from sasnet.errors import PipelineError


def vectorizer(config: TfidfConfig) -> TfidfVectorizer:
    """An unfitted scikit-learn vectorizer with the configured settings (float32 output)."""
    return TfidfVectorizer(
        max_features=config.max_features,
        ngram_range=tuple(config.ngram_range),
        min_df=config.min_df,
        max_df=config.max_df,
        sublinear_tf=config.sublinear_tf,
        stop_words=config.stop_words,
        strip_accents=config.strip_accents,
        norm=config.norm,
        dtype=np.float32,
    )


def tfidf_embed(
    texts: Sequence[str], is_train: np.ndarray, config: TfidfConfig
) -> tuple[sp.csr_matrix, dict[str, Any]]:
    """Fit on ``texts[is_train]``, transform every text; rows follow ``texts``. Returns the CSR matrix and stats."""
    is_train = np.asarray(is_train, dtype=bool)
    if is_train.shape != (len(texts),):
        raise ValueError(f"is_train has shape {is_train.shape}, expected ({len(texts)},)")
    train_texts = [text for text, train in zip(texts, is_train) if train]
    started = time.perf_counter()
    fitted = vectorizer(config)
    try:
        fitted.fit(train_texts)
    except ValueError as error:  # empty vocabulary, or min_df/max_df that leave no term for this many reviews
        raise PipelineError(
            f"TF-IDF could not be fitted on {len(train_texts)} train reviews ({error}); "
            "loosen embed.tfidf.min_df / max_df / stop_words"
        ) from None
    matrix = fitted.transform(texts).tocsr()
    seconds = time.perf_counter() - started
    stats = {
        "reviews": len(texts),
        "train_reviews": len(train_texts),
        "vocabulary": len(fitted.vocabulary_),
        "nnz": int(matrix.nnz),
        "density": matrix.nnz / max(1, matrix.shape[0] * matrix.shape[1]),
        # reviews sharing no term with the train vocabulary get an all-zero vector
        "empty_reviews": int((matrix.getnnz(axis=1) == 0).sum()),
        "seconds": round(seconds, 3),
    }
    return matrix, stats
