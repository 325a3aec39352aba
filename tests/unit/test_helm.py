"""harness.tools.helm: argv construction for Helm 4 and Helm 3 and result parsing with a fake runner
(no process). With real helm binaries: tests/integration/test_helm_real.py (both majors) and
tests/integration/test_helm_majors.py."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import yaml

from harness.core.errors import EnvironmentNotReady, UsageError
from harness.core.values import ChartRef
from harness.tools import helm as helm_mod
from harness.tools import helm_plugins
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

    def __init__(self, stdout: str = "", returncode: int = 0, stderr: str = "", version: str = "v4.3.2+gabc1234"):
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


V4, V3 = "v4.3.2+gabc1234", "v3.22.0+gdef5678"


def make(tmp_path, runner, **kw) -> Helm:
    return Helm(tmp_path / "kubeconfig", home=tmp_path / "home", namespace="ns1", binary="/bin/helm",
                runner=runner, **kw)


def flag(argv: list[str], name: str) -> str:
    return argv[argv.index(name) + 1]


def test_install_argv_wait_semantics_and_private_home(tmp_path):
    r = FakeRunner(stdout=json.dumps({**STATUS_JSON, "version": 1, "apply_method": "ssa"}))
    h = make(tmp_path, r)
    assert (h.version, h.major) == ("v4.3.2", 4)
    rel = h.install("web-x1", ChartRef("harness-charts/web", "repo", "1.0.0"), values=[tmp_path / "a.yaml"],
                    sets=["replicas=2"], wait=True, wait_for_jobs=True, timeout=120)
    argv = r.argv
    assert argv[:6] == ["/bin/helm", "install", "web-x1", "harness-charts/web", "--version", "1.0.0"]
    assert flag(argv, "--values") == str(tmp_path / "a.yaml")
    assert flag(argv, "--set") == "replicas=2"
    assert "--wait=watcher" in argv and "--wait-for-jobs" in argv and "--wait" not in argv
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
    assert env["HELM_PLUGINS"] == str(home / "data" / "plugins")
    assert env["HARNESS_POSTRENDER_PYTHON"] == sys.executable
    assert all(str(Path.home() / ".config") not in v for v in env.values())
    assert r.calls[-1]["timeout"] == 120 + helm_mod.PROCESS_MARGIN
    assert rel == Release("web-x1", "ns1", 1, "deployed", "web-1.1.0", "1.1.0", "Upgrade complete", "ssa")


# (major 4 argv, major 3 argv) for each wait strategy: Helm 4 always writes --wait=<strategy>.
WAITS = [
    (True, ["--wait=watcher"], ["--wait"]),
    ("watcher", ["--wait=watcher"], ["--wait"]),
    ("legacy", ["--wait=legacy"], ["--wait"]),
    (False, ["--wait=hookOnly"], []),
    ("hookOnly", ["--wait=hookOnly"], []),
]


def wait_part(argv: list[str]) -> list[str]:
    return [a for a in argv if a.startswith("--wait")]


@pytest.mark.parametrize("wait,v4,v3", WAITS)
@pytest.mark.parametrize("action", ["install", "upgrade", "rollback"])
def test_wait_strategy_argv_per_major(tmp_path, wait, v4, v3, action):
    for version, want in ((V4, v4), (V3, v3)):
        r = FakeRunner(stdout="{}", version=version)
        h = make(tmp_path, r)
        if action == "rollback":
            h.rollback("web-x1", 1, wait=wait)
        else:
            getattr(h, action)("web-x1", ChartRef("/c", "dir"), wait=wait)
        assert wait_part(r.argv) == want, (version, wait)
        helm_mod._VERSION_CACHE.clear()


def test_no_wait_means_hook_only(tmp_path):
    r = FakeRunner(stdout="{}", version=V3)
    make(tmp_path, r, default_timeout=42).upgrade("web-x1", ChartRef("/c", "dir"), wait=False, install=True,
                                                   namespace="other")
    assert wait_part(r.argv) == []
    assert flag(r.argv, "--timeout") == "42s"
    assert "--install" in r.argv
    assert flag(r.argv, "--namespace") == "other"


@pytest.mark.parametrize("wait", [False, "hookOnly"])
def test_wait_for_jobs_without_a_resource_wait_is_refused(tmp_path, wait):
    with pytest.raises(UsageError, match="wait_for_jobs=True needs a resource wait"):
        make(tmp_path, FakeRunner()).install("r", ChartRef("/c", "dir"), wait=wait, wait_for_jobs=True)


def test_unknown_wait_strategy_is_refused(tmp_path):
    with pytest.raises(UsageError, match=r"wait='kstatus' is not a helm wait strategy"):
        make(tmp_path, FakeRunner()).upgrade("r", ChartRef("/c", "dir"), wait="kstatus")


@pytest.mark.parametrize("version,atomic,force", [(V4, "--rollback-on-failure", "--force-replace"),
                                                  (V3, "--atomic", "--force")])
def test_atomic_and_force_are_renamed_on_helm4(tmp_path, version, atomic, force):
    r = FakeRunner(stdout="{}", version=version)
    h = make(tmp_path, r)
    h.install("web-x1", ChartRef("/c", "dir"), atomic=True, force_replace=True)
    assert atomic in r.argv and force in r.argv
    h.upgrade("web-x1", ChartRef("/c", "dir"), atomic=True, force_replace=True)
    assert atomic in r.argv and force in r.argv
    h.rollback("web-x1", force_replace=True)
    assert force in r.argv
    h.upgrade("web-x1", ChartRef("/c", "dir"))
    assert not {"--atomic", "--rollback-on-failure", "--force", "--force-replace"} & set(r.argv)


def test_server_side_is_helm4_only(tmp_path):
    r = FakeRunner(stdout="{}", version=V4)
    h = make(tmp_path, r)
    h.install("web-x1", ChartRef("/c", "dir"))
    assert not [a for a in r.argv if a.startswith("--server-side")]  # Helm 4's default: true
    h.install("web-x1", ChartRef("/c", "dir"), server_side=False)
    assert "--server-side=false" in r.argv
    h.upgrade("web-x1", ChartRef("/c", "dir"), server_side="auto")
    assert "--server-side=auto" in r.argv
    with pytest.raises(UsageError, match="server_side='auto' is not one of True, False$"):
        h.install("web-x1", ChartRef("/c", "dir"), server_side="auto")
    helm_mod._VERSION_CACHE.clear()
    with pytest.raises(UsageError, match=r"upgrade: server_side=True needs Helm 4; /bin/helm is helm v3.22.0"):
        make(tmp_path, FakeRunner(version=V3)).upgrade("web-x1", ChartRef("/c", "dir"), server_side=True)


@pytest.mark.parametrize("version,wait", [(V4, ["--wait=watcher"]), (V3, ["--wait"])])
def test_rollback_uninstall_test_argv(tmp_path, version, wait):
    r = FakeRunner(version=version)
    h = make(tmp_path, r)
    h.rollback("web-x1", 1, timeout=61.2)
    assert r.argv[1:4] == ["rollback", "web-x1", "1"] and wait_part(r.argv) == wait
    assert flag(r.argv, "--timeout") == "62s"
    h.rollback("web-x1")
    assert r.argv[1:3] == ["rollback", "web-x1"] and r.argv[3].startswith("--")
    h.uninstall("web-x1")
    assert r.argv[1:3] == ["uninstall", "web-x1"] and "--ignore-not-found" in r.argv and wait_part(r.argv) == wait
    h.uninstall("web-x1", wait=False)
    assert wait_part(r.argv) == (["--wait=hookOnly"] if version == V4 else [])
    h.test("web-x1", timeout=30)
    assert r.argv[1:3] == ["test", "web-x1"] and "--logs" in r.argv and flag(r.argv, "--timeout") == "30s"


@pytest.mark.parametrize("version", [V4, V3])
def test_unchanged_reads_and_offline_calls(tmp_path, version):
    """status/history/get/list/show/package/repo build the same argv on both majors."""
    r = FakeRunner(stdout="{}", version=version)
    h = make(tmp_path, r)
    h.status("web-x1", revision=2)
    assert r.argv[1:5] == ["status", "web-x1", "--output", "json"] and flag(r.argv, "--revision") == "2"
    r.stdout = "[]"
    h.history("web-x1")
    assert r.argv[1:5] == ["history", "web-x1", "--output", "json"]
    h.get_manifest("web-x1")
    assert r.argv[1:4] == ["get", "manifest", "web-x1"]
    h.list()
    # Helm 4 dropped --all: with no status filter it lists every status (pkg/action/list.go)
    want = ["list", "--output", "json", "--all"] if h.major == 3 else ["list", "--output", "json"]
    assert r.argv[1:1 + len(want)] == want and ("--all" in r.argv) == (h.major == 3)
    h.list(all=False)
    assert ("--deployed" in r.argv) == (h.major == 4) and "--all" not in r.argv
    r.stdout = "name: web\nversion: 1.0.0\n"
    h.show_chart(ChartRef("harness-charts/web", "repo", "1.0.0"))
    assert r.argv[1:6] == ["show", "chart", "harness-charts/web", "--version", "1.0.0"]
    assert "--kubeconfig" not in r.argv
    h.repo_add("harness-charts", "http://127.0.0.1:1")
    assert r.argv[1:6] == ["repo", "add", "harness-charts", "http://127.0.0.1:1", "--force-update"]
    h.repo_update()
    assert r.argv[1:3] == ["repo", "update"]


@pytest.mark.parametrize("version", [V4, V3])
def test_template_and_lint_render_for_the_clusters_kubernetes(tmp_path, version):
    from harness.core.pins import pinned

    r = FakeRunner(stdout="", version=version)
    h = make(tmp_path, r)
    h.template("rel", ChartRef("/c", "dir"))
    assert r.argv[1:4] == ["template", "rel", "/c"]
    assert flag(r.argv, "--kube-version") == pinned()["KUBERNETES_VERSION"]
    h.template("rel", ChartRef("/c", "dir"), kube_version="v1.35.4", extra=["--include-crds"])
    assert flag(r.argv, "--kube-version") == "v1.35.4" and r.argv.count("--kube-version") == 1
    assert "--include-crds" in r.argv
    helm_mod._VERSION_CACHE.clear()
    r = FakeRunner(stdout="", version=version)
    h = make(tmp_path, r, kube_version="v1.36.3")
    h.template("rel", ChartRef("/c", "dir"))
    assert flag(r.argv, "--kube-version") == "v1.36.3"
    h.lint(ChartRef("/c", "dir"))
    assert r.argv[1:3] == ["lint", "/c"] and flag(r.argv, "--kube-version") == "v1.36.3"


def test_post_renderer_helm3_passes_the_script_path(tmp_path):
    h = make(tmp_path, FakeRunner(version=V3))
    assert h.post_renderer("host:a=b", "never-ready") == [
        "--post-renderer", sys.executable, "--post-renderer-args", str(helm_plugins.POSTRENDER_SCRIPT),
        "--post-renderer-args", "host:a=b", "--post-renderer-args", "never-ready"]
    assert not h.plugins_dir.exists()


def test_post_renderer_helm4_names_the_plugin_installed_in_the_private_home(tmp_path):
    h = make(tmp_path, FakeRunner(version=V4))
    assert h.post_renderer("host:a=b", "never-ready") == [
        "--post-renderer", "harness-postrender", "--post-renderer-args", "host:a=b",
        "--post-renderer-args", "never-ready"]
    plugin = tmp_path / "home" / "data" / "plugins" / "harness-postrender"
    meta = yaml.safe_load((plugin / "plugin.yaml").read_text())
    assert (meta["apiVersion"], meta["type"], meta["name"], meta["runtime"]) == (
        "v1", "postrenderer/v1", "harness-postrender", "subprocess")
    assert (plugin / "postrender.py").read_bytes() == helm_plugins.POSTRENDER_SCRIPT.read_bytes()
    assert sorted(p.name for p in h.plugins_dir.iterdir()) == ["harness-postrender"]  # no staging left


def test_plugin_install_is_idempotent_and_replaces_a_stale_copy(tmp_path):
    plugins = tmp_path / "plugins"
    target = helm_plugins.install_postrender_plugin(plugins)
    ino = (target / "plugin.yaml").stat().st_ino
    assert helm_plugins.install_postrender_plugin(plugins) == target
    assert (target / "plugin.yaml").stat().st_ino == ino  # nothing rewritten
    (target / "postrender.py").write_text("print('old')\n")
    helm_plugins.install_postrender_plugin(plugins)
    assert (target / "postrender.py").read_bytes() == helm_plugins.POSTRENDER_SCRIPT.read_bytes()
    assert sorted(p.name for p in plugins.iterdir()) == ["harness-postrender"]


def test_unwritable_plugin_directory_is_one_line_exit_3(tmp_path, monkeypatch):
    # root ignores permission bits, so make the directory impossible to create (its parent is a file)...
    (tmp_path / "home").write_text("")
    with pytest.raises(EnvironmentNotReady) as err:
        helm_plugins.install_postrender_plugin(tmp_path / "home" / "plugins")
    msg = str(err.value)
    assert msg.startswith(f"helm plugin directory {tmp_path / 'home' / 'plugins'} is not writable (")
    assert "make the directory writable" in msg and "\n" not in msg and err.value.exit_code == 3

    # ...and refuse the write the way a read-only directory does.
    def denied(*a, **kw):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(helm_plugins.tempfile, "mkdtemp", denied)
    (tmp_path / "x").mkdir()
    h = make(tmp_path / "x", FakeRunner(version=V4))
    with pytest.raises(EnvironmentNotReady, match=r"is not writable \(Permission denied\)"):
        h.post_renderer("never-ready")
    # an already installed, identical plugin needs no write at all
    monkeypatch.undo()
    helm_plugins.install_postrender_plugin(h.plugins_dir)
    monkeypatch.setattr(helm_plugins.tempfile, "mkdtemp", denied)
    assert h.post_renderer("never-ready")[:2] == ["--post-renderer", "harness-postrender"]


def test_history_is_sorted_and_status_parsed(tmp_path):
    h = make(tmp_path, FakeRunner(stdout=json.dumps(HISTORY_JSON)))
    hist = h.history("web-x1")
    assert [e["revision"] for e in hist] == [1, 2, 3]
    assert hist[-1]["description"] == "Rollback to 1" and hist[-1]["status"] == "deployed"
    r = FakeRunner(stdout=json.dumps(STATUS_JSON))
    st = make(tmp_path, r).status("web-x1")
    assert r.argv[1:3] == ["status", "web-x1"] and flag(r.argv, "--output") == "json"
    rel = Release.from_json(st)
    assert (rel.revision, rel.status, rel.chart, rel.app_version, rel.apply_method) == (
        3, "deployed", "web-1.1.0", "1.1.0", "")


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


@pytest.mark.parametrize("version", ["v5.0.0+g1", "v2.17.0+ga690bad"])
def test_unsupported_helm_version_rejected_up_front(tmp_path, version):
    with pytest.raises(EnvironmentNotReady) as err:
        make(tmp_path, FakeRunner(version=version))
    found = version.split("+")[0]
    assert str(err.value) == (f"/bin/helm is helm {found}; the harness supports helm v4.x and v3.x "
                              "(pass --helm PATH / HARNESS_HELM, or run `make setup` for the pinned one)")
    assert err.value.exit_code == 3


def test_unchecked_helm_reads_its_major_on_first_need(tmp_path):
    r = FakeRunner(stdout="{}", version=V3)
    h = make(tmp_path, r, check_version=False)
    assert h.version == ""
    h.install("web-x1", ChartRef("/c", "dir"))
    assert h.version == "v3.22.0" and wait_part(r.argv) == ["--wait"]


def test_release_name_fits_helm_limit():
    name = release_name("a" * 60, "x1y2z3")
    assert len(name) == 53 and name.endswith("-x1y2z3")
    assert release_name("realtime", "abc123") == "realtime-abc123"


def test_chart_repo_without_index_is_a_usage_error(tmp_path):
    with pytest.raises(UsageError, match=r"has no index.yaml"):
        ChartRepo(tmp_path).start()
