"""dvc.yaml's code deps, computed: every stage declares each source file its script runs, and no other.

DVC reruns a stage only when a declared dep changes, so an undeclared source file leaves stale results after an
edit, and a declared file the stage never runs reruns it for nothing. The import closure of each stage's script is
computed statically (AST, nothing is imported) over src/sasnet and stages/:

- ``import sasnet.a.b`` and ``from sasnet.a import b`` (b a submodule or a name; relative imports alike), at module
  level or inside a function, since the stage may call it; imports under ``if TYPE_CHECKING:`` never run;
- importing a module first runs its parent packages' ``__init__.py``: those count, unless they are empty or hold
  only a docstring (editing one cannot change a result);
- the imports made by name at run time, which no import statement shows, are modelled in ``dynamic_files``.

The files that every stage runs are declared once, by the shared_code stage (their digest, data/shared_code.json,
stands for them in every other stage; it declares the models folder for the family packages); a train or rank stage declares its family's folder
(``src/sasnet/models/${item.family}``) and the union of what the families of its task run besides.

``python -m sasnet.code_deps`` rewrites the code deps of dvc.yaml in place (comments and data deps kept);
``--check`` only reports whether dvc.yaml is current (tests/test_code_deps.py runs it).
"""

from __future__ import annotations

import argparse
import ast
import re
import sys
from functools import cache
from pathlib import Path

import yaml

from sasnet import models, paths
from sasnet.inputs import TASKS

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "src"
PACKAGE_DIR = SRC / "sasnet"
MODELS_DIR = PACKAGE_DIR / "models"
STAGES_DIR = ROOT / "stages"
PARAMS_MODULE = PACKAGE_DIR / "params.py"
DVC_FILE = ROOT / "dvc.yaml"
SHARED_CODE_STAGE = "shared_code"
SHARED_CODE = paths.SHARED_CODE.as_posix()  # the digest the shared_code stage writes of its code deps
CODE_DIRS = ("src/", "stages/")  # deps under these are code; data, metrics and plots deps are not computed here
FAMILY_DEP = "src/sasnet/models/${item.family}"
# The shared_code stage declares the models folder in place of each family package's __init__.py (params.py runs
# them all), so that a new family's folder needs no edit of dvc.yaml; it digests those files by name.
FAMILIES_DEP = paths.MODELS_SOURCE
TASK_STAGES = {layout.stage: task for task, layout in TASKS.items()}  # foreach stages that fit one entry of a task's map


def rel(path: Path) -> str:
    """Repository-relative, as dvc.yaml names deps (a script outside the repository keeps its full path)."""
    return (path.relative_to(ROOT) if path.is_relative_to(ROOT) else path).as_posix()


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


def _runtime_nodes(tree: ast.AST):
    """Every node but the bodies of ``if TYPE_CHECKING:`` blocks (imports for annotations only)."""
    todo = [tree]
    while todo:
        node = todo.pop()
        yield node
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and ast.unparse(child.test) in ("TYPE_CHECKING", "typing.TYPE_CHECKING"):
                todo.extend(child.orelse)
                continue
            todo.append(child)


@cache
def imported_modules(path: Path) -> tuple[frozenset[str], frozenset[str]]:
    """(modules the file imports, ``from m import x`` candidates m.x that are submodules only if such a file exists)."""
    tree = ast.parse(path.read_text(), str(path))
    modules, names = set(), set()
    for node in _runtime_nodes(tree):
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
        if not is_name and parts[0] == "sasnet":
            raise ValueError(f"cannot find the file of {module}")
        return []
    files = [path for end in range(1, len(parts)) if (path := module_file(".".join(parts[:end]))) and runs_code(path)]
    if own.name != "__init__.py" or runs_code(own):
        files.append(own)
    return files


def dynamic_files(path: Path, family: str | None) -> list[Path]:
    """Files a file runs through imports by name at run time (importlib), which no import statement shows.

    - sasnet.params builds its ``Params`` class from every family's package (``models.family(name)`` for name in
      ``FAMILIES``), so whatever imports sasnet.params runs every src/sasnet/models/<family>/__init__.py;
    - ``sasnet.models.model_class`` imports sasnet.models.<family>.model: a stage that fits or loads a model of
      ``family`` runs its family's modules, taken as every file of src/sasnet/models/<family> (the folder a train
      or rank stage declares).
    """
    if path == PARAMS_MODULE:
        return [MODELS_DIR / name / "__init__.py" for name in models.FAMILIES]
    if path == MODELS_DIR / "__init__.py" and family is not None:
        return sorted((MODELS_DIR / family).rglob("*.py"))
    return []


def closure(script: Path, family: str | None = None) -> set[str]:
    """Every source file (repository-relative) that running ``script`` can execute (fitting ``family``, if given)."""
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


def script_of(stage: dict) -> Path:
    return ROOT / (stage["do"] if "foreach" in stage else stage)["cmd"].split()[1]


def stage_code(dvc_stages: dict) -> dict[str, set[str]]:
    """Stage name (a foreach stage by its template name) -> every source file some instance of it can run.

    A train or rank stage counts every family that serves its task, not only the entries params.yaml has today, so
    that `dvc exp run -S` can add an entry of any family without editing dvc.yaml.
    """
    code = {}
    for name, stage in dvc_stages.items():
        script = script_of(stage)
        if name in TASK_STAGES:
            task = TASK_STAGES[name]
            code[name] = set().union(*(closure(script, family) for family in models.FAMILIES
                                       if models.serves(family, task)))
        else:
            code[name] = closure(script)
    return code


def shared_files(code: dict[str, set[str]]) -> list[str]:
    """The files every stage runs but its own script: the shared_code stage's digest."""
    return sorted(file for file in set.intersection(*code.values()) if not file.startswith("stages/"))


def family_packages() -> list[str]:
    return [f"{FAMILIES_DEP}/{name}/__init__.py" for name in models.FAMILIES]


def expected_deps(dvc_stages: dict) -> dict[str, list[str]]:
    """Stage name -> its code deps as dvc.yaml should list them: its script first, then the rest sorted."""
    code = stage_code(dvc_stages)
    shared = set(shared_files(code))
    deps = {}
    for name, files in code.items():
        script = rel(script_of(dvc_stages[name]))
        if name == SHARED_CODE_STAGE:
            rest = sorted({*shared - set(family_packages()), FAMILIES_DEP})
        else:
            rest = sorted(file for file in files - shared - {script}
                          if not (name in TASK_STAGES and file.startswith("src/sasnet/models/")
                                  and _family_file(file)))
            if name in TASK_STAGES:
                rest = [FAMILY_DEP, *rest]
        deps[name] = [script, *rest]
    return deps


def _family_file(file: str) -> bool:
    """Whether a file lies in a family's folder (declared by the folder dep), not in models/ itself."""
    parts = Path(file).relative_to("src/sasnet/models").parts
    return len(parts) > 1 and parts[0] in models.FAMILIES


def rewrite(text: str, deps: dict[str, list[str]]) -> str:
    """dvc.yaml's text with each stage's code deps replaced by ``deps`` (at the place of its first code dep)."""
    lines, out, stage, in_deps = text.splitlines(keepends=True), [], None, False
    for line in lines:
        top = re.match(r"^  ([a-z_]+):", line)
        if top:
            stage, in_deps, written = top.group(1), False, False
        key = re.match(r"^(\s+)([a-z]+):", line)
        if key and key.group(2) != "deps":
            in_deps = False
        if key and key.group(2) == "deps":
            in_deps, indent = True, None
            out.append(line)
            continue
        item = re.match(r"^(\s+)- (\S+)", line)
        if in_deps and item and stage in deps and item.group(2).startswith(CODE_DIRS):
            if not written:
                indent = item.group(1)
                out += [f"{indent}- {dep}\n" for dep in deps[stage]]
                written = True
            continue
        out.append(line)
    return "".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sasnet.code_deps", description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="only say whether dvc.yaml is current (exit 1 if not)")
    args = parser.parse_args(argv)
    text = DVC_FILE.read_text()
    updated = rewrite(text, expected_deps(yaml.safe_load(text)["stages"]))
    if updated == text:
        print("dvc.yaml's code deps are current")
        return 0
    if args.check:
        print("dvc.yaml's code deps are stale: run `python -m sasnet.code_deps`", file=sys.stderr)
        return 1
    DVC_FILE.write_text(updated)
    print("dvc.yaml's code deps rewritten")
    return 0


if __name__ == "__main__":
    sys.exit(main())
