"""pytest-xdist: harness tests on several workers that share one cluster (docs/parallel.md).

Who does what:

* **the controller** (the ``pytest -n N`` process, which collects nothing) makes the run id and
  hands it, its own pid and whether this xdist setup is supported to every worker
  (``pytest_configure_node``; harness/plugin/workers.py); keeps a shared run's tests on one worker
  (``pytest_xdist_make_scheduler``: :func:`harness.core.parallel.schedule_scope`); once every
  worker is done it finishes the cluster (kind logs after a failure, deleted or kept per
  keep-cluster: :func:`harness.plugin.session.finish_cluster`), merges the workers'
  ``scenarios.json`` and prints what they kept;
* **a worker** runs tests: the first to need the cluster creates it under the lock
  ``<cache>/locks/<cluster>/cluster`` and the others wait and reuse it, the add-ons likewise
  (harness/plugin/session.py); each test holds the locks its declaration asks for while it runs,
  set-up and teardown included (:func:`pytest_runtest_setup`, :func:`pytest_runtest_teardown`);
  at its end it hands its facts to the controller (``workeroutput["harness"]``).

A test's declaration: ``@pytest.mark.harness_exclusive("node")`` or its module's
``EXCLUSIVE = ("node",)`` (harness/core/parallel.py names the resources). A bad declaration is a
usage error at collection (exit 4), in a serial run too.

Relied on: pytest-xdist's hooks ``pytest_configure_node``, ``pytest_testnodedown``,
``pytest_xdist_make_scheduler`` and ``pytest_xdist_auto_num_workers``
(https://pytest-xdist.readthedocs.io/en/stable/how-to.html), its ``LoadScopeScheduling`` whose
``_split_scope(nodeid)`` names the group a test is sent with (as xdist's own ``LoadFileScheduling``
does), and ``workeroutput``, which a worker sends when its session is finished.
"""
from __future__ import annotations

import os
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from harness.core import locks, progress, timings
from harness.core import parallel as plan
from harness.core.config import read_config_file
from harness.core.errors import HarnessError, UsageError
from harness.core.redact import Redactor
from harness.plugin import workers
from harness.plugin.results import adopt_results
from harness.plugin.session import (
    CONFIG_KEY,
    MERGED_TIMINGS_KEY,
    STATE_KEY,
    TIMINGS_WRITTEN_KEY,
    activate,
    finish_cluster,
    harness_rootdir,
    run_id_for,
    uses_harness,
)
from harness.scenario.result import read_results, write_results

_LOCKS_KEY = pytest.StashKey[ExitStack]()
_REPORTS_KEY = pytest.StashKey[list[dict[str, Any]]]()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", f"{plan.MARKER}(*resources): the test takes these shared resources "
                                       f"({', '.join(plan.RESOURCES)}) exclusively; under pytest-xdist it waits "
                                       "for a worker that holds one (docs/parallel.md)")


# --------------------------------------------------------------------------- declarations


def declared_resources(item: Any) -> frozenset[str]:
    """What ``item`` takes exclusively: its ``harness_exclusive`` markers and its module's ``EXCLUSIVE``.

    Raises:
        UsageError: an unknown resource name, or a marker naming none.
    """
    found: set[str] = set()
    module = getattr(item, "module", None)
    attr = getattr(module, plan.MODULE_ATTRIBUTE, None) if module is not None else None
    if attr is not None:
        found |= plan.parse_declaration(attr, f"{plan.MODULE_ATTRIBUTE} in {getattr(module, '__name__', '?')}")
    for mark in item.iter_markers(plan.MARKER):
        found |= plan.parse_declaration(mark.args, f"{plan.MARKER} marker on {item.nodeid}")
    return frozenset(found)


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    """A bad declaration on a selected harness test stops the run at collection (exit 4, one line;
    an xdist worker runs nothing and tells the controller, as for a refusal in harness/plugin/session.py)."""
    for item in items:
        if uses_harness(item):
            try:
                declared_resources(item)
            except UsageError as exc:
                if workers.is_worker(config):
                    config.workeroutput.setdefault("harness_refused", f"harness: {exc}")  # type: ignore[attr-defined]
                    items[:] = []
                    return
                raise pytest.UsageError(f"harness: {exc}") from None


# --------------------------------------------------------------------------- the controller


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """Before a worker starts: the run id, the owner pid and the support verdict it inherits."""
    config = node.config
    node.workerinput[workers.RUN_ID_INPUT] = run_id_for(config)
    node.workerinput[workers.OWNER_PID_INPUT] = os.getpid()
    node.workerinput[workers.UNSUPPORTED_INPUT] = workers.unsupported(config)


def workers_setting(config: pytest.Config, env: dict[str, str] | None = None) -> tuple[str, str] | None:
    """The ``workers`` setting when one is given, with where it came from: ``--harness-workers``
    (``option``), ``HARNESS_WORKERS`` (``env HARNESS_WORKERS``), or ``workers`` in the run's
    harness.yaml (``file PATH``), in that order; None when none is."""
    given = getattr(config.option, "harness_workers", None)
    if given:
        return str(given), "option"
    env = os.environ if env is None else env
    if env.get("HARNESS_WORKERS"):
        return env["HARNESS_WORKERS"], "env HARNESS_WORKERS"
    path = Path(env["HARNESS_CONFIG"]) if env.get("HARNESS_CONFIG") else harness_rootdir(config) / "harness.yaml"
    if path.is_file():
        value = read_config_file(path).get("workers")
        return (str(value), f"file {path}") if value is not None else None
    return None


@pytest.hookimpl(optionalhook=True, tryfirst=True)
def pytest_xdist_auto_num_workers(config: pytest.Config) -> int | None:
    """``-n auto``: the harness's ``workers`` setting when one is given (else xdist's own count)."""
    try:
        given = workers_setting(config)
        if given is None:
            return None
        value, source = given
        try:
            return plan.resolve_workers(value)
        except UsageError as exc:
            raise UsageError(f"workers ({source}): {str(exc).removeprefix('workers: ')}") from None
    except HarnessError as exc:
        raise pytest.UsageError(f"harness: {exc}") from None


@pytest.hookimpl(optionalhook=True, tryfirst=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """For a harness run under ``--dist load`` (``-n`` alone): xdist's load-scope scheduler with
    :func:`harness.core.parallel.schedule_scope` as the scope, so a shared run's tests go to one
    worker and every other test is dealt on its own. Other runs keep xdist's scheduler."""
    if config.getvalue("dist") != "load" or CONFIG_KEY not in config.stash:
        return None
    # xdist's scheduler module: imported only on a controller that schedules harness tests
    from xdist.scheduler import LoadScopeScheduling

    class HarnessScheduling(LoadScopeScheduling):  # type: ignore[misc]
        def _split_scope(self, nodeid: str) -> str:
            return plan.schedule_scope(nodeid)

    return HarnessScheduling(config, log)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    """On the controller: keep what a worker reported (``workeroutput["harness"]``)."""
    facts = getattr(node, "workeroutput", {}).get(workers.OUTPUT_KEY)
    if facts:
        node.config.stash.setdefault(_REPORTS_KEY, []).append(dict(facts))


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """After the fixtures' teardown and results.py's ``scenarios.json``. On a worker: its facts to
    the controller (:func:`report_worker_facts`). On the controller, after the last worker: the
    workers' facts merged into the run state (kept lines, notes, diagnostics, secrets), the cluster
    finished, ``scenarios.json`` merged. Both trylast: this module is registered after
    harness/plugin/session.py (harness/plugin/__init__.py), so pluggy calls this one first, before
    the run directory is closed there."""
    config = session.config
    if workers.is_worker(config):
        report_worker_facts(config)
        return
    reports = config.stash.get(_REPORTS_KEY, [])
    if not reports:
        return
    stopped = next((r["exit"] for r in reports if r.get("exit")), None)
    if stopped is not None:
        # a session fixture failed on a worker: its one line, and its exit code, are the run's
        progress.say(str(stopped[0]).removeprefix("harness: "))
        session.exitstatus = int(stopped[1])
    cfg = activate(config, junit=False)
    state = config.stash[STATE_KEY]
    merge_reports(state, reports)
    cluster = controller_cluster(reports)
    if cluster is not None:
        state.cluster = cluster  # for the interrupt line after Ctrl-C
        finish_cluster(config, cfg, state, cluster, failed=session.testsfailed > 0)
    files = [Path(p) for r in reports for p in r.get("results", [])]
    if files:
        try:
            merged = [rec for p in sorted(files) for rec in read_results(p)]
            write_results(Path(cfg.artifacts_dir) / "scenarios.json", merged, redactor=state.redactor)
            adopt_results(config, merged)  # the terminal table, printed after this
        except (OSError, ValueError) as exc:
            progress.say(f"could not merge the workers' scenarios.json: {exc}")
    write_merged_timings(config, cfg, reports)  # after finish_cluster: its deletion is a controller phase


def merged_timings(reports: list[dict[str, Any]], controller: dict[str, Any]) -> dict[str, Any] | None:
    """One timings record of the whole run (:func:`harness.core.timings.merge_records`): each worker's
    as it reported it, and the controller's own phases when it has any; None when nobody recorded a
    phase. Pure."""
    records = {str(t["worker"]): t["record"] for r in reports
               if isinstance(t := r.get("timings"), dict) and t.get("record", {}).get("phases")}
    if controller.get("phases"):
        records["controller"] = controller
    return timings.merge_records(records) if records else None


def write_merged_timings(config: pytest.Config, cfg: Any, reports: list[dict[str, Any]]) -> None:
    """On the controller: ``<artifacts>/timings.json`` for the whole run (every worker's phases on one
    clock), which the gate's report draws as the run's Gantt chart (harness/report/gantt.py); the
    controller's own phases are in it, so session.py does not write the file again."""
    record = merged_timings(reports, timings.RECORDER.to_json())
    if record is None:
        return
    try:
        config.stash[MERGED_TIMINGS_KEY] = record
        timings.write_record(Path(cfg.artifacts_dir) / "timings.json", record)
        config.stash[TIMINGS_WRITTEN_KEY] = True
    except OSError as exc:
        progress.say(f"could not write the merged timings.json: {exc}")


def merge_reports(state: Any, reports: list[dict[str, Any]]) -> None:
    """Fold the workers' reports into the controller's run state (pure but for ``state``)."""
    for r in reports:
        state.kept.extend(str(x) for x in r.get("kept", []))
        state.notes.extend(str(x) for x in r.get("notes", []))
        state.artifacts.extend((str(a), Path(b)) for a, b in r.get("artifacts", []))
        state.kept_on_purpose = state.kept_on_purpose or bool(r.get("kept_on_purpose"))
        secrets = [s.encode() if isinstance(s, str) else bytes(s) for s in r.get("secrets", [])]
        if secrets:
            state.redactor = state.redactor.merged(Redactor(frozenset(secrets)))


def controller_cluster(reports: list[dict[str, Any]]) -> Any:
    """The run's cluster as the workers reported it: the creating worker's facts when one created
    it (``created`` True), else the first report's; None when no worker had a cluster."""
    facts = [r["cluster"] for r in reports if r.get("cluster")]
    if not facts:
        return None
    chosen = next((f for f in facts if f.get("created")), facts[0])
    from harness.env.cluster import (
        Cluster,  # the env layer: only when a worker had a cluster
    )

    return Cluster(chosen["name"], Path(chosen["kubeconfig"]), chosen["context"], created=bool(chosen["created"]),
                   node_image=chosen.get("node_image", ""), kubernetes_version=chosen.get("kubernetes_version", ""))


# --------------------------------------------------------------------------- a worker


def _say_waiting(item: Any, name: str, waited: list[str] | None = None) -> Any:
    def told(holder: locks.Holder | None) -> None:
        who = holder.line() if holder is not None else "tests running now"
        progress.say(f"{item.nodeid}: waiting for {name} (held by {who})")
        if waited is not None:
            waited.append(name)
    return told


def _take(stack: ExitStack, item: Any, lock: Any, path: Path, me: locks.Holder) -> None:
    """Take one declared lock into ``stack``; a wait for it becomes a phase of the run's timings
    (``test_drain[x] waited for lock node``, in the worker's own lane of the Gantt chart), so the
    chart shows what the test waited for instead of a gap."""
    waited: list[str] = []
    on_wait = _say_waiting(item, lock.name, waited)
    start = time.monotonic()
    if lock.name == plan.EDGE:
        stack.enter_context(locks.shared_or_exclusive(path, me, exclusive_mode=lock.exclusive,
                                                      timeout=workers.LOCK_WAIT, on_wait=on_wait))
    else:
        stack.enter_context(locks.exclusive(path, me, timeout=workers.LOCK_WAIT, on_wait=on_wait))
    if waited:
        timings.RECORDER.record(f"{item.name} waited for lock {lock.name}", time.monotonic() - start)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """On an xdist worker, before the test's fixtures: take the locks of its declaration
    (:func:`harness.core.parallel.lock_plan`), each waited for at most
    :data:`harness.plugin.workers.LOCK_WAIT` seconds; a wait that runs out fails the test's
    set-up naming the holder."""
    if not workers.is_worker(item.config) or not uses_harness(item):
        return
    cfg = activate(item.config)
    directory = locks.lock_dir(workers.lock_scope(cfg))
    me = workers.holder(item.config, item.nodeid)
    stack = ExitStack()
    try:
        for lock in plan.lock_plan(declared_resources(item)):
            _take(stack, item, lock, directory / lock.name, me)
    except locks.LockTimeout as exc:
        stack.close()
        pytest.fail(f"harness: {exc}", pytrace=False)  # the machine's wait, said in one line
    except BaseException:
        stack.close()
        raise
    item.stash[_LOCKS_KEY] = stack


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> Any:
    """After the test's teardown (a module's shared run ends in its last test's): its locks go."""
    try:
        return (yield)
    finally:
        stack = item.stash.get(_LOCKS_KEY, None)
        if stack is not None:
            del item.stash[_LOCKS_KEY]
            stack.close()


@pytest.hookimpl(tryfirst=True)  # firstresult: after pytest's own impl returns the report, none is called
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[Any]) -> None:
    """On a worker whose session fixture stopped the run (``workers.report_exit``): take no more
    tests. Every later test would fail on the same cached fixture error, each with the same line;
    xdist's controller sees the worker's ``shouldstop``, stops the other workers after their current
    test and ends the run, with the stop's exit code (:func:`pytest_sessionfinish`)."""
    if call.when == "teardown" and workers.is_worker(item.config):
        stopped = workers.reported_exit(item.config)
        if stopped is not None and not item.session.shouldstop:
            item.session.shouldstop = stopped[0]


def report_worker_facts(config: pytest.Config) -> None:
    """On a worker at its session's end: its kept lines, notes, diagnostics, secrets and result
    files to the controller (``workeroutput["harness"]``; the cluster's facts were put there by the
    ``cluster`` fixture's teardown)."""
    state = config.stash.get(STATE_KEY, None)
    if state is None or not workers.is_worker(config):
        return
    workers.report(config, "kept", list(state.kept))
    workers.report(config, "notes", list(state.notes))
    workers.report(config, "artifacts", [[a, str(b)] for a, b in state.artifacts])
    workers.report(config, "kept_on_purpose", bool(state.kept_on_purpose))
    workers.report(config, "secrets", [bytes(s) for s in state.redactor.secrets])
    workers.report(config, "timings", {"worker": workers.worker_name(config), "record": timings.RECORDER.to_json()})
    cfg = config.stash.get(CONFIG_KEY, None)
    if cfg is not None:
        path = workers.output_path(config, cfg.artifacts_dir, "scenarios.json")
        if path.is_file():
            workers.report(config, "results", [str(path)])
