"""harness.tools.helm: argv construction and result parsing with a fake runner (the real pinned helm:
tests/integration/test_helm_real.py)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.core.errors import EnvironmentNotReady, UsageError
from harness.core.values import ChartRef
from harness.tools import helm as helm_mod
from harness.tools.chartrepo import ChartRepo
from harness.tools.exec import Result
from harness.tools.helm import Helm, HelmError, Release, release_name

STATUS_JSON = {
    "name": "web-x1", "namespace": "ns1", "version": 3,
    "info": {"status": "deployed", "description": "Upgrade complete", "first_deployed": "2025-01-01T00:00:00Z"},
    "chart": {"metadata": {"name": "web", "version": "1.1.0", "appVersion": "1.1.0"}},
    "config": {"replicas": 2},
}
HISTORY_JSON = [
    {"revision": 2, "updated": "2025-01-01T00:01:00Z", "status": "superseded", "chart": "web-1.1.0",
     "app_version": "1.1.0", "description": "Upgrade complete"},
    {"revision": 1, "updated": "2025-01-01T00:00:00Z", "status": "superseded", "chart": "web-1.0.0",
     "app_version": "1.0.0", "description": "Install complete"},
    {"revision": 3, "updated": "2025-01-01T00:02:00Z", "status": "deployed", "chart": "web-1.0.0",
     "app_version": "1.0.0", "description": "Rollback to 1"},
]


class FakeRunner:
    """Records argv/timeout/env; answers `version` and returns canned output for everything else."""

    def __init__(self, stdout: str = "", returncode: int = 0, stderr: str = "", version: str = "v3.18.6+gabc"):
        self.calls: list[dict] = []
        self.stdout, self.returncode, self.stderr, self.version = stdout, returncode, stderr, version

    def __call__(self, argv, *, timeout=300.0, check=True, input=None, env=None, hint=""):
        argv = [str(a) for a in argv]
        if argv[1:3] == ["version", "--short"]:
            return Result(argv, 0, self.version + "\n", "")
        self.calls.append({"argv": argv, "timeout": timeout, "env": env})
        return Result(argv, self.returncode, self.stdout, self.stderr)

    @property
    def argv(self) -> list[str]:
        return self.calls[-1]["argv"]


@pytest.fixture(autouse=True)
def _fresh_version_cache(monkeypatch):
    monkeypatch.setattr(helm_mod, "_VERSION_CACHE", {})


def make(tmp_path, runner, **kw) -> Helm:
    return Helm(tmp_path / "kubeconfig", home=tmp_path / "home", namespace="ns1", binary="/bin/helm",
                runner=runner, **kw)


def flag(argv: list[str], name: str) -> str:
    return argv[argv.index(name) + 1]


def test_install_argv_wait_semantics_and_private_home(tmp_path):
    r = FakeRunner(stdout=json.dumps({**STATUS_JSON, "version": 1}))
    h = make(tmp_path, r)
    rel = h.install("web-x1", ChartRef("harness-charts/web", "repo", "1.0.0"), values=[tmp_path / "a.yaml"],
                    sets=["replicas=2"], wait=True, wait_for_jobs=True, timeout=120)
    argv = r.argv
    assert argv[:6] == ["/bin/helm", "install", "web-x1", "harness-charts/web", "--version", "1.0.0"]
    assert flag(argv, "--values") == str(tmp_path / "a.yaml")
    assert flag(argv, "--set") == "replicas=2"
    assert "--wait" in argv and "--wait-for-jobs" in argv
    assert flag(argv, "--timeout") == "120s"
    assert flag(argv, "--output") == "json"
    assert flag(argv, "--kubeconfig") == str(tmp_path / "kubeconfig")
    assert flag(argv, "--namespace") == "ns1"
    home = tmp_path / "home"
    assert flag(argv, "--repository-config") == str(home / "config" / "repositories.yaml")
    assert flag(argv, "--repository-cache") == str(home / "cache" / "repository")
    assert flag(argv, "--registry-config") == str(home / "registry" / "config.json")
    env = r.calls[-1]["env"]
    assert env["HELM_CONFIG_HOME"] == str(home / "config") and env["KUBECONFIG"] == str(tmp_path / "kubeconfig")
    assert all(str(Path.home() / ".config") not in v for v in env.values())
    assert r.calls[-1]["timeout"] == 120 + helm_mod.PROCESS_MARGIN
    assert rel == Release("web-x1", "ns1", 1, "deployed", "web-1.1.0", "1.1.0", "Upgrade complete")


def test_no_wait_means_no_wait_flags(tmp_path):
    r = FakeRunner(stdout="{}")
    make(tmp_path, r, default_timeout=42).upgrade("web-x1", ChartRef("/c", "dir"), wait=False, install=True,
                                                   namespace="other")
    assert "--wait" not in r.argv and "--wait-for-jobs" not in r.argv
    assert flag(r.argv, "--timeout") == "42s"
    assert "--install" in r.argv
    assert flag(r.argv, "--namespace") == "other"


def test_wait_for_jobs_without_wait_is_refused(tmp_path):
    with pytest.raises(UsageError, match="wait_for_jobs=True needs wait=True"):
        make(tmp_path, FakeRunner()).install("r", ChartRef("/c", "dir"), wait=False, wait_for_jobs=True)


def test_rollback_uninstall_test_argv(tmp_path):
    r = FakeRunner()
    h = make(tmp_path, r)
    h.rollback("web-x1", 1, timeout=61.2)
    assert r.argv[1:4] == ["rollback", "web-x1", "1"] and "--wait" in r.argv and flag(r.argv, "--timeout") == "62s"
    h.rollback("web-x1")
    assert r.argv[1:3] == ["rollback", "web-x1"] and r.argv[3].startswith("--")
    h.uninstall("web-x1")
    assert r.argv[1:3] == ["uninstall", "web-x1"] and "--ignore-not-found" in r.argv and "--wait" in r.argv
    h.test("web-x1", timeout=30)
    assert r.argv[1:3] == ["test", "web-x1"] and "--logs" in r.argv and flag(r.argv, "--timeout") == "30s"


def test_history_is_sorted_and_status_parsed(tmp_path):
    h = make(tmp_path, FakeRunner(stdout=json.dumps(HISTORY_JSON)))
    hist = h.history("web-x1")
    assert [e["revision"] for e in hist] == [1, 2, 3]
    assert hist[-1]["description"] == "Rollback to 1" and hist[-1]["status"] == "deployed"
    r = FakeRunner(stdout=json.dumps(STATUS_JSON))
    st = make(tmp_path, r).status("web-x1")
    assert r.argv[1:3] == ["status", "web-x1"] and flag(r.argv, "--output") == "json"
    rel = Release.from_json(st)
    assert (rel.revision, rel.status, rel.chart, rel.app_version) == (3, "deployed", "web-1.1.0", "1.1.0")


def test_get_values_null_is_empty_dict(tmp_path):
    r = FakeRunner(stdout="null\n")
    assert make(tmp_path, r).get_values("web-x1", all=True) == {}
    assert r.argv[1:4] == ["get", "values", "web-x1"] and "--all" in r.argv


def test_helm_error_carries_command_exit_code_and_stderr(tmp_path):
    stderr = "coalesce.go:298: warning\nError: UPGRADE FAILED: context deadline exceeded\n"
    r = FakeRunner(returncode=1, stderr=stderr)
    with pytest.raises(HelmError) as err:
        make(tmp_path, r).upgrade("web-x1", ChartRef("/c", "dir"))
    e = err.value
    assert str(e) == "helm upgrade web-x1 failed (exit 1): Error: UPGRADE FAILED: context deadline exceeded"
    assert e.returncode == 1 and e.stderr == stderr and e.action == "upgrade"
    assert e.argv[1:3] == ["upgrade", "web-x1"] and e.command.startswith("/bin/helm upgrade web-x1 ")


@pytest.mark.parametrize("version", ["v4.0.0+g1", "v2.17.0+ga690bad"])
def test_unsupported_helm_version_rejected_up_front(tmp_path, version):
    with pytest.raises(EnvironmentNotReady, match=r"the harness requires helm v3.x"):
        make(tmp_path, FakeRunner(version=version))


def test_release_name_fits_helm_limit():
    name = release_name("a" * 60, "x1y2z3")
    assert len(name) == 53 and name.endswith("-x1y2z3")
    assert release_name("realtime", "abc123") == "realtime-abc123"


# ----------------------------------------------------------------------------- real helm


def test_chart_repo_without_index_is_a_usage_error(tmp_path):
    with pytest.raises(UsageError, match=r"has no index.yaml"):
        ChartRepo(tmp_path).start()
