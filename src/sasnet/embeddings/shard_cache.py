"""The LLM embedding's resumable shard cache: each finished shard is one atomic ``.npz`` under ``<root>/<key>/``.

The key digests everything the numbers depend on (``key``), so a rerun reuses finished shards, never stale ones.
The cache lies outside every DVC output (DVC deletes a stage's outputs before rerunning it), so neither `dvc repro`
nor its ``--force`` ever clears it: a shard file that does not read back whole with the arrays a shard holds (cut
short by a full disk or an interrupted copy, or corrupted) is named in a warning and deleted, and counts as missing,
so the run recomputes it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sasnet.io import atomic_path

log = logging.getLogger(__name__)


def key(settings: dict[str, Any], texts: Sequence[str]) -> str:
    """Hex digest of ``settings`` (JSON-ready) and every text in order: the folder name of one run's shards."""
    digest = hashlib.sha256(json.dumps(settings, sort_keys=True).encode())
    for text in texts:
        encoded = text.encode()
        digest.update(len(encoded).to_bytes(8, "little"))
        digest.update(encoded)
    return digest.hexdigest()[:20]


def file_stamps(source: Path) -> list[tuple[str, int, int]]:
    """(name, size, mtime) of a local model's files, so a rewritten checkpoint at the same path is noticed.

    A Hugging Face id (no such local folder) gives an empty list: the id itself is the identity.
    """
    if not source.is_dir():
        return []
    return [(str(path.relative_to(source)), path.stat().st_size, path.stat().st_mtime_ns)
            for path in sorted(source.rglob("*")) if path.is_file() and "__pycache__" not in path.parts]


@dataclass(frozen=True)
class ShardCache:
    """The shards of one run: shard ``n`` is ``folder/shard_<n>.npz`` and holds the arrays named ``members``."""

    folder: Path
    count: int
    members: frozenset[str]

    def path(self, number: int) -> Path:
        return self.folder / f"shard_{number:05d}.npz"

    def missing(self, numbers: Iterable[int] | None = None) -> list[int]:
        """The shards among ``numbers`` (default: all) without an intact file. Every finished shard is read whole,
        which costs little next to computing it."""
        return [number for number in (range(self.count) if numbers is None else numbers)
                if not self._intact(self.path(number))]

    def write(self, number: int, arrays: dict[str, np.ndarray]) -> None:
        with atomic_path(self.path(number)) as tmp, open(tmp, "wb") as handle:
            np.savez(handle, allow_pickle=False, **arrays)

    def read(self, number: int) -> dict[str, np.ndarray]:
        return _load(self.path(number))

    def _intact(self, path: Path) -> bool:
        """Whether ``path`` reads back whole with exactly ``members``; a damaged file is named and deleted."""
        if not path.exists():
            return False
        try:
            arrays = _load(path)
        except (OSError, EOFError, ValueError, zipfile.BadZipFile) as error:  # reading checks each array's CRC
            problem = f"{type(error).__name__}: {error}"
        else:
            if set(arrays) == self.members:
                return True
            problem = f"it holds {sorted(arrays)}, not {sorted(self.members)}"
        log.warning("LLM shard %s is damaged (%s): deleted, it will be recomputed", path, problem)
        path.unlink(missing_ok=True)
        return False


def _load(path: Path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as shard:
        return {name: shard[name] for name in shard.files}
