"""A params key never reaches a shell nor a path outside the workspace.

DVC pastes the keys of `models`, `rankers` and `embed.encoders` into stage names and output paths, and removes a
stage's outputs before running it. Three things make a hostile key harmless by design:
- no stage command holds a key: DVC hands it to the script as DVC_STAGE, so no shell ever parses it;
- the shared_code stage, upstream of every other stage, depends on params.yaml as a whole and validates it, so a bad
  key stops `dvc repro` and `dvc exp run` before DVC removes or writes any path named by it;
- the outputs named by a key are `persist`, so DVC never removes them before a run, not even when `dvc repro -s`
  skips the upstream stage, and the stage's own script refuses the key before it writes anything.
Each run here edits params.yaml as a pull request would, then checks that it failed naming the key, that nothing
outside the workspace changed and that no injected command ran.
"""

from __future__ import annotations

import hashlib
import subprocess

import pytest
import yaml
from conftest import REPO_ROOT
from workspace import command_env, make_workspace, run

HOSTILE_KEYS = [
    "../../../victim",  # models/../../../victim: the workspace's parent
    "/tmp/sasnet_victim_absolute",
    "a\\b",
    "x;touch INJECTED;echo",
    "e$(touch INJECTED)",
    "a`touch INJECTED`",
    "q'\"touch INJECTED\"'",
    "with space",
    "line\nbreak",
    "Upper",
]


def snapshot(folder) -> dict[str, str]:
    """Every file under ``folder`` but the workspace, with its content's digest."""
    return {str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(folder.rglob("*")) if path.is_file() and "workspace" not in path.parts}


@pytest.fixture(scope="module")
def victim_tree(tmp_path_factory):
    """A workspace at <tmp>/workspace, beside files a traversal out of it would hit; each test starts from its
    committed, validated state."""
    folder = tmp_path_factory.mktemp("hostile")
    (folder / "victim").mkdir()
    for name in ("victim/model.json", "victim.parquet", "victim.json", "victim.csv"):
        (folder / name).write_text("keep me\n")
    params = yaml.safe_load((REPO_ROOT / "params.yaml").read_text())
    workspace = make_workspace(folder / "workspace", params)
    for command in (("git", "init", "-q"), ("git", "config", "user.email", "ci@example.invalid"),
                    ("git", "config", "user.name", "ci")):
        run(workspace, *command)
    run(workspace, "dvc", "repro", "shared_code")  # a validated run first, as in a workspace pulled for review
    run(workspace, "git", "add", "-A")
    run(workspace, "git", "commit", "-qm", "pipeline")
    yield folder, workspace


@pytest.fixture()
def pristine(victim_tree):
    folder, workspace = victim_tree
    yield folder, workspace
    run(workspace, "git", "reset", "-q", "--hard", "HEAD")


def with_entry(workspace, section: str, key: str) -> None:
    params = yaml.safe_load((workspace / "params.yaml").read_text())
    entries = params["embed"]["encoders"] if section == "encoders" else params[section]
    entries[key] = {"encoders": {"encoder": "tfidf", "mode": "plain"},
                    "models": {"family": "majority", "input": "split"},
                    "rankers": {"family": "popularity", "input": "rank_split"}}[section]
    (workspace / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))


def dvc(workspace, *arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run(["dvc", *arguments], cwd=workspace, env=command_env(), capture_output=True, text=True)


def assert_refused(done: subprocess.CompletedProcess, key: str, before: dict, folder) -> None:
    output = done.stdout + done.stderr
    assert done.returncode != 0, output
    assert repr(key) in output, output  # the message names the key
    assert "failed to reproduce 'shared_code'" in output, output  # stopped at the root, before any other stage
    assert snapshot(folder) == before
    assert not list(folder.rglob("INJECTED")) and not (REPO_ROOT / "INJECTED").exists()


STAGE_OF = {"models": "train", "rankers": "rank", "encoders": "embed"}
FAST_KEYS = ["../../../victim", "x;touch INJECTED;echo", "e$(touch INJECTED)"]


@pytest.mark.parametrize("section", list(STAGE_OF))
@pytest.mark.parametrize("key", FAST_KEYS)
def test_a_hostile_key_fails_before_dvc_touches_a_path_or_a_shell(pristine, section, key):
    folder, workspace = pristine
    before = snapshot(folder)
    with_entry(workspace, section, key)
    assert_refused(dvc(workspace, "repro"), key, before, folder)
    assert_refused(dvc(workspace, "repro", f"{STAGE_OF[section]}@{key}"), key, before, folder)  # the stage itself


@pytest.mark.slow
@pytest.mark.parametrize("section", list(STAGE_OF))
@pytest.mark.parametrize("key", [key for key in HOSTILE_KEYS if key not in FAST_KEYS])
def test_every_other_hostile_key_fails_alike(pristine, section, key):
    folder, workspace = pristine
    before = snapshot(folder)
    with_entry(workspace, section, key)
    assert_refused(dvc(workspace, "repro"), key, before, folder)


@pytest.mark.parametrize("section", list(STAGE_OF))
def test_a_hostile_key_run_alone_cannot_make_dvc_remove_a_path(pristine, section):
    """`dvc repro -s` skips the upstream validation: the outputs named by a key are `persist`, so DVC leaves the
    paths they name alone (it stops on the stage's missing inputs here, or the script refuses the key)."""
    folder, workspace = pristine
    before = snapshot(folder)
    key = "../../../victim"
    with_entry(workspace, section, key)
    done = dvc(workspace, "repro", "--single-item", f"{STAGE_OF[section]}@{key}")
    output = done.stdout + done.stderr
    assert done.returncode != 0 and key in output, output
    assert snapshot(folder) == before
    assert (folder / "victim").is_dir()


@pytest.mark.parametrize("key", ["../../../victim", "x;touch INJECTED;echo"])
def test_an_experiment_with_a_hostile_key_fails_before_any_stage(pristine, key):
    folder, workspace = pristine
    before = snapshot(folder)
    with_entry(workspace, "models", key)
    run(workspace, "git", "commit", "-qam", "a pull request's params")
    assert_refused(dvc(workspace, "exp", "run"), key, before, folder)
    run(workspace, "git", "reset", "-q", "--hard", "HEAD~1")


def test_no_stage_command_holds_a_params_key():
    stages = yaml.safe_load((REPO_ROOT / "dvc.yaml").read_text())["stages"]
    commands = [(stage.get("do") or stage)["cmd"] for stage in stages.values()]
    assert commands and not [command for command in commands if "${" in command]
