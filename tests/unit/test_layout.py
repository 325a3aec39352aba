"""The project's layout: every scenario is complete and every name list agrees.

A scenario ``<name>`` needs its test module ``harness/scenarios/<name>/test_<name>.py`` (shipped in
the package; ``SCENARIO = "<name>"``, a negative-control test ``test_<name>_catches_broken``, and its
procedure: there as ``run_<name>``, or a module ``harness/scenario/<name>.py``), the repository's
``scenarios/<name>/test_<name>.py`` re-exporting it (``from harness.scenarios.<name>.test_<name> import *``), a verdict function ``<name>_verdict`` and an
``EXPECTED_FAILURE`` entry in harness/scenario/verdicts.py, and its name in harness/core/contract.py
``SCENARIOS``. Every chart under test (a ``charts-under-test/<chart>/Chart.yaml``) has a
``harness-contract.yaml`` whose scenarios and negative controls name known scenarios, and together
the contracts run every scenario and give each one a broken chart to catch.

Files are read as text (AST, YAML), never imported or run, so the check names what is missing
rather than failing on an import error, and holds whatever the procedures' implementation is.
"""
from __future__ import annotations

import ast
import textwrap
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]


def _module(path: Path) -> ast.Module:
    return ast.parse(path.read_text(), filename=str(path))


def _assigned(tree: ast.Module, name: str) -> ast.expr | None:
    """The value assigned to a module-level ``name`` (plain or annotated assignment), or None."""
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == name for t in node.targets):
            return node.value
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.target.id == name:
            return node.value
    return None


def _functions(tree: ast.Module) -> set[str]:
    return {n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}


def _strings(node: ast.expr | None) -> list[str]:
    """String constants of a tuple/list/set literal, or the keys of a dict literal."""
    if isinstance(node, ast.Dict):
        items = node.keys
    elif isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        items = node.elts
    else:
        return []
    return [n.value for n in items if isinstance(n, ast.Constant) and isinstance(n.value, str)]


def scenario_folders(root: Path) -> list[str]:
    """Folders under scenarios/ and harness/scenarios/ (not __pycache__ or hidden ones)."""
    return sorted({p.name for d in (root / "scenarios", root / "harness" / "scenarios") if d.is_dir()
                   for p in d.iterdir() if p.is_dir() and not p.name.startswith(("_", "."))})


def _reexports(tree: ast.Module, module: str) -> bool:
    """The module does ``from <module> import *``."""
    return any(isinstance(n, ast.ImportFrom) and n.module == module and any(a.name == "*" for a in n.names)
               for n in tree.body)


def scenario_problems(root: Path, name: str) -> list[str]:
    """What scenario ``name`` lacks: its test module, SCENARIO, negative control, procedure, verdict."""
    problems = []
    rel = f"harness/scenarios/{name}/test_{name}.py"
    module = root / rel
    thin = root / "scenarios" / name / f"test_{name}.py"
    if not thin.is_file() or not _reexports(_module(thin), f"harness.scenarios.{name}.test_{name}"):
        problems.append(f"scenario {name}: scenarios/{name}/test_{name}.py does not re-export "
                        f"harness.scenarios.{name}.test_{name} (from ... import *)")
    if not module.is_file():
        problems.append(f"scenario {name}: no test module {rel}")
    elif not (module.parent / "__init__.py").is_file():
        problems.append(f"scenario {name}: harness/scenarios/{name}/ is not a package (no __init__.py)")
    else:
        tree = _module(module)
        value = _assigned(tree, "SCENARIO")
        if not (isinstance(value, ast.Constant) and value.value == name):
            problems.append(f'scenario {name}: {rel} lacks SCENARIO = "{name}"')
        functions = _functions(tree)
        if f"test_{name}_catches_broken" not in functions:
            problems.append(f"scenario {name}: no negative-control test test_{name}_catches_broken in {rel}")
        if f"run_{name}" not in functions and not (root / "harness" / "scenario" / f"{name}.py").is_file():
            problems.append(f"scenario {name}: no procedure (run_{name} in {rel} or harness/scenario/{name}.py)")
    verdicts = _module(root / "harness" / "scenario" / "verdicts.py")
    if f"{name}_verdict" not in _functions(verdicts):
        problems.append(f"scenario {name}: no verdict function {name}_verdict in harness/scenario/verdicts.py")
    if name not in _strings(_assigned(verdicts, "EXPECTED_FAILURE")):
        problems.append(f"scenario {name}: no EXPECTED_FAILURE entry in harness/scenario/verdicts.py")
    return problems


def contract_scenarios(root: Path) -> list[str]:
    """harness/core/contract.py ``SCENARIOS``."""
    return _strings(_assigned(_module(root / "harness" / "core" / "contract.py"), "SCENARIOS"))


def chart_problems(root: Path, known: set[str]) -> tuple[list[str], set[str], set[str]]:
    """What the charts under test lack, and the scenarios their contracts run and break.

    Returns (problems, scenarios run by some contract, scenarios with a negative control)."""
    problems: list[str] = []
    run: set[str] = set()
    broken: set[str] = set()
    for chart_yaml in sorted((root / "charts-under-test").glob("*/Chart.yaml")):
        chart = chart_yaml.parent
        contract = chart / "harness-contract.yaml"
        where = f"charts-under-test/{chart.name}/harness-contract.yaml"
        if not contract.is_file():
            problems.append(f"chart {chart.name}: no {where}")
            continue
        data = yaml.safe_load(contract.read_text()) or {}
        scenarios = data.get("scenarios") or []
        for s in scenarios:
            if s not in known:
                problems.append(f"{where}: scenario {s!r} is not in harness/core/contract.py SCENARIOS")
        run.update(scenarios)
        for entry in data.get("broken") or []:
            s = entry.get("scenario")
            if s not in scenarios:
                problems.append(f"{where}: broken {entry.get('name')!r} names scenario {s!r}, "
                                f"which the contract does not run")
            broken.add(s)
    return problems, run, broken


def layout_problems(root: Path) -> list[str]:
    """Every disagreement between scenarios/, verdicts.py, contract.py and the charts' contracts."""
    folders = set(scenario_folders(root))
    known = set(contract_scenarios(root))
    problems = []
    for name in sorted(folders - known):
        problems.append(f"scenario folder {name} is not in harness/core/contract.py SCENARIOS")
    for name in sorted(known - folders):
        problems.append(f"harness/core/contract.py SCENARIOS names {name}, which has no scenario folder")
    for name in sorted(folders | known):
        problems.extend(scenario_problems(root, name))
    charts, run, broken = chart_problems(root, known)
    problems.extend(charts)
    for name in sorted(known - run):
        problems.append(f"scenario {name}: no chart under test runs it (no harness-contract.yaml lists it)")
    for name in sorted(known - broken):
        problems.append(f"scenario {name}: no negative control (no harness-contract.yaml has a broken "
                        f"entry for it)")
    return problems


def test_the_repository_layout_is_complete():
    assert contract_scenarios(ROOT), "harness/core/contract.py SCENARIOS not found as a literal tuple"
    assert layout_problems(ROOT) == []


# --------------------------------------------------------------------------- the check itself, pass and fail


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A minimal complete layout with scenarios a and b."""
    _write(tmp_path / "harness" / "core" / "contract.py", 'SCENARIOS = ("a", "b")\n')
    _write(tmp_path / "harness" / "scenario" / "verdicts.py", """\
        def a_verdict(): ...
        def b_verdict(): ...
        EXPECTED_FAILURE = {"a": "x", "b": "y"}
        """)
    for name in ("a", "b"):
        _write(tmp_path / "harness" / "scenarios" / name / f"test_{name}.py", f"""\
            SCENARIO = "{name}"
            def run_{name}(ctx): ...
            def test_{name}(target): ...
            def test_{name}_catches_broken(broken_target): ...
            """)
        _write(tmp_path / "harness" / "scenarios" / name / "__init__.py", "")
        _write(tmp_path / "scenarios" / name / f"test_{name}.py",
               f"from harness.scenarios.{name}.test_{name} import *  # noqa: F403\n")
    (tmp_path / "scenarios" / "__pycache__").mkdir()
    (tmp_path / "harness" / "scenarios" / "__pycache__").mkdir()
    _write(tmp_path / "charts-under-test" / "web" / "Chart.yaml", "name: web\n")
    _write(tmp_path / "charts-under-test" / "web" / "harness-contract.yaml", """\
        scenarios: [a, b]
        broken:
          - {name: x, scenario: a}
          - {name: y, scenario: b}
        """)
    _write(tmp_path / "charts-under-test" / "released-src" / "web-1.0.0" / "Chart.yaml", "name: web\n")
    return tmp_path


def test_a_complete_layout_passes(tree: Path):
    assert layout_problems(tree) == []


def test_a_procedure_moved_to_the_scenario_library_is_accepted(tree: Path):
    module = tree / "harness" / "scenarios" / "a" / "test_a.py"
    module.write_text(module.read_text().replace("def run_a(ctx): ...\n", ""))
    assert layout_problems(tree) == ["scenario a: no procedure (run_a in harness/scenarios/a/test_a.py or "
                                     "harness/scenario/a.py)"]
    _write(tree / "harness" / "scenario" / "a.py", "def run(ctx): ...\n")
    assert layout_problems(tree) == []


def test_a_scenario_missing_its_pieces_is_named(tree: Path):
    module = tree / "harness" / "scenarios" / "b" / "test_b.py"
    module.write_text('SCENARIO = "a"\ndef run_b(ctx): ...\ndef test_b(target): ...\n')
    verdicts = tree / "harness" / "scenario" / "verdicts.py"
    verdicts.write_text('def a_verdict(): ...\nEXPECTED_FAILURE = {"a": "x"}\n')
    assert layout_problems(tree) == [
        'scenario b: harness/scenarios/b/test_b.py lacks SCENARIO = "b"',
        "scenario b: no negative-control test test_b_catches_broken in harness/scenarios/b/test_b.py",
        "scenario b: no verdict function b_verdict in harness/scenario/verdicts.py",
        "scenario b: no EXPECTED_FAILURE entry in harness/scenario/verdicts.py",
    ]
    module.unlink()
    assert layout_problems(tree)[0] == "scenario b: no test module harness/scenarios/b/test_b.py"
    (tree / "scenarios" / "b" / "test_b.py").write_text("from harness.scenario.b import *\n")
    assert layout_problems(tree)[0] == ("scenario b: scenarios/b/test_b.py does not re-export "
                                        "harness.scenarios.b.test_b (from ... import *)")


def test_name_lists_that_disagree_are_named(tree: Path):
    _write(tree / "harness" / "scenarios" / "c" / "test_c.py", 'SCENARIO = "c"\n')
    (tree / "harness" / "core" / "contract.py").write_text('SCENARIOS = ("a", "b", "d")\n')
    problems = layout_problems(tree)
    assert "scenario folder c is not in harness/core/contract.py SCENARIOS" in problems
    assert "harness/core/contract.py SCENARIOS names d, which has no scenario folder" in problems
    assert "scenario d: no chart under test runs it (no harness-contract.yaml lists it)" in problems
    assert "scenario d: no negative control (no harness-contract.yaml has a broken entry for it)" in problems


def test_contracts_that_disagree_and_a_chart_without_one_are_named(tree: Path):
    _write(tree / "charts-under-test" / "web" / "harness-contract.yaml", """\
        scenarios: [a, e]
        broken:
          - {name: x, scenario: b}
        """)
    _write(tree / "charts-under-test" / "api" / "Chart.yaml", "name: api\n")
    assert layout_problems(tree) == [
        "chart api: no charts-under-test/api/harness-contract.yaml",
        "charts-under-test/web/harness-contract.yaml: scenario 'e' is not in harness/core/contract.py SCENARIOS",
        "charts-under-test/web/harness-contract.yaml: broken 'x' names scenario 'b', which the contract does not run",
        "scenario b: no chart under test runs it (no harness-contract.yaml lists it)",
        "scenario a: no negative control (no harness-contract.yaml has a broken entry for it)",
    ]
