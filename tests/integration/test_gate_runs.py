"""The release gate as a command, end to end without a cluster: option errors, Docker unreachable,
and whole gate runs over fake scenario modules (the real pytest subprocess, the gate plugin, the
report) with the preflight stubbed. In-process parts: tests/unit/test_gate.py."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from harness.core.errors import EnvironmentNotReady

ROOT = Path(__file__).resolve().parents[2]
REALTIME = ROOT / "charts-under-test" / "realtime"


def gate_cli(*args: str, env: dict | None = None, cwd: Path = ROOT, timeout: float = 60) -> subprocess.CompletedProcess:
    e = {k: v for k, v in os.environ.items() if not k.startswith("HARNESS_")}
    e.update(env or {})
    return subprocess.run([sys.executable, "-m", "harness", "gate", *args], capture_output=True, text=True,
                          cwd=cwd, env=e, timeout=timeout, check=False)


@pytest.fixture(autouse=True)
def _no_harness_env(monkeypatch):
    for name in list(os.environ):
        if name.startswith("HARNESS_"):
            monkeypatch.delenv(name)


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


FAKE_UPGRADE = textwrap.dedent('''\
    import os, time, pytest
    from types import SimpleNamespace as NS
    from harness.core import timings
    from harness.core.errors import EnvironmentNotReady
    from harness.plugin.results import record_result
    from harness.scenario.result import ScenarioResult, figures_from
    SCENARIO = "upgrade"
    DEFAULT, TLS = NS(id="demo-default", variant="default"), NS(id="demo-tls", variant="tls")

    @pytest.fixture
    def env_fixture():
        if os.environ.get("FAKE_ENV_ERROR"):
            raise EnvironmentNotReady("image demo:1 is not in the local Docker store")
        if os.environ.get("FAKE_EXIT"):
            pytest.exit("harness: cluster: kind create failed", returncode=int(os.environ["FAKE_EXIT"]))

    @pytest.fixture(scope="session")
    def session_env(pytestconfig):
        if os.environ.get("FAKE_SESSION_ERROR"):  # as the harness's session fixtures stop a run
            from harness.plugin.session import _exit_on_harness_error
            with _exit_on_harness_error("cluster", pytestconfig):
                raise EnvironmentNotReady("kind create failed")

    @pytest.mark.parametrize("target", [DEFAULT, TLS], ids=["demo-default", "demo-tls"])
    def test_upgrade(request, target, session_env, env_fixture, harness_config):
        if target is TLS:
            pytest.skip("demo-tls: no cert-manager")  # the plugin records the SKIP
        with timings.phase(f"upgrade {target.id}: helm upgrade to the candidate", announce=False):
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
    from harness.plugin.results import record_result
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
    # the run's Gantt chart from the timings.json the plugin wrote: beside the page, embedded, named in the summary
    assert (rep / "run-gantt.png").stat().st_size > 0
    assert 'alt="run-gantt.png"' in (rep / "index.html").read_text()
    assert "`rep/run-gantt.png`" in (rep / "summary.md").read_text()


def test_gate_on_xdist_workers_gives_the_serial_verdicts_and_one_gantt_of_all_workers(fake, tmp_path):
    """`gate --workers 2` runs pytest -n auto: the controller (which collects nothing) still counts and
    names the tests, prints each verdict once, writes the status the exit code comes from, and joins the
    workers' timings into the one timings.json the Gantt chart is drawn from."""
    pytest.importorskip("xdist")
    r, rep = fake("--workers", "2")
    assert r.returncode == 0, r.stdout
    lines = gate_lines(r)
    assert any("-n auto" in ln and "--harness-workers=2" in ln for ln in lines), lines
    assert any("3 scenario tests selected (on pytest-xdist workers): " in ln and "upgrade demo-default" in ln
               for ln in lines), lines
    assert sum(": PASS in 0:0" in ln for ln in lines) == 2 and sum(": SKIP" in ln for ln in lines) == 1, lines
    assert lines[-1].endswith("Gate: PASS — 2 of 2 scenarios passed (exit 0: 2 scenario tests passed, 1 skipped)")
    doc = json.loads((rep / "gate.json").read_text())
    assert sorted(x["status"] for x in doc["rows"]) == ["PASS", "PASS", "SKIP"]
    merged = json.loads((tmp_path / "art" / "timings.json").read_text())
    assert set(merged["processes"]) <= {"gw0", "gw1", "controller"} and merged["processes"]
    assert any(p["name"].startswith("upgrade demo-default: ") for p in merged["phases"])
    assert (rep / "run-gantt.png").stat().st_size > 0


def test_gate_on_xdist_workers_maps_an_environment_error_to_3(fake):
    pytest.importorskip("xdist")
    r, _ = fake("--scenarios", "upgrade", "--workers", "2", env={"FAKE_ENV_ERROR": "1"})
    assert r.returncode == 3, r.stdout
    assert gate_lines(r)[-1].endswith("(exit 3: 2 scenario tests could not run: the environment is not ready)")


@pytest.mark.parametrize("workers", [(), ("--workers", "2")], ids=["serial", "xdist"])
def test_a_session_setup_error_is_the_environments_serially_and_on_workers(fake, workers):
    if workers:
        pytest.importorskip("xdist")
    r, _ = fake("--scenarios", "upgrade", *workers, env={"FAKE_SESSION_ERROR": "1"})
    assert r.returncode == 3, r.stdout
    assert gate_lines(r)[-1].endswith("(exit 3: harness: cluster: kind create failed)"), r.stdout


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


def test_two_shards_merged_equal_a_single_run(fake, tmp_path):
    """`--shard 1/2` and `--shard 2/2` run disjoint slices; `report merge` joins them into the rows a
    single run gives (each test once), one verdict line and one exit code."""
    single, rep = fake()
    assert single.returncode == 0, single.stdout
    whole = json.loads((rep / "gate.json").read_text())["rows"]
    shards = []
    for i in (1, 2):
        d = tmp_path / f"shard-{i}"
        r, _ = fake("--shard", f"{i}/2", "--artifacts-dir", str(d / "artifacts"), "--report-dir", str(d / "report"))
        assert r.returncode == 0, r.stdout
        assert any(f"(shard {i}/2 of the plan's 3)" in ln for ln in gate_lines(r)), r.stdout
        shards.append(json.loads((d / "report" / "gate.json").read_text()))
    assert [s["info"]["shard"] for s in shards] == ["1/2", "2/2"]
    ids = [{(x["scenario"], x["variant"]) for x in s["rows"]} for s in shards]
    assert ids[0] and ids[1] and not ids[0] & ids[1]  # disjoint, neither empty
    e = {k: v for k, v in os.environ.items() if not k.startswith("HARNESS_")}
    m = subprocess.run([sys.executable, "-m", "harness", "report", "merge", str(tmp_path / "shard-1" / "report"),
                        str(tmp_path / "shard-2" / "report"), "--out", str(tmp_path / "merged")],
                       capture_output=True, text=True, cwd=tmp_path, env={**e, "PYTHONPATH": str(ROOT)}, timeout=60,
                       check=False)
    assert m.returncode == 0, m.stdout + m.stderr
    assert m.stdout.splitlines()[-1].startswith("Gate: PASS — 2 of 2 scenarios passed (exit 0")
    merged = json.loads((tmp_path / "merged" / "gate.json").read_text())

    def same(rows):
        return sorted((x["scenario"], x["chart"], x["variant"], x["control"], x["outcome"], x["reason"], x["status"])
                      for x in rows)

    assert same(merged["rows"]) == same(whole)
    assert merged["exit_code"] == 0 and merged["counts"] == json.loads((rep / "gate.json").read_text())["counts"]
    assert (tmp_path / "merged" / "summary.md").read_text().startswith("Gate: PASS — 2 of 2 scenarios passed\n")
