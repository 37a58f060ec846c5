"""Atomic output writing: a stage killed half-way never leaves a truncated file that looks finished, and the next
write of the same output removes the temporaries the killed one left."""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

# A temporary output is named .<output's name>.<random>.tmp beside the output (tempfile's random part has no dot).
TEMP_SUFFIX = ".tmp"


def _prepared(path: str | os.PathLike) -> Path:
    """``path``, its folder created and cleared of what a killed earlier write of it left: its temporary files or
    folders, which nothing else would ever remove. Any other file, another output's temporaries included, stays.

    One process writes a given output at a time (DVC runs one stage at a time and each output has one stage; LLM
    ranks write distinct shards), so such a temporary cannot be a live write's.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    stale = re.compile(re.escape(f".{target.name}.") + r"[^.]+" + re.escape(TEMP_SUFFIX))
    for sibling in target.parent.iterdir():
        if not stale.fullmatch(sibling.name):
            continue
        if sibling.is_dir() and not sibling.is_symlink():
            shutil.rmtree(sibling, ignore_errors=True)
        else:
            sibling.unlink(missing_ok=True)
    return target


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it replaces ``path`` in one rename."""
    target = _prepared(path)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=TEMP_SUFFIX, dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    tmp.chmod(0o644)  # mkstemp makes files owner-only; outputs are ordinary files
    try:
        yield tmp
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a fresh temporary directory beside ``path``; on success it replaces ``path`` as a whole."""
    target = _prepared(path)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=TEMP_SUFFIX, dir=target.parent))
    tmp.chmod(0o755)  # mkdtemp makes folders owner-only; outputs are ordinary folders
    try:
        yield tmp
        if target.exists():
            old = target.with_name(f".{target.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            os.replace(target, old)
            os.replace(tmp, target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _json_ready(value: Any) -> Any:
    """Plain JSON types; NaN and infinities become null (JSON has no spelling for them)."""
    if isinstance(value, dict):
        return {str(k): _json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_ready(v) for v in value]
    if hasattr(value, "item") and callable(value.item):  # numpy scalars
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def write_json(obj: Any, path: str | os.PathLike) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(_json_ready(obj), indent=2) + "\n")


def write_parquet(df: pd.DataFrame, path: str | os.PathLike) -> None:
    with atomic_path(path) as tmp:
        df.to_parquet(tmp, index=False, compression="zstd")


def copy_parquet_rows(source: str | os.PathLike, target: str | os.PathLike, keep: np.ndarray,
                      batch_rows: int = 65_536) -> None:
    """Write the rows of ``source`` where ``keep`` is True to ``target``, in order, one record batch in memory at a
    time; the schema (pandas' metadata included) is the source's."""
    reader = pq.ParquetFile(source)
    if len(keep) != reader.metadata.num_rows:
        raise ValueError(f"{source} has {reader.metadata.num_rows} rows, the mask {len(keep)}")
    with atomic_path(target) as tmp, pq.ParquetWriter(tmp, reader.schema_arrow, compression="zstd") as writer:
        start = 0
        for batch in reader.iter_batches(batch_size=batch_rows):
            writer.write_batch(batch.filter(pa.array(keep[start : start + batch.num_rows])))
            start += batch.num_rows


def write_csv(df: pd.DataFrame, path: str | os.PathLike) -> None:
    with atomic_path(path) as tmp:
        df.to_csv(tmp, index=False)
