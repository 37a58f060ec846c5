"""The library's layers: no module imports one of a higher layer, and no import cycle.

From the bottom: the foundation (errors, typed config, paths, io, device, plots), the schema (every config section,
the family packages, the input registry), the library (data, embeddings, models, ranking, scoring, evaluation,
statistics: code that computes, given its config), params.py (params.yaml as a whole), and the application (the task
skeleton, the report, the review, inference, stage plumbing, developer tools). A lower layer never imports a higher
one, so that, for instance, ingest or a model family never depends on how params.yaml is read. Imports under
``if TYPE_CHECKING:`` never run and do not count.
"""

from __future__ import annotations

from pathlib import Path

from sasnet import code_deps

PACKAGE = code_deps.PACKAGE_DIR
FOUNDATION = {"errors.py", "config.py", "paths.py", "io.py", "device.py", "plots.py", "stage_times.py"}
SCHEMA = {"analysis_configs.py", "data/configs.py", "embeddings/configs.py", "ranking/configs.py", "inputs.py",
          "models/__init__.py", "models/next_item_config.py"}
APPLICATION = {"tasks", "report", "review.py", "inference.py", "run_facts.py", "stage.py", "code_deps.py",
               "offline_plots.py", "remote.py"}
LAYERS = ("foundation", "schema", "library", "params", "application")


def layer(file: str) -> int:
    """The layer of a repository-relative file under src/sasnet."""
    name = Path(file).relative_to("src/sasnet").as_posix()
    if name in FOUNDATION:
        return 0
    family_package = name.startswith("models/") and name.endswith("/__init__.py") and name.count("/") == 2
    if name in SCHEMA or family_package:
        return 1
    if name == "params.py":
        return 3
    if name in APPLICATION or name.split("/")[0] in APPLICATION:
        return 4
    return 2


def imports() -> dict[str, set[str]]:
    """Every module of the package -> the package's files importing it runs (parent packages included)."""
    graph = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        modules, names = code_deps.imported_modules(path)
        files = {code_deps.rel(found) for module in modules for found in code_deps.executed_files(module)}
        files |= {code_deps.rel(found) for name in names for found in code_deps.executed_files(name, is_name=True)}
        graph[code_deps.rel(path)] = files - {code_deps.rel(path)}
    return graph


def upward(graph: dict[str, set[str]]) -> list[str]:
    return sorted(f"{file} ({LAYERS[layer(file)]}) imports {target} ({LAYERS[layer(target)]})"
                  for file, targets in graph.items() for target in targets
                  if target.startswith("src/sasnet/") and layer(target) > layer(file))


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in graph:
        if node not in index:
            visit(node)
    return found


def test_no_module_imports_a_higher_layer():
    found = upward(imports())
    assert not found, "imports that run upward:\n  " + "\n  ".join(found)


def test_no_import_cycle():
    assert cycles(imports()) == []


def test_the_checks_can_fail():
    graph = {"src/sasnet/data/ingest.py": {"src/sasnet/params.py"}, "src/sasnet/a.py": {"src/sasnet/b.py"},
             "src/sasnet/b.py": {"src/sasnet/a.py"}}
    assert upward(graph) == ["src/sasnet/data/ingest.py (library) imports src/sasnet/params.py (params)"]
    assert cycles(graph) == [["src/sasnet/a.py", "src/sasnet/b.py"]]
    assert upward({"src/sasnet/config.py": {"src/sasnet/data/configs.py"}}) == [
        "src/sasnet/config.py (foundation) imports src/sasnet/data/configs.py (schema)"]
    assert upward({"src/sasnet/scoring.py": {"src/sasnet/report/markdown.py"}}) == [
        "src/sasnet/scoring.py (library) imports src/sasnet/report/markdown.py (application)"]
