"""Which configured value ended a stream: the edge under test, what it honours, and one line per
finding of :mod:`harness.measure.cuts`.

An *edge* is what serves the chart's routes in front of the pods (the matrix cell's ``edge``,
:mod:`harness.plugin.cell`). Each honours some of what a chart configures and ignores the rest
(docs/addons.md, "Stream deadlines by edge", from the edges' source):

| edge | serves | idle timeout | total deadline | buffering |
|---|---|---|---|---|
| ``traefik-nginx`` | Ingress (class nginx) | ``proxy-read-timeout``, default 60 s (add-on value ``upstream.readTimeout``) | none | ``proxy-buffering: "on"`` holds the whole response |
| ``ingress-nginx`` | Ingress | ``proxy-read-timeout``, default 60 s | none | ``proxy-buffering: "on"`` |
| ``traefik-gateway`` | HTTPRoute | none | HTTPRoute ``timeouts`` ignored (Traefik v3.7.12) | none |

Everything here is pure: :func:`explain` turns a :class:`harness.measure.cuts.Cut`, the release's
:class:`harness.scenario.manifests.StreamConfig` and the :class:`Edge` into one verdict line that
names the deadline kind, the seconds measured, the configured value and the edge that measured it.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

from harness.measure.cuts import BUFFERING, IDLE, TOTAL, Cut
from harness.scenario.manifests import StreamConfig, gateway_duration, nginx_seconds

NGINX_IDLE_DEFAULT = 60.0
"""ingress-nginx's ``proxy-read-timeout`` when an Ingress sets none (its ConfigMap default), also
the default of Traefik's NGINX provider (``defaultProxyReadTimeout = 60``)."""


@dataclass(frozen=True)
class Edge:
    """What one edge honours of a chart's stream configuration.

    Attributes:
        name: ``traefik-nginx``... ("" when the session names no edge).
        serves: ``ingress`` or ``gateway``: which of the chart's objects route the streams.
        idle_annotation: honours ``nginx.ingress.kubernetes.io/proxy-read-timeout`` per Ingress.
        idle_default: seconds of backend silence after which it cuts a stream when nothing sets
            it (None: no idle timeout).
        buffering_annotation: honours ``proxy-buffering: "on"`` (holds the response).
        buffers_by_default: holds responses when nothing says otherwise.
        route_timeouts: honours HTTPRoute ``timeouts.request`` / ``timeouts.backendRequest``.
        known: the table above describes it (False: an edge this module has no facts about).
    """

    name: str
    serves: str = "ingress"
    idle_annotation: bool = False
    idle_default: float | None = None
    buffering_annotation: bool = False
    buffers_by_default: bool = False
    route_timeouts: bool = False
    known: bool = True

    @property
    def label(self) -> str:
        return f"edge {self.name}" if self.name else "edge not named"


EDGES: dict[str, Edge] = {
    # Traefik's NGINX provider (pkg/provider/kubernetes/ingress-nginx, v3.7.12): proxy-read-timeout
    # -> serversTransport forwardingTimeouts.readTimeout (build.go), proxy-buffering "on" -> a
    # buffering middleware (middleware.go buildBuffering; anything but "on" disables it).
    "traefik-nginx": Edge("traefik-nginx", "ingress", idle_annotation=True, idle_default=NGINX_IDLE_DEFAULT,
                          buffering_annotation=True),
    # ingress-nginx annotation reference: proxy-read-timeout (seconds), proxy-buffering (ConfigMap
    # default "off").
    "ingress-nginx": Edge("ingress-nginx", "ingress", idle_annotation=True, idle_default=NGINX_IDLE_DEFAULT,
                          buffering_annotation=True),
    # Traefik's Kubernetes Gateway provider (v3.7.12): features.go lists neither
    # HTTPRouteRequestTimeout nor HTTPRouteBackendTimeout and httproute.go never reads `timeouts`;
    # the default serversTransport sets no read timeout (static ForwardingTimeouts: dial 30 s,
    # idle connections 90 s). The edge: --harness-edge traefik-gateway (docs/addons.md, Gateway API edge).
    "traefik-gateway": Edge("traefik-gateway", "gateway"),
}


def edge_profile(name: str, *, idle_default: float | None = None) -> Edge:
    """The :class:`Edge` called ``name`` (an unknown or empty name: an edge that honours nothing
    known, ``known=False``); ``idle_default`` replaces its default idle timeout (the add-on's
    configured value, e.g. Traefik's ``upstream.readTimeout``)."""
    edge = EDGES.get(name) or Edge(name, known=False)
    if idle_default is not None and edge.idle_annotation:
        edge = replace(edge, idle_default=float(idle_default))
    return edge


def matches(measured: float, configured: float) -> bool:
    """A measured cut fits a configured value within 2 s or 5 %, whichever is larger: the edge's
    timers are exact (Go deadlines), the client sees the cut within milliseconds on loopback, and
    2 s covers its reader thread on a loaded CI host."""
    return abs(measured - configured) <= max(2.0, 0.05 * configured)


def _s(x: float) -> str:
    return f"{x:.0f} s" if float(x).is_integer() else f"{x:g} s"


@dataclass(frozen=True)
class Deadlines:
    """The edge under test and the release's stream configuration (one chart's routes)."""

    edge: Edge
    config: StreamConfig = StreamConfig()

    def _ingress(self, name: str) -> str:
        return f"Ingress {name}" if len(self.config.ingresses) > 1 else "Ingress"

    def idle(self) -> tuple[float | None, str]:
        """The idle timeout the edge under test applies (seconds, None: none) and where it comes
        from (``"Ingress proxy-read-timeout 60 s"``, ``"Ingress proxy-read-timeout not set, edge
        default 60 s"``). Several Ingresses: the smallest wins (any of them may carry the stream)."""
        e = self.edge
        default = (f"edge default {_s(e.idle_default)}" if e.idle_default is not None
                   else "the edge has no idle timeout")
        if not e.known:
            return None, "the edge's idle timeout is not known"
        if e.serves != "ingress" or not self.config.ingresses:
            return e.idle_default, default
        best: tuple[float | None, str] = (None, "")
        for n, ing in enumerate(self.config.ingresses):
            who = self._ingress(ing.name)
            raw = ing.read_timeout
            secs = nginx_seconds(raw)
            if raw is None:
                cand = (e.idle_default, f"{who} proxy-read-timeout not set, {default}")
            elif secs is None:
                cand = (e.idle_default, f"{who} proxy-read-timeout {raw!r} is not whole seconds (ignored), {default}")
            elif not e.idle_annotation:
                cand = (e.idle_default, f"{who} proxy-read-timeout {secs} s not honoured by the edge, {default}")
            elif secs <= 0:
                cand = (None, f"{who} proxy-read-timeout {secs}: no idle timeout")
            else:
                cand = (float(secs), f"{who} proxy-read-timeout {secs} s")
            if n == 0 or (cand[0] is not None and (best[0] is None or cand[0] < best[0])):
                best = cand
        return best

    def totals(self) -> list[tuple[float, str, bool]]:
        """Every configured total deadline: ``(seconds, "HTTPRoute web rule 0 timeouts.request 30s",
        honoured by the edge under test)``; ``0s`` (no deadline, GEP-1742) and values that are not
        GEP-2257 durations are left out."""
        out = []
        for r in self.config.routes:
            for field, raw in (("request", r.request), ("backendRequest", r.backend_request)):
                if raw is None:
                    continue
                try:
                    secs = gateway_duration(raw)
                except ValueError:
                    continue
                if secs > 0:
                    out.append((secs, f"HTTPRoute {r.route} rule {r.rule} timeouts.{field} {raw}",
                                self.edge.route_timeouts and self.edge.serves == "gateway"))
        return sorted(out)

    def buffering(self) -> tuple[bool, str]:
        """Whether the edge under test holds responses for this release, and why."""
        e = self.edge
        dflt = "the edge buffers by default" if e.buffers_by_default else "the edge does not buffer by default"
        if e.serves == "ingress":
            on = [i for i in self.config.ingresses if i.buffering == "on"]
            if on and e.buffering_annotation:
                return True, f'{self._ingress(on[0].name)} proxy-buffering "on"'
            if on:
                return e.buffers_by_default, f'Ingress proxy-buffering "on" not honoured by the edge, {dflt}'
            set_ = [i for i in self.config.ingresses if i.buffering is not None]
            if set_:
                return False, f'Ingress proxy-buffering {set_[0].buffering!r}'
            return e.buffers_by_default, f"Ingress proxy-buffering not set, {dflt}"
        return e.buffers_by_default, dflt

    def nginx_prediction(self) -> tuple[float, str]:
        """What an nginx ingress would apply to this release's Ingress (the edge under test may be
        another): its ``proxy-read-timeout`` (smallest), or nginx's 60 s."""
        vals = [(nginx_seconds(i.read_timeout), i) for i in self.config.ingresses]
        vals = [(v, i) for v, i in vals if v is not None and v > 0]
        if vals:
            v, _ = min(vals, key=lambda x: x[0])
            return float(v), f"Ingress proxy-read-timeout {v} s"
        return NGINX_IDLE_DEFAULT, f"Ingress proxy-read-timeout not set, nginx default {_s(NGINX_IDLE_DEFAULT)}"


def attributed_kind(cut: Cut, d: Deadlines) -> str:
    """The cut's kind once the configured values are heard: an ``alike`` idle reading becomes a
    total deadline when a configured total deadline fits the age and no idle timeout fits the quiet."""
    if cut.kind != IDLE or not cut.alike:
        return cut.kind
    idle, _ = d.idle()
    if idle is not None and matches(cut.quiet, idle):
        return IDLE
    if any(matches(cut.age, secs) for secs, _, _ in d.totals()):
        return TOTAL
    return IDLE


def explain_parts(cut: Cut, d: Deadlines) -> tuple[str, str]:
    """What happened, measured, and ``<kind> (<edge>; <configured value>)``: :func:`explain` joins
    them with ``": "``.

    ``"quiet stream cut after 60.0 s (error ChunkedEncodingError): idle timeout (edge traefik-nginx;
    Ingress proxy-read-timeout 60 s)"``, ``"stream cut at 30.0 s while receiving data (longest gap
    15.0 s, EOF): total deadline (edge traefik-gateway; HTTPRoute web rule 0 timeouts.request 30s)"``,
    ``"no byte for 150.2 s after the request (still waiting): proxy buffering (edge traefik-nginx;
    Ingress proxy-buffering "on")"``. A configured value that does not fit the measurement is said
    to (``does not match``): then something else cut the stream.
    """
    kind = attributed_kind(cut, d)
    edge = d.edge.label
    if kind == BUFFERING:
        if cut.held == "waiting":
            what = f"no byte for {cut.age:.1f} s after the request (still waiting)"
        elif cut.held == "response":
            what = f"no byte for {cut.waited:.1f} s after the request, then {cut.records} records at once ({cut.how})"
        else:
            what = f"events held {cut.quiet:.1f} s, then {cut.records} at once at the close ({cut.how})"
        held, why = d.buffering()
        note = "" if held else ": held by the backend or another proxy"
        return what, f"{BUFFERING} ({edge}; {why}{note})"
    if kind == IDLE:
        idle, why = d.idle()
        if idle is None:
            note = f"; nothing configured cuts a stream quiet for {cut.quiet:.1f} s"
        elif not matches(cut.quiet, idle):
            note = f"; {cut.quiet:.1f} s does not match it"
        else:
            note = ""
        return f"quiet stream cut after {cut.quiet:.1f} s ({cut.how})", f"{IDLE} ({edge}; {why}{note})"
    totals = d.totals()
    fit = [(secs, text, honoured) for secs, text, honoured in totals if matches(cut.age, secs)]
    if fit:
        secs, text, honoured = fit[0]
        why = text if honoured else f"{text}, not honoured by the edge"
    elif totals:
        why = f"no configured total deadline matches ({', '.join(t for _, t, _ in totals)})"
    else:
        why = ("no total deadline configured (an Ingress has none; no HTTPRoute timeouts): "
               "cut by the server or the edge's own limit")
    if cut.kind == TOTAL:
        what = f"stream cut at {cut.age:.1f} s while receiving data (longest gap {cut.longest_gap:.1f} s, {cut.how})"
    else:  # an "alike" quiet cut that only a total deadline fits
        what = (f"stream cut at {cut.age:.1f} s after {cut.quiet:.1f} s quiet (an idle timeout would look the "
                f"same; {cut.how})")
    return what, f"{TOTAL} ({edge}; {why})"


def explain(cut: Cut, d: Deadlines) -> str:
    """One line: what happened, measured, then ``: <kind> (<edge>; <configured value>)`` (see
    :func:`explain_parts`)."""
    return ": ".join(explain_parts(cut, d))


def measured(cut: Cut, d: Deadlines) -> float:
    """The seconds a finding is about: the quiet for an idle timeout, the age for a total deadline
    and a held response."""
    return cut.quiet if attributed_kind(cut, d) == IDLE else cut.age
