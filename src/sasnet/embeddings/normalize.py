"""Per-dimension z-score of dense embedding matrices, fitted on the train rows (or on every row, as the paper did).

Works through row blocks so a memory-mapped matrix of a few 100k x 3072 float32 is never copied whole, and sums
in float64 in two passes (mean, then squared deviations): LLM hidden states have dimensions whose mean dwarfs their
spread, where float32 or the one-pass E[x^2] - E[x]^2 would lose the spread to rounding.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from sasnet.embeddings.configs import NormalizeConfig
from sasnet.errors import PipelineError

BLOCK_ROWS = 4096  # rows per block: ~100 MB of float64 at 3072 dimensions


def fit_row_mask(splits: np.ndarray, config: NormalizeConfig) -> np.ndarray:
    """Boolean mask of the rows to fit on, from each row's split name."""
    splits = np.asarray(splits)
    return splits == "train" if config.fit_on == "train" else np.ones(len(splits), dtype=bool)


def _blocks(n_rows: int, block_rows: int) -> Iterator[slice]:
    return (slice(start, min(start + block_rows, n_rows)) for start in range(0, n_rows, block_rows))


def fit_zscore(
    matrix: np.ndarray, fit_rows: np.ndarray, block_rows: int = BLOCK_ROWS
) -> tuple[np.ndarray, np.ndarray]:
    """Mean and population std (ddof 0) per dimension over ``matrix[fit_rows]``, both float64."""
    fit_rows = np.asarray(fit_rows, dtype=bool)
    if fit_rows.shape != (matrix.shape[0],):
        raise ValueError(f"fit_rows has shape {fit_rows.shape}, expected ({matrix.shape[0]},)")
    n_fit = int(fit_rows.sum())
    if n_fit == 0:
        raise PipelineError("z-score normalisation has no rows to fit on")
    blocks = list(_blocks(matrix.shape[0], block_rows))
    total = np.zeros(matrix.shape[1])
    for rows in blocks:
        total += matrix[rows][fit_rows[rows]].sum(axis=0, dtype=np.float64)
    mean = total / n_fit
    squares = np.zeros(matrix.shape[1])
    for rows in blocks:
        squares += np.square(matrix[rows][fit_rows[rows]] - mean).sum(axis=0)
    std = np.sqrt(squares / n_fit)
    if not (np.isfinite(mean).all() and np.isfinite(std).all()):
        raise PipelineError("the embedding matrix has NaN or infinite values in the rows fitted for z-scoring")
    return mean, std


def constant_dims(std: np.ndarray, min_std: float) -> np.ndarray:
    """Dimensions with no usable spread: dividing by their std would blow noise up or give inf/NaN."""
    return std <= min_std


def apply_zscore(
    matrix: np.ndarray,
    mean: np.ndarray,
    std: np.ndarray,
    min_std: float,
    out: np.ndarray | None = None,
    block_rows: int = BLOCK_ROWS,
) -> np.ndarray:
    """``(matrix - mean) / std`` as float32, constant dimensions only centred; into ``out`` (e.g. a memmap) if given."""
    scale = np.where(constant_dims(std, min_std), 1.0, std)
    if out is None:
        out = np.empty(matrix.shape, dtype=np.float32)
    for rows in _blocks(matrix.shape[0], block_rows):
        out[rows] = (matrix[rows] - mean) / scale  # float64 arithmetic, float32 storage
    return out


def zscore(matrix: np.ndarray, splits: np.ndarray, config: NormalizeConfig) -> tuple[np.ndarray, dict[str, Any]]:
    """Fit on the configured rows and normalise every row; returns the float32 matrix and JSON-ready stats."""
    fit_rows = fit_row_mask(splits, config)
    mean, std = fit_zscore(matrix, fit_rows)
    stats = {
        "fit_on": config.fit_on,
        "rows": int(matrix.shape[0]),
        "rows_fitted": int(fit_rows.sum()),
        "dims": int(matrix.shape[1]),
        "constant_dims": int(constant_dims(std, config.min_std).sum()),
        "min_std": config.min_std,
    }
    return apply_zscore(matrix, mean, std, config.min_std), stats
