"""Embeddings on disk: one matrix per (encoder, pooling), memory-mappable, never pickled.

A folder per encoder run (``data/embed/<name>/``) holds ``reviews.parquet`` (review_id and split, the row order of
every matrix in the folder), one ``<pooling>.npy`` (float32, rows x dims) per dense pooling, and for TF-IDF a
sparse ``<pooling>.npz`` (CSR). Rows follow the canonical review order: train, then valid, then test, each in the
order of its split file.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

from sasnet import paths
from sasnet.data.configs import SPLITS
from sasnet.errors import PipelineError
from sasnet.io import atomic_path, write_parquet

ROW_INDEX = "reviews.parquet"


def canonical_reviews() -> pd.DataFrame:
    """Every split review in the canonical row order, with its ``split`` column."""
    return pd.concat(
        [pd.read_parquet(paths.split_file(name)).assign(split=name) for name in SPLITS], ignore_index=True
    )


def write_row_index(folder: str | os.PathLike, reviews: pd.DataFrame) -> None:
    write_parquet(reviews[["review_id", "split"]], Path(folder) / ROW_INDEX)


def read_row_index(folder: str | os.PathLike) -> pd.DataFrame:
    return pd.read_parquet(Path(folder) / ROW_INDEX)


def write_dense(folder: str | os.PathLike, pooling: str, matrix: np.ndarray) -> None:
    with atomic_path(Path(folder) / f"{pooling}.npy") as tmp, open(tmp, "wb") as handle:
        np.save(handle, np.ascontiguousarray(matrix, dtype=np.float32), allow_pickle=False)


def read_dense(folder: str | os.PathLike, pooling: str) -> np.ndarray:
    return np.load(Path(folder) / f"{pooling}.npy", mmap_mode="r", allow_pickle=False)


def write_sparse(folder: str | os.PathLike, pooling: str, matrix: sp.csr_matrix) -> None:
    with atomic_path(Path(folder) / f"{pooling}.npz") as tmp, open(tmp, "wb") as handle:
        sp.save_npz(handle, matrix.tocsr().astype(np.float32))


def read_sparse(folder: str | os.PathLike, pooling: str) -> sp.csr_matrix:
    return sp.load_npz(Path(folder) / f"{pooling}.npz")  # reads with allow_pickle=False


def poolings_in(folder: str | os.PathLike) -> dict[str, str]:
    """The matrices in ``folder``: pooling name -> 'dense' or 'sparse', sorted by name."""
    kinds = {".npy": "dense", ".npz": "sparse"}
    return {f.stem: kinds[f.suffix] for f in sorted(Path(folder).iterdir()) if f.suffix in kinds}


def read_any(folder: str | os.PathLike, pooling: str) -> np.ndarray | sp.csr_matrix:
    """The matrix of ``pooling`` in ``folder``, dense or sparse, whichever was written."""
    if (Path(folder) / f"{pooling}.npz").exists():
        return read_sparse(folder, pooling)
    return read_dense(folder, pooling)


def read_normalized(name: str, pooling: str | None,
                    reviews: pd.DataFrame | None = None) -> tuple[pd.DataFrame, np.ndarray | sp.csr_matrix]:
    """The one loader of a model's input embedding: the row index and normalised ``pooling`` matrix of the
    embed.encoders entry ``name``; with ``reviews``, checked to follow their rows (the split files' order)."""
    folder = paths.normalized_dir(name)
    try:
        index, matrix = read_row_index(folder), read_any(folder, pooling)
    except FileNotFoundError as error:
        raise PipelineError(f"no {pooling!r} embedding in {folder} ({error.filename}): run `dvc repro normalize`"
                            ) from None
    if reviews is not None and not index["review_id"].equals(reviews["review_id"]):
        raise PipelineError(f"{folder} was computed for other reviews than data/split holds: run `dvc repro normalize`")
    return index, matrix
