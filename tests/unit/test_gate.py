"""The release gate (harness/gate/) without a cluster: option errors, the plan, exit-code mapping,
Docker unreachable, and whole gate runs over fake scenario modules (the real pytest subprocess, the
gate plugin, the report) with the preflight stubbed."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from harness.__main__ import build_parser
from harness.core.errors import EnvironmentNotReady, UsageError
from harness.core.fmt import duration
from harness.gate.exitcode import exit_code
from harness.gate.plan import make_plan
from harness.gate.preflight import check_released_version
from harness.gate.run import build_pytest_argv

ROOT = Path(__file__).resolve().parents[2]
REALTIME = ROOT / "charts-under-test" / "realtime"
HA = ROOT / "charts-under-test" / "ha-service"


def gate_cli(*args: str, env: dict | None = None, cwd: Path = ROOT, timeout: float = 60) -> subprocess.CompletedProcess:
    e = {k: v for k, v in os.environ.items() if not k.startswith("HARNESS_")}
    e.update(env or {})
    return subprocess.run([sys.executable, "-m", "harness", "gate", *args], capture_output=True, text=True,
                          cwd=cwd, env=e, timeout=timeout, check=False)


def parse(*args: str):
    return build_parser().parse_args(["gate", *args])


@pytest.fixture(autouse=True)
def _no_harness_env(monkeypatch):
    for name in list(os.environ):
        if name.startswith("HARNESS_"):
            monkeypatch.delenv(name)


# --------------------------------------------------------------------------- options and the plan


@pytest.mark.parametrize(("args", "message"), [
    (["--bogus"], "harness: error: gate: unrecognized arguments: --bogus (see: python -m harness gate --help)"),
    (["--chart"], "harness: error: gate: argument --chart: expected one argument (see: python -m harness gate --help)"),
    (["--chart", "charts-under-test/nope"], ("harness: error: gate: chart directory charts-under-test/nope does not "
                                             f"exist (resolved to {ROOT}/charts-under-test/nope)")),
    ([], "harness: error: gate: no chart to gate; pass --chart PATH (a chart directory with a harness-contract.yaml)"),
    (["--chart", "charts-under-test/realtime", "--keep-cluster", "maybe"],
     "harness: error: keep-cluster (option): 'maybe' is not one of never, on-failure, always"),
])
def test_usage_errors_are_one_line_and_exit_2(args, message):
    r = gate_cli(*args)
    assert r.returncode == 2, r.stderr
    assert r.stderr.strip() == message
    assert r.stdout == ""


def test_bad_contract_is_a_usage_error(tmp_path):
    chart = tmp_path / "c"
    chart.mkdir()
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: c\nversion: 0.1.0\n")
    (chart / "harness-contract.yaml").write_text("release: c\nscenarios: [upgrade, nonsense]\n")
    r = gate_cli("--chart", str(chart))
    assert r.returncode == 2
    assert r.stderr.startswith(f"harness: error: contract {chart}/harness-contract.yaml has ")
    assert "'nonsense' is not one of upgrade" in r.stderr


def test_plan_selects_the_contracts_scenarios_and_forwards_options(tmp_path):
    plan = make_plan(parse("--chart", str(REALTIME), "--from-version", "1.0.0", "--reuse-cluster",
                                "--set", "a=1", "--artifacts-dir", str(tmp_path / "art"), "--", "-x"))
    assert plan.scenarios == ("upgrade", "drain", "sse") and not plan.controls and plan.broken is None
    assert plan.forwarded == ["--reuse-cluster", f"--chart={REALTIME}", "--from-version=1.0.0", "--set=a=1",
                              f"--artifacts-dir={tmp_path / 'art'}"]
    assert plan.pytest_args == ["-x"] and plan.junit == tmp_path / "art" / "junit.xml"
    assert plan.report_dir == ROOT / "report"
    argv = build_pytest_argv(plan, status=tmp_path / "s.json", started=1.0)
    assert argv[:3] == [sys.executable, "-m", "pytest"]
    assert argv[3:6] == [str(ROOT / "scenarios" / s) for s in ("upgrade", "drain", "sse")]
    assert "-p" in argv and "harness.gate.plugin" in argv and "--gate-scenarios=upgrade,drain,sse" in argv
    assert "--gate-controls" not in argv and argv[-1] == "-x"


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
    assert f"--values={overlay}" in plan.forwarded
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


def test_a_chart_that_is_not_a_directory_is_refused(tmp_path):
    tgz = tmp_path / "c-0.1.0.tgz"
    tgz.write_bytes(b"")
    with pytest.raises(UsageError, match=r"is not a chart directory; the gate tests a chart's working tree"):
        make_plan(parse("--chart", str(tgz)))


# --------------------------------------------------------------------------- exit codes


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


# --------------------------------------------------------------------------- Docker unreachable


def test_require_engine_honours_docker_host(monkeypatch):
    from harness.core.errors import CommandError
    from harness.tools import docker

    if not __import__("shutil").which("docker"):
        pytest.skip("no docker CLI on PATH")
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent.sock")
    start = time.monotonic()
    with pytest.raises(EnvironmentNotReady) as err:
        docker.require_engine()
    assert time.monotonic() - start < 10
    cause = err.value.__cause__
    assert isinstance(cause, CommandError) and "/nonexistent.sock" in cause.stderr  # the CLI used DOCKER_HOST


def test_docker_unreachable_exits_3_before_touching_anything(tmp_path):
    if not __import__("shutil").which("docker"):
        pytest.skip("no docker CLI on PATH")
    art, rep = tmp_path / "art", tmp_path / "rep"
    start = time.monotonic()
    r = gate_cli("--chart", str(REALTIME), "--artifacts-dir", str(art), "--report-dir", str(rep),
                 env={"DOCKER_HOST": "unix:///nonexistent.sock"})
    assert time.monotonic() - start < 20
    assert r.returncode == 3, r.stderr
    errors = [ln for ln in r.stderr.splitlines() if ln.startswith("harness: error:")]
    assert errors == [ln for ln in r.stderr.splitlines() if "error" in ln.lower() and not ln.startswith("[gate")]
    assert len(errors) == 1 and "Docker is not answering at DOCKER_HOST=unix:///nonexistent.sock" in errors[0]
    assert "run: pytest" not in r.stderr and not art.exists()  # no pytest, no cluster, no artifacts
    summary = (rep / "summary.md").read_text().splitlines()
    assert summary[0] == "Gate: FAIL — 0 of 0 scenarios passed" and "**exit 3**" in summary[2]


# --------------------------------------------------------------------------- whole runs over fake scenarios


FAKE_UPGRADE = textwrap.dedent('''\
    import os, time, pytest
    from types import SimpleNamespace as NS
    from harness.core.errors import EnvironmentNotReady
    from harness.plugin.report_rows import record_result
    from harness.scenario.result import ScenarioResult, figures_from
    SCENARIO = "upgrade"
    DEFAULT, TLS = NS(id="demo-default", variant="default"), NS(id="demo-tls", variant="tls")

    @pytest.fixture
    def env_fixture():
        if os.environ.get("FAKE_ENV_ERROR"):
            raise EnvironmentNotReady("image demo:1 is not in the local Docker store")
        if os.environ.get("FAKE_EXIT"):
            pytest.exit("harness: cluster: kind create failed", returncode=int(os.environ["FAKE_EXIT"]))

    @pytest.mark.parametrize("target", [DEFAULT, TLS], ids=["demo-default", "demo-tls"])
    def test_upgrade(request, target, env_fixture, harness_config):
        if target is TLS:
            pytest.skip("demo-tls: no cert-manager")  # the plugin records the SKIP
        time.sleep(float(os.environ.get("FAKE_SLEEP", "0")))
        verdict = os.environ.get("FAKE_VERDICT", "PASS")
        failed = 0 if verdict == "PASS" else 3
        figures = {"requests": 100, "failed_requests": failed, "longest_failure_seconds": 0.5 * failed,
                   "values": ",".join(p.name for p in harness_config.values)}
        reason = "PASS: 100 requests" if not failed else "3 of 100 requests failed"
        record_result(request.node, ScenarioResult("upgrade", "demo", target.variant, None, verdict, reason,
                                                   figures=figures_from(figures)))
        assert not failed, "3 of 100 requests failed"

    @pytest.mark.parametrize("broken_target", [NS(id="demo-broken-bad")], ids=["demo-broken-bad"])
    def test_upgrade_catches_broken(request, broken_target):
        record_result(request.node, ScenarioResult("upgrade", "demo", "default", "bad", "FAIL", "3 requests failed"))
    ''')

FAKE_DRAIN = textwrap.dedent('''\
    import pytest
    from harness.plugin.report_rows import record_result
    from harness.scenario.result import ScenarioResult
    SCENARIO = "drain"

    @pytest.mark.parametrize("target", ["demo-default"])
    def test_drain(request, target):
        record_result(request.node, ScenarioResult("drain", "demo", "default", None, "PASS", "PASS: drained"))
    ''')

DRIVER = textwrap.dedent('''\
    import sys
    from pathlib import Path
    import harness.gate.preflight as p
    import harness.gate.run as r
    from harness.__main__ import main
    r.SCENARIOS_DIR = Path(sys.argv[1])
    p.preflight = lambda plan, clock: clock.say("preflight: stubbed")
    sys.exit(main(["gate", *sys.argv[2:]]))
    ''')


@pytest.fixture
def fake(tmp_path):
    """A chart with a contract, fake scenario modules, and ``run(*gate_args, env=) -> (result, report dir)``."""
    chart = tmp_path / "demo"
    chart.mkdir()
    (chart / "Chart.yaml").write_text('apiVersion: v2\nname: demo\nversion: 1.1.0\nappVersion: "1.1.0"\n')
    (chart / "bad.yaml").write_text("broken: true\n")
    (chart / "demo-1.0.0.tgz").write_bytes(b"")
    (chart / "harness-contract.yaml").write_text(textwrap.dedent("""\
        release: demo
        released: {chart: demo-1.0.0.tgz}
        ingress: {host: demo.test}
        scenarios: [upgrade, drain]
        broken:
          - {name: bad, values: bad.yaml, scenario: upgrade, reason: "breaks upgrades"}
        """))
    scen = tmp_path / "scen"
    (scen / "upgrade").mkdir(parents=True)
    (scen / "drain").mkdir()
    (scen / "upgrade" / "test_upgrade.py").write_text(FAKE_UPGRADE)
    (scen / "drain" / "test_drain.py").write_text(FAKE_DRAIN)
    (tmp_path / "driver.py").write_text(DRIVER)

    def run(*args: str, env: dict | None = None):
        e = {k: v for k, v in os.environ.items() if not k.startswith(("HARNESS_", "FAKE_"))}
        e.update({"PYTHONPATH": str(ROOT), **(env or {})})
        rep = tmp_path / "rep"
        r = subprocess.run([sys.executable, str(tmp_path / "driver.py"), str(scen), "--chart", str(chart),
                            "--artifacts-dir", str(tmp_path / "art"), "--report-dir", str(rep), *args],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=tmp_path, env=e,
                           timeout=120, check=False)
        return r, rep

    return run


def gate_lines(r) -> list[str]:
    return [ln for ln in r.stdout.splitlines() if ln.startswith("[gate ")]


def test_gate_passes_with_progress_lines_and_a_report(fake):
    r, rep = fake()
    assert r.returncode == 0, r.stdout
    lines = gate_lines(r)
    assert lines[0].startswith("[gate 0:00] gate demo 1.1.0: scenarios upgrade, drain")
    assert any("3 scenario tests selected: upgrade demo-default, upgrade demo-tls, drain demo-default" in ln
               for ln in lines)  # the negative control is deselected without --controls
    assert any(ln.endswith("[1/3] upgrade demo-default: started") for ln in lines)
    assert any("[1/3] upgrade demo-default: PASS in 0:0" in ln and ln.endswith("— 100 requests") for ln in lines)
    assert any("[2/3] upgrade demo-tls: SKIP" in ln for ln in lines)
    assert lines[-1].endswith("Gate: PASS — 2 of 2 scenarios passed (exit 0: 2 scenario tests passed, 1 skipped)")
    assert (rep / "summary.md").read_text().startswith("Gate: PASS — 2 of 2 scenarios passed\n")
    assert (rep / "junit.xml").is_file() and (rep / "index.html").is_file()
    doc = json.loads((rep / "gate.json").read_text())
    assert doc["exit_code"] == 0 and [x["status"] for x in doc["rows"]] == ["PASS", "SKIP", "PASS"]


def test_gate_fails_on_a_failed_scenario(fake):
    r, rep = fake("--scenarios", "upgrade", env={"FAKE_VERDICT": "FAIL"})
    assert r.returncode == 1
    assert gate_lines(r)[-1].endswith("Gate: FAIL — 0 of 1 scenarios passed (exit 1: 1 of 1 scenario tests failed)")
    md = (rep / "summary.md").read_text()
    assert md.startswith("Gate: FAIL — 0 of 1 scenarios passed\n") and "| ❌ FAIL | upgrade | demo-default |" in md


def test_report_only_rebuilds_the_report_from_the_last_run(fake):
    r, rep = fake("--scenarios", "upgrade", env={"FAKE_VERDICT": "FAIL"})
    assert r.returncode == 1
    (rep / "summary.md").unlink()
    again, _ = fake("--scenarios", "upgrade", "--report-only")
    assert again.returncode == 1
    assert "run: pytest" not in again.stdout
    assert (rep / "summary.md").read_text().startswith("Gate: FAIL — 0 of 1 scenarios passed\n")


def test_controls_run_only_when_asked(fake):
    r, _ = fake("--controls", "--scenarios", "upgrade")
    assert r.returncode == 0
    assert any("3 scenario tests selected: upgrade demo-default, upgrade demo-tls, upgrade demo-broken-bad (control)"
               in ln for ln in gate_lines(r))


def test_broken_overlay_reaches_the_run(fake, tmp_path):
    r, rep = fake("--broken", "bad")
    assert r.returncode == 0  # the fake scenario does not look at the overlay; the real one fails (cluster test)
    doc = json.loads((rep / "gate.json").read_text())
    assert doc["info"]["broken"].startswith("bad (") and doc["info"]["scenarios"] == ["upgrade"]
    row = next(x for x in doc["rows"] if x["status"] == "PASS")
    assert row["figures"]["values"] == {"value": "bad.yaml", "unit": ""}


@pytest.mark.parametrize(("env", "code", "why"), [
    ({"FAKE_ENV_ERROR": "1"}, 3, "2 scenario tests could not run: the environment is not ready"),
    ({"FAKE_EXIT": "3"}, 3, "harness: cluster: kind create failed"),
    ({"FAKE_EXIT": "1"}, 3, "harness: cluster: kind create failed"),
    ({"FAKE_EXIT": "2"}, 2, "harness: cluster: kind create failed"),
])
def test_gate_maps_environment_and_session_errors(fake, env, code, why):
    r, rep = fake("--scenarios", "upgrade", env=env)
    assert r.returncode == code, r.stdout
    assert gate_lines(r)[-1].endswith(f"(exit {code}: {why})")
    assert f"**exit {code}**" in (rep / "summary.md").read_text()


def test_pytest_usage_error_maps_to_2(fake):
    r, _ = fake("--scenarios", "drain", "--", "--no-such-pytest-option")
    assert r.returncode == 2
    assert "pytest rejected the arguments" in gate_lines(r)[-1]


def test_a_quiet_test_still_prints_a_line(fake):
    r, _ = fake("--scenarios", "upgrade", "--", "--gate-heartbeat=1", "-k", "demo-default",
                env={"FAKE_SLEEP": "3"})
    assert r.returncode == 0
    assert any("still running upgrade demo-default (test 1 of 1" in ln for ln in gate_lines(r))


# --------------------------------------------------------------------------- the pytest plugin alone


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
