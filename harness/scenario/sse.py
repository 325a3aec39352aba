"""sse: do event streams through the ingress survive a quiet period longer than a proxy's read
timeout, and a rolling update of the pods serving them?

Steps (per chart): install the candidate (variant values; a negative control adds its overlay);
rolled out; serving; open ``HARNESS_SCENARIO_SSE_STREAMS`` streams through the ingress; hold them
``HARNESS_SCENARIO_SSE_HOLD`` seconds (default 120: the realtime chart's events are 90 s apart, so
a stream without heartbeats goes quiet for longer than nginx's 60 s within that window); roll
every pod (a rolling restart of the chart's workloads: the same pod replacement a chart upgrade
does, for any chart) while the streams stay open, until the old pods are gone; reconnect and
settle; judge.

Pass when (:func:`harness.scenario.verdicts.sse_verdict`): no response was held back by proxy
buffering; during the hold no stream was cut (each cut is told apart from its timing as an idle
timeout or a total deadline, :mod:`harness.measure.cuts`, and attributed to the configured value
that fits, :mod:`harness.scenario.deadlines`: the rendered Ingress's nginx annotations or the
HTTPRoute's ``timeouts``, as the edge under test honours them) and none was silent for the edge's
idle timeout ``- HARNESS_SCENARIO_SSE_MARGIN`` seconds or longer (an edge without an idle timeout:
an nginx ingress's, as a labelled prediction); during the rollout each cut stream reconnected
within ``HARNESS_SCENARIO_SSE_RECONNECT_BOUND`` seconds, no reconnect was refused, and with
``Last-Event-ID`` no event id was missed or repeated.

A response held back by the edge (``proxy-buffering: "on"``: Traefik holds even the headers until
the backend's response ends) never connects: streams still waiting for their first byte after the
connect wait are held and judged, not an error; a refused or failed stream is.

All selected charts hold their streams in the same window (a shared run,
:mod:`harness.scenario.shared`), so N charts cost one hold, not N; each still gets its own verdict.
"""
from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass
from typing import Any

from kubernetes import client

from harness.core import progress
from harness.core.errors import HarnessError
from harness.env.addons.traefik import upstream_read_timeout
from harness.measure.cuts import BUFFERING, classify
from harness.scenario.context import ScenarioContext
from harness.scenario.deadlines import Deadlines, edge_profile
from harness.scenario.manifests import stream_config
from harness.scenario.steps import together
from harness.scenario.verdicts import Verdict, sse_verdict

CONNECT_SECONDS = 30.0  # for every stream to connect through the ingress after the release serves


@dataclass
class Prepared:
    """One chart's open streams and the time marks (seconds on the streams' clock) of its phases."""

    streams: Any
    deadlines: Deadlines
    hold_start: float = 0.0
    hold_end: float = 0.0
    rollout_end: float = 0.0
    rollout_error: str | None = None


def prepare(ctx: ScenarioContext) -> Prepared:
    """Install the chart, wait until it serves, open the streams (they start connected, or waiting for
    an answer the edge holds back: a buffering edge answers nothing until the response ends).

    Raises:
        harness.scenario.steps.StepFailed: the install failed, or the streams did not connect.
    """
    ctx.install_candidate()
    with ctx.step("rolled out"):
        ctx.wait_rolled_out()
    with ctx.step("serving"):
        ctx.wait_serving()
        deadlines = stream_deadlines(ctx)
    with ctx.step("open the streams"):
        streams = ctx.sse_group().start()
        ctx.steps.attach(streams)
        deadline = time.monotonic() + CONNECT_SECONDS
        while not streams.all_connected() and time.monotonic() < deadline:
            time.sleep(0.2)
        if not streams.all_connected_or_waiting():
            ctx.steps.detach(streams)
            res = streams.stop()
            raise HarnessError("streams did not connect through the ingress: "
                               f"{[r.failed_attempts[-1].data if r.failed_attempts else 'no answer' for r in res]}")
        if not streams.all_connected():
            # the edge took the requests and answers nothing: a held response, judged by the verdict
            progress.say(f"sse: {ctx.target.id}: streams have no answer {CONNECT_SECONDS:.0f} s after the "
                         "request (held back by the edge?); holding them anyway")
    return Prepared(streams, deadlines)


def stream_deadlines(ctx: ScenarioContext) -> Deadlines:
    """The edge under test (the session's matrix cell) with its configured default idle timeout,
    and the release's stream configuration for the chart's host (rendered manifest)."""
    idle_default = None
    if ctx.cell.edge == "traefik-nginx":
        idle_default = upstream_read_timeout(ctx.env.addons)
    return Deadlines(edge_profile(ctx.cell.edge, idle_default=idle_default),
                     stream_config(ctx.manifest()).for_host(ctx.host))


def release(prep: Prepared) -> None:
    """Close a chart's streams (the shared run's cleanup; safe after :func:`run_shared` closed them)."""
    prep.streams.stop()


def _idle_limit(deadlines: Deadlines) -> float:
    """The idle timeout the hold watches for: the edge's, or an nginx ingress's when it has none."""
    idle, _ = deadlines.idle()
    return idle if idle is not None else deadlines.nginx_prediction()[0]


def _decided(prep: Prepared, margin: float) -> bool:
    """The hold already failed for this chart (a cut, or a silence past the allowed one)."""
    for s in prep.streams.snapshots():
        if s.disconnects or s.failed_attempts:
            return True
        if s.longest_silence(connected_only=True)[0] >= max(1.0, _idle_limit(prep.deadlines) - margin):
            return True
    return False


def hold(pairs: list[tuple[ScenarioContext, Prepared]], seconds: float, margin: float) -> None:
    """Keep every chart's streams open ``seconds`` (ends early only when every chart already failed)."""
    start = time.monotonic()
    for _, prep in pairs:
        prep.hold_start = prep.streams.clients[0].snapshot().duration
        prep.streams.mark("hold")
    last_note = start
    while time.monotonic() - start < seconds:
        if all(_decided(p, margin) for _, p in pairs):
            break
        time.sleep(1.0)
        if time.monotonic() - last_note >= 30:
            last_note = time.monotonic()
            progress.say(f"sse: holding {sum(len(p.streams.clients) for _, p in pairs)} streams "
                         f"({time.monotonic() - start:.0f}/{seconds:.0f} s)")
    for _, prep in pairs:
        prep.hold_end = prep.streams.clients[0].snapshot().duration


def rolling_restart(ctx: ScenarioContext) -> None:
    """What ``kubectl rollout restart`` does: a new pod-template annotation
    (``kubectl.kubernetes.io/restartedAt``), so every pod of every workload is replaced."""
    # the kubernetes client is heavy: loaded when a scenario runs

    apps = client.AppsV1Api(ctx.api)
    stamp = dt.datetime.now(dt.UTC).isoformat()
    body = {"spec": {"template": {"metadata": {"annotations": {"kubectl.kubernetes.io/restartedAt": stamp}}}}}
    for kind, name in ctx.workloads():
        patch = {"Deployment": apps.patch_namespaced_deployment, "StatefulSet": apps.patch_namespaced_stateful_set,
                 "DaemonSet": apps.patch_namespaced_daemon_set}[kind]
        patch(name, ctx.namespace, body)


def rollout(ctx: ScenarioContext, prep: Prepared) -> None:
    """Roll every pod with the streams open; then give cut streams their reconnect bound to come back."""
    prep.streams.mark("rollout")
    with ctx.attempt("rolling restart with the streams open") as restart:  # a failure is judged
        rolling_restart(ctx)
        time.sleep(1.0)
        ctx.wait_rolled_out()
        ctx.wait_no_terminating()
    prep.rollout_error = restart.error
    with ctx.step("reconnect and settle"):
        deadline = time.monotonic() + ctx.settings.sse_reconnect_bound + 2
        while not prep.streams.all_connected() and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(ctx.settings.settle)
    prep.streams.mark("rolled")
    prep.rollout_end = prep.streams.clients[0].snapshot().duration


def judge(ctx: ScenarioContext, prep: Prepared, results: list[Any]) -> Verdict:
    """Save the streams' evidence and judge the hold and rollout windows."""
    s = ctx.settings
    with ctx.step("judge"):
        holds = [r.between(prep.hold_start, prep.hold_end) for r in results]
        rolls = [r.between(prep.hold_end, prep.rollout_end + 1) for r in results]
        # cuts of the hold (measured from each connection's own request), held responses anywhere
        findings = [c for r in results for c in classify(r)
                    if c.kind == BUFFERING or prep.hold_start <= c.at < prep.hold_end]
        ctx.save_streams(results, title=f"sse {ctx.target.id}")
        extra: dict[str, Any] = {"sse_connections": sum(len(r.connects) for r in results)}
        if prep.rollout_error:
            extra["rollout_error"] = prep.rollout_error
        return sse_verdict(hold=holds, rollout=None if prep.rollout_error else rolls, margin=s.sse_margin,
                           reconnect_bound=s.sse_reconnect_bound, hold_seconds=prep.hold_end - prep.hold_start,
                           deadlines=prep.deadlines, findings=findings, extra_figures=extra)


def run_shared(pairs: list[tuple[ScenarioContext, Prepared]], _key: Any = None) -> dict[str, Verdict]:
    """The hold for every chart at once, then each chart's rollout and verdict: ``{target id: Verdict}``."""
    if not pairs:
        return {}
    s = pairs[0][0].settings
    with together([c.steps for c, _ in pairs],
                  f"hold {sum(len(p.streams.clients) for _, p in pairs)} streams for {s.sse_hold:.0f} s"):
        hold(pairs, s.sse_hold, s.sse_margin)
    out = {}
    for ctx, prep in pairs:
        try:
            rollout(ctx, prep)
        finally:
            ctx.steps.detach(prep.streams)
            results = prep.streams.stop()
        out[ctx.target.id] = judge(ctx, prep, results)
    return out


def run_sse(ctx: ScenarioContext) -> Verdict:
    """The scenario for one chart (what the shared run does for several)."""
    return run_shared([(ctx, prepare(ctx))])[ctx.target.id]
