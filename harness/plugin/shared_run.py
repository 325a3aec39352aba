"""pytest adapters of the scenario library: a scenario test hands its result record to the session
and turns the library's skip into a pytest skip.

* :func:`scenario_test` for per-test scenarios (upgrade, rollback, drain): run the procedure in
  the test's context, build the record (``ctx.finish``), return the verdict.
* :class:`SharedRun` and :func:`shared_test` for shared runs (sse, db_outage): the module's
  selected tests (``session.items`` and their ``callspec``) say which (target, key) pairs are
  wanted; :class:`harness.scenario.shared.SharedRun` prepares and runs them; at module teardown
  diagnostics are collected for targets with a failed test and namespaces deleted or kept.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest

from harness.core.errors import HarnessError, ScenarioSkipped
from harness.k8s import diagnostics, namespaces
from harness.plugin.results import record_result
from harness.plugin.session import ARTIFACT_PROPERTY, STATE_KEY, interrupted
from harness.scenario import shared
from harness.scenario.context import Env, ScenarioContext
from harness.scenario.targets import Target
from harness.scenario.verdicts import Verdict
from harness.tools.helm import Helm


def scenario_test(procedure: Callable[[ScenarioContext], Verdict], ctx: ScenarioContext) -> Verdict:
    """Run ``procedure(ctx)``, build its record (``ctx.finish``: :attr:`ScenarioContext.result`) and
    return the verdict; a :class:`ScenarioSkipped` becomes a pytest skip with its reason.

    The ``scenario_ctx`` fixture hands ``ctx.result`` (or, without one, an ERROR/SKIP record from
    ``ctx.incomplete``) to the session when the test ends.
    """
    try:
        verdict = procedure(ctx)
    except ScenarioSkipped as exc:
        pytest.skip(str(exc))
    ctx.finish(verdict)
    return verdict


class SharedRun:
    """Adapt :class:`harness.scenario.shared.SharedRun` to one scenario module's tests.

    Args:
        request: the module-scoped fixture's request (its module's selected items are the targets).
        env: the session's Env.
        scenario: the module's SCENARIO.
        prepare: ``(ctx) -> state`` for one target (install, open streams...).
        run: ``(list of (ctx, state), key) -> {target id: Verdict}``: the shared phase for one key
            (``None``, or a fault name) over every target that needs it.
        release: ``(state) -> None`` at module teardown (close streams...).
    """

    def __init__(self, request: Any, env: Env, scenario: str, prepare: shared.Prepare, run: shared.Run,
                 release: Callable[[Any], None] | None = None):
        self.request = request
        self.env = env
        self.scenario = scenario
        self.items = [i for i in request.session.items if getattr(i, "module", None) is request.module]
        wanted = [(t, self._key(i)) for i in self.items if (t := self._target(i)) is not None]
        self.core = shared.SharedRun(scenario, wanted, self._ctx, prepare, run, cell=env.cell, release=release)

    @staticmethod
    def _target(item: Any) -> Target | None:
        params = getattr(getattr(item, "callspec", None), "params", {})
        return params.get("target") or params.get("broken_target")

    @staticmethod
    def _key(item: Any) -> Any:
        return getattr(getattr(item, "callspec", None), "params", {}).get("fault")

    def _ctx(self, target: Target) -> ScenarioContext:

        env = self.env
        first = next(i for i in self.items if getattr(self._target(i), "id", None) == target.id)
        ns = namespaces.create_namespace(env.api, f"{self.scenario}-{target.id}", run_id=_run_id(self.request),
                                         test_id=first.nodeid)
        helm = Helm(env.cluster.kubeconfig, home=env.helm_home, namespace=ns, binary=env.cfg.helm,
                    kube_version=env.cfg.kubernetes_version,
                    kube_context=env.cluster.context or None, default_timeout=env.cfg.timeouts.install)
        art = diagnostics.artifact_dir(env.cfg.artifacts_dir, f"{self.request.module.__name__}::{target.id}")
        return ScenarioContext(self.scenario, target, ns, env, helm, art)

    def outcome(self, target: Target, key: Any = None) -> shared.Outcome:
        return self.core.outcome(target, key)

    def finish(self) -> None:
        """Release the targets' state, then diagnostics for targets with a failed test, then delete
        or keep their namespaces (per keep-cluster)."""

        state = self.request.config.stash[STATE_KEY]
        cfg = self.env.cfg
        state.notes.extend(self.core.close())
        if interrupted(self.request.config):
            return  # Ctrl-C: no diagnostics, no deletes; the namespaces carry the run id for `clean`
        for tid, ctx in self.core.ctxs.items():
            failed_items = [i for i in self.items if (self._target(i) is not None and self._target(i).id == tid)
                            and any(getattr(getattr(i, f"rep_{w}", None), "failed", False) for w in ("setup", "call"))]
            failed = bool(failed_items)
            contract = ctx.target.chart.contract
            sensitive = tuple(contract.sensitive_values) if contract is not None else ()
            found = state.learn(self.env.api, ctx.namespace, sensitive)
            if failed:
                dest = diagnostics.artifact_dir(cfg.artifacts_dir, failed_items[0].nodeid)
                helm = Helm(self.env.cluster.kubeconfig, home=self.env.helm_home, binary=self.env.cfg.helm,
                            kube_context=self.env.cluster.context or None)
                path, error = diagnostics.collect_safely(self.env.api, ctx.namespace, dest, helm=helm, redactor=found,
                                                         sensitive_values=sensitive)
                if path is not None:
                    for i in failed_items:
                        i.user_properties.append((ARTIFACT_PROPERTY, str(path)))
                    state.artifacts.append((failed_items[0].nodeid, path))
                else:
                    state.notes.append(f"diagnostics for {tid} failed:\n{error}")
            if namespaces.should_keep(cfg.keep_cluster, failed) and failed:
                state.kept_on_purpose = True
                state.kept.append(f"namespace {ctx.namespace} ({self.scenario} {tid})")
                continue
            try:
                namespaces.delete_namespace(self.env.api, ctx.namespace, wait=False)
            except Exception as exc:  # noqa: BLE001 - cleanup must not hide the tests' results
                state.notes.append(f"deleting namespace {ctx.namespace} failed: {exc}")
            pg = self.env.addons.state.get("postgres") if hasattr(self.env.addons, "state") else None
            if pg is not None and ctx.namespace in getattr(pg, "databases", {}):
                try:
                    pg.drop_database(ctx.namespace)
                except Exception:  # noqa: BLE001, S110 - best effort: the namespace is gone anyway
                    pass


def _run_id(request: Any) -> str:

    return request.config.stash[STATE_KEY].run_id


def shared_test(request: Any, run: SharedRun, target: Target, key: Any = None) -> Verdict:
    """What a shared-run test does: get its outcome, hand the record to the session
    (:func:`harness.plugin.results.record_result`), and return the verdict.

    Raises:
        pytest.skip.Exception: the target was skipped (the record says SKIP and why).
        HarnessError: no verdict was reached (the record says ERROR and why).
    """
    start = time.monotonic()
    outcome = run.outcome(target, key)
    # the record's own seconds are its target's (its preparation and the shared phase it took part
    # in); the wait here is only the first test's of each key
    result = replace(outcome.result, test_id=request.node.nodeid,
                     seconds=outcome.result.seconds or round(time.monotonic() - start, 1))
    record_result(request.node, result)
    if result.outcome == "SKIP":
        pytest.skip(result.reason)
    if outcome.verdict is None:
        raise HarnessError(result.reason)
    return outcome.verdict
