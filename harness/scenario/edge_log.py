"""The edge's access log for one probe run: followed while the prober runs, parsed when it stopped.

The edge is the Traefik add-on (the matrix cell's edge ``traefik-nginx``, or ``traefik-gateway``: the
same Traefik serving HTTPRoutes, whose access log is the same): its pods write one JSON
line per request to stdout (harness/env/addons/charts/traefik/values.yaml ``accessLog``), followed through the
Kubernetes API (:class:`harness.k8s.logs.PodLogFollower`, every Traefik replica), keeping only the
lines that carry this run's probe id. Another edge (upstream ingress-nginx) or none leaves
attribution *unavailable* with the reason, which is a figure, never a failure::

    probe_id = new_probe_id()
    edge = follow_edge(ctx, probe_id)          # before the prober starts
    with probe_while(ctx, "upgrade started", probe_id=probe_id) as probing:
        ...
    log, unavailable = edge.finish(s.seq for s in probing.probe.sent)
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from harness.env.addons.traefik import access_log_pods
from harness.k8s.logs import PodLogFollower
from harness.measure.attribution import ParsedLog, header_field, parse_lines

TRAEFIK_EDGE = "traefik-nginx"
TRAEFIK_EDGES = (TRAEFIK_EDGE, "traefik-gateway")
"""The edges the Traefik add-on serves: one access log for both (entrypoint-wide, whatever the provider)."""
SOURCE = "traefik access log"


@dataclass
class EdgeLog:
    """A followed edge log (``follower`` None: none could be followed, ``unavailable`` says why).

    Attributes:
        lines: the kept lines once :meth:`finish` ran (this run's access-log lines).
        errors: the follower's problems (streams that could not be opened...).
    """

    probe_id: str
    follower: Any = None
    unavailable: str = ""
    source: str = SOURCE
    lines: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def close(self) -> None:
        """Stop following without waiting (the scenario failed before judging); safe to call twice."""
        if self.follower is not None:
            try:
                self.follower.stop()
            except Exception:  # noqa: BLE001, S110 - stopping is best effort; the run goes on
                pass

    def finish(self, sent_seqs: Iterable[int], *, timeout: float = 8.0) -> tuple[ParsedLog | None, str]:
        """Wait (at most ``timeout`` seconds) until the log has a line per sent request, stop
        following, and parse.

        The edge writes a request's line when its response completes and the kubelet passes it on
        a moment later, so the last requests' lines arrive after the prober stopped.

        Returns:
            ``(parsed log, "")``; ``(None, why)`` when no log could be read at all.
        """
        if self.follower is None:
            return None, self.unavailable or "no edge log was followed"
        want = len(set(sent_seqs))
        # an access-log line as Traefik's JSON encoder writes it ("request_X-Harness-Probe":"<id>-<seq>"):
        # any other line that happens to carry the id does not count
        needle = f'"{header_field()}":"{self.probe_id}-'
        self.follower.wait_until(lambda lines: sum(needle in line for line in lines) >= want, timeout)
        capture = self.follower.stop()
        self.lines, self.errors = capture.lines, capture.errors
        if not capture.lines and capture.errors:
            return None, "; ".join(capture.errors[:2])
        return parse_lines(capture.lines, self.probe_id), ""


def follow_edge(ctx: Any, probe_id: str, *, max_duration: float = 1800.0) -> EdgeLog:
    """Start following the edge's access log for probe run ``probe_id`` (call before the prober starts).

    Args:
        ctx: the :class:`harness.scenario.context.ScenarioContext` (its ``api`` and ``cell.edge``, else
            ``env.cell.edge``).
        max_duration: seconds after which the streams stop by themselves.

    Returns:
        an :class:`EdgeLog`; never raises for a log it cannot follow (``unavailable`` says why).
    """
    edge = getattr(getattr(ctx, "cell", None), "edge", "") or getattr(getattr(ctx.env, "cell", None), "edge", "")
    if edge not in TRAEFIK_EDGES:
        return EdgeLog(probe_id, unavailable=f"the edge is {edge or 'unknown'}; only the Traefik add-on's access "
                                             "log is read")
    namespace, selector = access_log_pods()
    follower = PodLogFollower(ctx.api, namespace, selector, keep=lambda line: probe_id in line,
                              max_duration=max_duration).start()
    return EdgeLog(probe_id, follower)
