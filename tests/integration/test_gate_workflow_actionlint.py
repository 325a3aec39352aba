"""actionlint over the workflows (.github/workflows/*.yml: the nightly, and gate-action.yml, which uses
the composite action as `uses: ./`, so actionlint checks its inputs and outputs against action.yml) and
over the example workflow in docs/gate.md (its `uses: <org>/helm-e2e-harness@v1` pointed at a copy of
action.yml). actionlint is the pinned ACTIONLINT_VERSION that `make tools` builds into .tools/bin
(images/build-actionlint.sh); without it the tests skip and say so."""
from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from harness.core.errors import EnvironmentNotReady
from harness.core.pins import pinned

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))


@pytest.fixture(scope="module")
def actionlint() -> str:
    """The pinned actionlint: .tools/bin, the tools cache, then PATH (at the pinned version only)."""
    from harness.tools.binaries import tool_path

    try:
        path = tool_path("actionlint")
    except EnvironmentNotReady:
        path = None
    if path is None:
        reason = (f"actionlint {pinned()['ACTIONLINT_VERSION']} is not built: run `make tools` "
                  "(images/build-actionlint.sh, needs Go)")
        print(reason)
        pytest.skip(reason)
    out = subprocess.run([path, "-version"], capture_output=True, text=True, timeout=30, check=False).stdout
    if out.splitlines()[:1] != [pinned()["ACTIONLINT_VERSION"]]:
        reason = f"{path} is not actionlint {pinned()['ACTIONLINT_VERSION']} (it says {out.splitlines()[:1]})"
        print(reason)
        pytest.skip(reason)
    return path


def lint(binary: str, files: list[Path], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([binary, "-color=false", *map(str, files)], capture_output=True, text=True, cwd=cwd,
                          timeout=120, check=False)


def test_actionlint_accepts_the_workflows_and_the_action(actionlint):
    assert {p.name for p in WORKFLOWS} >= {"nightly.yml", "gate-action.yml"}
    r = lint(actionlint, WORKFLOWS, ROOT)
    assert r.returncode == 0, r.stdout + r.stderr


def _repo_with_action(tmp_path: Path, workflow: str) -> Path:
    repo = tmp_path / "repo"
    (repo / ".github" / "workflows").mkdir(parents=True)
    (repo / ".git").mkdir()  # actionlint finds the project (and `uses: ./`) by its .git directory
    shutil.copy(ROOT / "action.yml", repo / "action.yml")
    (repo / ".github" / "workflows" / "gate.yml").write_text(workflow)
    return repo


def docs_example() -> str:
    """The example workflow of docs/gate.md ("Wiring the gate ... CI"), dedented."""
    text = (ROOT / "docs" / "gate.md").read_text()
    block = re.search(r"4\. \*\*CI\*\*.*?```yaml\n(.*?)   ```", text, re.S)
    assert block, "docs/gate.md has no example workflow under 4. **CI**"
    return "\n".join(line[3:] for line in block.group(1).splitlines()) + "\n"


def test_actionlint_accepts_the_docs_example_against_action_yml(actionlint, tmp_path):
    example = docs_example()
    assert "uses: <org>/helm-e2e-harness@v1" in example
    repo = _repo_with_action(tmp_path, example.replace("<org>/helm-e2e-harness@v1", "./"))
    r = lint(actionlint, [repo / ".github" / "workflows" / "gate.yml"], repo)
    assert r.returncode == 0, r.stdout + r.stderr


def test_actionlint_catches_an_input_the_action_does_not_have(actionlint, tmp_path):
    # the check above can fail: an input action.yml lacks is reported
    example = docs_example().replace("<org>/helm-e2e-harness@v1", "./").replace(
        "chart: charts/mychart", "chart: charts/mychart\n          shards: 1/2")
    repo = _repo_with_action(tmp_path, example)
    r = lint(actionlint, [repo / ".github" / "workflows" / "gate.yml"], repo)
    assert r.returncode == 1 and 'input "shards" is not defined in action' in r.stdout
