"""The pytest plugin, driven through pytester in subprocesses (a fake harness.env.cluster stands in
for kind): options and exit codes, keep policy, kind log export, diagnostics links in JUnit XML,
timings."""
from __future__ import annotations

import json
import textwrap
import xml.etree.ElementTree as ET
from importlib.metadata import entry_points
from pathlib import Path

import pytest

from harness.core.pins import cache_dir

ROOT = Path(__file__).resolve().parents[2]
CACHE = cache_dir()  # taken before pytester points HOME at its tmp dir
INSTALLED = any(ep.value == "harness.plugin" for ep in entry_points(group="pytest11"))
PLUGIN = [] if INSTALLED else ["-p", "harness.plugin"]

FAKE_CLUSTER = textwrap.dedent("""\
    import json, os, sys, types
    from dataclasses import dataclass
    from pathlib import Path

    import harness.env
    from harness.core.errors import EnvironmentNotReady

    LOG = Path(__file__).parent / "cluster-calls.jsonl"

    def record(**kw):
        with LOG.open("a") as f:
            f.write(json.dumps(kw) + "\\n")

    @dataclass(frozen=True)
    class Cluster:
        name: str
        kubeconfig: Path
        context: str
        created: bool

    def ensure_cluster(cfg):
        if os.environ.get("FAKE_CLUSTER_ERROR"):
            raise EnvironmentNotReady(os.environ["FAKE_CLUSTER_ERROR"])
        record(call="ensure", name=cfg.cluster_name, keep=cfg.keep_cluster)
        kc = Path(__file__).parent / "kubeconfig"
        kc.write_text("apiVersion: v1\\n")
        return Cluster(cfg.cluster_name, kc, "kind-" + cfg.cluster_name, created=True)

    def delete_cluster(cluster):
        record(call="delete", name=cluster.name)

    def export_logs(cluster, dest):
        Path(dest).mkdir(parents=True, exist_ok=True)
        record(call="export", name=cluster.name, dest=str(dest))

    def load_images(cluster, images):
        record(call="load", images=list(images))

    fake = types.ModuleType("harness.env.cluster")
    fake.__dict__.update(Cluster=Cluster, ensure_cluster=ensure_cluster, delete_cluster=delete_cluster,
                         export_logs=export_logs, load_images=load_images)
    sys.modules["harness.env.cluster"] = fake
    harness.env.cluster = fake
    """)

FAKE_KUBE = textwrap.dedent("""\
    import pytest
    import harness.k8s.diagnostics, harness.k8s.namespaces

    @pytest.fixture(scope="session")
    def kube_api(cluster):
        return object()

    def create_namespace(api, prefix, *, run_id, test_id):
        name = harness.k8s.namespaces.namespace_name(prefix, "abc123")
        record(call="ns-create", name=name, run_id=run_id, test_id=test_id)
        return name

    def delete_namespace(api, name, *, wait=False, timeout=120.0):
        record(call="ns-delete", name=name)

    def collect_safely(api, namespace, dest, *, helm=None):
        dest.mkdir(parents=True, exist_ok=True)
        (dest / "summary.txt").write_text("evidence for " + namespace)
        record(call="diagnostics", namespace=namespace, dest=str(dest))
        return dest, None

    harness.k8s.namespaces.create_namespace = create_namespace
    harness.k8s.namespaces.delete_namespace = delete_namespace
    harness.k8s.diagnostics.collect_safely = collect_safely
    """)

TESTS = textwrap.dedent("""\
    def test_pass(cluster, namespace):
        assert namespace == "test-pass-abc123"

    def test_fail(cluster, namespace):
        assert False, "scenario broke"
    """)


@pytest.fixture
def run(pytester, monkeypatch):
    """Run pytest in a subprocess in the pytester dir with the plugin loaded; returns (result, calls)."""
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    for name in list(__import__("os").environ):
        if name.startswith("HARNESS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("HARNESS_CACHE", str(CACHE))

    def _run(*args: str):
        result = pytester.runpytest_subprocess(*PLUGIN, "-p", "no:cacheprovider", *args)
        log = pytester.path / "cluster-calls.jsonl"
        calls = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
        return result, calls

    return _run


def one_line(text: str, needle: str) -> str:
    hits = [ln for ln in text.splitlines() if needle in ln]
    assert len(hits) == 1, text
    return hits[0]


def test_plugin_registers_options_and_marker(pytester, run):
    result, _ = run("--help")
    out = result.stdout.str()
    assert result.ret == 0
    for flag in ("--keep-cluster=VALUE", "--chart=CHART", "--harness-config=PATH", "--kubeconfig=PATH"):
        assert flag in out, flag
    assert "[env HARNESS_KEEP_CLUSTER]" in out
    result, _ = run("--markers")
    assert "@pytest.mark.cluster:" in result.stdout.str()


def test_bad_option_value_is_one_line_and_usage_exit(pytester, run):
    pytester.makepyfile("def test_x(): pass")
    result, calls = run("--keep-cluster=sometimes")
    assert result.ret == pytest.ExitCode.USAGE_ERROR == 4
    line = one_line(result.stderr.str(), "harness:")
    assert line == "ERROR: harness: keep-cluster (option): 'sometimes' is not one of never, on-failure, always"
    assert "Traceback" not in result.stderr.str() + result.stdout.str()
    assert calls == []


def test_bad_env_and_missing_chart_path(pytester, run, monkeypatch):
    pytester.makepyfile("def test_x(): pass")
    monkeypatch.setenv("HARNESS_WAIT_TIMEOUT", "-5")
    result, _ = run()
    assert result.ret == 4
    assert one_line(result.stderr.str(), "harness:") == (
        "ERROR: harness: wait-timeout (env HARNESS_WAIT_TIMEOUT): '-5' must be more than 0 seconds")
    monkeypatch.delenv("HARNESS_WAIT_TIMEOUT")
    result, _ = run("--chart", "./charts/nope")
    assert result.ret == 4
    assert "ERROR: harness: chart (option): chart path ./charts/nope does not exist" in result.stderr.str()


def test_session_setup_error_is_one_line_with_its_exit_code(pytester, run, monkeypatch):
    pytester.makeconftest(FAKE_CLUSTER)
    pytester.makepyfile("def test_x(cluster): pass\ndef test_y(cluster): pass")
    monkeypatch.setenv("FAKE_CLUSTER_ERROR", "docker is not answering; start Docker")
    result, _ = run()
    assert result.ret == 3
    out = result.stdout.str() + result.stderr.str()
    one_line(out, "harness: cluster: docker is not answering; start Docker")
    assert "Traceback" not in out and "def test_x" not in out


def test_failure_keeps_cluster_and_namespace_exports_logs_links_diagnostics(pytester, run):
    pytester.makeconftest(FAKE_CLUSTER + FAKE_KUBE)
    pytester.makepyfile(test_scn=TESTS)
    result, calls = run("--cluster-name=fake")
    assert result.ret == 1
    result.assert_outcomes(passed=1, failed=1)
    kinds = [c["call"] for c in calls]
    assert kinds.count("ensure") == 1
    assert "delete" not in kinds  # on-failure keeps it
    assert {"call": "ns-delete", "name": "test-pass-abc123"} in calls
    assert {"call": "ns-delete", "name": "test-fail-abc123"} not in calls
    export = next(c for c in calls if c["call"] == "export")
    assert export["dest"] == str(pytester.path / "artifacts" / "kind-logs")
    diag = [c for c in calls if c["call"] == "diagnostics"]
    assert [d["namespace"] for d in diag] == ["test-fail-abc123"]  # only the failed test
    assert diag[0]["dest"] == str(pytester.path / "artifacts" / "test_scn.py__test_fail")
    created = [c for c in calls if c["call"] == "ns-create"]
    assert created[0]["test_id"] == "test_scn.py::test_pass" and created[0]["run_id"]

    out = result.stdout.str()
    assert f"test_scn.py::test_fail: {pytester.path / 'artifacts' / 'test_scn.py__test_fail'}" in out
    assert "kind delete cluster --name fake" in out and "context:    kind-fake" in out
    assert "namespace test-fail-abc123 (test_scn.py::test_fail)" in out
    assert "harness timings" in out and "cluster fake ready" in out

    junit = ET.parse(pytester.path / "artifacts" / "junit.xml")
    cases = {tc.get("name"): tc for tc in junit.iter("testcase")}
    props = {p.get("name"): p.get("value") for p in cases["test_fail"].iter("property")}
    assert props == {"harness_artifacts": str(pytester.path / "artifacts" / "test_scn.py__test_fail")}
    assert not list(cases["test_pass"].iter("property"))
    timings = json.loads((pytester.path / "artifacts" / "timings.json").read_text())
    assert [p["name"] for p in timings["phases"]][0] == "cluster fake ready"


def test_pass_deletes_cluster_without_exporting_logs(pytester, run):
    pytester.makeconftest(FAKE_CLUSTER + FAKE_KUBE)
    pytester.makepyfile(test_scn="def test_pass(cluster, namespace): pass")
    result, calls = run("--cluster-name=fake")
    assert result.ret == 0
    assert [c["call"] for c in calls] == ["ensure", "ns-create", "ns-delete", "delete"]
    assert "kind delete cluster" not in result.stdout.str()


def test_keep_never_deletes_after_failure_but_exports_logs_first(pytester, run):
    pytester.makeconftest(FAKE_CLUSTER + FAKE_KUBE)
    pytester.makepyfile(test_scn=TESTS)
    result, calls = run("--cluster-name=fake", "--keep-cluster=never")
    kinds = [c["call"] for c in calls]
    assert kinds.index("diagnostics") < kinds.index("ns-delete", kinds.index("diagnostics"))
    assert kinds[-2:] == ["export", "delete"]
    assert {"call": "ns-delete", "name": "test-fail-abc123"} in calls


def test_junitxml_option_wins_over_default(pytester, run):
    pytester.makepyfile("def test_x(): pass")
    result, _ = run("--junitxml=mine.xml")
    assert result.ret == 0
    assert (pytester.path / "mine.xml").is_file()
    assert not (pytester.path / "artifacts" / "junit.xml").exists()
    result, _ = run("--artifacts-dir=out")
    assert (pytester.path / "out" / "junit.xml").is_file()


def test_config_file_in_rootdir_is_read(pytester, run):
    pytester.makefile(".yaml", harness="keep-cluster: always\n")
    pytester.makeconftest(FAKE_CLUSTER)
    pytester.makepyfile("def test_x(harness_config, cluster):\n    assert harness_config.keep_cluster == 'always'\n")
    result, calls = run("--cluster-name=fake")
    assert result.ret == 0
    assert calls[0]["keep"] == "always"
    assert "delete" not in [c["call"] for c in calls]
    assert "kind delete cluster --name fake" in result.stdout.str()


def test_background_progress_lines_reach_the_terminal_through_capture(pytester, run):
    pytester.makepyfile(textwrap.dedent("""\
        import time
        from harness.core import progress

        def test_slow():
            with progress.tracking("slow thing", every=0.1, announce=False) as t:
                deadline = time.monotonic() + 10
                while t.last_line == t.started and time.monotonic() < deadline:
                    time.sleep(0.01)  # polls for the ticker's line, bounded
            print("captured-output")
        """))
    result, _ = run()
    assert result.ret == 0
    assert "[harness] still waiting for slow thing (0.1 s)" in result.stderr.str() or \
        "[harness] still waiting for slow thing (0.2 s)" in result.stderr.str()
    assert "captured-output" not in result.stdout.str() + result.stderr.str()


def _chart(root: Path, name: str, *, broken: bool = False) -> Path:
    chart = root / "charts-under-test" / name
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text(f"apiVersion: v2\nname: {name}\nversion: 0.1.0\n")
    (chart / "templates" / "cm.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndata:\n  a: {{ .Values.a"
        + (" }\n" if broken else " | quote }}\n"))
    (chart / "harness-contract.yaml").write_text("release: web\ningress: {host: web.test}\nscenarios: [drain]\n")
    return chart


def test_chart_failing_lint_stops_the_run_with_one_line(helm_bin, pytester, run):
    _chart(pytester.path, "good")
    _chart(pytester.path, "bad", broken=True)
    pytester.makepyfile("def test_x(charts_under_test): pass")
    result, _ = run()
    assert result.ret == 2
    out = result.stdout.str() + result.stderr.str()
    line = one_line(out, "harness: charts under test:")
    assert "charts-under-test/bad: helm lint failed (exit 1): [ERROR] templates/" in line
    assert "Traceback" not in out


def test_unknown_chart_version_stops_the_run_with_one_line(helm_bin, make_chart, pytester, run):
    from harness.tools.helm import Helm

    repo = pytester.path / "charts-under-test" / "repo"
    h = Helm(None, home=pytester.path / "h", binary=helm_bin)
    h.package(make_chart(pytester.path / "src", name="web", version="1.0.0"), repo)
    h.repo_index(repo)
    pytester.makepyfile("def test_x(charts_under_test):\n"
                        "    assert [c.ref.version for c in charts_under_test] == ['1.0.0']\n")
    result, _ = run("--chart", "harness-charts/web", "--chart-version", "1.0.0")
    assert result.ret == 0, result.stdout.str()
    result, _ = run("--chart", "harness-charts/web", "--chart-version", "9.9.9")
    assert result.ret == 2
    line = one_line(result.stdout.str() + result.stderr.str(), "harness: charts under test:")
    assert "harness-charts/web@9.9.9: helm show chart failed (exit 1): Error:" in line and "9.9.9" in line


def test_missing_helm_binary_is_environment_exit(pytester, run):
    pytester.makeconftest(textwrap.dedent("""\
        import harness.tools.binaries
        from harness.core.errors import EnvironmentNotReady

        def tool_path(name):
            raise EnvironmentNotReady(f"{name} not found; run `make setup` to install the pinned tools")

        harness.tools.binaries.tool_path = tool_path
        """))
    pytester.makepyfile("def test_x(helm_offline): pass")
    result, _ = run()
    assert result.ret == 3
    one_line(result.stdout.str() + result.stderr.str(),
             "harness: helm: helm not found; run `make setup` to install the pinned tools")


def test_unreachable_kubeconfig_is_environment_exit(pytester, run):
    pytester.makeconftest(FAKE_CLUSTER.replace(
        'kc.write_text("apiVersion: v1\\n")',
        'kc.write_text(KUBECONFIG)') + textwrap.dedent("""\
        KUBECONFIG = '''
        apiVersion: v1
        kind: Config
        clusters: [{name: c, cluster: {server: "http://127.0.0.1:9"}}]
        users: [{name: u, user: {token: t}}]
        contexts: [{name: kind-fake, context: {cluster: c, user: u}}]
        current-context: kind-fake
        '''
        """))
    pytester.makepyfile("def test_x(kube_api): pass")
    result, _ = run("--cluster-name=fake")
    assert result.ret == 3, result.stdout.str()
    line = one_line(result.stdout.str() + result.stderr.str(), "harness: kube_api:")
    assert "the cluster at http://127.0.0.1:9 (kubeconfig " in line and "is not reachable" in line


def test_contract_released_chart_is_served_and_its_version_checked(helm_bin, make_chart, pytester, run):
    from harness.tools.helm import Helm

    repo = pytester.path / "charts-under-test" / "repo"
    h = Helm(None, home=pytester.path / "h", binary=helm_bin)
    h.package(make_chart(pytester.path / "src", name="web", version="1.0.0"), repo)
    h.repo_index(repo)
    chart = make_chart(pytester.path / "charts-under-test", name="web", version="1.1.0")
    contract = chart / "harness-contract.yaml"
    contract.write_text("release: web\nreleased: {chart: harness-charts/web, version: 1.0.0, repository: ../repo}\n"
                        "ingress: {host: web.test}\nscenarios: [upgrade]\n")
    pytester.makepyfile(textwrap.dedent("""\
        def test_x(charts_under_test, helm_offline):
            [c] = charts_under_test
            assert c.contract.released.ref.argv() == ["harness-charts/web", "--version", "1.0.0"]
            assert helm_offline.show_chart(c.contract.released.ref)["version"] == "1.0.0"
        """))
    result, _ = run()
    assert result.ret == 0, result.stdout.str()
    contract.write_text(contract.read_text().replace("version: 1.0.0", "version: 0.9.0"))
    result, _ = run()
    assert result.ret == 2
    line = one_line(result.stdout.str() + result.stderr.str(), "harness: charts under test:")
    assert "helm show chart failed (exit 1): Error:" in line and "0.9.0" in line


def test_addons_fixture_installs_configured_addons_and_tears_down(pytester, run):
    pytester.makeconftest(FAKE_CLUSTER + textwrap.dedent("""\
        import harness.env.addons
        fake_addons = types.ModuleType("harness.env.addons.catalog")

        class AddonContext:
            @classmethod
            def from_config(cls, cfg, cluster, **overrides):
                record(call="addon-ctx", cluster=cluster.name, run_id=bool(overrides.get("run_id")))
                return cls()

        def install_addons(requested, ctx):
            record(call="addons-install", requested=list(requested))
            return {}

        def teardown_addons(ctx, keep=False):
            record(call="addons-teardown", keep=keep)

        fake_addons.__dict__.update(AddonContext=AddonContext, install_addons=install_addons,
                                    teardown_addons=teardown_addons)
        sys.modules["harness.env.addons.catalog"] = fake_addons
        harness.env.addons.catalog = fake_addons
        """))
    pytester.makepyfile("def test_a(addons): pass\ndef test_b(addons): pass")
    result, calls = run("--cluster-name=fake", "--addons=traefik,postgres")
    assert result.ret == 0
    assert [c["call"] for c in calls] == ["ensure", "addon-ctx", "addons-install", "addons-teardown", "delete"]
    assert calls[1] == {"call": "addon-ctx", "cluster": "fake", "run_id": True}
    assert calls[2]["requested"] == ["traefik", "postgres"] and calls[3]["keep"] is False
