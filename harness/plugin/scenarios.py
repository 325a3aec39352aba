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
from harness.plugin.session import CONFIG_KEY
from harness.scenario.context import Env, ScenarioContext
from harness.scenario.settings import Settings
from harness.scenario.targets import Target, targets_for

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
    cfg = config.stash.get(CONFIG_KEY, None)
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

    def make(target: Target) -> ScenarioContext:
        art = diagnostics.artifact_dir(root, request.node.nodeid)
        ctx = ScenarioContext(scenario, target, namespace, scenario_env, helm, art)
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
                                                        cell=cell, artifacts=files))
            continue
        reports = [getattr(request.node, "rep_setup", None), getattr(request.node, "rep_call", None)]
        record_result(request.node, fallback_result(scenario, ctx.target, key=scenario_params(request.node)[2],
                                                    reports=reports, test_id=request.node.nodeid, seconds=seconds,
                                                    cell=cell, artifacts=files))
