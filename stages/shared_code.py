"""DVC stage `shared_code`: the SHA-256 of each source file every stage runs, which the other stages declare as one
dep (data/shared_code.json) in place of the files.

Those are this stage's own deps in dvc.yaml: the stage entry point, params.yaml's validation with every config module
and model family package it imports, paths and io. Listed in each of 40 stages they were 1,120 of dvc.lock's 1,923
entries, and DVC loads and rewrites the whole lock after every stage. An edit to any of them changes the digest, so
every stage still reruns on it; tests/test_code_deps.py checks that every stage runs each file listed here.
"""

import hashlib
from pathlib import Path

import yaml

from sasnet import paths
from sasnet.io import write_json
from sasnet.params import Params
from sasnet.stage import run_stage, stage_seconds


def run(params: Params) -> None:
    files = yaml.safe_load(Path("dvc.yaml").read_text())["stages"]["shared_code"]["deps"]
    write_json({file: hashlib.sha256(Path(file).read_bytes()).hexdigest() for file in files}, paths.SHARED_CODE)
    write_json({"files": len(files), "stage_seconds": stage_seconds()}, paths.METRICS / "shared_code.json")


if __name__ == "__main__":
    run_stage(run)
