"""Atomic writes: a killed write leaves only temporaries, and the next write of the same output removes them and
nothing else."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import pytest

from sasnet.io import atomic_dir, atomic_path, write_json

# What a killed write leaves, as tempfile names it: .<output's name>.<8 random characters>.tmp
STALE_DIR = ".llm_instructed.k3j_9x2a.tmp"
STALE_FILE = ".model.json.q0w9e8r7.tmp"


def test_a_sigkilled_atomic_dir_leaves_a_temporary_the_next_run_removes(tmp_path):
    script = textwrap.dedent(f"""
        import os, signal
        from sasnet.io import atomic_dir
        with atomic_dir({str(tmp_path / "embed" / "llm_instructed")!r}) as out:
            (out / "mean.npy").write_bytes(b"half")
            os.kill(os.getpid(), signal.SIGKILL)
    """)
    killed = subprocess.run([sys.executable, "-c", script])
    assert killed.returncode == -signal.SIGKILL
    (left,) = (tmp_path / "embed").iterdir()
    assert left.name.startswith(".llm_instructed.") and left.name.endswith(".tmp")

    with atomic_dir(tmp_path / "embed" / "llm_instructed") as out:
        (out / "mean.npy").write_bytes(b"whole")
    assert sorted(path.name for path in (tmp_path / "embed").iterdir()) == ["llm_instructed"]


def test_atomic_dir_removes_its_own_stale_temporary_folders(tmp_path):
    stale = tmp_path / STALE_DIR
    (stale / "inner").mkdir(parents=True)
    (stale / "inner" / "mean.npy").write_bytes(b"x")
    empty = tmp_path / ".llm_instructed.abcdefgh.tmp"
    empty.mkdir()
    with atomic_dir(tmp_path / "llm_instructed") as out:
        (out / "mean.npy").write_bytes(b"y")
    assert sorted(path.name for path in tmp_path.iterdir()) == ["llm_instructed"]


def test_atomic_path_removes_its_own_stale_temporary_files(tmp_path):
    (tmp_path / STALE_FILE).write_text("{")
    write_json({"a": 1}, tmp_path / "model.json")
    assert sorted(path.name for path in tmp_path.iterdir()) == ["model.json"]


def test_a_failed_write_leaves_nothing_behind(tmp_path):
    with pytest.raises(RuntimeError), atomic_path(tmp_path / "a.json"):
        raise RuntimeError
    with pytest.raises(RuntimeError), atomic_dir(tmp_path / "out"):
        raise RuntimeError
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("name", [
    ".llm_plain.k3j_9x2a.tmp",  # another output's temporary
    ".llm_instructed.json.k3j_9x2a.tmp",  # the temporary of an output whose name extends this one's
    ".llm_instructed.tmp",  # no random part
    "llm_instructed.k3j_9x2a.tmp",  # not hidden
    ".llm_instructed.k3j_9x2a.tmp.keep",
    ".llm_instructed.old",  # atomic_dir's previous output, removed when the new one is in place
    "notes.txt",
])
@pytest.mark.parametrize("writer", [atomic_dir, atomic_path])
def test_only_this_outputs_temporaries_are_removed(tmp_path, name, writer):
    (tmp_path / name).mkdir()
    with writer(tmp_path / "llm_instructed"):
        pass
    assert (tmp_path / name).is_dir()


def test_a_stale_link_is_removed_never_followed(tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "keep.txt").write_text("kept")
    out = tmp_path / "out"
    out.mkdir()
    os.symlink(elsewhere, out / STALE_DIR, target_is_directory=True)
    with atomic_dir(out / "llm_instructed"):
        pass
    assert not (out / STALE_DIR).exists() and not (out / STALE_DIR).is_symlink()
    assert (elsewhere / "keep.txt").read_text() == "kept"
