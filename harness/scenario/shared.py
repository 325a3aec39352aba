"""Shared runs: every wanted target prepared in its own namespace, the long phase run once per key
for all of them, and one result record per (target, key).

Some scenarios spend most of their time in one long phase that several charts can share: the
sse scenario holds streams open for 120 s, db_outage takes the one PostgreSQL server of the
cluster away. :class:`SharedRun` prepares every target first (each in a fresh
:class:`harness.scenario.context.ScenarioContext`), then runs the long phase once per key (``None``,
or db_outage's fault) over every prepared target that wants that key, and hands each (target,
key) its own :class:`harness.scenario.result.ScenarioResult` and verdict.

* One target's failed preparation does not stop the others: its records are ``ERROR`` with the
  preparation's error (the step that failed is in the record's steps).
* A target whose preparation raised :class:`harness.core.errors.ScenarioSkipped` gets ``SKIP``
  records with the reason.
* A long phase that raises gives ``ERROR`` to every target of that key and is not run again.

Nothing here knows pytest; harness/plugin/shared_run.py adapts it to a module's tests.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import Any

from harness.core import progress
from harness.core.errors import ScenarioSkipped
from harness.scenario.context import Checkpoint, ScenarioContext, result_record
from harness.scenario.result import Cell, ScenarioResult, figures_from
from harness.scenario.steps import describe, explain
from harness.scenario.targets import Target
from harness.scenario.verdicts import Verdict

Prepare = Callable[[ScenarioContext], Any]
Run = Callable[[list[tuple[ScenarioContext, Any]], Any], dict[str, Verdict]]


@dataclass(frozen=True)
class Outcome:
    """What one (target, key) got: its record, and its verdict when one was reached."""

    result: ScenarioResult
    verdict: Verdict | None = None


class SharedRun:
    """Prepare every wanted target, run the long phase once per key, keep each (target, key)'s outcome.

    Args:
        scenario: the scenario's name (``sse``, ``db_outage``).
        wanted: the ``(target, key)`` pairs to produce, in any order (duplicates are ignored).
        make_context: ``(target) -> ScenarioContext`` in a fresh namespace (may raise).
        prepare: ``(ctx) -> state`` for one target (install, open streams...).
        run: ``(list of (ctx, state), key) -> {target id: Verdict}``: the long phase for one key
            over every prepared target that wants it.
        cell: the matrix cell (for records of targets whose context could not be made).
        release: ``(state) -> None``, called by :meth:`close` for every prepared target.
        clock: monotonic seconds (tests).

    Thread-safe: :meth:`outcome` may be called from several threads; the phase for a key runs once.
    """

    def __init__(self, scenario: str, wanted: Iterable[tuple[Target, Any]],
                 make_context: Callable[[Target], ScenarioContext], prepare: Prepare, run: Run, *,
                 cell: Cell = Cell(), release: Callable[[Any], None] | None = None,
                 clock: Callable[[], float] = time.monotonic):
        self.scenario = scenario
        self.wanted: list[tuple[Target, Any]] = []
        for t, k in wanted:
            if not any(t.id == w.id and k == wk for w, wk in self.wanted):
                self.wanted.append((t, k))
        self.make_context = make_context
        self.prepare_fn = prepare
        self.run_fn = run
        self.cell = cell
        self.release_fn = release
        self.clock = clock
        self.ctxs: dict[str, ScenarioContext] = {}
        self.states: dict[str, Any] = {}
        self.prepare_errors: dict[str, str] = {}
        self.skips: dict[str, str] = {}
        self.run_errors: dict[Any, str] = {}
        self.seconds: dict[Any, float] = {}
        self.outcomes: dict[tuple[str, Any], Outcome] = {}
        self._before: dict[Any, dict[str, Checkpoint]] = {}  # per key: each context before that key's phase
        self._lock = threading.RLock()
        self._prepared = False

    def targets(self) -> list[Target]:
        """The wanted targets, each once, in the order first wanted."""
        out: dict[str, Target] = {}
        for t, _ in self.wanted:
            out.setdefault(t.id, t)
        return list(out.values())

    def prepare(self) -> None:
        """Make a context for every target and prepare it (once; later calls do nothing)."""
        with self._lock:
            if self._prepared:
                return
            self._prepared = True
            for t in self.targets():
                ctx = None
                try:
                    ctx = self.make_context(t)
                    self.ctxs[t.id] = ctx
                    self.states[t.id] = self.prepare_fn(ctx)
                    ctx.prepared = ctx.checkpoint()
                except ScenarioSkipped as exc:
                    self.skips[t.id] = str(exc)
                except Exception as exc:  # noqa: BLE001 - one target's preparation must not stop the others
                    self.prepare_errors[t.id] = explain(exc)
                    progress.say(f"{self.scenario} {t.id}: preparation failed: {explain(exc)}")
                if ctx is not None and t.id not in self.states:
                    ctx.prepared = ctx.checkpoint()

    def outcome(self, target: Target, key: Any = None) -> Outcome:
        """The record (and verdict) of ``target`` for ``key``, running the long phase for ``key``
        on first use. Never raises for a target's or the phase's failure: those are ERROR records."""
        with self._lock:
            self.prepare()
            if (target.id, key) in self.outcomes:
                return self.outcomes[(target.id, key)]
            if target.id in self.skips:
                return self._keep(target, key, self._unfinished(target, key, "SKIP", self.skips[target.id]))
            if target.id in self.prepare_errors:
                return self._keep(target, key, self._unfinished(
                    target, key, "ERROR", f"{target.id}: preparation failed: {self.prepare_errors[target.id]}"))
            if key not in self.run_errors and key not in self.seconds:
                self._run(key)
            found = self.outcomes.get((target.id, key))
            if found is not None:
                return found
            if key in self.run_errors:
                reason = (f"the shared {self.scenario} run{'' if key is None else ' ' + str(key)} failed: "
                          f"{self.run_errors[key]}")
            else:
                reason = f"the shared {self.scenario} run gave no verdict for {target.id}"
            return self._keep(target, key, self._unfinished(target, key, "ERROR", reason))

    def run_all(self) -> dict[tuple[str, Any], Outcome]:
        """Every wanted (target id, key)'s outcome (the long phase once per key)."""
        return {(t.id, k): self.outcome(t, k) for t, k in self.wanted}

    def close(self) -> list[str]:
        """Release every prepared target's state; returns the errors (cleanup never raises)."""
        notes = []
        for ctx in self.ctxs.values():
            ctx.close()
        if self.release_fn is not None:
            for tid, state in self.states.items():
                try:
                    self.release_fn(state)
                except Exception as exc:  # noqa: BLE001 - cleanup must not hide the results
                    notes.append(f"{self.scenario} {tid}: cleanup failed: {describe(exc)}")
        return notes

    # -- internals

    def _run(self, key: Any) -> None:
        wanted = {t.id for t, k in self.wanted if k == key}
        pairs = [(self.ctxs[tid], self.states[tid]) for tid in self.ctxs if tid in wanted and tid in self.states]
        marks = {tid: self.ctxs[tid].checkpoint() for tid in wanted if tid in self.states}
        self._before[key] = marks
        start = self.clock()
        try:
            verdicts = self.run_fn(pairs, key) if pairs else {}
        except Exception as exc:  # noqa: BLE001 - the phase's error becomes each target's ERROR record
            verdicts = {}
            self.run_errors[key] = explain(exc)
        self.seconds[key] = self.clock() - start
        shared = figures_from({"shared_run_seconds": round(self.seconds[key], 1)})
        for tid, verdict in verdicts.items():
            ctx = self.ctxs.get(tid)
            if ctx is None or tid not in marks:
                continue
            result = ctx.finish(verdict, key=key, since=marks[tid])
            self.outcomes[(tid, key)] = Outcome(replace(result, figures={**result.figures, **shared}), verdict)

    def _unfinished(self, target: Target, key: Any, outcome: Any, reason: str) -> ScenarioResult:
        ctx = self.ctxs.get(target.id)
        if ctx is None:
            return result_record(self.scenario, target, outcome, reason, cell=self.cell, key=key)
        since = self._before.get(key, {}).get(target.id) or ctx.prepared
        result = ctx.incomplete(outcome, reason, key=key, since=since)
        if key in self.seconds:
            result = replace(result, figures={**result.figures,
                                              **figures_from({"shared_run_seconds": round(self.seconds[key], 1)})})
        return result

    def _keep(self, target: Target, key: Any, result: ScenarioResult) -> Outcome:
        out = Outcome(result)
        self.outcomes[(target.id, key)] = out
        return out
