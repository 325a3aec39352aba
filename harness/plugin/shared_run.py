"""Shared runs: every selected target of one scenario module prepared in its own namespace, the long
phase run once for all of them, each test handed its own verdict."""
from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from harness.core import progress
from harness.core.errors import HarnessError
from harness.k8s import diagnostics, namespaces
from harness.plugin.report_rows import report_row
from harness.scenario.context import Env, ScenarioContext
from harness.scenario.targets import Target
from harness.scenario.verdicts import Verdict


class SharedRun:
    """Prepare every selected target of one scenario module in its own namespace, run the shared
    long phase once, and keep each target's verdicts for its tests.

    Args:
        request: the module-scoped fixture's request (its module's selected items are the targets).
        env: the session's Env.
        scenario: the module's SCENARIO.
        prepare: ``(ctx) -> state`` for one target (install, open streams...).
        run: ``(list of (ctx, state), key) -> {target id: Verdict}``: the shared phase for one key
            (``None``, or a fault name) over every target that needs it.
    """

    def __init__(self, request: Any, env: Env, scenario: str,
                 prepare: Callable[[ScenarioContext], Any],
                 run: Callable[[list[tuple[ScenarioContext, Any]], Any], dict[str, Verdict]]):
        self.request = request
        self.env = env
        self.scenario = scenario
        self.prepare_fn = prepare
        self.run_fn = run
        self.items = [i for i in request.session.items if getattr(i, "module", None) is request.module]
        self.ctxs: dict[str, ScenarioContext] = {}
        self.states: dict[str, Any] = {}
        self.prepare_errors: dict[str, str] = {}
        self.skips: dict[str, str] = {}
        self.verdicts: dict[tuple[str, Any], Verdict] = {}
        self.run_errors: dict[Any, str] = {}
        self.seconds: dict[Any, float] = {}
        self._lock = threading.Lock()
        self._prepared = False

    @staticmethod
    def _target(item: Any) -> Target | None:
        params = getattr(getattr(item, "callspec", None), "params", {})
        return params.get("target") or params.get("broken_target")

    @staticmethod
    def _key(item: Any) -> Any:
        return getattr(getattr(item, "callspec", None), "params", {}).get("fault")

    def targets(self) -> list[Target]:
        out: dict[str, Target] = {}
        for i in self.items:
            t = self._target(i)
            if t is not None:
                out.setdefault(t.id, t)
        return list(out.values())

    def _ctx(self, target: Target) -> ScenarioContext:
        from harness.tools.helm import Helm

        env = self.env
        first = next(i for i in self.items if getattr(self._target(i), "id", None) == target.id)
        ns = namespaces.create_namespace(env.api, f"{self.scenario}-{target.id}", run_id=_run_id(self.request),
                                         test_id=first.nodeid)
        helm = Helm(env.cluster.kubeconfig, home=env.helm_home, namespace=ns,
                    kube_context=env.cluster.context or None, default_timeout=env.cfg.timeouts.install)
        art = diagnostics.artifact_dir(env.cfg.artifacts_dir, f"{self.request.module.__name__}::{target.id}")
        return ScenarioContext(self.scenario, target, ns, env, helm, art)

    def prepare(self) -> None:
        if self._prepared:
            return
        self._prepared = True
        for t in self.targets():
            import pytest

            try:
                ctx = self._ctx(t)
                self.ctxs[t.id] = ctx
                self.states[t.id] = self.prepare_fn(ctx)
            except pytest.skip.Exception as exc:
                self.skips[t.id] = str(exc.msg if hasattr(exc, "msg") else exc)
            except Exception as exc:  # noqa: BLE001 - one target's setup must not stop the others
                self.prepare_errors[t.id] = f"{type(exc).__name__}: {exc}"
                progress.say(f"{self.scenario} {t.id}: preparation failed: {exc}")

    def verdict(self, target: Target, key: Any = None) -> Verdict:
        """The target's verdict for ``key`` (running the shared phase for ``key`` on first use).

        Raises:
            HarnessError: the target could not be prepared, or the shared phase broke down.
        """
        with self._lock:
            self.prepare()
            if target.id in self.skips:
                import pytest

                pytest.skip(self.skips[target.id])
            if target.id in self.prepare_errors:
                raise HarnessError(f"{target.id}: preparation failed: {self.prepare_errors[target.id]}")
            if (target.id, key) not in self.verdicts and key not in self.run_errors:
                wanted = {self._target(i).id for i in self.items  # type: ignore[union-attr]
                          if self._target(i) is not None and self._key(i) == key}
                pairs = [(self.ctxs[tid], self.states[tid]) for tid in self.ctxs if tid in wanted and tid in self.states]
                start = time.monotonic()
                try:
                    for tid, v in self.run_fn(pairs, key).items():
                        self.verdicts[(tid, key)] = v
                except Exception as exc:  # noqa: BLE001 - the shared phase's error is reported per test
                    self.run_errors[key] = f"{type(exc).__name__}: {exc}"
                self.seconds[key] = time.monotonic() - start
            if key in self.run_errors and (target.id, key) not in self.verdicts:
                raise HarnessError(f"the shared {self.scenario} run{'' if key is None else ' ' + str(key)} failed: "
                                   f"{self.run_errors[key]}")
            return self.verdicts[(target.id, key)]

    def finish(self) -> None:
        """Diagnostics for targets with a failed test, then delete or keep their namespaces."""
        from harness.plugin.session import ARTIFACT_PROPERTY, STATE_KEY
        from harness.tools.helm import Helm

        state = self.request.config.stash[STATE_KEY]
        cfg = self.env.cfg
        for tid, ctx in self.ctxs.items():
            for fin in getattr(ctx, "finalizers", []):
                try:
                    fin()
                except Exception as exc:  # noqa: BLE001 - cleanup must not hide the tests' results
                    state.notes.append(f"{self.scenario} {tid}: cleanup failed: {exc}")
            failed_items = [i for i in self.items if (self._target(i) is not None and self._target(i).id == tid)
                            and any(getattr(getattr(i, f"rep_{w}", None), "failed", False) for w in ("setup", "call"))]
            failed = bool(failed_items)
            if failed:
                dest = diagnostics.artifact_dir(cfg.artifacts_dir, failed_items[0].nodeid)
                helm = Helm(self.env.cluster.kubeconfig, home=self.env.helm_home,
                            kube_context=self.env.cluster.context or None)
                path, error = diagnostics.collect_safely(self.env.api, ctx.namespace, dest, helm=helm)
                if path is not None:
                    for i in failed_items:
                        i.user_properties.append((ARTIFACT_PROPERTY, str(path)))
                    state.artifacts.append((failed_items[0].nodeid, path))
                else:
                    state.notes.append(f"diagnostics for {tid} failed:\n{error}")
            if namespaces.should_keep(cfg.keep_cluster, failed) and failed:
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
    from harness.plugin.session import STATE_KEY

    return request.config.stash[STATE_KEY].run_id


def shared_test(request: Any, run: SharedRun, target: Target, key: Any,
                record_property: Callable[[str, Any], None]) -> Verdict:
    """What a shared-run test does: get its verdict, record figures, report, return it."""
    import pytest

    start = time.monotonic()
    verdict: Verdict | None = None
    error = "the shared run failed (see the test's error)"
    try:
        verdict = run.verdict(target, key)
        return verdict
    except pytest.skip.Exception as exc:
        error = f"skipped: {getattr(exc, 'msg', exc)}"
        raise
    except Exception as exc:
        error = f"{type(exc).__name__}: {str(exc).splitlines()[0][:300] if str(exc) else ''}"
        raise
    finally:
        seconds = time.monotonic() - start
        figures = dict(verdict.figures) if verdict else {}
        figures["shared_run_seconds"] = round(run.seconds.get(key, 0.0), 1)
        for k, v in figures.items():
            record_property(k, v)
        record_property("scenario_seconds", round(seconds, 1))
        if verdict is not None:
            record_property("reason", verdict.reason)
        report_row(request.node, run.scenario, target, verdict, seconds, figures, None if verdict else error)
