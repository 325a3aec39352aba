"""The one way a scenario's outcome leaves a test: :func:`record_result` with a finished
:class:`harness.scenario.result.ScenarioResult`.

The records of a session are kept on the pytest config (a StashKey, no module state). Each record
fills its test's JUnit ``<properties>`` when it is recorded (:func:`junit_properties`); at the end
of the session they are written once to ``<artifacts>/scenarios.json`` and printed as the terminal
summary table (:func:`harness.report.table.summary_table`). A scenario test that ends without a
record (an error before its verdict, a skip, a fixture that failed) gets an ERROR or SKIP record
built from its target and its pytest reports (:func:`fallback_result`), so every scenario test of a
run has exactly one row wherever results are shown.

Also here: :func:`check_verdict`, the assertion every scenario test ends with.
"""
from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from harness.core import progress
from harness.plugin import workers
from harness.plugin.session import ARTIFACT_PROPERTY, CONFIG_KEY, STATE_KEY
from harness.report.table import summary_table
from harness.scenario.result import (
    Cell,
    Outcome,
    ScenarioResult,
    gate_status,
    write_results,
)
from harness.scenario.targets import Target
from harness.scenario.verdicts import EXPECTED_FAILURE, Verdict

RESULTS_FILE = "scenarios.json"


@dataclass
class _Entry:
    """One recorded result and the test it belongs to (replaced, never mutated, as it is completed)."""

    item: Any
    result: ScenarioResult


RESULTS_KEY = pytest.StashKey[list[_Entry]]()
"""On ``config.stash``: the session's records in the order they were recorded."""
ITEM_RESULTS_KEY = pytest.StashKey[list[_Entry]]()
"""On ``item.stash``: the records of one test."""
CELL_KEY = pytest.StashKey[Cell]()
"""On ``config.stash``: the session's matrix cell (set by the ``scenario_env`` fixture)."""


# --------------------------------------------------------------------------- recording


def record_result(item: Any, result: ScenarioResult) -> None:
    """Hand one test's finished record to the session.

    Args:
        item: the pytest item (``request.node``) the record belongs to.
        result: the finished record. A missing ``test_id`` becomes the item's node id; a negative
            control's missing ``expected_reason`` becomes the scenario's pattern
            (:data:`harness.scenario.verdicts.EXPECTED_FAILURE`).

    The record's JUnit properties are added to the item now (:func:`junit_properties`, what
    pytest's ``record_property`` does); ``scenarios.json`` is written once at the end of the session.
    """
    changes: dict[str, Any] = {}
    if not result.test_id:
        changes["test_id"] = item.nodeid
    if result.is_control and result.expected_reason is None and result.scenario in EXPECTED_FAILURE:
        changes["expected_reason"] = EXPECTED_FAILURE[result.scenario]
    if changes:
        result = dataclasses.replace(result, **changes)
    entry = _Entry(item, result)
    item.config.stash.setdefault(RESULTS_KEY, []).append(entry)
    item.stash.setdefault(ITEM_RESULTS_KEY, []).append(entry)
    item.user_properties.extend(junit_properties(result))


def results(config: pytest.Config) -> list[ScenarioResult]:
    """The session's records so far, in the order they were recorded."""
    return [e.result for e in config.stash.get(RESULTS_KEY, [])]


def adopt_results(config: pytest.Config, records: Sequence[ScenarioResult]) -> None:
    """Records other processes wrote (the xdist workers' ``scenarios.json``, merged by the
    controller: harness/plugin/parallel.py) join this session's, for the terminal table."""
    config.stash.setdefault(RESULTS_KEY, []).extend(_Entry(None, r) for r in records)


def results_of(item: Any) -> list[ScenarioResult]:
    """The records of one test ([] when it has none yet)."""
    return [e.result for e in item.stash.get(ITEM_RESULTS_KEY, [])]


def junit_properties(result: ScenarioResult) -> list[tuple[str, Any]]:
    """The JUnit ``<property>`` pairs of a record, under the names the harness has always used:
    each figure by its name (its value), ``verdict`` (PASS/FAIL, only when the scenario reached
    one), ``reason`` and ``scenario_seconds`` (the test's wall time, rounded to 0.1 s)."""
    props: list[tuple[str, Any]] = [(name, fig.value) for name, fig in result.figures.items()]
    if result.outcome in ("PASS", "FAIL"):
        props.append(("verdict", result.outcome))
    if result.reason:
        props.append(("reason", result.reason))
    props.append(("scenario_seconds", round(result.seconds, 1)))
    return props


def remember_cell(config: pytest.Config, cell: Cell) -> None:
    """Keep the session's matrix cell for the records built without a scenario context."""
    config.stash[CELL_KEY] = cell


def session_cell(config: pytest.Config) -> Cell:
    """The session's matrix cell (empty before the ``scenario_env`` fixture ran)."""
    return config.stash.get(CELL_KEY, Cell())


# --------------------------------------------------------------------------- completing and building records


def artifact_paths(directory: Path, root: Path, *, since: float | None = None) -> list[str]:
    """The files under ``directory`` (written at or after ``since``, epoch seconds), as paths
    relative to ``root`` where they lie under it, sorted. [] when the directory does not exist."""
    if not directory.is_dir():
        return []
    out = []
    for p in sorted(directory.rglob("*")):
        try:
            if not p.is_file() or (since is not None and p.stat().st_mtime < since - 1):
                continue
        except OSError:
            continue
        out.append(_relative(p, root))
    return out


def _relative(path: Path, root: Path) -> str:
    try:
        return str(path.resolve().relative_to(root.resolve()))
    except ValueError:
        return str(path)


def _merged(first: Sequence[str], more: Sequence[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys([*first, *more]))


def complete_result(result: ScenarioResult, *, test_id: str, seconds: float, cell: Cell,
                    artifacts: Sequence[str] = ()) -> ScenarioResult:
    """A scenario context's record completed by the pytest layer: the test's node id and wall time
    (``seconds``), the evidence files (``artifacts``, added to those the record names) and the
    matrix cell (when the record has none)."""
    return dataclasses.replace(
        result, test_id=test_id, seconds=round(seconds, 1), artifacts=_merged(result.artifacts, artifacts),
        cell=result.cell if result.cell != Cell() else cell)


def _first_line(report: Any) -> str:
    """The line that says why a report failed: the first ``E`` line of the traceback, else the last line."""
    text = str(getattr(report, "longreprtext", "") or getattr(report, "longrepr", "") or "")
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    errs = [ln[1:].strip() for ln in lines if ln.startswith("E ")]
    return (errs[0] if errs else (lines[-1] if lines else ""))[:300]


def _skip_reason(report: Any) -> str:
    lr = report.longrepr
    if isinstance(lr, tuple) and len(lr) == 3:
        return str(lr[2]).removeprefix("Skipped: ")
    return str(lr or "")[:300]


def outcome_of(reports: Sequence[Any]) -> tuple[Outcome, str]:
    """``(ERROR|SKIP, reason)`` for a scenario test that reached no verdict, from its setup and call
    reports (None entries are phases that did not run): SKIP with pytest's skip reason, else
    ERROR with the error's first line."""
    for rep in reports:
        if rep is None:
            continue
        if rep.skipped:
            return "SKIP", _skip_reason(rep)
        if rep.failed:
            return "ERROR", f"{rep.when}: {_first_line(rep)}" if rep.when != "call" else _first_line(rep)
    return "ERROR", "the scenario did not reach a verdict"


def fallback_result(scenario: str, target: Any, *, key: Any = None, reports: Sequence[Any] = (), test_id: str = "",
                    seconds: float = 0.0, cell: Cell = Cell(), artifacts: Sequence[str] = ()) -> ScenarioResult:
    """The ERROR or SKIP record of a scenario test that produced none (see :func:`outcome_of`).

    Args:
        scenario: the module's SCENARIO. target: the test's :class:`harness.scenario.targets.Target`
            (anything else is named by its text). key: the scenario's own parameter (a fault), or None.
        reports: the test's setup and call reports. test_id: its node id. seconds: its wall time.
        cell: the session's matrix cell. artifacts: evidence paths already known.
    """
    outcome, reason = outcome_of(reports)
    if isinstance(target, Target):
        chart, variant = target.chart.name, target.variant
        control = target.broken.name if target.broken is not None else None
    else:
        chart, variant, control = str(getattr(target, "id", target)), "", None
    return ScenarioResult(scenario=scenario, chart=chart, variant=variant, control=control, outcome=outcome,
                          reason=reason, cell=cell, key=None if key is None else str(key), seconds=round(seconds, 1),
                          test_id=test_id, artifacts=tuple(artifacts),
                          expected_reason=EXPECTED_FAILURE.get(scenario) if control else None)


def scenario_params(item: Any) -> tuple[str | None, Any, Any]:
    """``(scenario, target, key)`` of a scenario test, from its module's SCENARIO and its
    parameters (``target`` or ``broken_target``, and ``fault``, or ``helm_from`` "3" as the key
    ``from-helm3``); scenario None for other tests."""
    scenario = getattr(getattr(item, "module", None), "SCENARIO", None)
    params = getattr(getattr(item, "callspec", None), "params", {})
    target = params.get("target", params.get("broken_target"))
    key = params.get("fault")
    if key is None and params.get("helm_from"):
        key = f"from-helm{params['helm_from']}"
    return scenario, target, key


# --------------------------------------------------------------------------- hooks


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[Any]:
    """Before the teardown report is made (so JUnit sees the properties): a scenario test with no
    record gets its ERROR/SKIP record. After it: a failed teardown turns a passing record into ERROR."""
    if call.when == "teardown" and not item.stash.get(ITEM_RESULTS_KEY, []):
        scenario, target, key = scenario_params(item)
        if scenario and target is not None:
            reports = [getattr(item, "rep_setup", None), getattr(item, "rep_call", None)]
            seconds = sum(getattr(r, "duration", 0.0) for r in reports if r is not None)
            record_result(item, fallback_result(scenario, target, key=key, reports=reports, test_id=item.nodeid,
                                                seconds=seconds, cell=session_cell(item.config)))
    report = yield
    if report.when == "teardown" and report.failed:
        for entry in item.stash.get(ITEM_RESULTS_KEY, []):
            if gate_status(entry.result) == "PASS":
                entry.result = dataclasses.replace(entry.result, outcome="ERROR",
                                                   reason=f"teardown: {_first_line(report)}")
    return report


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Write the session's records once: ``<artifacts>/scenarios.json``, each with the diagnostics
    its test collected after a failure (the ``harness_artifacts`` JUnit property) among its artifacts."""
    cfg = session.config.stash.get(CONFIG_KEY, None)
    entries = session.config.stash.get(RESULTS_KEY, [])
    if cfg is None or not entries:
        return
    root = Path(cfg.artifacts_dir)
    for entry in entries:
        diag = [_relative(Path(str(v)), root) for k, v in getattr(entry.item, "user_properties", [])
                if k == ARTIFACT_PROPERTY]
        if diag:
            entry.result = dataclasses.replace(entry.result, artifacts=_merged(entry.result.artifacts, diag))
    try:
        state = session.config.stash.get(STATE_KEY, None)
        # an xdist worker writes its own (<artifacts>/workers/<id>/); the controller merges them (parallel.py)
        write_results(workers.output_path(session.config, root, RESULTS_FILE), [e.result for e in entries],
                      redactor=state.redactor if state is not None else None)
    except OSError as exc:
        progress.say(f"could not write {RESULTS_FILE}: {exc}")


@pytest.hookimpl(trylast=True)
def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    records = results(config)
    cfg = config.stash.get(CONFIG_KEY, None)
    if not records:
        return
    terminalreporter.write_sep("-", "harness scenarios")
    for line in summary_table(records).splitlines():
        terminalreporter.write_line(line)
    if cfg is not None:
        terminalreporter.write_line(f"(also in {Path(cfg.artifacts_dir) / RESULTS_FILE})")


# --------------------------------------------------------------------------- the verdict assertion


def check_verdict(verdict: Verdict, target: Target, scenario: str) -> None:
    """The assertion every scenario test ends with: a positive target must pass; a negative control
    must fail, and for one of the scenario's own criteria (the expected-failure pattern)."""
    if target.broken is None:
        assert verdict.passed, verdict.reason
        return
    assert not verdict.passed, (f"negative control {target.broken.name} PASSED {scenario}, so the scenario does not "
                                f"catch what it claims ({target.broken.reason}): {verdict.reason}")
    pattern = EXPECTED_FAILURE[scenario]
    assert re.search(pattern, verdict.reason), (
        f"negative control {target.broken.name} failed {scenario}, but not for the expected reason "
        f"(/{pattern}/; contract: {target.broken.reason}): {verdict.reason}")
