"""The LLM shard cache: a damaged shard file is named in a warning, deleted and recomputed; intact shards are reused.

The cache (data/cache/llm_shards) is outside DVC's outputs, so `dvc repro --force` never clears it: the run itself
must notice a shard that does not read back whole. Unit tests use small generated arrays; one test runs the tiny
random Llama of tests/tiny_llm.py end to end.
"""

from __future__ import annotations

import io
import logging

import numpy as np
import pytest
from test_llm_embedding import REVIEWS, tiny_config

from sasnet.embeddings import llm
from sasnet.embeddings.shard_cache import ShardCache, key

MEMBERS = frozenset({"rows", "mean", "seconds"})


def shard_arrays(number: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(number)
    return {"rows": np.arange(3) + 3 * number, "mean": rng.standard_normal((3, 64)).astype(np.float32),
            "seconds": np.float64(0.5)}


@pytest.fixture
def cache(tmp_path) -> ShardCache:
    cache = ShardCache(tmp_path / "abc", 3, MEMBERS)
    for number in range(3):
        cache.write(number, shard_arrays(number))
    return cache


def npz_bytes(**arrays) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, allow_pickle=False, **arrays)
    return buffer.getvalue()


def flip_middle_byte(data: bytes) -> bytes:
    middle = len(data) // 2
    return data[:middle] + bytes([data[middle] ^ 0xFF]) + data[middle + 1:]


DAMAGE = {
    "truncated": lambda data: data[: len(data) // 2],
    "cut_at_the_end": lambda data: data[:-10],
    "empty": lambda data: b"",
    "flipped_byte": flip_middle_byte,  # the zip reads, an array fails its CRC
    "not_a_zip": lambda data: b"this is no shard\n" * 20,
    "missing_an_array": lambda data: npz_bytes(rows=np.arange(3), seconds=np.float64(0.5)),
    "an_extra_array": lambda data: npz_bytes(**shard_arrays(1), other=np.zeros(2)),
}


def test_intact_shards_are_reused_and_absent_ones_are_missing_without_a_warning(cache, caplog):
    cache.path(2).unlink()
    with caplog.at_level(logging.WARNING):
        assert cache.missing() == [2]
    assert not caplog.records
    for number in (0, 1):
        read = cache.read(number)
        for name, array in shard_arrays(number).items():
            np.testing.assert_array_equal(read[name], array)


@pytest.mark.parametrize("damage", DAMAGE)
def test_a_damaged_shard_is_named_deleted_and_missing(cache, caplog, damage):
    path = cache.path(1)
    path.write_bytes(DAMAGE[damage](path.read_bytes()))
    with caplog.at_level(logging.WARNING):
        assert cache.missing() == [1]
    assert not path.exists()
    (record,) = caplog.records
    assert str(path) in record.getMessage() and "recomputed" in record.getMessage()


def test_a_share_checks_only_its_own_shards(cache):
    cache.path(1).write_bytes(b"")
    assert cache.missing(range(0, 3, 2)) == []  # rank 0 of 2 owns shards 0 and 2
    assert cache.path(1).exists()  # rank 1's shard: left to rank 1
    assert cache.missing(range(1, 3, 2)) == [1]


def test_writing_a_shard_removes_what_a_killed_write_of_it_left(cache):
    stale = cache.folder / ".shard_00001.npz.a1b2c3d4.tmp"
    stale.write_bytes(b"half a shard")
    other = cache.folder / ".shard_00002.npz.a1b2c3d4.tmp"  # another shard's: maybe a live rank's write
    other.write_bytes(b"")
    cache.write(1, shard_arrays(1))
    assert not stale.exists() and other.exists()


def test_the_key_covers_the_settings_and_every_text():
    settings = {"model": "m", "max_tokens": 8}
    base = key(settings, ["ab", "c"])
    assert base == key(dict(reversed(settings.items())), ["ab", "c"])  # key order does not matter
    assert len({base, key({**settings, "max_tokens": 9}, ["ab", "c"]), key(settings, ["a", "bc"]),
                key(settings, ["ab"]), key(settings, ["ab", "c", ""])}) == 5


@pytest.mark.parametrize("damage", ["truncated", "flipped_byte"])
def test_the_embedding_recomputes_a_damaged_shard_bitwise(tmp_path, tiny_llm_dir, caplog, monkeypatch, damage):
    config = tiny_config(tiny_llm_dir)
    first, _ = llm.embed_reviews(REVIEWS, config, "instructed", tmp_path)
    (folder,) = tmp_path.iterdir()
    damaged = folder / "shard_00001.npz"
    damaged.write_bytes(DAMAGE[damage](damaged.read_bytes()))
    computed = []
    real_embed_shard = llm._embed_shard
    monkeypatch.setattr(llm, "_embed_shard", lambda *args: computed.append(1) or real_embed_shard(*args))
    with caplog.at_level(logging.WARNING):
        again, stats = llm.embed_reviews(REVIEWS, config, "instructed", tmp_path)
    assert str(damaged) in caplog.text
    assert len(computed) == 1 and (stats["shards"], stats["shards_reused"]) == (3, 2)
    for name in first:
        assert np.array_equal(again[name], first[name]), name


def test_each_rank_recomputes_only_its_own_damaged_shards(tmp_path, tiny_llm_dir, monkeypatch):
    config = tiny_config(tiny_llm_dir)
    first, _ = llm.embed_reviews(REVIEWS, config, "plain", tmp_path)
    (folder,) = tmp_path.iterdir()
    for number in (1, 2):
        (folder / f"shard_{number:05d}.npz").write_bytes(b"")
    monkeypatch.setattr(llm, "_ranks", lambda: (0, 2))
    assert llm.embed_share(REVIEWS, config, "plain", tmp_path) == 1  # shard 2; shard 1 is rank 1's
    assert (folder / "shard_00001.npz").stat().st_size == 0
    monkeypatch.setattr(llm, "_ranks", lambda: (1, 2))
    assert llm.embed_share(REVIEWS, config, "plain", tmp_path) == 1
    again, stats = llm.embed_reviews(REVIEWS, config, "plain", tmp_path)
    assert stats["shards_reused"] == 3
    for name in first:
        assert np.array_equal(again[name], first[name]), name
