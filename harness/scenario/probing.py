"""``probe_while``: measure what users see through the ingress while a scenario disrupts the release.

Every scenario that judges availability does the same around its disruption: start the prober
(and, for a chart with an event stream, SSE streams), take a short baseline, mark where the
disruption starts, stop everything whatever happens, save the evidence (CSV, plots), and judge
the window from the start mark on. :func:`probe_while` does exactly that once::

    with probe_while(ctx, "upgrade started", streams=2) as probing:
        with ctx.attempt("helm upgrade to the candidate") as upgrade:
            ctx.upgrade_to_candidate()
        probing.mark("helm upgrade returned")
    judge(probing.window, probing.baseline, probing.sse)

While the block runs, the prober and streams are attached to the context's steps, so every named
step is marked on their timelines (and appears in the plots).
"""
from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from harness.core import progress
from harness.measure.cpu import CpuMeter
from harness.measure.lanes import lanes_from_states


@dataclass
class Probing:
    """The measurements of one :func:`probe_while` block.

    Attributes:
        prober: the running :class:`harness.measure.prober.Prober`.
        streams: the running :class:`harness.measure.sse.SseGroup`, or None.
        start_mark: the label marking the start of the judged window (None: the whole run).
        probe: the :class:`harness.measure.prober.ProbeResult` once the block ended (None before).
        sse: the streams' :class:`harness.measure.sse.SseResult` list once the block ended.
    """

    prober: Any
    streams: Any = None
    start_mark: str | None = None
    probe: Any = None
    sse: list[Any] = field(default_factory=list)

    def mark(self, label: str) -> None:
        """A phase marker on the prober's and the streams' timelines now."""
        self.prober.mark(label)
        if self.streams is not None:
            self.streams.mark(label)

    def _result(self) -> Any:
        if self.probe is None:
            raise RuntimeError("the probe_while block has not ended yet")
        return self.probe

    @property
    def window(self) -> Any:
        """The requests sent from the start mark on (the judged window)."""
        return self._result().between(self.start_mark)

    @property
    def baseline(self) -> Any:
        """The requests sent before the start mark."""
        return self._result().between(None, self.start_mark) if self.start_mark else self._result().between(0, 0)


@contextmanager
def probe_while(ctx: Any, start_mark: str | None, *, streams: int = 0, baseline: float | None = None,
                name: str = "probe", title: str | None = None, sleep: Callable[[float], None] = time.sleep,
                pod_lanes: bool = False, **prober_options: Any) -> Iterator[Probing]:
    """Probe the release through the ingress for the duration of the block.

    Args:
        ctx: the :class:`harness.scenario.context.ScenarioContext` (its ``prober``, ``sse_group``,
            ``steps``, ``save_probe`` and ``save_streams`` are used).
        start_mark: marked after the baseline; :attr:`Probing.window` starts there. None: no mark.
        streams: SSE streams to hold open alongside (0: none).
        baseline: seconds of requests before the start mark (a named step "baseline"; 0: none;
            None: ``ctx.settings.probe_baseline``): they show the prober reaches the release at all.
        name: the evidence files' stem: ``<name>.csv`` and ``<name>.png``; streams: ``sse.json``/``sse.png``.
        title: the plots' title (default ``"<scenario> <target id>"``; streams: ``"<title>: streams"``).
        sleep: for tests.
        pod_lanes: watch the namespace's pods while probing (``ctx.watch_pods``) and draw one lane
            per pod under the timeline: starting, Ready, not Ready, terminating, gone. Evidence only:
            a watch that cannot start leaves the plot without lanes.
        prober_options: passed to ``ctx.prober`` (rate, concurrency, timeouts).

    Yields:
        :class:`Probing`; its ``probe``, ``sse``, ``window`` and ``baseline`` are there after the block.

    The prober and streams are stopped and the evidence saved even when the block raises (saving
    errors then do not hide the block's error).
    """
    title = title if title is not None else f"{ctx.scenario} {ctx.target.id}"
    baseline = ctx.settings.probe_baseline if baseline is None else baseline
    watch = _start_watch(ctx) if pod_lanes else None  # before the prober: the lanes cover its whole run
    try:
        prober = ctx.prober(**prober_options).start()
    except BaseException:
        _stop_watch(watch)
        raise
    group = None
    try:
        group = ctx.sse_group(streams).start() if streams else None
    except BaseException:
        prober.stop()
        _stop_watch(watch)
        raise
    probing = Probing(prober, group, start_mark)
    timelines = [prober] + ([group] if group is not None else [])
    ctx.steps.attach(*timelines)
    failed = True
    # the harness's own CPU share while it measures: a high share means the probe's gaps may be ours
    cpu = CpuMeter()
    try:
        if baseline > 0:
            with ctx.steps.step("baseline"):
                sleep(baseline)
        if start_mark is not None:
            probing.mark(start_mark)
        yield probing
        failed = False
    finally:
        ctx.steps.detach(*timelines)
        ctx.record_all(cpu.stop().figures())
        probing.probe = prober.stop()
        probing.sse = group.stop() if group is not None else []
        history = _stop_watch(watch)
        try:
            lanes = lanes_from_states(history, probing.probe.started_wall)
            ctx.save_probe(probing.probe, name, title=title, **({"pods": lanes} if lanes else {}))
            if probing.sse:
                ctx.save_streams(probing.sse, title=f"{title}: streams")
        except Exception:
            if not failed:
                raise
            # the block's own error is the one to report; the evidence is best effort then


def _start_watch(ctx: Any) -> Any:
    """``ctx.watch_pods()``, or None when it cannot start (the lanes are evidence, never an error)."""
    try:
        return ctx.watch_pods()
    except Exception as exc:  # noqa: BLE001 - no lanes then; the measurement goes on
        progress.say(f"{ctx.target.id}: no pod lanes: the pod watch did not start: {type(exc).__name__}: {exc}")
        return None


def _stop_watch(watch: Any) -> list[Any]:
    """Stop ``watch`` without waiting for its threads (they end within a watch slice by themselves,
    so probing ends no later for it) and return its pods' history ([] without a watch)."""
    if watch is None:
        return []
    watch.stop(wait=False)
    return watch.pod_history()
