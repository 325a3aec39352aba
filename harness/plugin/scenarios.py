"""The scenarios' pytest layer: parametrization over the charts under test, the context each scenario
runs in, and the records it leaves (loaded with the plugin, see harness/plugin/__init__.py).

Parametrization (at collection, from the contracts, no cluster needed): a scenario module sets
``SCENARIO = "<name>"``; a test asking for ``target`` runs once per chart whose contract lists the
scenario, per ``ci/*-values.yaml`` variant; a test asking for ``broken_target`` runs once per
``broken:`` entry naming the scenario. A scenario a contract does not list is not generated (not
skipped). ``FAULTS`` in a module parametrizes ``fault`` as well. A test that parametrizes one of
these names itself (``@pytest.mark.parametrize("target", ...)``) keeps its own values.

Per-test scenarios (upgrade, rollback, drain) use the plugin's ``namespace`` and ``helm`` fixtures
through :func:`scenario_ctx`. Shared runs (:class:`harness.plugin.shared_run.SharedRun`, used by
sse and db_outage) prepare every selected target of the module in its own namespace, run the long
phase once for all of them (a 120 s stream hold, a database outage: the database is one server for
the whole cluster anyway), and hand each test its own verdict; namespaces follow the same keep
policy and diagnostics as the plugin's ``namespace`` fixture (harness/plugin/shared_run.py).

Every scenario test leaves one :class:`harness.scenario.result.ScenarioResult` through
:func:`harness.plugin.results.record_result`: per-test scenarios from :func:`scenario_ctx`
(``ctx.result``, completed here), shared runs from :func:`harness.plugin.shared_run.shared_test`.
"""
from __future__ import annotations

import fnmatch
import importlib.util
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.core import timings
from harness.core.contract import resolve_charts_under_test
from harness.core.errors import EnvironmentNotReady, HarnessError
from harness.k8s import diagnostics
from harness.plugin import workers
from harness.plugin.cell import matrix_cell
from harness.plugin.results import (
    artifact_paths,
    complete_result,
    fallback_result,
    record_result,
    remember_cell,
    scenario_params,
    session_cell,
)
from harness.plugin.session import (
    CONFIG_KEY,
    SENSITIVE_KEY,
    activate,
    xdist_refusal,
    xdist_workers,
)
from harness.scenario.context import Env, ScenarioContext
from harness.scenario.preflight import check_charts, problems_message
from harness.scenario.settings import Settings
from harness.scenario.targets import Target, targets_for
from harness.tools import binaries  # a module: tests replace tool_path

_NOT_GENERATED = object()
_CHARTS_KEY = pytest.StashKey[list[Any]]()
_PROBLEMS_KEY = pytest.StashKey[list[str]]()
_DEFERRED_KEY = pytest.StashKey[bool]()
_NEEDS_CHARTS_KEY = pytest.StashKey[bool]()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.getgroup("harness").addoption(
        "--harness-no-chart-check", "--no-chart-check", dest="harness_no_chart_check", action="store_true",
        default=False,
        help="skip the chart check before collection (helm template/lint of every variant, probe host, images, "
             "probes); the gate passes it, having run the same check in its preflight")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "scenario(name): a scenario test against the charts under test")
    # The figures go into junit.xml as <properties> whatever the junit_family; pytest only warns that
    # the xunit2 schema does not list them (they are what a scenario reports, so keep them).
    config.addinivalue_line("filterwarnings",
                            "ignore:record_property is incompatible with junit_family:pytest.PytestWarning")


def _charts(config: pytest.Config) -> list[Any]:
    """The charts under test, resolved and checked once per session, before any cluster work.

    A contract that does not load, or a chart the chart check
    (:func:`harness.scenario.preflight.check_charts`: template and lint of every variant, the probe
    host served by the edge, images, probe bounds) finds problems with, yields no charts and
    leaves the problem lines in the stash; :func:`pytest_collection_modifyitems` turns them into a
    usage error (exit 4), so the run never ends as "no tests ran".
    """
    cached = config.stash.get(_CHARTS_KEY, None)
    if cached is not None:
        return cached
    try:
        cfg = activate(config)  # a scenario module is being parametrized: this is a harness run
    except pytest.UsageError:
        cfg = None  # raised again, as the run's usage error, when collection ends (harness/plugin/session.py)
    charts: list[Any] = []
    problems: list[str] = []
    if cfg is not None:
        try:
            charts = resolve_charts_under_test(cfg)
        except HarnessError as exc:
            problems = str(exc).splitlines()
            # no chart at all (none given, none in charts-under-test): only an error for a test that
            # asks for the contracts' targets (a scenario module may parametrize its own)
            config.stash[_DEFERRED_KEY] = not cfg.charts and str(exc).startswith("no charts under test")
        if charts and not config.getoption("harness_no_chart_check", False):
            try:
                with timings.phase("check charts", announce=False):
                    report = check_charts(charts, cfg)
            except EnvironmentNotReady:
                report = None  # no helm: the helm_offline fixture reports it (exit 3) when a test runs
            if report is not None and report.problems:
                problems = problems_message(report).splitlines()
                charts = []
    config.stash[_CHARTS_KEY] = charts
    config.stash[_PROBLEMS_KEY] = problems
    return charts


_SCENARIO_LINE = re.compile(r"^(SCENARIO\s*=|from harness\.scenarios\.\w+\.test_\w+ import)", re.M)
"""A scenario module: it declares SCENARIO, or re-exports a packaged one (this repository's scenarios/)."""


def _collects_scenarios(config: pytest.Config) -> bool:
    """Some test module the run collects declares ``SCENARIO = ...`` or re-exports one (read from the files the
    command-line paths, or ``testpaths``, name; ``::`` node ids reduced to their file)."""
    args = [a.split("::", 1)[0] for a in (config.args or []) if not a.startswith("-")]
    patterns = config.getini("python_files") or ["test_*.py"]
    for raw in args:
        path = Path(raw) if Path(raw).is_absolute() else Path(config.invocation_params.dir) / raw
        if not path.exists() and config.getoption("pyargs", False):
            path = _module_path(raw) or path
        files = [path] if path.is_file() else ([f for pat in patterns for f in path.rglob(pat)] if path.is_dir() else [])
        skip = config.getini("norecursedirs") or []
        for f in files:
            if f != path and any(fnmatch.fnmatch(part, pat) for part in f.relative_to(path).parts[:-1] for pat in skip):
                continue  # a directory pytest does not collect from (.venv, build...)
            try:
                if _SCENARIO_LINE.search(f.read_text(errors="replace")):
                    return True
            except OSError:
                continue
    return False


def _module_path(name: str) -> Path | None:
    """The file or package directory of module ``name`` (``--pyargs``), None when it is not importable."""
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return None
    if spec is None:
        return None
    if spec.submodule_search_locations:
        return Path(next(iter(spec.submodule_search_locations)))
    return Path(spec.origin) if spec.origin else None


@pytest.hookimpl(trylast=True)
def pytest_sessionstart(session: pytest.Session) -> None:
    """When the run collects scenario tests, load and check the charts under test now, before
    collection and any cluster work: a problem is a usage error (exit 4, one line per problem),
    never a run that ends as "no tests ran"."""
    config = session.config
    if hasattr(config, "workerinput") or not _collects_scenarios(config):
        return  # an xdist worker: the controller checked the charts (a refusal: harness/plugin/session.py)
    reason = workers.unsupported(config) if xdist_workers(config) else ""
    if reason:
        raise pytest.UsageError(xdist_refusal(reason))
    activate(config)  # the run collects scenario modules: it is a harness run (a bad setting: exit 4 here)
    _charts(config)
    problems = config.stash.get(_PROBLEMS_KEY, [])
    if problems and not config.stash.get(_DEFERRED_KEY, False):
        raise pytest.UsageError("harness: " + "\n".join(problems))


def _own_parameters(metafunc: pytest.Metafunc) -> set[str]:
    """The argument names the test parametrizes itself (``@pytest.mark.parametrize``)."""
    names: set[str] = set()
    for mark in metafunc.definition.iter_markers("parametrize"):
        argnames = mark.args[0] if mark.args else mark.kwargs.get("argnames", ())
        names.update(n.strip() for n in (argnames.split(",") if isinstance(argnames, str) else argnames))
    return names


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    scenario = getattr(metafunc.module, "SCENARIO", None)
    if scenario is None:
        return
    own = _own_parameters(metafunc)
    charts = _charts(metafunc.config)
    for name, negative in (("target", False), ("broken_target", True)):
        if name in metafunc.fixturenames and name not in own:
            metafunc.config.stash[_NEEDS_CHARTS_KEY] = True
            targets = targets_for(scenario, charts, negative=negative)
            if targets:
                metafunc.parametrize(name, targets, ids=[t.id for t in targets])
            else:
                metafunc.parametrize(name, [_NOT_GENERATED], ids=["not-generated"])
    cfg = metafunc.config.stash.get(CONFIG_KEY, None)
    helm_from = getattr(cfg, "helm_from", None)
    if helm_from and "helm_from" in metafunc.fixturenames and "helm_from" not in own:
        # both rows in one run: the helm under test throughout, and released by the other major
        metafunc.parametrize("helm_from", ["", helm_from], ids=["same-helm", helm_from_key(helm_from)])
    faults = getattr(metafunc.module, "FAULTS", None)
    if faults and "fault" in metafunc.fixturenames and "fault" not in own:
        metafunc.parametrize("fault", list(faults), ids=list(faults))


def _placeholder(item: Any) -> bool:
    return any(v is _NOT_GENERATED for v in getattr(getattr(item, "callspec", None), "params", {}).values())


@pytest.hookimpl(wrapper=True)
def pytest_pycollect_makeitem(collector: Any, name: str, obj: object) -> Any:
    """Leave out the placeholders of scenarios no contract lists as the items are made, so they are
    never counted ("collected N items" and ``--collect-only`` count only tests that will run)."""
    made = yield
    if isinstance(made, list):
        return [i for i in made if not _placeholder(i)]
    return made


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    """Stop with a usage error (exit 4, one line per problem) when the charts under test could not be
    loaded or failed the chart check; drop any placeholder left (not generated, so not skipped either).

    Raises:
        pytest.UsageError: ``harness: <contract or chart check problem>`` lines.
    """
    problems = config.stash.get(_PROBLEMS_KEY, [])
    if problems and (config.stash.get(_NEEDS_CHARTS_KEY, False) or not config.stash.get(_DEFERRED_KEY, False)):
        raise pytest.UsageError("harness: " + "\n".join(problems))
    items[:] = [i for i in items if not _placeholder(i)]
    for i in items:
        scenario = getattr(getattr(i, "module", None), "SCENARIO", None)
        if scenario:
            i.add_marker(pytest.mark.cluster)
            i.add_marker(pytest.mark.scenario(scenario))


# --------------------------------------------------------------------------- fixtures


def helm_from_key(helm_from: str) -> str:
    """The test id part and record key of the upgrade across the Helm major: ``"3"`` -> ``from-helm3``."""
    return f"from-helm{helm_from}"


HELM_FROM_TOOLS = {"3": "helm3"}
"""``helm-from`` value -> the pinned tool that installs the released chart (harness.tools.binaries)."""


@pytest.fixture
def helm_from() -> str:
    """``""``: the released chart is installed by the helm under test. Parametrized to ``"3"`` as well
    (test id ``from-helm3``) by ``--helm-from 3`` for tests that ask for it (the upgrade scenario)."""
    return ""


def _cell_of(ctx: ScenarioContext, session: Any) -> Any:
    """The record's cell: the context's own when it crosses helms (``v3.22.0→v4.3.2``) or probes through
    another edge than the session's (a ``probe.via: httproute`` contract: ``traefik-gateway``), else the session's."""
    crosses = ctx.released_helm is not ctx.helm or ctx.cell.edge != getattr(session, "edge", ctx.cell.edge)
    return ctx.cell if crosses else session


def released_helm(helm: Any, helm_from: str, kubernetes_version: str | None) -> Any:
    """The Helm that installs the released chart: ``helm`` itself for ``helm_from`` "", else the
    pinned tool of that major (``helm3``) bound like ``helm`` (:meth:`harness.tools.helm.Helm.with_binary`).

    Raises:
        pytest.skip.Exception: the helm under test is already of that major (nothing to cross).
        EnvironmentNotReady: the pinned tool is missing (``make setup`` installs it).
    """
    if not helm_from:
        return helm
    if str(helm.major) == helm_from:
        pytest.skip(f"helm-from {helm_from}: the helm under test ({helm.binary}, {helm.version}) is already "
                    f"Helm {helm_from}; the same-helm row covers it")
    return helm.with_binary(binaries.tool_path(HELM_FROM_TOOLS[helm_from], kubernetes_version))


@pytest.fixture(scope="session")
def scenario_settings() -> Settings:
    """The scenarios' knobs (``HARNESS_SCENARIO_*`` environment variables; see docs/scenarios.md)."""
    try:
        return Settings.from_env()
    except HarnessError as exc:
        pytest.exit(f"harness: scenario settings: {exc}", returncode=2)


@pytest.fixture(scope="session")
def scenario_env(request: pytest.FixtureRequest, harness_config: Any, kube_api: Any, cluster: Any, kubectl: Any,
                 addons: Any, chart_images: Any, charts_under_test: Any, helm_home: Path, helm_offline: Any,
                 scenario_settings: Settings) -> Env:
    """Cluster, add-ons (ingress, PostgreSQL) and images ready; the charts checked; the session's
    matrix cell (Kubernetes version, helm version, edge) worked out once."""
    cell = matrix_cell(harness_config, helm_offline.binary)
    remember_cell(request.config, cell)
    return Env(harness_config, kube_api, cluster, kubectl, addons, scenario_settings, helm_home, cell=cell)


@pytest.fixture
def scenario_ctx(request: pytest.FixtureRequest, scenario_env: Env, namespace: str,
                 helm: Any) -> Iterator[Callable[[Target], ScenarioContext]]:
    """``make(target) -> ScenarioContext`` in the test's own namespace.

    At the end each context's record (``ctx.result``, set by ``ctx.finish(verdict)``) is completed
    with the test's node id, wall time, evidence files and the session's matrix cell, and recorded
    (:func:`harness.plugin.results.record_result`: JUnit properties, scenarios.json, the
    summary). A context that reached no verdict gets an ERROR or SKIP record from the test's reports.
    """
    scenario = request.module.SCENARIO
    made: list[ScenarioContext] = []
    start, started_wall = time.monotonic(), time.time()
    root = Path(scenario_env.cfg.artifacts_dir)

    def make(target: Target, *, helm_from: str = "") -> ScenarioContext:
        art = diagnostics.artifact_dir(root, request.node.nodeid)
        contract = target.chart.contract
        if contract is not None and contract.sensitive_values:  # for the namespace's diagnostics
            request.node.stash[SENSITIVE_KEY] = tuple(dict.fromkeys(
                [*request.node.stash.get(SENSITIVE_KEY, ()), *contract.sensitive_values]))
        try:
            first = released_helm(helm, helm_from, scenario_env.cfg.kubernetes_version)
        except HarnessError as exc:  # the pinned helm3 missing: the environment, like a missing helm
            pytest.exit(f"harness: helm-from {helm_from}: {exc}", returncode=exc.exit_code)
        ctx = ScenarioContext(scenario, target, namespace, scenario_env, helm, art, released_helm=first,
                              key=helm_from_key(helm_from) if helm_from else None)
        made.append(ctx)
        return ctx

    yield make
    seconds = time.monotonic() - start
    cell = session_cell(request.config)
    for ctx in made:
        ctx.close()  # the observer's pod watch
        files = artifact_paths(ctx.artifacts, root, since=started_wall)
        result = getattr(ctx, "result", None)
        if result is not None:
            record_result(request.node, complete_result(result, test_id=request.node.nodeid, seconds=seconds,
                                                        cell=_cell_of(ctx, cell), artifacts=files))
            continue
        reports = [getattr(request.node, "rep_setup", None), getattr(request.node, "rep_call", None)]
        record_result(request.node, fallback_result(scenario, ctx.target,
                                                    key=ctx.key or scenario_params(request.node)[2],
                                                    reports=reports, test_id=request.node.nodeid, seconds=seconds,
                                                    cell=_cell_of(ctx, cell), artifacts=files))
