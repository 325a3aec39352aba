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

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.core.contract import resolve_charts_under_test
from harness.core.errors import HarnessError
from harness.k8s import diagnostics
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
from harness.plugin.session import CONFIG_KEY, SENSITIVE_KEY, activate
from harness.scenario.context import Env, ScenarioContext
from harness.scenario.settings import Settings
from harness.scenario.targets import Target, targets_for
from harness.tools import binaries  # a module: tests replace tool_path

_NOT_GENERATED = object()
_CHARTS_KEY = pytest.StashKey[list[Any]]()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "scenario(name): a scenario test against the charts under test")
    # The figures go into junit.xml as <properties> whatever the junit_family; pytest only warns that
    # the xunit2 schema does not list them (they are what a scenario reports, so keep them).
    config.addinivalue_line("filterwarnings",
                            "ignore:record_property is incompatible with junit_family:pytest.PytestWarning")


def _charts(config: pytest.Config) -> list[Any]:
    """The charts under test, resolved once per session (no cluster needed)."""
    cached = config.stash.get(_CHARTS_KEY, None)
    if cached is not None:
        return cached
    try:
        cfg = activate(config)  # a scenario module is being parametrized: this is a harness run
    except pytest.UsageError:
        cfg = None  # raised again, as the run's usage error, when collection ends (harness/plugin/session.py)
    charts: list[Any] = []
    if cfg is not None:
        try:
            charts = resolve_charts_under_test(cfg)
        except HarnessError:
            charts = []  # the charts_under_test fixture reports the problem when a test runs
    config.stash[_CHARTS_KEY] = charts
    return charts


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


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    """Drop the placeholders of scenarios no contract lists (not generated, so not skipped either)."""
    items[:] = [i for i in items if not any(v is _NOT_GENERATED for v in
                                            getattr(getattr(i, "callspec", None), "params", {}).values())]
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
    """The record's cell: the context's own when it crosses helms (``v3.22.0→v4.3.2``), else the session's."""
    return ctx.cell if ctx.released_helm is not ctx.helm else session


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
