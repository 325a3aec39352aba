"""The pytest plugin stays out of runs that do not use it (issue 14, item 4), in pytest subprocesses:

* an unrelated test folder run with the plugin loaded writes no file and ignores a bad
  ``HARNESS_KEEP_CLUSTER`` (the same folder with a harness-marked test is stopped by it);
* with pytest-kind installed beside the harness (a temporary virtualenv over this one, from PyPI
  through the pip cache) both plugins load, ``--help`` works, ``--cluster-name`` is pytest-kind's
  and ``--harness-cluster-name`` the harness's;
* under pytest-xdist, ``-n`` runs harness tests beside other tests (the workers share one cluster:
  harness/plugin/parallel.py), and ``--dist each`` with harness tests is refused in one line (exit 4)
  while other tests still run with it.

The virtualenv tests skip, saying why, when the packages cannot be installed (no network, no cache).
"""
from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
from importlib.metadata import entry_points
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
INSTALLED = any(ep.value == "harness.plugin" for ep in entry_points(group="pytest11"))
PLUGIN = [] if INSTALLED else ["-p", "harness.plugin"]
UNRELATED = "def test_sum():\n    assert 1 + 1 == 2\n"
HARNESS_MARKED = "import pytest\n\n\n@pytest.mark.harness\ndef test_uses_the_harness():\n    pass\n"
XDIST_LINE = "ERROR: harness: pytest-xdist cannot run harness tests this way"


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HARNESS_", "PYTEST_"))}
    env.update(PYTHONDONTWRITEBYTECODE="1", PYTHONPATH=str(ROOT), **extra)
    return env


def _pytest(python: str | Path, folder: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(python), "-m", "pytest", *PLUGIN, "-p", "no:cacheprovider", *args], cwd=folder,
                          env=_env(**env), capture_output=True, text=True, timeout=300)


def _files(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


def _folder(root: Path, name: str, test: str) -> Path:
    folder = root / name
    folder.mkdir()
    (folder / "test_it.py").write_text(test)
    return folder


def test_an_unrelated_run_writes_nothing_and_reads_no_harness_settings(tmp_path):
    folder = _folder(tmp_path, "unrelated", UNRELATED)
    before = _files(folder)
    result = _pytest(sys.executable, folder, "-q", HARNESS_KEEP_CLUSTER="maybe")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout
    assert _files(folder) == before, "the plugin wrote files into an unrelated run"

    # a fixture of its own named like a harness fixture does not make a run a harness run
    own = _folder(tmp_path, "own-cluster", "def test_own(cluster):\n    assert cluster == 'theirs'\n")
    (own / "conftest.py").write_text("import pytest\n\n\n@pytest.fixture\ndef cluster():\n    return 'theirs'\n")
    before = _files(own)
    result = _pytest(sys.executable, own, "-q", HARNESS_KEEP_CLUSTER="maybe")
    assert result.returncode == 0 and "1 passed" in result.stdout, result.stdout + result.stderr
    assert _files(own) == before

    # the same setting stops a run that uses the harness: one line, usage exit
    harness = _folder(tmp_path, "harness", HARNESS_MARKED)
    result = _pytest(sys.executable, harness, "-q", HARNESS_KEEP_CLUSTER="maybe")
    assert result.returncode == 4, result.stdout + result.stderr
    assert [ln for ln in result.stderr.splitlines() if "harness:" in ln] == [
        "ERROR: harness: keep-cluster (env HARNESS_KEEP_CLUSTER): 'maybe' is not one of never, on-failure, always"]
    assert "Traceback" not in result.stdout + result.stderr


def test_a_harness_run_still_writes_its_junit_by_default(tmp_path):
    folder = _folder(tmp_path, "harness", HARNESS_MARKED)
    result = _pytest(sys.executable, folder, "-q")
    assert result.returncode == 0, result.stdout + result.stderr
    junit = folder / "artifacts" / "junit.xml"
    assert junit.is_file(), _files(folder)
    assert 'name="test_uses_the_harness"' in junit.read_text()


@pytest.fixture(scope="module")
def plugins_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A virtualenv whose site-packages include this environment's (so the harness, its pytest and
    its entry point load), with pytest-kind and pytest-xdist installed from PyPI (pip cache first)."""
    venv = tmp_path_factory.mktemp("plugins-venv")
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, capture_output=True, timeout=120)
    python = venv / "bin" / "python"
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          check=True, capture_output=True, text=True).stdout.strip()
    here = sysconfig.get_paths()["purelib"]
    # before pip runs, so it sees this environment's pytest and installs only the two plugins
    (Path(site) / "harness-env.pth").write_text(f"import site; site.addsitedir({here!r})\n{ROOT}\n")
    pip = subprocess.run([str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check",
                          "pytest-kind", "pytest-xdist"], capture_output=True, text=True, timeout=300)
    if pip.returncode != 0:
        tail = (pip.stderr.strip().splitlines() or ["(no output)"])[-1]
        pytest.skip(f"pytest-kind / pytest-xdist could not be installed from PyPI: {tail}")
    check = subprocess.run([str(python), "-c", "import harness, pytest_kind, xdist"], capture_output=True, text=True)
    assert check.returncode == 0, check.stderr
    return python


def test_pytest_kind_beside_the_harness(plugins_venv, tmp_path):
    folder = _folder(tmp_path, "unrelated", UNRELATED)
    result = _pytest(plugins_venv, folder, "--help")
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "conflicting option string" not in out + result.stderr
    for flag in ("--kind-image", "--cluster-name=CLUSTER_NAME", "--keep-cluster",  # pytest-kind's
                 "--harness-cluster-name=NAME", "--harness-keep-cluster=VALUE", "--harness-kubeconfig=PATH"):
        assert flag in out, flag
    # pytest-kind's own option parses as pytest-kind's; the run is not a harness run
    before = _files(folder)
    result = _pytest(plugins_venv, folder, "-q", "--cluster-name", "not-a-harness-cluster")
    assert result.returncode == 0, result.stdout + result.stderr
    assert _files(folder) == before
    # the harness's namespaced option still reaches the harness
    harness = _folder(tmp_path, "harness", HARNESS_MARKED)
    result = _pytest(plugins_venv, harness, "-q", "--harness-keep-cluster=sometimes")
    assert result.returncode == 4, result.stdout + result.stderr
    assert "ERROR: harness: keep-cluster (option): 'sometimes' is not one of never, on-failure, always" in result.stderr


def test_xdist_runs_harness_tests_and_refuses_only_dist_each(plugins_venv, tmp_path):
    harness = _folder(tmp_path, "harness", HARNESS_MARKED + "\n\ndef test_plain():\n    pass\n")
    private = {"HARNESS_CACHE": str(tmp_path / "cache")}  # the workers' lock files: not the user's cache
    result = _pytest(plugins_venv, harness, "-q", "-n", "2", "--harness-cluster-name", "isolation", **private)
    assert result.returncode == 0 and "2 passed" in result.stdout, result.stdout + result.stderr
    assert (tmp_path / "cache" / "locks" / "isolation" / "edge").is_file()  # each harness test took the edge, shared
    result = _pytest(plugins_venv, harness, "-q", "-n", "2", "--dist", "each", **private)
    out = result.stdout + result.stderr
    assert result.returncode == 4, out
    assert [ln for ln in out.splitlines() if "harness:" in ln] == [
        XDIST_LINE + ": --dist each runs every test on every worker: each scenario would run once per worker on one "
        "cluster; run them with -n on this host (docs/parallel.md) or without -n"]
    assert "Traceback" not in out and " passed" not in out
    # selecting only the other test, and an unrelated folder, run under --dist each as usual
    result = _pytest(plugins_venv, harness, "-q", "-n", "2", "--dist", "each", "-k", "plain", **private)
    assert result.returncode == 0 and "2 passed" in result.stdout, result.stdout + result.stderr
    folder = _folder(tmp_path, "unrelated", UNRELATED)
    result = _pytest(plugins_venv, folder, "-q", "-n", "2")
    assert result.returncode == 0 and "1 passed" in result.stdout, result.stdout + result.stderr
