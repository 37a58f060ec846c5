"""dvc.yaml's code deps: every stage declares each source file its script runs, and no source file it does not run.

DVC reruns a stage only when a declared dep changes, so an undeclared source file leaves stale results after an
edit, and a declared file the stage never runs reruns it for nothing. The checker computes each stage's import
closure statically (AST, nothing is imported), from its entry script over src/sasnet and stages/:

- ``import sasnet.a.b`` and ``from sasnet.a import b`` (b a submodule or a name; relative imports alike), at module
  level or inside a function, since the stage may call it;
- importing a module first runs its parent packages' ``__init__.py``: those count, unless they are empty or hold
  only a docstring (editing one cannot change a result, so no stage declares src/sasnet/__init__.py and the like);
- the imports made by name at run time, which no import statement shows, are modelled in ``dynamic_files``.

A file counts as declared when it is a dep itself or lies in a declared folder; the dep data/shared_code.json stands
for the files the shared_code stage declares (the code every stage runs, listed once to keep dvc.lock small).
"""

from __future__ import annotations

import ast
import copy
import subprocess
import sys
from functools import cache
from pathlib import Path

import yaml
from conftest import REPO_ROOT
from workspace import DVC_STAGES, expand_stages

from sasnet import paths
from sasnet.models import FAMILIES

SRC = REPO_ROOT / "src"
PACKAGE_DIR = SRC / "sasnet"
MODELS_DIR = PACKAGE_DIR / "models"
STAGES_DIR = REPO_ROOT / "stages"
PARAMS_MODULE = PACKAGE_DIR / "params.py"
TRAIN_SCRIPT = STAGES_DIR / "train.py"
RANK_SCRIPT = STAGES_DIR / "rank.py"
SHARED_CODE_STAGE = "shared_code"
SHARED_CODE = paths.SHARED_CODE.as_posix()  # the digest the shared_code stage writes of its deps
CODE_DIRS = ("src/", "stages/")  # deps under these are code; data, metrics and plots deps are not checked here
PARAMS = yaml.safe_load((REPO_ROOT / "params.yaml").read_text())


def rel(path: Path) -> str:
    """Repository-relative, as dvc.yaml names deps (a script outside the repository keeps its full path)."""
    return (path.relative_to(REPO_ROOT) if path.is_relative_to(REPO_ROOT) else path).as_posix()


def module_file(module: str) -> Path | None:
    """The file of a module: src/sasnet/a/b.py or src/sasnet/a/b/__init__.py, or stages/<name>.py for a top-level
    name (a stage script runs with stages/ first on sys.path); None for anything else (third-party, a name)."""
    parts = module.split(".")
    if parts[0] == "sasnet":
        base = SRC.joinpath(*parts)
        for path in (base.with_suffix(".py"), base / "__init__.py"):
            if path.is_file():
                return path
        return None
    path = STAGES_DIR / f"{module}.py"
    return path if len(parts) == 1 and path.is_file() else None


@cache
def runs_code(init: Path) -> bool:
    """Whether a package's __init__.py holds more than a docstring."""
    body = ast.parse(init.read_text()).body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]
    return bool(body)


def package_of(path: Path) -> list[str]:
    """The package a file's relative imports start from (empty for a stage script)."""
    if not path.is_relative_to(PACKAGE_DIR):
        return []
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    return parts[:-1]  # a package's __init__ resolves from the package itself, a module from its parent


@cache
def imported_modules(path: Path) -> tuple[frozenset[str], frozenset[str]]:
    """(modules the file imports, ``from m import x`` candidates m.x that are submodules only if such a file exists)."""
    tree = ast.parse(path.read_text(), str(path))
    modules, names = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                package = package_of(path)
                base = ".".join(package[: len(package) - node.level + 1] + ([node.module] if node.module else []))
            else:
                base = node.module
            modules.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names if alias.name != "*")
    return frozenset(modules), frozenset(names)


def executed_files(module: str, is_name: bool = False) -> list[Path]:
    """The files importing ``module`` runs: its parent packages' __init__.py (those with code), then its own file.

    A ``sasnet`` module that resolves to no file is an error, unless it is a ``from`` name (a function, a class).
    """
    parts = module.split(".")
    own = module_file(module)
    if own is None:
        assert is_name or parts[0] != "sasnet", f"cannot find the file of {module}"
        return []
    files = [path for end in range(1, len(parts)) if (path := module_file(".".join(parts[:end]))) and runs_code(path)]
    if own.name != "__init__.py" or runs_code(own):
        files.append(own)
    return files


def dynamic_files(path: Path, family: str | None) -> list[Path]:
    """Files a file runs through imports by name at run time (importlib), which no import statement shows.

    - sasnet.params builds its ``Params`` class from every family's package (``models.family(name)`` for name in
      ``FAMILIES``), so whatever imports sasnet.params runs every src/sasnet/models/<family>/__init__.py;
    - stages/train.py calls ``recommender_class(entry.family)`` (stages/rank.py ``ranker_class``), which imports
      sasnet.models.<family>.model: train@<model> (rank@<ranker>) runs its own family's modules, taken as every
      file of src/sasnet/models/<family> (the folder the stage declares). ``models.base.load_model`` does the same
      for a saved model's family; no stage calls it.
    """
    if path == PARAMS_MODULE:
        return [MODELS_DIR / name / "__init__.py" for name in FAMILIES]
    if path in (TRAIN_SCRIPT, RANK_SCRIPT) and family is not None:
        return sorted((MODELS_DIR / family).rglob("*.py"))
    return []


def closure(script: Path, family: str | None = None) -> set[str]:
    """Every source file (repository-relative) that running ``script`` can execute."""
    seen, todo = set(), [script]
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        modules, names = imported_modules(path)
        for module in modules:
            todo += executed_files(module)
        for name in names:
            todo += executed_files(name, is_name=True)
        todo += dynamic_files(path, family)
    return {rel(path) for path in seen}


def covers(dep: str, file: str) -> bool:
    dep = dep.rstrip("/")
    return file == dep or file.startswith(dep + "/")


def shared_files(dvc_stages: dict) -> list[str]:
    """The source files the shared_code stage digests: its deps but its own script."""
    stage = dvc_stages[SHARED_CODE_STAGE]
    return [dep for dep in stage["deps"] if dep != stage["cmd"].split()[1]]


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
    assert not any(file.endswith("/model.py") for file in files)  # recommender_class() runs in train@ only


def test_validating_params_imports_only_config_modules():
    """Every stage validates params.yaml first: that must not pull in heavy libraries or the stages' code."""
    assert closure(PARAMS_MODULE) == {
        "src/sasnet/params.py", "src/sasnet/config.py", "src/sasnet/errors.py", "src/sasnet/models/__init__.py",
        "src/sasnet/data/configs.py", "src/sasnet/embeddings/configs.py", "src/sasnet/analysis_configs.py",
        "src/sasnet/ranking/configs.py", "src/sasnet/models/next_item_config.py",
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
