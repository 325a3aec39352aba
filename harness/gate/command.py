"""``python -m harness gate``: the release gate for a chart's working tree.

    python -m harness gate --chart PATH [--from-version X] [--scenarios upgrade,drain] [--controls]
                           [--broken NAME] [--report-dir DIR] [--values F] [--set K=V] [any harness option]
                           [-- extra pytest arguments]

Runs every scenario the chart's ``harness-contract.yaml`` enables (or the ``--scenarios`` subset),
upgrading from the contract's ``released`` version (``--from-version`` overrides it) to the chart
directory given, on a fresh or reused kind cluster, then writes the report (harness/report/render.py)
from the run's scenario records (``<artifacts>/scenarios.json``).

One job per module:

* :mod:`harness.gate.cli` — the options (``add_arguments``);
* :mod:`harness.gate.plan` — the options resolved into a :class:`~harness.gate.plan.Plan`;
* :mod:`harness.gate.preflight` — what can fail in seconds (Docker, tools, images, ``helm lint``,
  the released version), checked before any cluster work;
* :mod:`harness.gate.run` — pytest on the selected ``scenarios/<name>`` folders (the checkout's, else
  the installed package's ``harness/scenarios/<name>``) **in a subprocess**
  (``sys.executable -m pytest``) with ``-p harness.gate.plugin``: pytest keeps its own exit codes
  and terminal output, and an interrupted or crashed run still leaves the gate able to write a report;
* :mod:`harness.gate.plugin` — the pytest half: deselects negative controls (unless ``--controls``)
  and scenarios outside the selection; prints a line when each test starts and ends
  (``[3/5] upgrade realtime-default: PASS in 0:41``), stamps every harness progress line with the
  time since the gate started and, after a minute without any line, says what it is still waiting
  for; records for the parent what pytest's exit code cannot say (failed tests, tests that could
  not run because the environment was not ready, collection errors, a ``pytest.exit``);
* :mod:`harness.gate.exitcode` — pytest's exit code and that status mapped to the gate's;
* :mod:`harness.gate.header` — the report's header (charts, versions, where it ran);
* this module — the command: plan, preflight, run, report.

Exit codes (:func:`harness.gate.exitcode.exit_code`): **0** every selected scenario test passed
(skips allowed, but not all of them); **1** a scenario failed (its verdict, or the chart could not
be installed or upgraded: the chart is not ready); **2** usage error (unknown option, chart path
missing, bad contract, chart failing ``helm lint``, unknown ``--from-version``; pytest's usage error
4 maps here); **3** the environment could not be set up (Docker, tools, images, cluster creation,
add-ons: the runner is broken, not the chart); **130** interrupted.
"""
from __future__ import annotations

import argparse
import shlex
import shutil
import time
from collections.abc import Sequence
from pathlib import Path

from harness.core import runs
from harness.core.errors import EnvironmentNotReady, HarnessError, UsageError
from harness.core.fmt import duration
from harness.gate import edges, preflight, run
from harness.gate.cli import add_arguments
from harness.gate.clock import Clock
from harness.gate.exitcode import exit_code
from harness.gate.header import chart_info, gate_info
from harness.gate.matrix import KindClusters
from harness.gate.plan import Plan, make_plan
from harness.k8s.namespaces import new_run_id
from harness.report import render as report
from harness.scenario.result import ScenarioResult
from harness.scenario.targets import targets_for

__all__ = ["add_arguments", "cmd_gate", "write_gate_report"]


def load_records(plan: Plan, *, since: float | None, clock: Clock) -> list[ScenarioResult]:
    """The run's records (:func:`harness.report.render.load_results`); an unreadable scenarios.json
    is said in one line and reported as no records (the exit code still comes from the run)."""
    try:
        return report.load_results(plan.cfg.artifacts_dir, since=since)
    except ValueError as exc:
        clock.say(f"the run's records cannot be read: {exc}")
        return []


def write_gate_report(plan: Plan, *, started: float, code: int, why: str, details: Sequence[str],
                      since: float | None, clock: Clock, results: list[ScenarioResult] | None = None,
                      junit_sources: Sequence[Path] | None = None) -> list[ScenarioResult]:
    """Read the run's records (unless given) and write the report; prints where it went. Returns the records."""
    if results is None:
        results = load_records(plan, since=since, clock=clock)
    if junit_sources is None:
        junit_sources = [plan.junit] if plan.junit else []
    info = gate_info(plan, started=started, exit_code_=code, why=why, errors=details, results=results)
    written = report.write_report(results, info, report_dir=plan.report_dir, artifacts_dir=plan.cfg.artifacts_dir,
                                  junit_sources=junit_sources, since=since)
    clock.say(f"report: {written['html']} and {written['markdown'].name}"
              + (f", {written['junit'].name}" if "junit" in written else ""))
    return results


def _report_only(plan: Plan, clock: Clock) -> int:
    """Rebuild the report from the last run's records. No status from the run: the records alone
    decide (no pass without a passed test)."""
    results = load_records(plan, since=None, clock=clock)
    c = report.counts(results)
    code = 0 if c["PASS"] and not c["FAIL"] and not c["ERROR"] else 1
    info = gate_info(plan, started=clock.started, exit_code_=code, why="report rebuilt from the last run's artifacts",
                     results=results)
    info.started = info.duration = 0.0  # unknown: the header leaves them out
    written = report.write_report(results, info, report_dir=plan.report_dir, artifacts_dir=plan.cfg.artifacts_dir,
                                  junit_sources=[plan.junit] if plan.junit else [])
    clock.say(f"report: {written['html']} ({report.verdict_line(results, code)})")
    return code


def _announce(plan: Plan, clock: Clock) -> None:
    infos = [chart_info(c) for c in plan.charts]
    names = ", ".join(f"{i['name']} {i['version']}" for i in infos)
    frm = ", ".join(sorted({i["from"] for i in infos if i["from"]}))
    clock.say(f"gate {names}: scenarios {', '.join(plan.scenarios)}"
              + (" + negative controls" if plan.controls else "")
              + (f"; upgrades from {frm}" if frm else "")
              + (f"; broken overlay {plan.broken.name} (expected to fail)" if plan.broken else "")
              + (f"; shard {plan.shard} (its slice of the tests below)" if plan.shard else ""))
    for s in plan.scenarios:
        targets = [t.id for t in targets_for(s, plan.charts, negative=False)]
        if plan.controls:
            targets += [t.id for t in targets_for(s, plan.charts, negative=True)]
        clock.say(f"  {s}: {', '.join(targets)}")


def cmd_gate(args: argparse.Namespace) -> int:
    """Run the gate; see the module docstring. Returns the exit code.

    Raises:
        UsageError, EnvironmentNotReady: from the plan or the preflight (a report is written first).
    """
    clock = Clock()
    started = clock.started
    plan = make_plan(args)
    if args.report_only:
        return _report_only(plan, clock)
    _announce(plan, clock)
    try:
        preflight.preflight(plan, clock)
    except (EnvironmentNotReady, UsageError) as exc:
        _report_without_run(plan, started, exc, clock)
        raise

    if plan.edge_matrix:
        return _gate_edges(plan, clock)
    gate_dir = _gate_run_dir()
    try:
        status = gate_dir / "status.json"
        argv = run.build_pytest_argv(plan, status=status, started=started)
        clock.say("run: " + shlex.join(["pytest", *argv[3:]]))
        run_started = time.time()
        rc, st = run.run_pytest(argv, status=status)
    finally:
        shutil.rmtree(gate_dir, ignore_errors=True)
    code, why, details = exit_code(rc, st)
    clock.say(f"pytest exited {rc} after {duration(time.time() - run_started, 'clock')}")
    results = write_gate_report(plan, started=started, code=code, why=why, details=details, since=run_started,
                                clock=clock)
    clock.say(f"{report.verdict_line(results, code)} (exit {code}: {why})")
    return code


def _gate_run_dir() -> Path:
    """The gate's own files (pytest status documents) under a run directory with its owner record
    (harness/core/runs.py), so a killed gate's are found by `python -m harness clean`; each pytest
    session it starts has a run id of its own. The caller removes it."""
    gate_dir = runs.run_dir(new_run_id())
    runs.write_owner(gate_dir / runs.OWNER_FILE, runs.owner_now(gate_dir.name))
    return gate_dir


def _gate_edges(plan: Plan, clock: Clock) -> int:
    """The scenarios once per edge on one cluster, one report (harness/gate/edges.py)."""
    started = clock.started
    runs_ = edges.edge_runs(plan)
    kind = None if plan.cfg.external_cluster else KindClusters()
    existed = kind is not None and plan.cfg.cluster_name in kind.existing()
    gate_dir = _gate_run_dir()
    codes: list[int] = []
    whys: list[str] = []
    details: list[str] = []
    results: list[ScenarioResult] = []
    first_started = time.time()
    try:
        for i, er in enumerate(runs_, 1):
            status = gate_dir / f"status-{er.edge}.json"
            argv = run.build_pytest_argv(plan, status=status, started=started) + list(er.extra)
            clock.say(f"edge {i}/{len(runs_)} {er.edge}: " + shlex.join(["pytest", *argv[3:]]))
            run_started = time.time()
            rc, st = run.run_pytest(argv, status=status)
            code, why, more = exit_code(rc, st)
            clock.say(f"edge {er.edge}: pytest exited {rc} after {duration(time.time() - run_started, 'clock')}")
            codes.append(code)
            whys.append(f"{er.edge}: {why}")
            details += [f"{er.edge}: {d}" for d in more]
            try:
                results += edges.rebased(report.load_results(er.artifacts, since=run_started), er,
                                         plan.cfg.artifacts_dir)
            except ValueError as exc:
                clock.say(f"edge {er.edge}: the run's records cannot be read: {exc}")
            if code in edges.STOP_CODES:
                left = [r.edge for r in runs_[i:]]
                if left:
                    clock.say(f"edge {er.edge}: exit {code}; not running {', '.join(left)}")
                break
    finally:
        shutil.rmtree(gate_dir, ignore_errors=True)
        code = edges.combined_code(codes)
        name = plan.cfg.cluster_name
        if kind is not None and name in kind.existing():
            if edges.delete_after(plan.cfg.keep_cluster, code, existed=existed):
                clock.say(f"deleting cluster {name} (keep-cluster={plan.cfg.keep_cluster})")
                kind.delete(name)
            else:
                clock.say(f"cluster {name} kept: " + ("it existed before the gate" if existed
                                                     else f"keep-cluster={plan.cfg.keep_cluster}"))
    why = "; ".join(whys)
    results = write_gate_report(plan, started=started, code=code, why=why, details=details, since=first_started,
                                clock=clock, results=results, junit_sources=[er.junit for er in runs_])
    clock.say(f"{report.verdict_line(results, code)} (exit {code}: {why})")
    return code


def _report_without_run(plan: Plan, started: float, exc: HarnessError, clock: Clock) -> None:
    """A preflight failure still leaves a report (so CI's summary says why), with no rows."""
    info = gate_info(plan, started=started, exit_code_=exc.exit_code, why=f"harness: error: {exc}")
    try:
        written = report.write_report([], info, report_dir=plan.report_dir)
        clock.say(f"report: {written['markdown']}")
    except OSError as err:  # the report must never hide the real error
        clock.say(f"could not write the report: {err}")
