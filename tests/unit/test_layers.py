"""The package's import graph: acyclic, and each layer imports only the layers beneath it.

Computed from the source with :mod:`ast` (no module is imported), so a cycle hidden in a
function-local import counts as well.
"""
from __future__ import annotations

import ast
from pathlib import Path

HARNESS = Path(__file__).resolve().parents[2] / "harness"

# layer -> the layers it may import (besides itself). Lower layers know nothing of higher ones.
ALLOWED = {
    "core": set(),
    "tools": {"core"},
    "k8s": {"core", "tools"},
    "measure": {"core"},
    "env": {"core", "tools", "k8s"},
    "scenario": {"core", "tools", "k8s", "env", "measure"},
    "report": {"core", "tools", "k8s", "scenario"},
    "plugin": {"core", "tools", "k8s", "env", "measure", "scenario", "report"},
    "gate": {"core", "tools", "k8s", "env", "scenario", "report"},
    # the scenarios' pytest modules (shipped for `pytest --pyargs harness.scenarios.<name>`)
    "scenarios": {"core", "tools", "k8s", "env", "measure", "scenario", "plugin"},
    "__main__": {"core", "tools", "k8s", "env", "gate", "report"},
}


def module_name(path: Path) -> str:
    parts = path.relative_to(HARNESS.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    modules = {module_name(p): p for p in HARNESS.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        deps: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level:
                raise AssertionError(f"{name}: relative import (use absolute harness.* imports)")
            if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "harness":
                for alias in node.names:
                    sub = f"{node.module}.{alias.name}"
                    deps.add(sub if sub in modules else node.module)
            elif isinstance(node, ast.Import):
                deps.update(a.name for a in node.names if a.name.split(".")[0] == "harness")
        graph[name] = {d for d in deps if d in modules and d != name}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "harness"


def test_find_cycle_finds_one_and_accepts_a_dag():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None


def test_the_harness_import_graph_is_acyclic():
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_each_layer_imports_only_the_layers_beneath_it():
    wrong = []
    for module, deps in import_graph().items():
        own = layer(module)
        if own not in ALLOWED:
            continue
        for dep in deps:
            other = layer(dep)
            if other != own and other not in ALLOWED[own] and other != "harness":
                wrong.append(f"{module} imports {dep} ({own} may import {sorted(ALLOWED[own]) or 'nothing'})")
    assert not wrong, "\n".join(sorted(wrong))


def test_every_layer_is_a_package_with_a_docstring():
    for name in ALLOWED:
        if name == "__main__":
            continue
        init = HARNESS / name / "__init__.py"
        assert init.is_file(), f"harness/{name}/ is not a package"
        assert ast.get_docstring(ast.parse(init.read_text())), f"harness/{name}/__init__.py says nothing of its layer"
