"""``python -m harness gate``: the release gate for a chart's working tree.

    python -m harness gate --chart PATH [--from-version X] [--scenarios upgrade,drain] [--controls]
                           [--broken NAME] [--report-dir DIR] [--values F] [--set K=V] [any harness option]
                           [-- extra pytest arguments]

Runs every scenario the chart's ``harness-contract.yaml`` enables (or the ``--scenarios`` subset),
upgrading from the contract's ``released`` version (``--from-version`` overrides it) to the chart
directory given, on a fresh or reused kind cluster, then writes the report (harness/report/render.py).

How it runs: checks what can be checked in seconds (options, contract, Docker, tools, images,
``helm lint``, the released version in a local repository's index), then runs pytest on the
selected ``scenarios/<name>`` folders **in a subprocess** (``sys.executable -m pytest``), with this
module loaded as a pytest plugin (``-p harness.gate.plugin``). The subprocess keeps pytest's own exit
codes and terminal output intact, and an interrupted or crashed run still leaves the gate able to
write a report. The plugin half of this module:

* deselects negative controls (unless ``--controls``) and scenarios outside the selection;
* prints a line when each test starts and ends (``[3/5] upgrade realtime-default: PASS in 41 s``),
  stamps every harness progress line with the time since the gate started, and, after a minute
  without any line, says what it is still waiting for: a long gate run is never silent;
* records for the parent what pytest's exit code cannot say: which tests failed on a verdict,
  which could not run because the environment was not ready (EnvironmentNotReady), collection
  errors, and a ``pytest.exit`` from the harness's session setup with its code and message.

Exit codes (:func:`exit_code`): **0** every selected scenario test passed (skips allowed, but not
all of them); **1** a scenario failed (its verdict, or the chart could not be installed or
upgraded: the chart is not ready); **2** usage error (unknown option, chart path missing, bad
contract, chart failing ``helm lint``, unknown ``--from-version``; pytest's usage error 4 maps
here); **3** the environment could not be set up (Docker, tools, images, cluster creation, add-ons:
the runner is broken, not the chart); **130** interrupted.
"""
from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.core.errors import (
    CommandError,
    EnvironmentNotReady,
    HarnessError,
    UsageError,
)

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS_DIR = ROOT / "scenarios"
REPORT_DIR_ENV = "HARNESS_REPORT_DIR"
DEFAULT_REPORT_DIR = "report"


# --------------------------------------------------------------------------- progress with elapsed time


def fmt_elapsed(seconds: float) -> str:
    """``0:07``, ``12:34``, ``1:02:03``."""
    s = int(max(0.0, seconds))
    h, rest = divmod(s, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


class Clock:
    """Lines ``[gate M:SS] message`` on stderr, timed from ``started`` (epoch seconds)."""

    def __init__(self, started: float | None = None, stream: Any = None):
        self.started = time.time() if started is None else started
        self.stream = stream

    def elapsed(self) -> float:
        return time.time() - self.started

    def say(self, message: str) -> None:
        stream = self.stream or sys.stderr
        stream.write(f"[gate {fmt_elapsed(self.elapsed())}] {message}\n")
        stream.flush()


# --------------------------------------------------------------------------- the plan


@dataclass
class Plan:
    """What one gate run does (resolved from the options before anything runs).

    Attributes:
        cfg: the resolved HarnessConfig. charts: the ChartUnderTest list (contracts loaded,
            ``from-version`` applied). scenarios: the selected scenarios, in the contract order.
        controls: negative controls included. broken: the contract's broken entry applied as an
            overlay (``--broken``), else None. report_dir: where the report goes.
        forwarded: the harness options passed on to pytest. pytest_args: extra pytest arguments.
        junit: where pytest writes its JUnit XML.
    """

    cfg: Any
    charts: list[Any]
    scenarios: tuple[str, ...]
    controls: bool
    broken: Any
    report_dir: Path
    forwarded: list[str]
    pytest_args: list[str] = field(default_factory=list)
    junit: Path | None = None

    @property
    def values(self) -> tuple[Path, ...]:
        return tuple(self.charts[0].values) if self.charts else ()


def _split_names(raw: Sequence[str] | None) -> list[str]:
    return [n.strip() for item in (raw or []) for n in item.split(",") if n.strip()]


def make_plan(args: argparse.Namespace, *, cwd: Path | None = None, env: Mapping[str, str] | None = None) -> Plan:
    """Resolve the options into a :class:`Plan`.

    Raises:
        UsageError: no or a missing chart, a chart that is not a directory with a contract, an
            invalid contract or option value, an unknown scenario or broken entry, nothing selected.
    """
    from harness.core.config import OPTIONS, cli_values, load_config
    from harness.core.contract import (
        CONTRACT_FILE,
        SCENARIOS,
        resolve_charts_under_test,
    )

    env = os.environ if env is None else env
    cwd = Path(cwd or Path.cwd()).resolve()
    raw_charts = list(getattr(args, "harness_chart", None) or [])
    for raw in raw_charts:
        p = Path(raw).expanduser()
        p = p if p.is_absolute() else cwd / p
        if not p.exists():
            raise UsageError(f"gate: chart directory {raw} does not exist (resolved to {p})")
    cfg = load_config(cli_values(args), config_file=args.harness_config_file, rootdir=args.rootdir or ROOT,
                      cwd=cwd, env=env)
    if not cfg.charts:
        raise UsageError("gate: no chart to gate; pass --chart PATH (a chart directory with a "
                         f"{CONTRACT_FILE})")
    for ref in cfg.charts:
        if ref.kind != "dir":
            raise UsageError(f"gate: chart {ref.ref} is not a chart directory; the gate tests a chart's working "
                             f"tree (a directory with Chart.yaml and {CONTRACT_FILE})")
    charts = resolve_charts_under_test(cfg)  # loads (validates) each contract, applies from-version

    requested = _split_names(args.scenarios)
    for name in requested:
        if name not in SCENARIOS:
            raise UsageError(f"gate: --scenarios: {name!r} is not one of {', '.join(SCENARIOS)}")
    enabled = [s for s in SCENARIOS if any(c.contract.supports(s) for c in charts)]
    for name in requested:
        if name not in enabled:
            raise UsageError(f"gate: --scenarios: {name} is not enabled by the contract of "
                             f"{', '.join(c.name for c in charts)} (enabled: {', '.join(enabled) or 'none'})")
    selected = [s for s in enabled if not requested or s in requested]

    broken = None
    values = list(cfg.values)
    if args.broken:
        entries = {b.name: b for c in charts for b in c.contract.broken}
        broken = entries.get(args.broken)
        if broken is None:
            raise UsageError(f"gate: --broken: the contract has no broken entry {args.broken!r} "
                             f"(known: {', '.join(sorted(entries)) or 'none'})")
        if requested and broken.scenario not in requested:
            raise UsageError(f"gate: --broken {broken.name} must fail {broken.scenario}, which --scenarios "
                             f"({', '.join(requested)}) leaves out")
        selected = [broken.scenario]
        values.append(broken.values)
        from dataclasses import replace

        charts = [replace(c, values=tuple(values)) for c in charts]
    if not selected:
        raise UsageError(f"gate: the contract of {', '.join(c.name for c in charts)} enables no scenario")

    report_raw = args.report_dir or env.get(REPORT_DIR_ENV)
    report_dir = (cwd / Path(report_raw).expanduser()).resolve() if report_raw else (cfg.rootdir / DEFAULT_REPORT_DIR)

    forwarded: list[str] = []
    if args.harness_config_file:
        forwarded.append(f"--harness-config={args.harness_config_file}")
    if args.rootdir:
        forwarded.append(f"--rootdir={args.rootdir}")
    for o in OPTIONS:
        if o.key == "chart":
            forwarded += [f"--chart={c.ref.ref}" for c in charts]
            continue
        if o.key == "values":
            if getattr(args, o.dest, None) is not None or broken is not None:
                forwarded += [f"--values={v}" for v in values]
            continue
        if o.key == "artifacts-dir":
            forwarded.append(f"--artifacts-dir={cfg.artifacts_dir}")
            continue
        v = getattr(args, o.dest, None)
        if v is None:
            continue
        if o.kind == "bool":
            forwarded.append(o.flag)
        elif isinstance(v, list | tuple):
            forwarded += [f"{o.flag}={item}" for item in v]
        else:
            forwarded.append(f"{o.flag}={v}")
    pytest_args = list(getattr(args, "pytest_args", None) or [])
    junit = cfg.artifacts_dir / "junit.xml"
    for i, a in enumerate(pytest_args):
        if a.startswith(("--junitxml=", "--junit-xml=")):
            junit = (cwd / a.split("=", 1)[1]).resolve()
        elif a in ("--junitxml", "--junit-xml") and i + 1 < len(pytest_args):
            junit = (cwd / pytest_args[i + 1]).resolve()
    return Plan(cfg, charts, tuple(selected), bool(args.controls) and broken is None, broken, report_dir,
                forwarded, pytest_args, junit)


# --------------------------------------------------------------------------- preflight


def check_docker() -> str:
    """Docker answers (through the docker CLI, so ``DOCKER_HOST`` and contexts apply).

    Raises:
        EnvironmentNotReady: naming ``DOCKER_HOST`` when it is set, with the CLI's own error line.
    """
    from harness.tools import docker

    try:
        docker.require_engine()
    except EnvironmentNotReady as exc:
        cause = exc.__cause__
        detail = ""
        if isinstance(cause, CommandError):
            lines = [ln.strip() for ln in (cause.stderr or cause.stdout or "").splitlines() if ln.strip()]
            detail = lines[-1] if lines else ""
        where = f" at DOCKER_HOST={os.environ['DOCKER_HOST']}" if os.environ.get("DOCKER_HOST") else ""
        msg = str(exc) if not where else str(exc).replace("Docker is not answering", f"Docker is not answering{where}", 1)
        raise EnvironmentNotReady(msg + (f" [{detail}]" if detail and detail not in msg else "")) from None
    return "Docker answers"


def check_tools(external: bool) -> list[str]:
    """The pinned tools exist (kind only for a kind cluster). Raises EnvironmentNotReady."""
    from harness.tools.binaries import tool_path

    names = ["helm", "kubectl"] + ([] if external else ["kind"])
    return [tool_path(n) for n in names]


def check_images(charts: Sequence[Any]) -> list[str]:
    """Every contract image is in the local Docker store (kind loads them from there)."""
    from harness.tools import docker

    images = sorted({img for c in charts for img in (c.contract.images if c.contract else ())})
    missing = [img for img in images if not docker.image_exists(img)]
    if missing:
        raise EnvironmentNotReady(f"image{'s' if len(missing) > 1 else ''} {', '.join(missing)} "
                                  f"{'are' if len(missing) > 1 else 'is'} not in the local Docker store; build or "
                                  "pull them first (`make images` for the charts under test)")
    return images


def check_released_version(chart: Any) -> str | None:
    """For a released chart served from a local directory, the version exists in its index.yaml.

    Returns:
        ``"<chart> <version>"`` when checked, else None (URL and OCI repositories are checked by
        the run itself, with helm).

    Raises:
        UsageError: the version is not in the index.
    """
    import yaml

    rel = chart.contract.released if chart.contract else None
    if rel is None or rel.kind != "repo" or not isinstance(rel.repository, Path):
        return None
    index = yaml.safe_load((rel.repository / "index.yaml").read_text()) or {}
    name = rel.chart.split("/", 1)[1]
    versions = [str(e.get("version")) for e in (index.get("entries") or {}).get(name) or []]
    if rel.version not in versions:
        raise UsageError(f"gate: {chart.name}: released chart {rel.chart} has no version {rel.version} in "
                         f"{rel.repository / 'index.yaml'} (versions: {', '.join(versions) or 'none'}); "
                         "check --from-version or the contract's released.version")
    return f"{rel.chart} {rel.version}"


def lint(plan: Plan) -> None:
    """``helm lint`` of each chart with the run's values and sets (a failing chart is bad input: exit 2)."""
    from harness.tools.helm import Helm, HelmError

    with tempfile.TemporaryDirectory(prefix="harness-gate-helm-") as home:
        helm = Helm(None, home=home)
        for c in plan.charts:
            try:
                helm.lint(c.ref, values=c.values, sets=c.sets)
            except HelmError as exc:
                raise UsageError(f"gate: {c.name}: {exc}") from None


def preflight(plan: Plan, clock: Clock) -> None:
    """Everything that can fail in seconds, before any cluster work. Raises UsageError/EnvironmentNotReady."""
    external = plan.cfg.external_cluster
    if not external:
        check_docker()
    check_tools(external)
    if not external:
        images = check_images(plan.charts)
        clock.say(f"preflight: Docker answers; helm, kubectl{'' if external else ', kind'} found; "
                  f"{len(images)} chart images present")
    else:
        clock.say(f"preflight: external cluster {plan.cfg.kubeconfig}; helm, kubectl found")
    lint(plan)
    checked = [x for x in (check_released_version(c) for c in plan.charts) if x]
    clock.say("preflight: helm lint passed" + (f"; released {', '.join(checked)} found" if checked else ""))


# --------------------------------------------------------------------------- running pytest


def build_pytest_argv(plan: Plan, *, status: Path, started: float, scenarios_dir: Path | None = None) -> list[str]:
    """The pytest command line for ``plan`` (the selected scenario folders, this module as a plugin)."""
    scenarios_dir = scenarios_dir or SCENARIOS_DIR
    paths = [str(scenarios_dir / s) for s in plan.scenarios if (scenarios_dir / s).is_dir()] or [str(scenarios_dir)]
    argv = [sys.executable, "-m", "pytest", *paths, "-p", "harness.gate.plugin", f"--gate-status={status}",
            f"--gate-started={started:.3f}", f"--gate-scenarios={','.join(plan.scenarios)}", "-q", "-rfEs"]
    if plan.controls:
        argv.append("--gate-controls")
    return argv + plan.forwarded + plan.pytest_args


def run_pytest(argv: Sequence[str], *, cwd: Path | None = None, status: Path) -> tuple[int, dict[str, Any]]:
    """Run pytest, its output going straight to this terminal; returns (exit code, the plugin's status).

    Ctrl-C reaches pytest too (same process group): it is given 60 s to finish its teardown."""
    proc = subprocess.Popen(list(argv), cwd=cwd)
    try:
        rc = proc.wait()
    except KeyboardInterrupt:
        try:
            rc = proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            rc = proc.wait()
        st = read_status(status)
        st.setdefault("exit", {"kind": "KeyboardInterrupt", "returncode": rc, "message": "interrupted"})
        return rc, st
    return rc, read_status(status)


def read_status(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def exit_code(pytest_rc: int, status: Mapping[str, Any] | None) -> tuple[int, str, list[str]]:
    """Map pytest's exit code and the plugin's status to the gate's: ``(code, why, details)``.

    Precedence: interrupted (130) > usage (2: pytest 4, or a harness ``pytest.exit`` with 2) >
    a failed scenario test (1) > the environment (3: a ``pytest.exit`` with any other code from
    session setup, collection errors, EnvironmentNotReady in a test, pytest's internal error, or
    every test skipped) > pass (0).
    """
    st = dict(status or {})
    ex = st.get("exit") or {}
    tests: dict[str, Any] = st.get("tests") or {}
    failed = [n for n, t in tests.items() if t.get("outcome") in ("failed", "error") and not t.get("environment")]
    env = [n for n, t in tests.items() if t.get("environment")]
    passed = [n for n, t in tests.items() if t.get("outcome") == "passed"]
    skipped = [n for n, t in tests.items() if t.get("outcome") == "skipped"]
    ran = len(passed) + len(failed) + len(env)
    msg = str(ex.get("message") or "")
    if ex.get("kind") == "KeyboardInterrupt":
        return 130, "interrupted", []
    if pytest_rc == 4:
        return 2, "pytest rejected the arguments (usage error); see its ERROR line above", []
    if ex.get("kind") == "Exit" and ex.get("returncode") == 2:
        return 2, msg or "usage error", []
    if failed:
        details = [f"{n}: {tests[n].get('message', '')}".rstrip(": ") for n in failed]
        return 1, f"{len(failed)} of {ran} scenario tests failed", details
    if ex.get("kind") == "Exit":
        return 3, msg or f"the session could not be set up (exit {ex.get('returncode')})", []
    if st.get("collect_errors"):
        return 3, "collecting the scenario tests failed", list(st["collect_errors"])
    if env:
        return 3, f"{len(env)} scenario tests could not run: the environment is not ready", \
            [f"{n}: {tests[n].get('message', '')}" for n in env]
    if not st:  # the plugin left no status (it did not load, or pytest died): trust pytest alone
        mapped = {0: 0, 1: 1, 2: 130, 3: 3, 4: 2, 5: 2}.get(pytest_rc, 3)
        return mapped, f"pytest exited {pytest_rc} (no gate status recorded)", []
    if pytest_rc == 3:
        return 3, "pytest internal error (see its INTERNALERROR lines)", []
    if pytest_rc == 5 or not tests:
        return 2, "no scenario test was selected", []
    if pytest_rc not in (0, 1):
        return 3, f"pytest exited {pytest_rc}", []
    if not passed:
        reasons = sorted({str(tests[n].get("message", "")) for n in skipped})
        return 3, f"nothing ran: all {len(skipped)} selected scenario tests were skipped", reasons
    if pytest_rc == 1:  # e.g. a failure the plugin did not see (a teardown outside the tests)
        return 1, "pytest reported a failure", []
    return 0, f"{len(passed)} scenario tests passed" + (f", {len(skipped)} skipped" if skipped else ""), []


# --------------------------------------------------------------------------- the command


def _chart_info(chart: Any) -> dict[str, str]:
    import yaml

    meta: dict[str, Any] = {}
    try:
        meta = yaml.safe_load((Path(chart.ref.ref) / "Chart.yaml").read_text()) or {}
    except (OSError, ValueError):
        pass
    rel = chart.contract.released if chart.contract else None
    try:
        path = os.path.relpath(chart.ref.ref)
    except ValueError:
        path = str(chart.ref.ref)
    return {"name": str(meta.get("name") or chart.name), "path": path, "version": str(meta.get("version") or ""),
            "app_version": str(meta.get("appVersion") or ""),
            "from": f"{rel.chart} {rel.version or ''}".strip() if rel else ""}


def _node_image(cfg: Any) -> str:
    if cfg.external_cluster:
        return f"external cluster ({cfg.kubeconfig})"
    if cfg.node_image:
        return cfg.node_image
    try:
        from harness.env.cluster import resolve_node_image, spec_from_config

        return resolve_node_image(spec_from_config(cfg))
    except Exception:  # noqa: BLE001 - only the report's header; the run reports real problems
        return f"kindest/node:{cfg.kubernetes_version}"


def gate_info(plan: Plan | None, *, started: float, exit_code_: int, why: str, errors: Sequence[str] = ()) -> Any:
    from harness.report.render import GateInfo

    prog = ["python", "-m", "harness"] if sys.argv[0].endswith("__main__.py") else [Path(sys.argv[0]).name]
    info = GateInfo(started=started, duration=time.time() - started, exit_code=exit_code_, why=why,
                    errors=list(errors), command=shlex.join([*prog, *sys.argv[1:]]))
    if plan is not None:
        cfg = plan.cfg
        info.charts = [_chart_info(c) for c in plan.charts]
        info.scenarios = list(plan.scenarios)
        info.controls = plan.controls
        info.values = [os.path.relpath(v) for v in plan.values]
        info.sets = list(cfg.sets)
        info.broken = (f"{plan.broken.name} ({os.path.relpath(plan.broken.values)}): must fail {plan.broken.scenario}"
                       if plan.broken else "")
        info.node_image = _node_image(cfg)
        info.cluster = "" if cfg.external_cluster else cfg.cluster_name
        info.addons = list(cfg.addons)
    return info


def write_gate_report(plan: Plan, *, started: float, code: int, why: str, details: Sequence[str],
                      since: float | None, clock: Clock) -> Any:
    """Collect the rows and write the report; prints where it went. Returns the rows."""
    from harness.report import render as report

    rows = report.collect_rows(plan.cfg.artifacts_dir, since=since, junit=plan.junit)
    info = gate_info(plan, started=started, exit_code_=code, why=why, errors=details)
    written = report.write_report(rows, info, report_dir=plan.report_dir, artifacts_dir=plan.cfg.artifacts_dir,
                                  junit_sources=[plan.junit] if plan.junit else [], since=since)
    clock.say(f"report: {written['html']} and {written['markdown'].name}"
              + (f", {written['junit'].name}" if "junit" in written else ""))
    return rows


def cmd_gate(args: argparse.Namespace) -> int:
    """Run the gate; see the module docstring. Returns the exit code."""
    from harness.report import render as report

    clock = Clock()
    started = clock.started
    plan = make_plan(args)
    if args.report_only:  # no status from the run: the rows alone decide (no pass without a passed test)
        rows = report.collect_rows(plan.cfg.artifacts_dir, junit=plan.junit)
        c = report.counts(rows)
        code = 0 if c["PASS"] and not c["FAIL"] and not c["ERROR"] else 1
        info = gate_info(plan, started=started, exit_code_=code, why="report rebuilt from the last run's artifacts")
        info.started = info.duration = 0.0  # unknown: the header leaves them out
        written = report.write_report(rows, info, report_dir=plan.report_dir, artifacts_dir=plan.cfg.artifacts_dir,
                                      junit_sources=[plan.junit] if plan.junit else [])
        clock.say(f"report: {written['html']} ({report.verdict_line(rows, code)})")
        return code

    from harness.scenario.targets import targets_for

    names = ", ".join(f"{_chart_info(c)['name']} {_chart_info(c)['version']}" for c in plan.charts)
    frm = ", ".join(sorted({_chart_info(c)["from"] for c in plan.charts if _chart_info(c)["from"]}))
    clock.say(f"gate {names}: scenarios {', '.join(plan.scenarios)}"
              + (" + negative controls" if plan.controls else "")
              + (f"; upgrades from {frm}" if frm else "")
              + (f"; broken overlay {plan.broken.name} (expected to fail)" if plan.broken else ""))
    for s in plan.scenarios:
        targets = [t.id for t in targets_for(s, plan.charts, negative=False)]
        if plan.controls:
            targets += [t.id for t in targets_for(s, plan.charts, negative=True)]
        clock.say(f"  {s}: {', '.join(targets)}")
    try:
        preflight(plan, clock)
    except (EnvironmentNotReady, UsageError) as exc:
        _report_without_run(plan, started, exc, clock)
        raise

    with tempfile.TemporaryDirectory(prefix="harness-gate-") as tmp:
        status = Path(tmp) / "status.json"
        argv = build_pytest_argv(plan, status=status, started=started)
        clock.say("run: " + shlex.join(["pytest", *argv[3:]]))
        run_started = time.time()
        rc, st = run_pytest(argv, status=status)
    code, why, details = exit_code(rc, st)
    clock.say(f"pytest exited {rc} after {fmt_elapsed(time.time() - run_started)}")
    rows = write_gate_report(plan, started=started, code=code, why=why, details=details, since=run_started,
                             clock=clock)
    clock.say(f"{report.verdict_line(rows, code)} (exit {code}: {why})")
    return code


def _report_without_run(plan: Plan, started: float, exc: HarnessError, clock: Clock) -> None:
    """A preflight failure still leaves a report (so CI's summary says why), with no rows."""
    from harness.report import render as report

    info = gate_info(plan, started=started, exit_code_=exc.exit_code, why=f"harness: error: {exc}")
    try:
        written = report.write_report([], info, report_dir=plan.report_dir)
        clock.say(f"report: {written['markdown']}")
    except OSError as err:  # the report must never hide the real error
        clock.say(f"could not write the report: {err}")


# --------------------------------------------------------------------------- the CLI parser


class _OneLineErrors(argparse.ArgumentParser):
    """The gate's parser: any option error is one line and exit 2 (argparse prints the usage too),
    including unknown options, which argparse otherwise reports from the top-level parser."""

    def error(self, message: str) -> None:  # type: ignore[override]
        sys.stderr.write(f"harness: error: gate: {message} (see: python -m harness gate --help)\n")
        sys.exit(2)

    def parse_known_args(self, args: Any = None, namespace: Any = None) -> Any:  # type: ignore[override]
        ns, extra = super().parse_known_args(args, namespace)
        if extra:
            self.error(f"unrecognized arguments: {' '.join(extra)}")
        return ns, extra


def add_arguments(p: argparse.ArgumentParser, add_config_arguments: Callable[[argparse.ArgumentParser], None]) -> None:
    """The gate's options: every harness option (``add_config_arguments``, the same names as under
    pytest) plus its own."""
    p.__class__ = _OneLineErrors  # one-line option errors (see the class)
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.epilog = ("exit codes: 0 every scenario passed; 1 a scenario failed; 2 usage error (option, chart path, "
                "contract, helm lint); 3 the environment could not be set up (Docker, tools, images, cluster); "
                "130 interrupted. docs/gate.md has the details.")
    add_config_arguments(p)
    p._option_string_actions["--rootdir"].help = "project root (default: the harness checkout holding scenarios/)"
    g = p.add_argument_group("gate")
    g.add_argument("--scenarios", action="append", metavar="NAME[,NAME]",
                   help="run only these of the scenarios the contract enables (repeatable or comma-separated)")
    g.add_argument("--controls", action="store_true",
                   help="also run the contract's negative controls (each must make its scenario FAIL)")
    g.add_argument("--broken", metavar="NAME",
                   help="apply the contract's broken entry NAME as a values overlay and run its scenario: "
                        "the gate must then exit 1")
    g.add_argument("--report-dir", metavar="DIR", default=None,
                   help=f"where the report goes (default: report/ in the harness root) [env {REPORT_DIR_ENV}]")
    g.add_argument("--report-only", action="store_true",
                   help="rebuild the report from the artifacts directory of the last run; run nothing")
    g.add_argument("pytest_args", nargs="*", metavar="-- PYTEST_ARGS",
                   help="after --: passed on to pytest (e.g. -- -x -k realtime)")


