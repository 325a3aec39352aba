"""The release gate (harness/gate/) without a cluster: option errors, the plan, exit-code mapping,
Docker unreachable, and whole gate runs over fake scenario modules (the real pytest subprocess, the
gate plugin, the report) with the preflight stubbed."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from support import make_chart_tgz

from harness.__main__ import build_parser
from harness.core.errors import UsageError
from harness.core.fmt import duration
from harness.gate.exitcode import exit_code
from harness.gate.plan import make_plan
from harness.gate.preflight import check_released_version
from harness.gate.run import build_pytest_argv

ROOT = Path(__file__).resolve().parents[2]
REALTIME = ROOT / "charts-under-test" / "realtime"


@pytest.fixture(autouse=True)
def _no_harness_env(monkeypatch):
    for name in list(os.environ):
        if name.startswith("HARNESS_"):
            monkeypatch.delenv(name)


HA = ROOT / "charts-under-test" / "ha-service"


def parse(*args: str):
    return build_parser().parse_args(["gate", *args])


def test_plan_selects_the_contracts_scenarios_and_forwards_options(tmp_path):
    plan = make_plan(parse("--chart", str(REALTIME), "--from-version", "1.0.0", "--reuse-cluster",
                                "--set", "a=1", "--artifacts-dir", str(tmp_path / "art"), "--", "-x"))
    assert plan.scenarios == ("upgrade", "drain", "sse") and not plan.controls and plan.broken is None
    # pytest's namespaced names (pytest-kind has --cluster-name, --keep-cluster, --kubeconfig)
    assert plan.forwarded == ["--harness-reuse-cluster", f"--harness-chart={REALTIME}", "--harness-from-version=1.0.0",
                              "--harness-set=a=1", f"--harness-artifacts-dir={tmp_path / 'art'}"]
    assert plan.pytest_args == ["-x"] and plan.junit == tmp_path / "art" / "junit.xml"
    assert plan.report_dir == ROOT / "report"
    argv = build_pytest_argv(plan, status=tmp_path / "s.json", started=1.0)
    assert argv[:3] == [sys.executable, "-m", "pytest"]
    assert argv[3:6] == [str(ROOT / "scenarios" / s) for s in ("upgrade", "drain", "sse")]
    assert "-p" in argv and "harness.gate.plugin" in argv and "--gate-scenarios=upgrade,drain,sse" in argv
    assert "--gate-controls" not in argv and argv[-1] == "-x"


def test_the_gates_workers_option_runs_its_tests_on_xdist_workers():
    plan = make_plan(parse("--chart", str(REALTIME), "--workers", "3"))
    assert plan.pytest_args == ["-n", "auto"] and "--harness-workers=3" in plan.forwarded
    # pytest arguments that choose the count themselves win; without --workers nothing is added
    assert make_plan(parse("--chart", str(REALTIME), "--workers", "2", "--", "-n2")).pytest_args == ["-n2"]
    assert make_plan(parse("--chart", str(REALTIME), "--", "-x")).pytest_args == ["-x"]


def test_plan_scenario_selection_and_controls():
    plan = make_plan(parse("--chart", str(HA), "--scenarios", "upgrade", "--scenarios", "drain,rollback",
                                "--controls"))
    assert plan.scenarios == ("upgrade", "rollback", "drain") and plan.controls
    with pytest.raises(UsageError, match=r"--scenarios: sse is not enabled by the contract of ha-service "
                                         r"\(enabled: upgrade, rollback, drain, db_outage\)"):
        make_plan(parse("--chart", str(HA), "--scenarios", "sse"))
    with pytest.raises(UsageError, match=r"'upgrades' is not one of"):
        make_plan(parse("--chart", str(HA), "--scenarios", "upgrades"))


def test_broken_entry_becomes_a_values_overlay_on_its_scenario():
    plan = make_plan(parse("--chart", str(HA), "--broken", "max-unavailable-all", "--controls"))
    overlay = (ROOT / "charts-under-test" / "broken" / "max-unavailable-all.yaml").resolve()
    assert plan.scenarios == ("upgrade",) and not plan.controls  # controls make no sense on a broken chart
    assert plan.charts[0].values == (overlay,)
    assert f"--harness-values={overlay}" in plan.forwarded
    with pytest.raises(UsageError, match=r"no broken entry 'nope' \(known: liveness-checks-db, max-unavailable-all"):
        make_plan(parse("--chart", str(HA), "--broken", "nope"))
    with pytest.raises(UsageError, match=r"--broken max-unavailable-all must fail upgrade, which --scenarios \(drain\)"):
        make_plan(parse("--chart", str(HA), "--broken", "max-unavailable-all", "--scenarios", "drain"))


def test_from_version_replaces_the_released_version_and_is_checked_in_the_index():
    plan = make_plan(parse("--chart", str(REALTIME), "--from-version", "0.9.0"))
    assert plan.charts[0].contract.released.version == "0.9.0"
    with pytest.raises(UsageError, match=r"released chart harness-charts/realtime has no version 0.9.0 in .*index.yaml "
                                         r"\(versions: 1.0.0\); check --from-version"):
        check_released_version(plan.charts[0])
    ok = make_plan(parse("--chart", str(REALTIME)))
    assert check_released_version(ok.charts[0]) == "harness-charts/realtime 1.0.0"


def test_from_version_cannot_apply_to_a_tgz_released_chart(tmp_path):
    chart = tmp_path / "c"
    chart.mkdir()
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: c\nversion: 0.2.0\n")
    (chart / "c-0.1.0.tgz").write_bytes(b"")
    (chart / "harness-contract.yaml").write_text("release: c\nreleased: {chart: c-0.1.0.tgz}\n"
                                                 "ingress: {host: c.test}\nscenarios: [upgrade]\n")
    with pytest.raises(UsageError, match=r"from-version: '0.0.9' cannot apply to .*: its released chart .*c-0.1.0.tgz "
                                         r"is a .tgz archive, which has one version"):
        make_plan(parse("--chart", str(chart), "--from-version", "0.0.9"))


def test_a_file_that_is_not_a_packaged_chart_is_one_line(tmp_path):
    tgz = tmp_path / "c-0.1.0.tgz"
    tgz.write_bytes(b"")
    with pytest.raises(UsageError, match=r"c-0.1.0.tgz is not a packaged chart \(not a gzip-compressed tar archive"):
        make_plan(parse("--chart", str(tgz)))
    with pytest.raises(UsageError, match=r"gate: chart archive nope-1.0.0.tgz does not exist"):
        make_plan(parse("--chart", "nope-1.0.0.tgz"), cwd=tmp_path)


def test_a_packaged_chart_needs_a_contract_packaged_or_given(tmp_path, monkeypatch):
    monkeypatch.setenv("HARNESS_CACHE", str(tmp_path / "cache"))  # where the .tgz is unpacked
    bare = make_chart_tgz(tmp_path / "web-0.1.0.tgz")
    with pytest.raises(UsageError, match=r"gate: chart .*web-0.1.0.tgz has no harness-contract.yaml \(none packaged "
                                         r"in the .tgz\); pass --contract PATH"):
        make_plan(parse("--chart", str(bare), "--artifacts-dir", str(tmp_path / "a")))
    contract = tmp_path / "c.yaml"
    contract.write_text("release: web\ningress: {host: web.test}\nscenarios: [drain]\n")
    plan = make_plan(parse("--chart", str(bare), "--contract", str(contract), "--artifacts-dir", str(tmp_path / "a")))
    assert plan.scenarios == ("drain",) and plan.charts[0].ref.kind == "tgz"
    assert f"--harness-chart={bare}" in plan.forwarded and f"--harness-contract={contract}" in plan.forwarded
    packaged = make_chart_tgz(tmp_path / "api-0.2.0.tgz", "api", "0.2.0", {
        "harness-contract.yaml": "release: api\ningress: {host: api.test}\nscenarios: [drain]\n"})
    plan = make_plan(parse("--chart", str(packaged), "--artifacts-dir", str(tmp_path / "a")))
    assert plan.charts[0].contract.release == "api" and not any(f.startswith("--harness-contract") for f in plan.forwarded)


def test_repo_and_oci_charts_are_gated_with_a_contract(tmp_path):
    contract = tmp_path / "c.yaml"
    contract.write_text("release: web\ningress: {host: web.test}\nscenarios: [drain]\n")
    plan = make_plan(parse("--chart", "myrepo/web", "--chart-version", "1.2.3", "--contract", str(contract)),
                     cwd=tmp_path)
    assert (plan.charts[0].ref.kind, plan.charts[0].ref.version) == ("repo", "1.2.3")
    assert "--harness-chart=myrepo/web" in plan.forwarded and "--harness-chart-version=1.2.3" in plan.forwarded
    with pytest.raises(UsageError, match=r"gate: chart myrepo/web@1.2.3 has no harness-contract.yaml \(none beside "
                                         r"a repo/name or oci:// chart\); pass --contract PATH"):
        make_plan(parse("--chart", "myrepo/web", "--chart-version", "1.2.3"), cwd=tmp_path)
    with pytest.raises(UsageError, match=r"oci://r.test/charts/web needs --chart-version"):
        make_plan(parse("--chart", "oci://r.test/charts/web", "--contract", str(contract)), cwd=tmp_path)


def st(tests=None, exit=None, collect_errors=()):
    return {"tests": tests or {}, "exit": exit, "collect_errors": list(collect_errors)}


PASS = {"outcome": "passed"}


FAIL = {"outcome": "failed", "message": "AssertionError: 3 of 100 requests failed"}


ERROR = {"outcome": "error", "message": "HarnessError: helm install failed"}


ENV = {"outcome": "error", "environment": True, "message": "EnvironmentNotReady: image x is not in the local store"}


SKIP = {"outcome": "skipped", "message": "no cert-manager"}


@pytest.mark.parametrize(("rc", "status", "code"), [
    (0, st({"a": PASS, "b": SKIP}), 0),
    (1, st({"a": PASS, "b": FAIL}), 1),
    (1, st({"a": ERROR}), 1),                                   # no verdict, not the environment: the chart's
    (1, st({"a": ENV, "b": PASS}), 3),                          # EnvironmentNotReady in a test's setup
    (1, st({"a": ENV, "b": FAIL}), 1),                          # a failed scenario wins over the environment
    (3, st({"a": {"outcome": "running"}}, {"kind": "Exit", "returncode": 3, "message": "harness: cluster: x"}), 3),
    (1, st({}, {"kind": "Exit", "returncode": 1, "message": "harness: cluster: kind create failed"}), 3),
    (2, st({}, {"kind": "Exit", "returncode": 2, "message": "harness: charts under test: lint"}), 2),
    (2, st({"a": FAIL}, {"kind": "KeyboardInterrupt", "returncode": 2}), 130),
    (4, {}, 2),                                                  # pytest's usage error
    (2, st(collect_errors=["scenarios/x.py: ImportError"]), 3),
    (5, st(), 2),                                                # nothing selected
    (0, st({"a": SKIP, "b": SKIP}), 3),                          # everything skipped is not a pass
    (3, st(), 3),                                                # pytest internal error
    (1, {}, 1), (0, {}, 0), (3, {}, 3),                          # no status recorded: pytest's code
])
def test_exit_code_mapping(rc, status, code):
    got, why, _ = exit_code(rc, status)
    assert got == code, why


def test_exit_code_explains_itself():
    code, why, details = exit_code(1, st({"a": PASS, "b": FAIL}))
    assert (code, why) == (1, "1 of 2 scenario tests failed")
    assert details == ["b: AssertionError: 3 of 100 requests failed"]
    code, why, _ = exit_code(0, st({"a": SKIP}))
    assert why == "nothing ran: all 1 selected scenario tests were skipped"


def test_elapsed_format():
    assert [duration(s, "clock") for s in (0, 7.9, 61, 754, 3723)] == ["0:00", "0:07", "1:01", "12:34", "1:02:03"]


def test_unreadable_records_are_one_line_and_no_rows(tmp_path):
    import io
    from types import SimpleNamespace

    from harness.gate.clock import Clock
    from harness.gate.command import load_records

    (tmp_path / "scenarios.json").write_text('{"scenarios": []}')
    out = io.StringIO()
    plan = SimpleNamespace(cfg=SimpleNamespace(artifacts_dir=tmp_path))
    assert load_records(plan, since=None, clock=Clock(stream=out)) == []
    assert out.getvalue().endswith("the run's records cannot be read: "
                                   f"{tmp_path / 'scenarios.json'}: no 'results' list\n")


def _charts_with_images(*images):
    from types import SimpleNamespace
    return [SimpleNamespace(contract=SimpleNamespace(images=list(images)))]


def test_gate_preflight_images_local_store_under_a_local_build(monkeypatch):
    from types import SimpleNamespace

    from harness.core.errors import EnvironmentNotReady
    from harness.gate import preflight as gp
    monkeypatch.setattr(gp.docker, "image_exists", lambda img: img == "web:1")
    monkeypatch.setattr(gp, "require_images", lambda *a, **kw: pytest.fail("a local build asks no registry"))
    cfg = SimpleNamespace(image_source="local", node_image=None, kubernetes_version=None, registry_mirror=None)
    assert gp.check_images(_charts_with_images("web:1"), cfg) == (["web:1"], "present")
    with pytest.raises(EnvironmentNotReady, match=r"^image web:2 is not in the local Docker store"):
        gp.check_images(_charts_with_images("web:1", "web:2"), cfg)


def test_gate_preflight_images_are_asked_of_the_registry_on_the_pull_path(monkeypatch):
    """The pull path (users' machines) never needs the charts' images in the local Docker store:
    before this, the gate refused a pull-mode run whose images were only in a registry."""
    from types import SimpleNamespace

    from harness.gate import preflight as gp
    asked = []
    monkeypatch.setattr(gp.docker, "image_exists", lambda img: pytest.fail("the pull path reads no local store"))
    monkeypatch.setattr(gp, "require_images", lambda images, **kw: asked.append((images, kw)))
    cfg = SimpleNamespace(image_source="pull", node_image=None, kubernetes_version=None,
                          registry_mirror="127.0.0.1:5001")
    assert gp.check_images(_charts_with_images("web:1"), cfg) == (["web:1"], "in their registry mirror 127.0.0.1:5001")
    assert asked[0][0] == ["web:1"] and asked[0][1]["mirror"] == "127.0.0.1:5001"
    assert "docker.io" in asked[0][1]["mirrored"]
    cfg.registry_mirror = None
    assert gp.check_images(_charts_with_images("web:1"), cfg)[1] == "in their registries"
