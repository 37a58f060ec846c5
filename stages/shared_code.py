"""DVC stage `shared_code`: the SHA-256 of each source file every stage runs, which the other stages declare as one
dep (data/shared_code.json) in place of the files.

It is the root of the pipeline: it also depends on params.yaml as a whole, so any change of params reruns it, and it
validates them (``run_stage``) before any other stage runs. DVC names outputs after the keys of `models`, `rankers`
and `embed.encoders`; a hostile key (`../../x`, `a;rm b`) therefore fails here, before DVC removes or writes a path
named by it. params.yaml itself is not digested: a params change reruns only the stages that declare it.

The digested files are this stage's other code deps in dvc.yaml (written by `python -m sasnet.code_deps`): the stage
entry point, params.yaml's validation with every config module it imports, paths and io; and every model family's
package, which params.py imports by name (the stage declares src/sasnet/models for them, so that a new family's
folder reruns it and changes the digest without an edit of dvc.yaml). Listed in each of 40 stages they were 1,120 of dvc.lock's 1,923
entries, and DVC loads and rewrites the whole lock after every stage. An edit to any of them changes the digest, so
every stage still reruns on it; tests/test_code_deps.py checks that every stage runs each file listed here.
"""

import hashlib
from pathlib import Path

import yaml

from sasnet import models, paths
from sasnet.io import write_json
from sasnet.params import Params
from sasnet.stage import run_stage, stage_seconds


def digested_files(deps: list[str]) -> list[str]:
    """This stage's code deps (params.yaml and the models folder aside), then every family package by name."""
    declared = [dep for dep in deps if dep.startswith(("src/", "stages/")) and dep != paths.MODELS_SOURCE]
    return declared + [f"{paths.MODELS_SOURCE}/{name}/__init__.py" for name in models.FAMILIES]


def run(params: Params) -> None:
    files = digested_files(yaml.safe_load(Path("dvc.yaml").read_text())["stages"]["shared_code"]["deps"])
    write_json({file: hashlib.sha256(Path(file).read_bytes()).hexdigest() for file in files}, paths.SHARED_CODE)
    write_json({"files": len(files), "stage_seconds": stage_seconds()}, paths.METRICS / "shared_code.json")


if __name__ == "__main__":
    run_stage(run)
