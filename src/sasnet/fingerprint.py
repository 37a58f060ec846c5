"""What a saved model was fitted on, as a few short digests in its model.json: serving it on other data is refused.

A fitted model's arrays are indexed by the users, businesses (or catalogue items) and embedding dimensions of the
data it was fitted on. On other data it scores the wrong rows without a word (an MF model sees every business as
unseen) or fails deep inside a library (a scaler fitted on 3132 TF-IDF features given 3540). ``of`` digests, part by
part, what a fit reads: the train and valid reviews (ids, users, businesses, stars, classes) or the ranking task's
users, catalogue and train/valid interactions; the input embedding's shape and a sample of its rows (re-encoding or
re-normalising changes every row); the semantic IDs. It reads ids and a few rows only, so loading recomputes it.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import scipy.sparse as sp

from sasnet.errors import PipelineError

if TYPE_CHECKING:  # for the annotations only: saving a classifier never imports ranking code
    from sasnet.model_data import ModelData
    from sasnet.ranking.data import RankingData

FIT_SPLITS = ("train", "valid")  # what a fit reads: train, and valid for early stopping or selection
SAMPLED_ROWS = 64  # embedding rows digested, evenly spaced, first and last included
PART_NAMES = {
    "split": "the train and valid reviews of data/split",
    "rank_split": "the users, catalogue and train/valid interactions of data/rank_split",
    "embedding": "the input embedding",
    "semantic_ids": "data/semantic_ids",
}


def of(data: ModelData | RankingData) -> dict[str, dict[str, Any]]:
    """Part name -> its sizes and ``digest``, for every part of ``data`` a fit reads."""
    if hasattr(data, "interactions"):  # the ranking task's data
        fitted = data.interactions[data.interactions["split"].isin(FIT_SPLITS)]
        parts = {"rank_split": {
            "users": data.n_users, "items": data.n_items, "interactions": len(fitted),
            "digest": _digest(data.users, data.items["business_id"],
                              *(fitted[column] for column in ("user", "item", "stars", "split"))),
        }}
        matrix = data.embedding
    else:
        fitted = data.reviews[data.reviews["split"].isin(FIT_SPLITS)]
        parts = {"split": {
            "reviews": len(fitted),
            "digest": _digest(*(fitted[column] for column in
                                ("review_id", "user_id", "business_id", "stars", "label", "split"))),
        }}
        matrix = data.matrix
    if matrix is not None:
        parts["embedding"] = {"shape": list(matrix.shape), "digest": _matrix_digest(matrix)}
    if data.item_codes is not None:
        items = data.item_codes.items
        parts["semantic_ids"] = {
            "items": len(items),
            "digest": _digest([data.item_codes.codebook_size], *(items[column] for column in sorted(items.columns))),
        }
    return parts


def require_match(info: dict[str, Any], data: ModelData | RankingData, folder: str | Path) -> None:
    """Refuse the model saved in ``folder`` (its model.json ``info``) unless ``data`` is what it was fitted on."""
    recorded = info.get("fingerprint")
    if recorded is None:
        raise PipelineError(f"{folder} records no fingerprint of the data it was trained on (it was saved by older "
                            "code): run `dvc repro` to retrain it")
    current = of(data)
    differing = [_difference(part, recorded.get(part), current.get(part), info["input"])
                 for part in PART_NAMES if recorded.get(part) != current.get(part)]
    if differing:
        raise PipelineError(f"{folder} was trained on other data: {'; '.join(differing)}. Run `dvc repro` to "
                            "retrain it on the current data")


def _difference(part: str, then: dict[str, Any] | None, now: dict[str, Any] | None,
                model_input: dict[str, Any]) -> str:
    name = PART_NAMES[part]
    if part == "embedding":
        name += f" {model_input['input']} ({model_input.get('pooling')})"
    sizes_then, sizes_now = _sizes(then), _sizes(now)
    if sizes_then == sizes_now:
        return f"{name}: other values than when trained ({sizes_now})"
    return f"{name}: {sizes_now} now, {sizes_then} when trained"


def _sizes(part: dict[str, Any] | None) -> str:
    if part is None:
        return "none"
    return ", ".join(" x ".join(map(str, value)) if key == "shape" else f"{value} {key}"
                     for key, value in part.items() if key != "digest")


def _digest(*columns) -> str:
    """Hex digest of the columns' values in order: ids by their text, numbers as 64-bit values."""
    digest = hashlib.sha256()
    for column in columns:
        values = np.asarray(column)
        if values.dtype.kind in "OUS":
            encoded = json.dumps([str(value) for value in values]).encode()
        else:
            encoded = values.astype(np.float64 if values.dtype.kind == "f" else np.int64).tobytes()
        digest.update(len(encoded).to_bytes(8, "little"))  # column bounds: no two column lists digest alike
        digest.update(encoded)
    return digest.hexdigest()[:16]


def _matrix_digest(matrix: np.ndarray | sp.spmatrix) -> str:
    """Digest of ``SAMPLED_ROWS`` evenly spaced rows, dense or sparse."""
    rows = np.unique(np.linspace(0, matrix.shape[0] - 1, SAMPLED_ROWS).round().astype(np.int64))
    if sp.issparse(matrix):
        sample = sp.csr_matrix(matrix[rows]).sorted_indices()
        return _digest(sample.indptr, sample.indices, sample.data)
    return _digest(np.asarray(matrix[rows]).ravel())
