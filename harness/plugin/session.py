"""The pytest plugin: hooks and fixtures only (the work lives in the harness modules).

Loaded through the ``pytest11`` entry point ``harness`` (or the repository's root conftest.py).

Fixtures (scope, what they yield):

* ``harness_config`` (session) -> :class:`harness.core.config.HarnessConfig`
* ``harness_run_id`` (session) -> str, label-safe id of this run
* ``cluster`` (session) -> ``harness.env.cluster.Cluster`` (created, reused or external)
* ``kube_api`` (session) -> ``kubernetes.client.ApiClient`` for the cluster's kubeconfig
* ``helm_home`` (session) -> Path of the run's private helm home
* ``helm_offline`` (session) -> :class:`harness.tools.helm.Helm` without a cluster (lint, template, repo)
* ``chart_repo`` (session) -> :class:`harness.tools.chartrepo.ChartRepo` serving charts-under-test/repo,
  already added to the private helm home as ``harness-charts``
* ``charts_under_test`` (session) -> list[:class:`harness.core.contract.ChartUnderTest`], linted
* ``chart_images`` (session) -> list[str], the contracts' images, loaded into the kind nodes
* ``namespace`` (function) -> str, a fresh namespace; diagnostics on failure, deleted per policy
* ``helm`` (function) -> :class:`harness.tools.helm.Helm` bound to the cluster and ``namespace``
* ``addons`` (session) -> ``harness.env.addons.engine.AddonContext`` after installing ``harness_config.addons``
  (``addons.addon_state("postgres")`` is the PostgreSQL server)
* ``kubectl`` (session) -> :class:`harness.tools.kubectl.Kubectl` bound to the cluster (drain, cordon, apply)

Staying out of the way: in a pytest run that uses no harness fixture and collects no scenario or
``harness``-marked test, the plugin writes nothing (no ``junit.xml``, ``timings.json``) and reads
no ``HARNESS_*`` variable or ``harness.yaml``. The configuration is loaded on first use
(:func:`activate`): when collection ends with such a test selected, when a scenario module is
parametrized, or when a harness fixture is requested. Options are ``--harness-<key>``
(harness/core/flags.py: ``--<key>`` is an alias, except ``--cluster-name``, ``--keep-cluster`` and
``--kubeconfig``, which pytest-kind registers). Under pytest-xdist (``-n``) the workers share one
cluster (harness/plugin/parallel.py, docs/parallel.md): the first to need it creates it under a
file lock, the others wait and reuse it, and the controller deletes it after the last worker is
done; ``--dist each`` and workers on another host (``--tx ssh=...``) are refused with one usage line
(exit 4).

Exit codes: a bad option value or config file stops pytest at collection with
``ERROR: harness: <key> (<source>): ...`` and pytest's usage-error exit code **4**. A
HarnessError in a session fixture (missing tool, Docker down, unreachable kubeconfig, a chart
that fails ``helm lint``, an unknown chart version) stops the run with one ``harness: ...`` line
and the error's own exit code: 2 for bad input (UsageError), 3 for the environment
(EnvironmentNotReady), 1 otherwise. On an xdist worker the same line fails the tests that need the
fixture (``pytest.exit`` there would be a crash of the worker), and the controller prints it and
exits with its code (harness/plugin/parallel.py).

Interrupted runs: Ctrl-C (SIGINT) during cluster creation, add-on install, chart install or a
scenario stops the run at once: a half-made cluster is deleted (harness/env/cluster.py), nothing
else is torn down (no diagnostics, no kind log export, no namespace or cluster deletion: each
takes seconds to minutes), one ``[harness] interrupted: ...`` line says what was kept and how to
reach and remove it (``python -m harness clean``), and pytest exits **130** (128 + SIGINT, as a
shell reports it) instead of its own 2. Everything the run made carries its run id
(harness/core/runs.py): the cluster's owner record, the add-ons' container labels, the namespaces'
``helm-e2e-harness/run-id`` label and the run directory ``<cache>/runs/<run-id>`` (its helm home).
"""
from __future__ import annotations

import os
import shlex
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from harness.core import progress, runs, timings
from harness.core.artifacts import scrub_file, scrub_tree
from harness.core.config import HarnessConfig, add_arguments, cli_values, load_config
from harness.core.contract import resolve_charts_under_test
from harness.core.edges import unavailable_reason
from harness.core.errors import HarnessError, UsageError
from harness.core.flags import option_strings
from harness.core.imageref import UPSTREAM_REGISTRIES
from harness.core.redact import Redactor
from harness.env import cluster as cluster_mod
from harness.env.addons import catalog as addons_mod
from harness.env.imagecheck import partial_note, require_images
from harness.k8s import client as kube
from harness.k8s import diagnostics, namespaces
from harness.k8s.namespaces import new_run_id, should_keep
from harness.plugin import workers
from harness.tools.chartrepo import DEFAULT_REPO_NAME, ChartRepo, repository_source
from harness.tools.helm import Helm, HelmError
from harness.tools.kubectl import Kubectl

CONFIG_KEY = pytest.StashKey[HarnessConfig]()
STATE_KEY = pytest.StashKey["RunState"]()
SENSITIVE_KEY = pytest.StashKey[tuple[str, ...]]()
TIMINGS_WRITTEN_KEY = pytest.StashKey[bool]()
MERGED_TIMINGS_KEY = pytest.StashKey[dict]()
"""The xdist controller's timings record of the whole run (harness/plugin/parallel.py), for the table."""
"""Set when ``<artifacts>/timings.json`` was written already (the xdist controller's merged record)."""
"""On ``item.stash``: the contract's ``sensitiveValues`` of the chart the test installs (set by
the ``scenario_ctx`` fixture), for the diagnostics of its namespace."""
ARTIFACT_PROPERTY = "harness_artifacts"


@dataclass
class RunState:
    """What the plugin remembers across a run: run id, artifacts written, resources kept."""

    run_id: str
    artifacts: list[tuple[str, Path]] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    cluster: Any = None
    """The session's cluster once the ``cluster`` fixture made or found it (for the interrupt line)."""
    kept_on_purpose: bool = False
    """Something was kept per keep-cluster: the run's owner record is marked ``kept``."""
    redactor: Redactor = field(default_factory=Redactor)
    """The secrets seen in the run's namespaces (harness/core/redact.py), kept out of everything
    written later: diagnostics, kind logs, scenarios.json, junit.xml."""

    def learn(self, api: Any, namespace: str, sensitive_paths: tuple[str, ...] = ()) -> Redactor | None:
        """Add the namespace's secrets (:func:`harness.k8s.diagnostics.namespace_redactor`: one API
        list, no helm process) to :attr:`redactor`; returns them, None when they cannot be read."""
        try:
            found = diagnostics.namespace_redactor(api, namespace, sensitive_paths)
        except Exception:  # noqa: BLE001 - best effort; diagnostics retries and lists the gap
            return None
        self.redactor = self.redactor.merged(found)
        return found


# --------------------------------------------------------------------------- hooks


MARKERS_USING_HARNESS = ("harness", "scenario")
"""A collected test with one of these markers uses the harness (like one asking for its fixtures)."""
_ERROR_KEY = pytest.StashKey[str]()
_PLUGIN_MODULES = ("harness.plugin.", "harness.gate.plugin")


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("harness", "helm e2e harness (each option also: HARNESS_<NAME> env var, "
                                       "harness.yaml key; --<name> is an alias of --harness-<name> except "
                                       "where pytest-kind has the same option)")
    group.addoption("--harness-config", dest="harness_config_file", default=None, metavar="PATH",
                    help="config file (default: harness.yaml in the rootdir) [env HARNESS_CONFIG]")
    add_arguments(lambda flag, **kw: group.addoption(*option_strings(flag.removeprefix("--")), **kw))


def harness_rootdir(config: pytest.Config) -> Path:
    """The rootdir the harness's defaults resolve against (``artifacts``, ``harness.yaml``,
    ``charts-under-test``): pytest's rootdir when an ini file or ``--rootdir`` set it, else the
    directory pytest was started in. Without an ini file pytest derives its rootdir from the test
    paths (https://docs.pytest.org/en/stable/reference/customize.html#finding-the-rootdir), which
    for ``pytest --pyargs harness.scenarios.upgrade`` of an installed package lies in site-packages."""
    if config.inipath is None and not getattr(config.option, "rootdir", None):
        return Path(config.invocation_params.dir)
    return Path(config.rootpath)


def pytest_configure(config: pytest.Config) -> None:
    # markers only: nothing is read or written until the harness is used (activate)
    config.addinivalue_line("markers", "cluster: needs a real kind cluster (created by the session fixture)")
    config.addinivalue_line("markers", "harness: uses the helm e2e harness (its configuration is read and its "
                                       "artifacts written even without a harness fixture)")
    if config.option.help or config.option.version:
        return
    # In memory only (no file, no setting read): harness progress lines reach the terminal through
    # capture from the start, so a plugin loaded before activation (the gate's) can wrap this sink.
    sink = _TerminalSink(config)
    config.stash[_SINK_KEY] = (sink, progress.set_sink(sink))
    timings.RECORDER.reset()
    config.pluginmanager.register(_InterruptWatch(config), "harness-interrupt-watch")


def activate(config: pytest.Config, *, junit: bool = True) -> HarnessConfig:
    """Load the harness configuration once, on first use, and start what a harness run has: the
    run state and ``<artifacts>/junit.xml`` unless ``--junitxml`` was given (or ``junit`` is False:
    the xdist controller learning of harness tests only once they ran).

    Raises:
        pytest.UsageError: a bad option value, variable or config file (``harness: <key> (<source>): ...``);
            raised again on every later call.
    """
    cfg = config.stash.get(CONFIG_KEY, None)
    if cfg is not None:
        return cfg
    error = config.stash.get(_ERROR_KEY, None)
    if error is not None:
        raise pytest.UsageError(error)
    try:
        cfg = load_config(cli_values(config.option), config_file=config.option.harness_config_file,
                          rootdir=harness_rootdir(config), cwd=config.invocation_params.dir)
    except HarnessError as exc:
        config.stash[_ERROR_KEY] = f"harness: {exc}"
        raise pytest.UsageError(config.stash[_ERROR_KEY]) from None
    config.stash[CONFIG_KEY] = cfg
    config.stash[STATE_KEY] = RunState(run_id=run_id_for(config))
    if junit:
        _default_junit(config, cfg.artifacts_dir / "junit.xml")
    return cfg


_RUN_ID_KEY = pytest.StashKey[str]()


def run_id_for(config: pytest.Config) -> str:
    """The run id of this pytest command: on an xdist worker the controller's
    (:func:`harness.plugin.workers.inherited_run_id`), else made once here (the controller hands
    this one to its workers)."""
    inherited = workers.inherited_run_id(config)
    if inherited:
        return inherited
    if _RUN_ID_KEY not in config.stash:
        config.stash[_RUN_ID_KEY] = new_run_id()
    return config.stash[_RUN_ID_KEY]


def activation_error(config: pytest.Config) -> str | None:
    """The usage error a failed :func:`activate` stored (None when there was none)."""
    return config.stash.get(_ERROR_KEY, None)


def _default_junit(config: pytest.Config, path: Path) -> None:
    """Write pytest's JUnit XML to ``path`` when no ``--junitxml`` was given (not on an xdist worker).

    pytest creates its JUnit writer in its own ``pytest_configure``, before the harness knows whether
    the run is a harness run; so it is created here the same way (``_pytest.junitxml``: the
    ``LogXML`` plugin under the ``xml_key`` stash key, which pytest's ``pytest_unconfigure``
    removes), registered and started. It sees every test, since collection has not ended yet when
    the harness is activated by collection; a harness fixture requested later through
    ``request.getfixturevalue`` only (no marker) misses the tests before it.
    """
    if getattr(config.option, "xmlpath", None) or hasattr(config, "workerinput"):
        return
    try:
        # pytest's own writer: a private module, imported only for a harness run
        from _pytest import junitxml

        xml = junitxml.LogXML(str(path), config.option.junitprefix, config.getini("junit_suite_name"),
                              config.getini("junit_logging"), config.getini("junit_duration_report"),
                              config.getini("junit_family"), config.getini("junit_log_passing_tests"))
    except (ImportError, AttributeError, TypeError) as exc:
        progress.say(f"no default junit.xml (pass --junitxml): this pytest's JUnit writer changed: {exc}")
        return
    config.option.xmlpath = str(path)
    config.stash[junitxml.xml_key] = xml
    config.pluginmanager.register(xml)
    xml.pytest_sessionstart()


def uses_harness(item: pytest.Item) -> bool:
    """True when a collected test uses the harness: a fixture defined by the harness plugin among
    its fixtures, a ``harness`` or ``scenario`` marker, or a scenario module (``SCENARIO``)."""
    if getattr(getattr(item, "module", None), "SCENARIO", None):
        return True
    if any(item.get_closest_marker(m) is not None for m in MARKERS_USING_HARNESS):
        return True
    info = getattr(item, "_fixtureinfo", None)
    for defs in getattr(info, "name2fixturedefs", {}).values():
        func = getattr(defs[-1], "func", None) if defs else None
        if str(getattr(func, "__module__", "")).startswith(_PLUGIN_MODULES):
            return True
    return False


def xdist_workers(config: pytest.Config) -> bool:
    """True on an xdist worker, or on a controller given ``-n`` (more than 0 workers)."""
    return workers.parallel(config)


def xdist_refusal(reason: str) -> str:
    """The one usage line for an xdist run that cannot run harness tests (``reason``:
    :func:`harness.plugin.workers.unsupported_reason`)."""
    return (f"harness: pytest-xdist cannot run harness tests this way: {reason}; run them with -n on this host "
            "(docs/parallel.md) or without -n")


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    """After selection (-k, -m): activate the harness when a selected test uses it; refuse an xdist
    run the workers cannot share a cluster in (:func:`harness.plugin.workers.unsupported`)."""
    # a stored error: a scenario module tried to load the configuration while being parametrized
    error = activation_error(config)
    if error is None and not any(uses_harness(i) for i in items):
        return
    reason = workers.unsupported(config) if xdist_workers(config) else ""
    if reason:
        if hasattr(config, "workerinput"):
            # a worker: run nothing, tell the controller (pytest_testnodedown), which refuses the run
            config.workeroutput["harness_refused"] = xdist_refusal(reason)  # type: ignore[attr-defined]
            items[:] = []
            return
        raise pytest.UsageError(xdist_refusal(reason))
    if error is not None:
        raise pytest.UsageError(error)
    activate(config)


_REFUSED_KEY = pytest.StashKey[str]()
"""On the xdist controller's ``config.stash``: the refusal a worker reported."""


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    """On the xdist controller: a worker found harness tests (see pytest_collection_modifyitems)."""
    refused = getattr(node, "workeroutput", {}).get("harness_refused")
    if refused:
        node.config.stash[_REFUSED_KEY] = refused


@pytest.hookimpl(wrapper=True)
def pytest_runtestloop(session: pytest.Session) -> Any:
    """On the xdist controller, after the workers are done: a reported refusal is the run's usage error."""
    result = yield
    refused = session.config.stash.get(_REFUSED_KEY, None)
    if refused is not None:
        raise pytest.UsageError(refused)
    return result


def pytest_unconfigure(config: pytest.Config) -> None:
    state = config.stash.get(STATE_KEY, None)
    xml = getattr(config.option, "xmlpath", None)
    if state is not None and xml and state.redactor.secrets:
        # junitxml wrote the report in its pytest_sessionfinish; failure texts can quote a secret
        try:
            scrub_file(Path(xml), state.redactor)
        except OSError as exc:
            progress.say(f"could not redact {xml}: {exc}")
    pair = config.stash.get(_SINK_KEY, None)
    if pair is not None:
        sink, previous = pair
        progress.set_sink(previous)
        sink.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[Any]:
    """Store each phase's report on the item (``item.rep_setup``, ``rep_call``, ``rep_teardown``)
    so fixtures can tell in their teardown whether the test failed."""
    report = yield
    setattr(item, "rep_" + report.when, report)
    return report


EXIT_INTERRUPTED = 130
"""pytest's exit code for a harness run stopped by Ctrl-C (SIGINT): 128 + SIGINT, what a shell
reports for a process SIGINT ended (pytest's own is 2, which the harness uses for bad input)."""
_INTERRUPTED_KEY = pytest.StashKey[bool]()


class _InterruptWatch:
    """Notes a Ctrl-C on the config (``pytest_keyboard_interrupt`` has no config argument), so the
    fixtures' teardowns, which run after it, can skip their slow work."""

    def __init__(self, config: pytest.Config):
        self.config = config

    def pytest_keyboard_interrupt(self, excinfo: Any) -> None:
        # pytest.exit() and "Interrupted: N errors during collection" come through this hook too
        if is_user_interrupt(excinfo.value):
            self.config.stash[_INTERRUPTED_KEY] = True


def is_user_interrupt(exc: BaseException) -> bool:
    """True for a KeyboardInterrupt from the user (SIGINT), False for pytest's own stops
    (``pytest.exit``, ``session.Interrupted`` after collection errors) that reach the same hook, and
    for pytest-xdist's controller stopping the run because a worker asked it to (its own
    ``Interrupted`` class, "... received keyboard-interrupt" only when a worker got the Ctrl-C)."""
    if not isinstance(exc, KeyboardInterrupt) or isinstance(exc, pytest.Session.Interrupted):
        return False
    if type(exc).__module__.startswith("xdist") and type(exc).__name__ == "Interrupted":
        return "keyboard-interrupt" in str(exc)
    return True


def interrupted(config: pytest.Config) -> bool:
    """True once the run was interrupted by Ctrl-C (see :class:`_InterruptWatch`)."""
    return config.stash.get(_INTERRUPTED_KEY, False)


def interrupt_line(run_id: str, cluster: Any, *, created: bool) -> str:
    """The one line an interrupted run prints: what it kept, how to reach it, how to remove it."""
    how = "python -m harness clean"
    if cluster is None or not getattr(cluster, "name", ""):
        where = "no cluster was ready" if cluster is None else "the external cluster"
        return f"interrupted: run {run_id} stopped ({where}); remove what it left: {how}"
    made = "created by this run" if created else "not created by this run"
    return (f"interrupted: run {run_id} kept cluster {cluster.name} ({made}; "
            f"kubeconfig {cluster.kubeconfig}) and its namespaces labelled helm-e2e-harness/run-id={run_id}; "
            f"remove them: {how}")


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """After the fixtures' teardown (pytest's own sessionfinish, which runs first): the run's
    owner record kept or removed, and for an interrupted harness run the interrupt line and exit 130."""
    state = session.config.stash.get(STATE_KEY, None)
    if state is not None:
        _close_run(session.config, state)
    if state is not None and interrupted(session.config):
        c = state.cluster
        progress.say(interrupt_line(state.run_id, c, created=bool(getattr(c, "created", False))))
        session.exitstatus = EXIT_INTERRUPTED
    cfg = session.config.stash.get(CONFIG_KEY, None)
    if cfg is not None and timings.RECORDER.phases and not session.config.stash.get(TIMINGS_WRITTEN_KEY, False):
        try:
            timings.RECORDER.write_json(workers.output_path(session.config, cfg.artifacts_dir, "timings.json"))
        except OSError as exc:
            progress.say(f"could not write timings.json: {exc}")


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    cfg = config.stash.get(CONFIG_KEY, None)
    state = config.stash.get(STATE_KEY, None)
    if cfg is None or state is None:
        return
    tr = terminalreporter
    merged = config.stash.get(MERGED_TIMINGS_KEY, None)  # the workers' phases too, under xdist
    if merged is not None or timings.RECORDER.phases:
        tr.write_sep("-", "harness timings")
        for line in (timings.format_table(merged) if merged is not None else timings.table()).splitlines():
            tr.write_line(line)
        tr.write_line(f"(also in {cfg.artifacts_dir / 'timings.json'})")
    if state.artifacts:
        tr.write_sep("-", "harness diagnostics of failed tests")
        for nodeid, path in state.artifacts:
            tr.write_line(f"{nodeid}: {path}")
    if state.kept or state.notes:
        tr.write_sep("-", "harness: kept for inspection")
        for line in [*state.kept, *state.notes]:
            tr.write_line(line)


# --------------------------------------------------------------------------- progress sink


_SINK_KEY = pytest.StashKey[tuple[Any, Any]]()


class _TerminalSink:
    """Progress lines to the terminal even while pytest captures output.

    Main thread: the terminal reporter's ``write_line`` with capture briefly suspended (what
    pytest's live logging does). Other threads (the "still waiting" ticker): a duplicate of the
    original stderr, taken while capture was suspended, so they never toggle capture state.
    """

    def __init__(self, config: pytest.Config):
        self.config = config
        self.capman = config.pluginmanager.getplugin("capturemanager")
        self.fd: int | None = None
        try:
            if self.capman is not None:
                with self.capman.global_and_fixture_disabled():
                    self.fd = os.dup(2)
            else:
                self.fd = os.dup(2)
        except OSError:
            self.fd = None
        self.lock = threading.Lock()

    def __call__(self, line: str) -> None:
        reporter = self.config.pluginmanager.getplugin("terminalreporter")
        with self.lock:
            if threading.current_thread() is threading.main_thread() and reporter is not None:
                if self.capman is not None:
                    with self.capman.global_and_fixture_disabled():
                        reporter.write_line(line)
                else:
                    reporter.write_line(line)
            elif self.fd is not None:
                os.write(self.fd, (line + "\n").encode(errors="replace"))

    def close(self) -> None:
        if self.fd is not None:
            try:
                os.close(self.fd)
            except OSError:
                pass
            self.fd = None


# --------------------------------------------------------------------------- helpers


@contextmanager
def _exit_on_harness_error(what: str, config: pytest.Config | None = None) -> Iterator[None]:
    """Turn a HarnessError in session setup into one ``harness: ...`` line and its exit code.

    On an xdist worker (``config`` given) ``pytest.exit`` would end the worker mid-test, which the
    controller reports as a crash: the line fails the tests that need the fixture instead, and goes
    to the controller, which prints it once and exits with its code (harness/plugin/parallel.py).
    """
    stopped = None
    try:
        yield
    except HarnessError as exc:
        stopped = f"harness: {what}: {exc}"
        if config is None or not workers.is_worker(config):
            pytest.exit(stopped, returncode=exc.exit_code)
        workers.report_exit(config, stopped, exc.exit_code)
    if stopped is not None:
        raise pytest.fail.Exception(stopped, pytrace=False) from None  # one line: no chained traceback


def _failed(item: pytest.Item) -> bool:
    return any(getattr(getattr(item, f"rep_{w}", None), "failed", False) for w in ("setup", "call"))


def _state(config: pytest.Config) -> RunState:
    activate(config)
    return config.stash[STATE_KEY]


def _run_owner(config: pytest.Config) -> runs.Owner:
    """The run's owner record, written once to ``<cache>/runs/<run-id>/owner.json`` (what ``clean``
    reads for the run's namespaces and files); returns it."""
    # on an xdist worker the controller owns the run: it outlives every worker (harness/plugin/workers.py)
    return runs.ensure_owner(_state(config).run_id, pid=workers.owner_pid(config))


def _helm_home_name(config: pytest.Config) -> str:
    wid = workers.worker_id(config)
    return f"helm-home-{wid}" if wid else "helm-home"


def _close_run(config: pytest.Config, state: RunState) -> None:
    """At the end of a run: its directory removed when nothing was kept and it was not interrupted
    (then ``clean`` removes it once the process is gone); marked ``kept`` when keep-cluster kept something.
    An xdist worker removes only its own helm home: the controller closes the run once every worker is done."""
    path = runs.runs_root() / state.run_id
    if workers.is_worker(config):
        shutil.rmtree(path / _helm_home_name(config), ignore_errors=True)
        return
    if not path.is_dir():
        return
    try:
        if state.kept_on_purpose:
            # the record stays (its namespaces' owner for `clean`), marked kept; the helm home goes
            runs.mark_kept(path / runs.OWNER_FILE)
            for home in path.glob("helm-home*"):
                shutil.rmtree(home, ignore_errors=True)
        elif not interrupted(config):
            shutil.rmtree(path, ignore_errors=True)
    except OSError as exc:
        progress.say(f"could not update the run directory {path}: {exc}")


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="session")
def harness_config(pytestconfig: pytest.Config) -> HarnessConfig:
    """The resolved configuration (CLI > HARNESS_* env > harness.yaml > defaults), loaded on first use."""
    return activate(pytestconfig)


@pytest.fixture(scope="session")
def harness_run_id(pytestconfig: pytest.Config) -> str:
    """This run's id; every namespace the harness creates carries it as label helm-e2e-harness/run-id."""
    return _state(pytestconfig).run_id


@pytest.fixture(scope="session")
def cluster(harness_config: HarnessConfig, request: pytest.FixtureRequest) -> Iterator[Any]:
    """The session's cluster: ``harness.env.cluster.ensure_cluster(harness_config)``.

    At the end: after any failure the kind logs are exported to ``<artifacts>/kind-logs``; then
    the cluster is deleted unless keep-cluster keeps it (``always``, or ``on-failure`` after a
    failure). A reused or external cluster is never deleted. What is kept is printed with its
    context, kubeconfig and the delete command.

    On an xdist worker it is made under the lock ``<cache>/locks/<name>/cluster`` (the first worker
    creates it, the others wait and find it: ``ensure_cluster`` reuses a cluster whose owner record
    is this run's), and the worker neither exports logs nor deletes it: it tells the controller,
    which does both once every worker is done (harness/plugin/parallel.py).

    A pull-only edge (``edge: ingress-nginx``) on a machine that builds its images skips every test
    that needs the cluster, with the reason (:func:`harness.core.edges.unavailable_reason`), before
    anything is created.
    """
    try:
        from harness.env import cluster as cluster_mod
    except ImportError as exc:
        pytest.exit(f"harness: cluster support is not available: {exc}", returncode=3)
    state = _state(request.config)
    if not harness_config.external_cluster:
        with _exit_on_harness_error("cluster", request.config):
            source = cluster_mod.effective_image_source(harness_config.image_source, harness_config.node_image,
                                                        harness_config.kubernetes_version)
        reason = unavailable_reason(harness_config.edge, source)
        if reason:  # a pull-only edge (harness/core/edges.py): no cluster is worth creating for it
            progress.say(reason)  # once: pytest keeps a session fixture's skip for the other tests
            pytest.skip(reason)
    with _exit_on_harness_error("cluster", request.config):
        owner = _run_owner(request.config)
        with (workers.shared_lock(request.config, harness_config, "cluster", "cluster create"),
              timings.phase(f"cluster {harness_config.cluster_name or 'external'} ready")):
            c = cluster_mod.ensure_cluster(harness_config, owner=owner)
    state.cluster = c
    yield c

    if workers.is_worker(request.config):
        workers.report(request.config, "cluster", workers.cluster_facts(c))
        return  # the controller finishes it (harness/plugin/parallel.py)
    finish_cluster(request.config, harness_config, state, c, failed=request.session.testsfailed > 0)


def finish_cluster(config: pytest.Config, harness_config: HarnessConfig, state: RunState, c: Any, *,
                   failed: bool) -> None:
    """The end of the run's cluster (the ``cluster`` fixture's teardown; the xdist controller's after
    the last worker): kind logs after a failure, then deleted or kept per keep-cluster, and what is
    kept said in ``state.kept``."""
    # looked up at call time, like the fixture's: tests/integration/test_plugin.py replaces the module
    from harness.env import cluster as cluster_mod

    if interrupted(config):
        # kept as it is, said in one line at the session's end; `python -m harness clean` removes it,
        # unless keep-cluster=always asked to keep it anyway
        if harness_config.keep_cluster == "always" and c.created and getattr(c, "name", ""):
            state.kept_on_purpose = True
            runs.mark_kept(runs.cluster_owner_path(c.name))
        return
    is_kind = not harness_config.external_cluster and bool(getattr(c, "name", ""))
    if failed and is_kind:
        dest = harness_config.artifacts_dir / "kind-logs"
        try:
            with timings.phase("kind export logs"):
                cluster_mod.export_logs(c, dest)
                scrub_tree(dest, state.redactor)  # node logs hold every pod's log
            state.notes.append(f"kind logs: {dest}")
        except Exception as exc:  # noqa: BLE001 - never mask the tests' own failures
            state.notes.append(f"kind export logs failed: {exc}")

    keep = should_keep(harness_config.keep_cluster, failed)
    if c.created and keep and is_kind:
        state.kept_on_purpose = True
        runs.mark_kept(runs.cluster_owner_path(c.name))
    if c.created and not keep:
        try:
            with timings.phase(f"cluster {c.name} delete"):
                cluster_mod.delete_cluster(c)
        except Exception as exc:  # noqa: BLE001
            state.notes.append(f"deleting cluster {c.name} failed: {exc}; run: kind delete cluster --name {c.name}")
        return
    why = ("created by this run, kept: keep-cluster=" + harness_config.keep_cluster +
           (" and tests failed" if failed else "")) if c.created else "not created by this run, left as it was"
    lines = [f"cluster {c.name or '(external)'} ({why})",
             f"  context:    {c.context}",
             f"  kubeconfig: {c.kubeconfig}",
             f"  try:        kubectl --kubeconfig {shlex.quote(str(c.kubeconfig))} get ns "
             f"-l helm-e2e-harness/run-id={state.run_id}"]
    if is_kind:
        lines.append(f"  delete:     kind delete cluster --name {c.name}")
    state.kept[:0] = lines


@pytest.fixture(scope="session")
def kube_api(cluster: Any, pytestconfig: pytest.Config) -> Iterator[Any]:
    """An official-client ``ApiClient`` for the cluster's own kubeconfig (never ~/.kube/config);
    a kubeconfig the harness created is made mode 0600. Unreachable API server: exit 3."""

    with _exit_on_harness_error("kube_api", pytestconfig):
        if cluster.created:
            kube.make_private(cluster.kubeconfig)
        api = kube.api_client(cluster.kubeconfig, context=cluster.context or None)
        kube.check_reachable(api, kubeconfig=cluster.kubeconfig)
    yield api
    api.close()


@pytest.fixture(scope="session")
def helm_home(pytestconfig: pytest.Config) -> Path:
    """The run's private helm home (repositories.yaml, caches, registry config):
    ``<cache>/runs/<run-id>/helm-home`` (``helm-home-<worker id>`` on an xdist worker: each worker
    serves ``chart_repo`` on a port of its own under the same repository name), removed at the
    run's end (by ``clean`` after a killed run)."""
    _run_owner(pytestconfig)
    home = runs.run_dir(_state(pytestconfig).run_id) / _helm_home_name(pytestconfig)
    home.mkdir(exist_ok=True)
    return home


@pytest.fixture(scope="session")
def helm_offline(helm_home: Path, harness_config: HarnessConfig, pytestconfig: pytest.Config) -> Any:
    """A Helm without a cluster, for lint/template/package/repo commands. Missing or non-v3 helm: exit 3."""

    with _exit_on_harness_error("helm", pytestconfig):
        return Helm(None, home=helm_home, default_timeout=harness_config.timeouts.install, binary=harness_config.helm,
                    kube_version=harness_config.kubernetes_version)


@pytest.fixture(scope="session")
def chart_repo(harness_config: HarnessConfig, helm_offline: Any, pytestconfig: pytest.Config) -> Iterator[Any]:
    """charts-under-test/repo served on 127.0.0.1 and added to the private helm home as
    ``harness-charts`` (so ``harness-charts/<name>`` with a version installs the released chart).
    No index.yaml there: exit 2."""

    repo = ChartRepo(harness_config.rootdir / "charts-under-test" / "repo", name=DEFAULT_REPO_NAME)
    with _exit_on_harness_error("chart repository", pytestconfig):
        repo.start()
        try:
            helm_offline.repo_add(repo.name, repo.url)
        except BaseException:
            repo.stop()
            raise
    yield repo
    repo.stop()


@pytest.fixture(scope="session")
def charts_under_test(harness_config: HarnessConfig, helm_offline: Any,
                      request: pytest.FixtureRequest) -> list[Any]:
    """The charts under test, checked before any cluster work: ``--chart`` values, or every
    charts-under-test/* with a harness-contract.yaml.

    Local charts are linted with the configured values and sets; repo/oci charts and each
    contract's released chart are resolved (``helm show chart``), so an unknown version fails
    here. A contract's ``released.repository`` is added to the private helm home under the
    chart's repo name (a local directory is served like ``chart_repo``). Any problem: one line, exit 2.
    """

    with _exit_on_harness_error("charts under test", request.config):
        charts = resolve_charts_under_test(harness_config)
        repos: dict[str, Any] = {}
        if any(c.ref.kind == "repo" and c.ref.ref.startswith("harness-charts/") for c in charts):
            repos["harness-charts"] = request.getfixturevalue("chart_repo")
        for c in charts:
            released = c.contract.released if c.contract else None
            try:
                with timings.phase(f"check chart {c.name}", announce=False):
                    if released and released.kind == "repo" and released.repo_name not in repos:
                        repos[released.repo_name] = _add_repository(request, helm_offline, released)
                    if c.ref.kind == "repo" and (name := c.ref.ref.split("/", 1)[0]) not in repos:
                        # the candidate from a repository of the user's own helm configuration
                        repos[name] = _add_user_repository(helm_offline, name)
                    if c.ref.is_local:
                        helm_offline.lint(c.ref, values=harness_config.values, sets=harness_config.sets)
                    else:
                        helm_offline.show_chart(c.ref)
                    if released and released.kind in ("repo", "oci"):
                        helm_offline.show_chart(released.ref)
            except HelmError as exc:  # the chart (or its version) is bad input: exit 2, not 1
                raise UsageError(f"{c.ref}: {exc}") from exc
        return charts


def _add_user_repository(helm_offline: Any, name: str) -> str:
    """Add the repository ``name`` of the user's helm configuration to the private helm home
    (:func:`harness.tools.chartrepo.repository_source`). Raises UsageError when it is unknown."""
    url = repository_source(name)
    helm_offline.repo_add(name, str(url))
    return str(url)


def _add_repository(request: pytest.FixtureRequest, helm_offline: Any, released: Any) -> Any:
    """Make ``released.repo_name`` resolvable: an URL is added as it is; a local directory is
    served on 127.0.0.1 for the session (charts-under-test/repo as ``harness-charts`` is the
    ``chart_repo`` fixture itself)."""

    cfg: HarnessConfig = request.getfixturevalue("harness_config")
    if isinstance(released.repository, str):
        helm_offline.repo_add(released.repo_name, released.repository)
        return released.repository
    default_dir = (cfg.rootdir / "charts-under-test" / "repo").resolve()
    if released.repo_name == "harness-charts" and released.repository == default_dir:
        return request.getfixturevalue("chart_repo")
    repo = ChartRepo(released.repository, name=released.repo_name).start()
    request.addfinalizer(repo.stop)
    helm_offline.repo_add(repo.name, repo.url)
    return repo


@pytest.fixture(scope="session")
def chart_images(cluster: Any, charts_under_test: list[Any], harness_config: HarnessConfig,
                 pytestconfig: pytest.Config) -> list[str]:
    """Every image the contracts list, loaded into the kind nodes (only those missing there); with
    image-source ``pull`` the nodes pull them instead, and each is asked of its registry first (one
    line per missing image, exit 3: harness/env/imagecheck.py). xdist workers load one at a time
    (the lock ``images``): the second finds them present."""
    images = sorted({img for c in charts_under_test if c.contract for img in c.contract.images})
    if images and not harness_config.external_cluster:
        source = cluster_mod.effective_image_source(harness_config.image_source, getattr(cluster, "node_image", ""),
                                                    getattr(cluster, "kubernetes_version", "") or None)
        if source == "pull":
            with _exit_on_harness_error("check images", pytestconfig), timings.phase(f"check {len(images)} images"):
                mirror = harness_config.registry_mirror
                nodes, holders = cluster_mod.image_holders(cluster, images)
                require_images(images, mirror=mirror, mirrored=UPSTREAM_REGISTRIES if mirror else (),
                               notes={i: partial_note(h, nodes) for i, h in holders.items()})
            return images
        with (_exit_on_harness_error("load images", pytestconfig),
              workers.shared_lock(pytestconfig, harness_config, "images", "load images"),
              timings.phase(f"load {len(images)} images")):
            cluster_mod.load_images(cluster, images)
    return images


@pytest.fixture
def namespace(request: pytest.FixtureRequest, kube_api: Any, cluster: Any, harness_config: HarnessConfig,
              harness_run_id: str, helm_home: Path) -> Iterator[str]:
    """A fresh namespace ``<test-name>-<random>`` labelled with the run id and test id.

    After a failed test, diagnostics go to ``<artifacts>/<test-id-safe>/`` (linked from the JUnit
    XML property ``harness_artifacts`` and the terminal summary) before anything is deleted; the
    namespace is then kept or deleted per keep-cluster.
    """

    name = namespaces.create_namespace(kube_api, request.node.originalname or request.node.name,
                                       run_id=harness_run_id, test_id=request.node.nodeid)
    yield name

    if interrupted(request.config):
        return  # no diagnostics, no delete: the interrupt line names the run id; `clean` removes it
    state = _state(request.config)
    failed = _failed(request.node)
    sensitive = request.node.stash.get(SENSITIVE_KEY, ())
    # every namespace's secrets, failed or not: the kind logs exported after a later failure hold its pods' logs
    found = state.learn(kube_api, name, sensitive)
    if failed:
        dest = diagnostics.artifact_dir(harness_config.artifacts_dir, request.node.nodeid)
        helm_for_diag = None
        try:
            from harness.tools.helm import Helm

            helm_for_diag = Helm(cluster.kubeconfig, home=helm_home, kube_context=cluster.context or None,
                                 binary=harness_config.helm)
        except HarnessError:
            pass
        with timings.phase(f"diagnostics {name}", announce=False):
            path, error = diagnostics.collect_safely(kube_api, name, dest, helm=helm_for_diag, redactor=found,
                                                     sensitive_values=sensitive)
        if path is not None:
            request.node.user_properties.append((ARTIFACT_PROPERTY, str(path)))
            state.artifacts.append((request.node.nodeid, path))
        else:
            state.notes.append(f"diagnostics for {request.node.nodeid} failed:\n{error}")
    if namespaces.should_keep(harness_config.keep_cluster, failed) and failed:
        state.kept_on_purpose = True
        state.kept.append(f"namespace {name} ({request.node.nodeid}): "
                          f"kubectl --kubeconfig {shlex.quote(str(cluster.kubeconfig))} -n {name} get all")
        return
    namespaces.delete_namespace(kube_api, name, wait=False)


@pytest.fixture
def helm(cluster: Any, namespace: str, helm_home: Path, harness_config: HarnessConfig,
         pytestconfig: pytest.Config) -> Any:
    """A :class:`harness.tools.helm.Helm` bound to the cluster's kubeconfig/context and the test's
    namespace, sharing the run's private helm home (so ``harness-charts`` from ``chart_repo`` resolves)."""

    with _exit_on_harness_error("helm", pytestconfig):
        return Helm(cluster.kubeconfig, home=helm_home, namespace=namespace, kube_context=cluster.context or None,
                    binary=harness_config.helm, kube_version=harness_config.kubernetes_version,
                    default_timeout=harness_config.timeouts.install)


@pytest.fixture(scope="session")
def kubectl(cluster: Any, pytestconfig: pytest.Config) -> Any:
    """A :class:`harness.tools.kubectl.Kubectl` bound to the cluster's kubeconfig and context."""

    with _exit_on_harness_error("kubectl", pytestconfig):
        return Kubectl(cluster.kubeconfig, context=cluster.context or None)


@pytest.fixture(scope="session")
def addons(cluster: Any, harness_config: HarnessConfig, harness_run_id: str,
           request: pytest.FixtureRequest) -> Iterator[Any]:
    """Install ``harness_config.addons`` into the cluster (harness.env.addons.catalog.install_addons, idempotent)
    and yield the AddonContext; at the end the add-ons release what they hold, kept per keep-cluster."""

    with _exit_on_harness_error("add-ons", request.config):
        ctx = addons_mod.AddonContext.from_config(harness_config, cluster, run_id=harness_run_id)
        # xdist: one worker installs, the others find them present (install_addons is idempotent);
        # PostgreSQL is a container per worker (its server object lives in the worker's ctx.state)
        with workers.shared_lock(request.config, harness_config, "addons", "add-ons install"):
            addons_mod.install_addons(harness_config.addons, ctx)
    yield ctx
    if interrupted(request.config):
        return  # the add-ons' containers carry the run id; `python -m harness clean` removes them
    failed = request.session.testsfailed > 0
    if should_keep(harness_config.keep_cluster, failed) and ctx.state:  # e.g. the PostgreSQL container
        _state(request.config).kept_on_purpose = True
    try:
        addons_mod.teardown_addons(ctx, keep=should_keep(harness_config.keep_cluster, failed))
    except Exception as exc:  # noqa: BLE001 - never mask the tests' own failures
        _state(request.config).notes.append(f"add-on teardown failed: {exc}")
