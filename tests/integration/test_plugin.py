"""The pytest plugin, driven through pytester in subprocesses (a fake harness.env.cluster stands in
for kind): options and exit codes, keep policy, kind log export, diagnostics links in JUnit XML,
timings."""
from __future__ import annotations

import json
import shutil
import textwrap
import xml.etree.ElementTree as ET
from importlib.metadata import entry_points
from pathlib import Path

import pytest

from harness.core import runs
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

    def ensure_cluster(cfg, owner=None):
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
    fake.__dict__.update(effective_image_source=lambda *a: "local")
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

    def collect_safely(api, namespace, dest, *, helm=None, **kwargs):
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

    runs_dir = CACHE / "runs"
    before = set(runs_dir.iterdir()) if runs_dir.is_dir() else set()

    def _run(*args: str):
        result = pytester.runpytest_subprocess(*PLUGIN, "-p", "no:cacheprovider", *args)
        # a run that kept something (a failed test's namespace) leaves its owner record in the
        # shared cache (harness/core/runs.py); these fake runs are over, so theirs go
        for d in (set(runs_dir.iterdir()) if runs_dir.is_dir() else set()) - before:
            owner = runs.read_owner(d / runs.OWNER_FILE)
            if owner is not None and not runs.pid_alive(owner.pid):
                shutil.rmtree(d, ignore_errors=True)
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
    for flag in ("--harness-keep-cluster=VALUE", "--harness-chart=CHART, --chart=CHART", "--harness-config=PATH",
                 "--harness-kubeconfig=PATH", "--harness-cluster-name=NAME"):
        assert flag in out, flag
    for clash in ("--keep-cluster", "--kubeconfig", "--cluster-name"):  # pytest-kind's: no alias
        assert f"{clash}=" not in out and f", {clash}" not in out, clash
    assert "[env HARNESS_KEEP_CLUSTER]" in out
    result, _ = run("--markers")
    assert "@pytest.mark.cluster:" in result.stdout.str()


HARNESS_TEST = "import pytest\n\n@pytest.mark.harness\ndef test_x():\n    pass\n"


def test_bad_option_value_is_one_line_and_usage_exit(pytester, run):
    pytester.makepyfile(HARNESS_TEST)
    result, calls = run("--harness-keep-cluster=sometimes")
    assert result.ret == pytest.ExitCode.USAGE_ERROR == 4
    line = one_line(result.stderr.str(), "harness:")
    assert line == "ERROR: harness: keep-cluster (option): 'sometimes' is not one of never, on-failure, always"
    assert "Traceback" not in result.stderr.str() + result.stdout.str()
    assert calls == []


def test_bad_env_and_missing_chart_path(pytester, run, monkeypatch):
    pytester.makepyfile(HARNESS_TEST)
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
    result, calls = run("--harness-cluster-name=fake")
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
    result, calls = run("--harness-cluster-name=fake")
    assert result.ret == 0
    assert [c["call"] for c in calls] == ["ensure", "ns-create", "ns-delete", "delete"]
    assert "kind delete cluster" not in result.stdout.str()


def test_keep_never_deletes_after_failure_but_exports_logs_first(pytester, run):
    pytester.makeconftest(FAKE_CLUSTER + FAKE_KUBE)
    pytester.makepyfile(test_scn=TESTS)
    result, calls = run("--harness-cluster-name=fake", "--harness-keep-cluster=never")
    kinds = [c["call"] for c in calls]
    assert kinds.index("diagnostics") < kinds.index("ns-delete", kinds.index("diagnostics"))
    assert kinds[-2:] == ["export", "delete"]
    assert {"call": "ns-delete", "name": "test-fail-abc123"} in calls


def test_junitxml_option_wins_over_default(pytester, run):
    pytester.makepyfile(HARNESS_TEST)
    result, _ = run("--junitxml=mine.xml")
    assert result.ret == 0
    assert (pytester.path / "mine.xml").is_file()
    assert not (pytester.path / "artifacts" / "junit.xml").exists()
    result, _ = run("--harness-artifacts-dir=out")
    assert (pytester.path / "out" / "junit.xml").is_file()
    result, _ = run("--artifacts-dir=out2")  # the alias (pytest-kind has no such option)
    assert (pytester.path / "out2" / "junit.xml").is_file()


def test_config_file_in_rootdir_is_read(pytester, run):
    pytester.makefile(".yaml", harness="keep-cluster: always\n")
    pytester.makeconftest(FAKE_CLUSTER)
    pytester.makepyfile("def test_x(harness_config, cluster):\n    assert harness_config.keep_cluster == 'always'\n")
    result, calls = run("--harness-cluster-name=fake")
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
    result, _ = run("--harness-cluster-name=fake")
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
        import harness.env.addons.catalog as fake_addons  # the real module; its functions replaced below

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
        """))
    pytester.makepyfile("def test_a(addons): pass\ndef test_b(addons): pass")
    result, calls = run("--harness-cluster-name=fake", "--addons=traefik,postgres")
    assert result.ret == 0
    assert [c["call"] for c in calls] == ["ensure", "addon-ctx", "addons-install", "addons-teardown", "delete"]
    assert calls[1] == {"call": "addon-ctx", "cluster": "fake", "run_id": True}
    assert calls[2]["requested"] == ["traefik", "postgres"] and calls[3]["keep"] is False


# --------------------------------------------------------------------------- scenario records


SCENARIO_TESTS = textwrap.dedent("""\
    import pytest
    from pathlib import Path
    from harness.core.contract import Broken, ChartUnderTest
    from harness.core.values import ChartRef
    from harness.plugin.results import record_result
    from harness.scenario.result import Cell, ScenarioResult, StepRecord, figures_from
    from harness.scenario.targets import Target

    SCENARIO = "upgrade"
    CHART = ChartUnderTest(ChartRef("charts/demo", "dir"), None)
    OK, TLS, BROKE, TORN = (Target(CHART, "default"), Target(CHART, "tls"), Target(CHART, "slow"),
                            Target(CHART, "torn"))
    BAD = Target(CHART, "default", broken=Broken("bad", Path("bad.yaml"), "upgrade", "breaks upgrades"))

    def result(target, outcome, reason, **figures):
        return ScenarioResult("upgrade", "demo", target.variant, target.broken.name if target.broken else None,
                              outcome, reason, cell=Cell("v1.33.1", "v3.18.6", "traefik-nginx"),
                              figures=figures_from(figures), steps=(StepRecord("helm upgrade", 1.0, 2.5),),
                              seconds=3.0)

    @pytest.fixture
    def torn():
        yield
        raise RuntimeError("cleanup broke")

    @pytest.mark.parametrize("target", [OK, TLS, BROKE], ids=lambda t: t.id)
    def test_upgrade(request, target, cluster, namespace):
        if target is TLS:
            pytest.skip("demo-tls: no cert-manager")
        if target is BROKE:
            raise RuntimeError("helm install failed")
        record_result(request.node, result(target, "PASS", "PASS: 100 requests", requests=100,
                                           failed_requests=0, probe_p99_ms=48.2))

    @pytest.mark.parametrize("target", [TORN], ids=lambda t: t.id)
    def test_upgrade_torn(request, target, torn):
        record_result(request.node, result(target, "PASS", "PASS: fine until teardown"))

    @pytest.mark.parametrize("broken_target", [BAD], ids=lambda t: t.id)
    def test_upgrade_catches_broken(request, broken_target, cluster, namespace):
        record_result(request.node, result(broken_target, "PASS", "PASS: 0 of 100 requests failed", requests=100))
        assert False, "negative control bad PASSED upgrade"
    """)


def test_records_drive_junit_scenarios_json_and_the_summary(pytester, run):
    from harness.scenario.result import gate_status, read_results

    pytester.makeconftest(FAKE_CLUSTER + FAKE_KUBE)
    pytester.makepyfile(test_records=SCENARIO_TESTS)
    result, _ = run("--harness-cluster-name=fake")
    assert result.ret == 1
    result.assert_outcomes(passed=2, failed=2, skipped=1, errors=1)
    art = pytester.path / "artifacts"
    # scenarios.json: one record per scenario test, written once at the end, in the order they ran
    records = {r.test_id.split("::")[1]: r for r in read_results(art / "scenarios.json")}
    assert list(records) == ["test_upgrade[demo-default]", "test_upgrade[demo-tls]", "test_upgrade[demo-slow]",
                             "test_upgrade_torn[demo-torn]", "test_upgrade_catches_broken[demo-broken-bad]"]
    ok = records["test_upgrade[demo-default]"]
    assert (ok.outcome, ok.cell.edge, ok.figures["probe_p99_ms"].unit) == ("PASS", "traefik-nginx", "ms")
    skip = records["test_upgrade[demo-tls]"]
    assert (skip.outcome, skip.reason, skip.variant) == ("SKIP", "demo-tls: no cert-manager", "tls")
    err = records["test_upgrade[demo-slow]"]
    assert (err.outcome, err.reason, err.chart) == ("ERROR", "RuntimeError: helm install failed", "demo")
    assert err.artifacts == ("test_records.py__test_upgrade-demo-slow",)  # its diagnostics directory
    torn = records["test_upgrade_torn[demo-torn]"]
    assert (torn.outcome, torn.reason) == ("ERROR", "teardown: RuntimeError: cleanup broke")
    ctl = records["test_upgrade_catches_broken[demo-broken-bad]"]
    assert (ctl.control, ctl.outcome, ctl.expected_reason) == ("bad", "PASS", r"requests failed")
    assert gate_status(ctl) == "FAIL"  # the control was not caught
    assert ctl.artifacts == ("test_records.py__test_upgrade_catches_broken-demo-broken-bad",)
    # JUnit properties rendered from the records, under the names the harness always used
    junit = ET.parse(art / "junit.xml")
    props = {tc.get("name"): [(p.get("name"), p.get("value")) for p in tc.iter("property")]
             for tc in junit.iter("testcase")}
    assert props["test_upgrade[demo-default]"] == [
        ("requests", "100"), ("failed_requests", "0"), ("probe_p99_ms", "48.2"), ("verdict", "PASS"),
        ("reason", "PASS: 100 requests"), ("scenario_seconds", "3.0")]
    assert ("reason", "demo-tls: no cert-manager") in props["test_upgrade[demo-tls]"]
    assert ("verdict", "PASS") not in props["test_upgrade[demo-slow]"]
    assert ("reason", "RuntimeError: helm install failed") in props["test_upgrade[demo-slow]"]
    # the terminal summary: one table from the same records
    out = result.stdout.str()
    assert "harness scenarios" in out and f"(also in {art / 'scenarios.json'})" in out
    table = out[out.index("harness scenarios"):].splitlines()
    assert any(ln.split()[:4] == ["upgrade", "demo-default", "positive", "PASS"] for ln in table)
    assert any(ln.split()[:4] == ["upgrade", "demo-broken-bad", "broken:bad", "PASS"] for ln in table)
    assert any(ln.split()[:4] == ["upgrade", "demo-slow", "positive", "ERROR"] for ln in table)


def test_no_scenario_tests_no_records(pytester, run):
    pytester.makepyfile("def test_x(): pass")
    result, _ = run()
    assert result.ret == 0
    assert not (pytester.path / "artifacts" / "scenarios.json").exists()
    assert "harness scenarios" not in result.stdout.str()


def test_junit_properties_of_a_record():
    from harness.plugin.results import junit_properties
    from harness.scenario.result import ScenarioResult, figures_from

    r = ScenarioResult("drain", "c", "default", None, "FAIL", "drain blocked", seconds=12.345,
                       figures=figures_from({"drain_seconds": 9.5, "drain_outcome": "blocked"}))
    assert junit_properties(r) == [("drain_seconds", 9.5), ("drain_outcome", "blocked"), ("verdict", "FAIL"),
                                   ("reason", "drain blocked"), ("scenario_seconds", 12.3)]
    skipped = ScenarioResult("drain", "c", "default", None, "SKIP", "")
    assert junit_properties(skipped) == [("scenario_seconds", 0.0)]


def _report(when: str, outcome: str, longrepr=None):
    from types import SimpleNamespace

    return SimpleNamespace(when=when, skipped=outcome == "skipped", failed=outcome == "failed",
                           longrepr=longrepr, longreprtext=longrepr if isinstance(longrepr, str) else "")


def test_fallback_records_name_their_target_and_why():
    from harness.core.contract import Broken, ChartUnderTest
    from harness.core.values import ChartRef
    from harness.plugin.results import fallback_result, outcome_of
    from harness.scenario.result import Cell
    from harness.scenario.targets import Target

    chart = ChartUnderTest(ChartRef("charts/demo", "dir"), None)
    ctl = Target(chart, "default", broken=Broken("pdb", Path("pdb.yaml"), "drain", "blocks drains"))
    setup_err = _report("setup", "failed", "def f():\nE   HarnessError: helm install failed\nmore")
    r = fallback_result("drain", ctl, reports=[setup_err, None], test_id="t", seconds=4.26, cell=Cell(edge="e"))
    assert (r.chart, r.variant, r.control, r.outcome) == ("demo", "default", "pdb", "ERROR")
    assert r.reason == "setup: HarnessError: helm install failed" and r.seconds == 4.3 and r.cell.edge == "e"
    assert r.expected_reason and r.target == "demo-broken-pdb"
    skip = _report("setup", "skipped", ("f.py", 3, "Skipped: no cert-manager"))
    assert outcome_of([skip]) == ("SKIP", "no cert-manager")
    call_err = _report("call", "failed", "E   AssertionError: boom")
    assert outcome_of([_report("setup", "passed"), call_err]) == ("ERROR", "AssertionError: boom")
    assert outcome_of([_report("setup", "passed"), _report("call", "passed")]) == \
        ("ERROR", "the scenario did not reach a verdict")
    keyed = fallback_result("db_outage", Target(chart, "tls"), key="stop", reports=[skip])
    assert (keyed.key, keyed.target, keyed.control, keyed.expected_reason) == ("stop", "demo-tls", None, None)


def test_completing_a_contexts_record(tmp_path):
    import os
    import time

    from harness.plugin.results import artifact_paths, complete_result
    from harness.scenario.result import Cell, ScenarioResult

    d = tmp_path / "art" / "t1"
    d.mkdir(parents=True)
    for name in ("probe.png", "probe.csv", "verdict.json", "old.png"):
        (d / name).write_text("x")
    old = time.time() - 3600
    os.utime(d / "old.png", (old, old))
    files = artifact_paths(d, tmp_path / "art", since=time.time() - 60)
    assert files == ["t1/probe.csv", "t1/probe.png", "t1/verdict.json"]  # a previous run's file left out
    assert artifact_paths(tmp_path / "nowhere", tmp_path) == []
    r = ScenarioResult("upgrade", "c", "default", None, "PASS", "ok", artifacts=("t1/probe.png", "elsewhere.log"))
    done = complete_result(r, test_id="scenarios/x.py::t[c-default]", seconds=41.26, cell=Cell("v1", "v3", "e"),
                           artifacts=files)
    assert (done.test_id, done.seconds, done.cell) == ("scenarios/x.py::t[c-default]", 41.3, Cell("v1", "v3", "e"))
    assert done.artifacts == ("t1/probe.png", "elsewhere.log", "t1/probe.csv", "t1/verdict.json")
    own = ScenarioResult("upgrade", "c", "default", None, "PASS", "ok", cell=Cell("v2", "v3", "x"))
    assert complete_result(own, test_id="t", seconds=1, cell=Cell("v1", "v3", "e")).cell == Cell("v2", "v3", "x")


def test_matrix_cell(monkeypatch):
    from types import SimpleNamespace

    import harness.tools.helm as helm_mod
    from harness.plugin.cell import edge_for, matrix_cell
    from harness.scenario.result import Cell

    assert edge_for(["traefik", "postgres"]) == "traefik-nginx"
    assert edge_for(["ingress-nginx", "cert-manager"]) == "ingress-nginx"
    assert edge_for(["postgres"]) == ""
    monkeypatch.setitem(helm_mod._VERSION_CACHE, "/fake/helm", "v3.18.6")  # no helm process in a unit test
    cfg = SimpleNamespace(kubernetes_version="v1.33.1", addons=("traefik", "postgres"))
    assert matrix_cell(cfg, "/fake/helm") == Cell("v1.33.1", "v3.18.6", "traefik-nginx")
