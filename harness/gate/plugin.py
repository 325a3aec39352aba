"""The gate's pytest half, loaded into the pytest subprocess with ``-p harness.gate.plugin``: progress
lines with elapsed time, and the status file the gate reads back for its exit code."""
from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from harness.core import progress
from harness.core.durations import argparse_duration
from harness.core.errors import EnvironmentNotReady
from harness.core.fmt import duration
from harness.core.parallel import worker_exit
from harness.gate.shard import Shard, parse_shard, select, unit_key


def pytest_addoption(parser: Any) -> None:
    g = parser.getgroup("harness-gate", "harness gate (set by python -m harness gate)")
    g.addoption("--gate-status", default=None, metavar="FILE", help="write the gate status JSON here")
    g.addoption("--gate-started", default=None, type=float, metavar="EPOCH", help="when the gate started")
    g.addoption("--gate-scenarios", default="", metavar="NAMES", help="scenarios to keep (comma-separated)")
    g.addoption("--gate-controls", action="store_true", default=False, help="keep negative controls")
    g.addoption("--gate-shard", default="", metavar="I/N", help="keep only slice I of N of the selected tests")
    g.addoption("--gate-heartbeat", default=60.0, type=argparse_duration("--gate-heartbeat"), metavar="DURATION",
                help="print a 'still running' line after this long without output (seconds, or 90s, 5m)")


def pytest_configure(config: Any) -> None:
    if config.getoption("gate_status", None) is None and config.getoption("gate_started", None) is None:
        return
    if config.option.help or getattr(config.option, "version", False):
        return
    config.pluginmanager.register(GatePlugin(config), "harness-gate-recorder")


class GatePlugin:
    """Selection, progress lines and the status record of one gate run (see the module docstring)."""

    def __init__(self, config: Any):
        self.config = config
        self.status_path = config.getoption("gate_status")
        self.started = config.getoption("gate_started") or time.time()
        self.scenarios = {s for s in (config.getoption("gate_scenarios") or "").split(",") if s}
        self.controls = bool(config.getoption("gate_controls"))
        raw_shard = config.getoption("gate_shard") or ""
        self.shard: Shard | None = parse_shard(raw_shard) if raw_shard else None
        self.planned = 0  # tests of the whole plan in this run, before the shard took its slice
        self.heartbeat = float(config.getoption("gate_heartbeat") or 60.0)
        self.tests: dict[str, dict[str, Any]] = {}
        self.labels: dict[str, str] = {}
        self.collect_errors: list[str] = []
        self.exit: dict[str, Any] | None = None
        self.total = 0
        self.index = 0
        self.current = ""
        self.test_started = 0.0
        self.started_at: dict[str, float] = {}  # per test: under pytest-xdist several run at once
        # on an xdist worker: select the tests only; the controller prints, times and writes the status
        self.worker = hasattr(config, "workerinput")
        self.session: Any = None
        self.last_line = time.monotonic()
        self._stop = threading.Event()
        self._previous_sink: Callable[[str], None] | None = None
        self._thread: threading.Thread | None = None

    # -- progress

    def stamp(self) -> str:
        return duration(time.time() - self.started, "clock")

    def _fresh_line(self, line: str) -> str:
        """``line``, preceded by a newline when pytest's progress characters left the line open
        (its ``write_line`` only breaks the line after a file name)."""
        tr = self.config.pluginmanager.getplugin("terminalreporter")
        tw = getattr(tr, "_tw", None)
        if (threading.current_thread() is threading.main_thread() and getattr(tw, "width_of_current_line", 0)
                and not getattr(tr, "currentfspath", None)):
            return "\n" + line
        return line

    def _wrap(self, line: str) -> None:

        self.last_line = time.monotonic()
        if line.startswith(progress.PREFIX):
            line = f"[harness {self.stamp()}] " + line[len(progress.PREFIX):]
        if self._previous_sink is not None:
            self._previous_sink(self._fresh_line(line))

    def say(self, message: str) -> None:
        """``[gate M:SS] message`` through the harness's terminal sink (reaches the terminal
        through pytest's capture)."""

        if self._previous_sink is None:
            progress.say(message)
            return
        self.last_line = time.monotonic()
        try:
            self._previous_sink(self._fresh_line(f"[gate {self.stamp()}] {message}"))
        except Exception:  # noqa: BLE001, S110 - progress output must never break a run
            pass

    def _ticker(self) -> None:
        while not self._stop.wait(min(5.0, self.heartbeat)):
            if time.monotonic() - self.last_line >= self.heartbeat:
                what = (f"{self._short(self.current)} (test {self.index} of {self.total}, "
                        f"{duration(time.time() - self.test_started, 'clock')} in)" if self.current else "the session setup")
                self.say(f"still running {what}")

    def _short(self, nodeid: str) -> str:
        """How progress lines name a test: ``upgrade realtime-default``, ``db_outage ha-service-default stop``,
        ``upgrade ha-service-broken-pdb (control)`` (from its parameters at collection; else its node id)."""
        return self.labels.get(nodeid, nodeid)

    # -- hooks

    def pytest_sessionstart(self, session: Any) -> None:
        if self.worker:
            return
        self._previous_sink = progress.set_sink(self._wrap)
        self._thread = threading.Thread(target=self._ticker, name="gate heartbeat", daemon=True)
        self._thread.start()

    def pytest_collectreport(self, report: Any) -> None:
        if report.failed:
            self.collect_errors.append(f"{report.nodeid or 'collection'}: "
                                       f"{str(report.longrepr).strip().splitlines()[-1][:300] if report.longrepr else ''}")

    def pytest_collection_modifyitems(self, session: Any, config: Any, items: list[Any]) -> None:
        keep, drop = [], []
        for item in items:
            scenario = getattr(getattr(item, "module", None), "SCENARIO", None)
            params = getattr(getattr(item, "callspec", None), "params", {})
            negative = "broken_target" in params
            ok = (not self.scenarios or scenario in self.scenarios) and (self.controls or not negative)
            (keep if ok else drop).append(item)
        self.planned = len(keep)
        if self.shard is not None:
            mine = select([item_key(i) for i in keep], self.shard)
            drop += [i for i in keep if item_key(i) not in mine]
            keep = [i for i in keep if item_key(i) in mine]
        if drop:
            config.hook.pytest_deselected(items=drop)
            items[:] = keep

    def pytest_collection_finish(self, session: Any) -> None:
        self.labels = {i.nodeid: label(i) for i in session.items}
        self.total = len(session.items)
        if self.worker:
            return
        of = f" (shard {self.shard} of the plan's {self.planned})" if self.shard is not None else ""
        self.say(f"{self.total} scenario test{'s' if self.total != 1 else ''} selected{of}: "
                 + ", ".join(self._short(i.nodeid) for i in session.items[:12])
                 + (f" (+{self.total - 12} more)" if self.total > 12 else ""))

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_node_collection_finished(self, node: Any, ids: list[str]) -> None:
        """On the xdist controller, which collects nothing: the selection as the first worker made it."""
        if not self.total:
            self.total = len(ids)
            self.labels = {i: nodeid_label(i) for i in ids}
            self.say(f"{self.total} scenario test{'s' if self.total != 1 else ''} selected (on pytest-xdist workers): "
                     + ", ".join(self._short(i) for i in ids[:12]) + (f" (+{self.total - 12} more)" if self.total > 12 else ""))

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        """A worker's session fixture stopped the run (harness/plugin/workers.py ``report_exit``): the
        gate's exit is that stop, as in a serial run's ``pytest.exit``."""
        stopped = worker_exit(getattr(node, "workeroutput", None))
        if stopped is None:
            return
        line, code = stopped
        if self.exit is None:
            self.exit = {"kind": "KeyboardInterrupt" if code == 130 else "Exit", "returncode": code,
                         "message": line}
        # the worker failed each test that needed the stopped fixture with that line (a serial run stops
        # before them): they are the environment's, not the chart's
        for t in self.tests.values():
            if t.get("outcome") == "error" and str(t.get("message", "")).startswith(line[:120]):
                t["environment"] = True

    def pytest_runtest_logstart(self, nodeid: str, location: Any) -> None:
        if self.worker:
            return
        self.index += 1
        self.current = nodeid
        self.test_started = time.time()
        self.started_at[nodeid] = self.test_started
        self.tests[nodeid] = {"outcome": "running", "index": self.index}
        self.say(f"[{self.index}/{self.total}] {self._short(nodeid)}: started")

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item: Any, call: Any) -> Any:
        """Mark a report whose exception is EnvironmentNotReady (exit 3, not a failed chart); the mark
        rides on the report's ``user_properties``, which reach the xdist controller."""
        outcome = yield
        if call.excinfo is not None and call.excinfo.errisinstance(EnvironmentNotReady):
            report = outcome.get_result()
            report.user_properties.append(
                (ENVIRONMENT_PROPERTY, f"{type(call.excinfo.value).__name__}: {call.excinfo.value}"))

    def pytest_runtest_logreport(self, report: Any) -> None:
        if self.worker:
            return
        t = self.tests.setdefault(report.nodeid, {"outcome": "running"})
        env = dict(report.user_properties or []).get(ENVIRONMENT_PROPERTY)
        if env and report.failed:
            t["environment"] = True
            t["message"] = str(env)
        if report.when == "call" or report.failed or report.skipped:
            if report.failed:
                t["outcome"] = "failed" if report.when == "call" else "error"
                t["when"] = report.when
                t.setdefault("message", _longrepr_line(report))
            elif report.skipped and t.get("outcome") in ("running", None):
                t["outcome"] = "skipped"
                t["message"] = _skip_reason(report)
            elif report.passed and report.when == "call" and t.get("outcome") == "running":
                t["outcome"] = "passed"
        if report.when == "teardown":
            if t.get("outcome") == "running":
                t["outcome"] = "passed"
            props = dict(report.user_properties or [])
            t["verdict"] = props.get("verdict", "")
            began = self.started_at.get(report.nodeid, self.test_started)
            took = duration(report.start - began + report.duration, "clock") if began else ""
            status = {"passed": "PASS", "failed": "FAIL", "error": "ERROR", "skipped": "SKIP"}[t["outcome"]]
            why = t.get("message") if status != "PASS" else props.get("reason", "")
            why = str(why or "").removeprefix("PASS: ")
            self.say(f"[{t.get('index', self.index)}/{self.total}] {self._short(report.nodeid)}: {status}"
                     f"{' in ' + took if took else ''}" + (f" — {why[:200]}" if why else ""))
            self.current = ""

    def pytest_keyboard_interrupt(self, excinfo: Any) -> None:
        if self.exit is not None:  # a worker's stop (pytest_testnodedown) made xdist end the run
            return
        if isinstance(excinfo.value, pytest.exit.Exception):
            self.exit = {"kind": "Exit", "returncode": excinfo.value.returncode, "message": str(excinfo.value.msg)}
        elif isinstance(excinfo.value, pytest.Session.Interrupted):
            # "Interrupted: N errors during collection": pytest's stop, not the user's Ctrl-C
            self.exit = {"kind": "Interrupted", "returncode": 2, "message": str(excinfo.value)}
        else:
            self.exit = {"kind": "KeyboardInterrupt", "returncode": 130, "message": "interrupted"}

    def pytest_sessionfinish(self, session: Any, exitstatus: int) -> None:
        self._stop.set()
        self.session = session

    def write_status(self) -> None:
        """The status file the gate reads back (harness/gate/exitcode.py). Written at unconfigure, after
        every plugin's sessionfinish: under xdist the harness's controller sets the run's exit status
        there, after the workers ended."""
        if self.status_path and not self.worker and self.session is not None:
            exitstatus = int(getattr(self.session, "exitstatus", 0) or 0)
            doc = {"exitstatus": exitstatus, "exit": self.exit, "collect_errors": self.collect_errors,
                   "selected": self.total, "tests": self.tests}
            if self.shard is not None:
                doc["shard"] = {"index": self.shard.index, "count": self.shard.count, "planned": self.planned}
            try:
                Path(self.status_path).write_text(json.dumps(doc, indent=2, default=str))
            except OSError as exc:
                self.say(f"could not write the status file: {exc}")

    def pytest_unconfigure(self, config: Any) -> None:
        self.write_status()
        self._stop.set()
        current = progress.set_sink(None)
        if current is not self._wrap:
            progress.set_sink(current)  # someone else's sink is in place: leave it


ENVIRONMENT_PROPERTY = "gate_environment"
"""The ``user_properties`` key that marks a report whose test raised EnvironmentNotReady."""


def nodeid_label(nodeid: str) -> str:
    """:func:`label` from a node id alone (the xdist controller has no items):
    ``scenarios/upgrade/test_upgrade.py::test_upgrade[realtime-default]`` -> ``upgrade realtime-default``."""
    path, _, rest = nodeid.partition("::")
    parts = path.split("/")
    scenario = parts[-2] if len(parts) >= 2 and parts[-1].startswith("test_") else ""
    _, bracket, params = rest.partition("[")
    if not scenario or not bracket:
        return nodeid
    return f"{scenario} {params.rstrip(']')}"


def label(item: Any) -> str:
    """A scenario test's name for people, from its module's SCENARIO and its parameters (the
    target's id, the fault, whether it is a negative control); other tests by their node id."""
    scenario = getattr(getattr(item, "module", None), "SCENARIO", None)
    params = getattr(getattr(item, "callspec", None), "params", {})
    target = params.get("target", params.get("broken_target"))
    if scenario is None or target is None:
        return item.nodeid
    parts = [scenario, str(getattr(target, "id", target))]
    if params.get("fault") is not None:
        parts.append(str(params["fault"]))
    return " ".join(parts) + (" (control)" if "broken_target" in params else "")


def item_key(item: Any) -> str:
    """A collected test's name for sharding (:func:`harness.gate.shard.unit_key`): scenario, target id,
    fault, control, from its module's SCENARIO and its parameters; other tests by their node id."""
    scenario = getattr(getattr(item, "module", None), "SCENARIO", None)
    params = getattr(getattr(item, "callspec", None), "params", {})
    target = params.get("target", params.get("broken_target"))
    if scenario is None or target is None:
        return item.nodeid
    fault = params.get("fault")
    return unit_key(str(scenario), str(getattr(target, "id", target)), None if fault is None else str(fault),
                    control="broken_target" in params)


def _longrepr_line(report: Any) -> str:
    text = str(getattr(report, "longreprtext", "") or report.longrepr or "")
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    errs = [ln for ln in lines if ln.startswith("E ")]
    line = errs[0][2:].strip() if errs else (lines[-1] if lines else "")
    return line[:400]


def _skip_reason(report: Any) -> str:
    lr = report.longrepr
    if isinstance(lr, tuple) and len(lr) == 3:
        return str(lr[2]).removeprefix("Skipped: ")
    return str(lr or "")[:400]

