"""dvc.yaml's code deps: every stage declares each source file its script runs, and no source file it does not run.

``sasnet.code_deps`` computes them from each stage's import closure and writes them into dvc.yaml; these tests check
that dvc.yaml is current, and check the declared deps once more per stage instance (foreach expanded with
params.yaml's entries), so that a bug in the generator cannot hide a missing dep.
"""

from __future__ import annotations

import copy
import subprocess
import sys

import yaml
from conftest import REPO_ROOT
from workspace import DVC_STAGES, expand_stages, stage_module

from sasnet import code_deps
from sasnet.code_deps import CODE_DIRS, MODELS_DIR, PARAMS_MODULE, SHARED_CODE, SHARED_CODE_STAGE, closure, rel
from sasnet.models import FAMILIES

PARAMS = yaml.safe_load((REPO_ROOT / "params.yaml").read_text())


def test_dvc_yaml_code_deps_are_current():
    assert code_deps.main(["--check"]) == 0, "run `python -m sasnet.code_deps`"


def test_the_generator_restores_a_removed_and_drops_a_needless_dep():
    text = (REPO_ROOT / "dvc.yaml").read_text()
    edited = text.replace("      - src/sasnet/data/filtering.py\n", "", 1).replace(
        "      - stages/filter.py\n", "      - stages/filter.py\n      - src/sasnet/plots.py\n", 1)
    assert edited != text
    assert code_deps.rewrite(edited, code_deps.expected_deps(yaml.safe_load(edited)["stages"])) == text


def covers(dep: str, file: str) -> bool:
    dep = dep.rstrip("/")
    return file == dep or file.startswith(dep + "/")


def shared_files(dvc_stages: dict) -> list[str]:
    """The source files the shared_code stage digests, but its own script."""
    stage = dvc_stages[SHARED_CODE_STAGE]
    digested = stage_module("stages/shared_code.py").digested_files(stage["deps"])
    return [file for file in digested if file != stage["cmd"].split()[1]]


def stage_closures(params: dict, dvc_stages: dict) -> dict[str, tuple[list[str], set[str]]]:
    """Stage instance (foreach expanded) -> (its declared deps, its script's import closure)."""
    result = {}
    for name, script, deps, arguments in expand_stages(params, "deps", dvc_stages):
        template = name.split("@")[0]
        entries = {"train": "models", "rank": "rankers"}
        family = params[entries[template]][arguments[0]]["family"] if template in entries else None
        result[name] = deps, closure(REPO_ROOT / script, family)
    return result


def missing_deps(params: dict, dvc_stages: dict) -> dict[str, list[str]]:
    """Stage instance -> the files of its closure that no declared dep covers."""
    missing = {}
    for name, (deps, files) in stage_closures(params, dvc_stages).items():
        deps = [file for dep in deps for file in (shared_files(dvc_stages) if dep == SHARED_CODE else [dep])]
        if uncovered := sorted(file for file in files if not any(covers(dep, file) for dep in deps)):
            missing[name] = uncovered
    return missing


def dead_deps(params: dict, dvc_stages: dict) -> dict[str, list[str]]:
    """Stage template -> its declared code deps (as written in dvc.yaml) that none of its instances runs; for the
    digest, each of its files that some instance does not run (an edit to it would rerun that stage for nothing)."""
    closures = stage_closures(params, dvc_stages)
    dead = {}
    for template, stage in dvc_stages.items():
        written = stage["do"]["deps"] if "foreach" in stage else stage["deps"]
        instances = [value for name, value in closures.items() if name.split("@")[0] == template]
        unused = [
            entry for index, entry in enumerate(written)
            if entry.startswith(CODE_DIRS)
            and not any(covers(deps[index], file) for deps, files in instances for file in files)
        ]
        if SHARED_CODE in written:
            unused += [file for file in shared_files(dvc_stages) if not all(file in files for _, files in instances)]
        if unused:
            dead[template] = unused
    return dead


def describe(problems: dict[str, list[str]]) -> str:
    return "\n".join(f"  {stage}: {', '.join(files)}" for stage, files in problems.items())


def test_every_stage_declares_the_code_it_runs():
    missing = missing_deps(PARAMS, DVC_STAGES)
    assert not missing, f"dvc.yaml: stages run source files they do not declare as deps:\n{describe(missing)}"


def test_no_stage_declares_code_that_none_of_its_instances_runs():
    dead = dead_deps(PARAMS, DVC_STAGES)
    assert not dead, f"dvc.yaml: code deps no instance of the stage runs (needless reruns):\n{describe(dead)}"


CLASS_TASK_CODE = {"src/sasnet/model_data.py", "src/sasnet/evaluation.py", "src/sasnet/tasks/classify.py"}


def test_a_classifier_runs_no_ranking_code_and_a_ranker_no_class_task_code():
    """Every family of both tasks keeps one class, and model code imports no task's data or evaluation: the tasks
    hand them in. So editing the ranking task reruns no classifier, and editing the class task's data no ranker."""
    deps = {name: {dep for dep in stage["do"]["deps"] if dep.startswith("src/")}
            for name, stage in yaml.safe_load((REPO_ROOT / "dvc.yaml").read_text())["stages"].items()
            if name in ("train", "rank")}
    ranking_code = {dep for dep in deps["rank"] if dep.startswith("src/sasnet/ranking/")} | {"src/sasnet/tasks/rank.py"}
    assert len(ranking_code) >= 3 and not ranking_code & deps["train"]
    assert CLASS_TASK_CODE <= deps["train"] and not CLASS_TASK_CODE & deps["rank"]


def test_the_checker_reports_an_undeclared_import_and_a_needless_dep():
    stages = copy.deepcopy(DVC_STAGES)
    stages["filter"]["deps"].remove("src/sasnet/data/filtering.py")
    stages["filter"]["deps"].append("src/sasnet/plots.py")  # filter draws no plot
    stages["train"]["do"]["deps"].remove("src/sasnet/models/${item.family}")
    stages["split"]["deps"].remove(SHARED_CODE)
    missing = missing_deps(PARAMS, stages)
    assert missing.pop("filter") == ["src/sasnet/data/filtering.py"]
    assert set(missing.pop("split")) == set(shared_files(DVC_STAGES))
    for name, entry in PARAMS["models"].items():  # every train@ instance misses its family's modules (not the
        family_dir = MODELS_DIR / entry["family"]  # package's __init__.py, declared for params.py)
        expected = sorted(rel(path) for path in family_dir.rglob("*.py") if path.name != "__init__.py")
        assert missing.pop(f"train@{name}") == expected, name
    assert not missing
    assert dead_deps(PARAMS, stages) == {"filter": ["src/sasnet/plots.py"]}

    stages = copy.deepcopy(DVC_STAGES)
    stages[SHARED_CODE_STAGE]["deps"].append("src/sasnet/plots.py")  # the digest: only some stages draw plots
    dead = dead_deps(PARAMS, stages)
    assert dead["filter"] == dead[SHARED_CODE_STAGE] == ["src/sasnet/plots.py"]
    assert "report" not in dead  # it draws plots


def test_the_closure_follows_submodules_packages_and_the_family_registry(tmp_path):
    script = tmp_path / "script.py"
    script.write_text(
        "import yaml\n"
        "from sasnet.embeddings import store  # a submodule through from-import\n"
        "from sasnet.models import family  # a name: the package's __init__ only\n"
        "def later():\n"
        "    from sasnet import params  # inside a function: still followed\n"
    )
    files = closure(script)
    assert {"src/sasnet/embeddings/store.py", "src/sasnet/models/__init__.py", "src/sasnet/params.py"} <= files
    assert {f"src/sasnet/models/{name}/__init__.py" for name in FAMILIES} <= files  # params loads every family
    assert not {"src/sasnet/__init__.py", "src/sasnet/embeddings/__init__.py"} & files  # empty packages
    assert not any(file.endswith("/model.py") for file in files)  # model_class() imports them in train and rank


def test_validating_params_imports_only_config_modules():
    """Every stage validates params.yaml first: that must not pull in heavy libraries or the stages' code."""
    assert closure(PARAMS_MODULE) == {
        "src/sasnet/params.py", "src/sasnet/config.py", "src/sasnet/errors.py", "src/sasnet/models/__init__.py",
        "src/sasnet/data/configs.py", "src/sasnet/embeddings/configs.py", "src/sasnet/analysis_configs.py",
        "src/sasnet/ranking/configs.py", "src/sasnet/models/next_item_config.py", "src/sasnet/inputs.py",
        *(f"src/sasnet/models/{name}/__init__.py" for name in FAMILIES),
    }
    code = "import sys, sasnet.params; print(' '.join(sys.modules))"
    loaded = set(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                                cwd=REPO_ROOT).stdout.split())
    heavy = {"pulp", "sklearn", "scipy", "torch", "transformers", "sentence_transformers", "cornac"}
    assert not heavy & loaded


def test_the_lock_holds_no_stage_the_pipeline_lost():
    # DVC keeps a removed or renamed stage's entry in dvc.lock for good, and rewrites the whole file after every stage.
    pipeline = {name for name, *_ in expand_stages(PARAMS, "deps")}
    locked = set(yaml.safe_load((REPO_ROOT / "dvc.lock").read_text())["stages"])
    assert locked <= pipeline, f"dvc.lock: entries of stages dvc.yaml no longer has: {sorted(locked - pipeline)}"
