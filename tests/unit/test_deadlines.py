"""harness.scenario.deadlines and the stream readers of harness.scenario.manifests: what a rendered
release configures, what each edge honours of it, and the line that names the value that fired."""
from __future__ import annotations

import pytest

from harness.measure.cuts import BUFFERING, IDLE, TOTAL, Cut
from harness.plugin.cell import EDGES as CELL_EDGES
from harness.scenario.deadlines import (
    EDGES,
    Deadlines,
    Edge,
    attributed_kind,
    edge_profile,
    explain,
    matches,
)
from harness.scenario.manifests import (
    IngressStreamConfig,
    RouteTimeouts,
    StreamConfig,
    gateway_duration,
    manifest_objects,
    nginx_seconds,
    stream_config,
)

# --------------------------------------------------------------------------- GEP-2257 durations


@pytest.mark.parametrize("text, seconds", [
    ("0h", 0), ("0s", 0), ("0h0m0s", 0), ("1h", 3600), ("30m", 1800), ("10s", 10), ("500ms", 0.5),
    ("2h30m", 9000), ("150m", 9000), ("7230s", 7230), ("1h30m10s", 5410), ("10s30m1h", 5410),
    ("100ms200ms300ms", 0.6), ("1h2h20m10m", 12600), ("01h", 3600), ("00060m", 3600), ("1s500ms", 1.5),
])
def test_gateway_duration_reads_the_gep_2257_vectors(text, seconds):
    assert gateway_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["1", "1m1", "1d", "1h30m10s20ms50h", "999999h", "1.5h", "-15m", "", " 30s", "30 s",
                                  "1us"])
def test_gateway_duration_refuses_what_gep_2257_refuses(text):
    with pytest.raises(ValueError, match="not a Gateway API duration"):
        gateway_duration(text)


@pytest.mark.parametrize("text, seconds", [("60", 60), ("3600", 3600), (" 120 ", 120), ("0", 0), (None, None),
                                           ("60s", None), ("1.5", None), ("", None)])
def test_nginx_seconds_parses_like_the_edges(text, seconds):
    assert nginx_seconds(text) == seconds


# --------------------------------------------------------------------------- the rendered objects

MANIFEST = manifest_objects("""
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: rt
  annotations:
    nginx.ingress.kubernetes.io/proxy-read-timeout: "3600"
    nginx.ingress.kubernetes.io/proxy-send-timeout: "3600"
    nginx.ingress.kubernetes.io/proxy-buffering: "off"
spec:
  rules: [{host: abc.rt.test}]
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: other}
spec:
  rules: [{host: other.test}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: rt}
spec:
  hostnames: [abc.rt.test]
  rules:
    - timeouts: {request: 1m, backendRequest: 30s}
    - name: events
      timeouts: {request: 0s}
    - {}
""")


def test_stream_config_reads_annotations_and_route_timeouts():
    cfg = stream_config(MANIFEST)
    assert cfg.ingresses == (IngressStreamConfig("rt", ("abc.rt.test",), "3600", "3600", "off"),
                             IngressStreamConfig("other", ("other.test",)))
    assert cfg.routes == (RouteTimeouts("rt", "0", ("abc.rt.test",), "1m", "30s"),
                          RouteTimeouts("rt", "events", ("abc.rt.test",), "0s", None),
                          RouteTimeouts("rt", "2", ("abc.rt.test",)))
    mine = cfg.for_host("abc.rt.test")
    assert [i.name for i in mine.ingresses] == ["rt"] and len(mine.routes) == 3
    assert cfg.for_host("nobody.test") == cfg and cfg.for_host(None) == cfg
    assert stream_config([]) == StreamConfig()


# --------------------------------------------------------------------------- edges and configured values


def test_every_edge_a_session_can_name_is_described():
    assert {edge for _, edge in CELL_EDGES} <= set(EDGES)


def test_edge_profile():
    assert edge_profile("traefik-nginx").idle_default == 60
    assert edge_profile("traefik-nginx", idle_default=90).idle_default == 90
    assert edge_profile("traefik-gateway", idle_default=90).idle_default is None  # it has no such knob
    unknown = edge_profile("")
    assert not unknown.known and unknown.label == "edge not named"


def _d(*ingresses: IngressStreamConfig, routes: tuple[RouteTimeouts, ...] = (), edge: str = "traefik-nginx"):
    return Deadlines(edge_profile(edge), StreamConfig(tuple(ingresses), routes))


@pytest.mark.parametrize("d, want", [
    (_d(IngressStreamConfig("rt", read_timeout="3600")), (3600.0, "Ingress proxy-read-timeout 3600 s")),
    (_d(IngressStreamConfig("rt")), (60.0, "Ingress proxy-read-timeout not set, edge default 60 s")),
    (_d(IngressStreamConfig("rt", read_timeout="60s")),
     (60.0, "Ingress proxy-read-timeout '60s' is not whole seconds (ignored), edge default 60 s")),
    (_d(IngressStreamConfig("rt", read_timeout="0")), (None, "Ingress proxy-read-timeout 0: no idle timeout")),
    (_d(IngressStreamConfig("a", read_timeout="3600"), IngressStreamConfig("b", read_timeout="120")),
     (120.0, "Ingress b proxy-read-timeout 120 s")),
    (_d(IngressStreamConfig("rt", read_timeout="30"), edge="traefik-gateway"), (None, "the edge has no idle timeout")),
    (_d(IngressStreamConfig("rt", read_timeout="30"), edge="mystery"), (None, "the edge's idle timeout is not known")),
])
def test_the_idle_timeout_the_edge_applies(d, want):
    assert d.idle() == want


def test_total_deadlines_configured():
    routes = (RouteTimeouts("rt", "0", (), "1m", "30s"), RouteTimeouts("rt", "1", (), "0s", "bogus"))
    assert _d(routes=routes).totals() == [(30.0, "HTTPRoute rt rule 0 timeouts.backendRequest 30s", False),
                                          (60.0, "HTTPRoute rt rule 0 timeouts.request 1m", False)]
    gw = Deadlines(Edge("envoy-gateway", "gateway", route_timeouts=True), StreamConfig(routes=routes))
    assert [h for _, _, h in gw.totals()] == [True, True]


@pytest.mark.parametrize("d, want", [
    (_d(IngressStreamConfig("rt", buffering="on")), (True, 'Ingress proxy-buffering "on"')),
    (_d(IngressStreamConfig("rt", buffering="off")), (False, "Ingress proxy-buffering 'off'")),
    (_d(IngressStreamConfig("rt", buffering="true")), (False, "Ingress proxy-buffering 'true'")),  # only "on" holds
    (_d(IngressStreamConfig("rt")), (False, "Ingress proxy-buffering not set, the edge does not buffer by default")),
    (_d(IngressStreamConfig("rt", buffering="on"), edge="traefik-gateway"),
     (False, "the edge does not buffer by default")),
])
def test_buffering_configured(d, want):
    assert d.buffering() == want


def test_nginx_prediction():
    assert _d(IngressStreamConfig("rt", read_timeout="60s")).nginx_prediction() == (
        60.0, "Ingress proxy-read-timeout not set, nginx default 60 s")
    assert _d(IngressStreamConfig("rt", read_timeout="120")).nginx_prediction() == (
        120.0, "Ingress proxy-read-timeout 120 s")


def test_matches_within_2_s_or_5_percent():
    assert matches(62.9, 60) and not matches(63.1, 60)
    assert matches(11.9, 10) and not matches(12.1, 10)
    assert matches(3700, 3600) and not matches(3800, 3600)


# --------------------------------------------------------------------------- the lines


def _cut(kind: str, *, age: float, quiet: float, gap: float = 0.0, alike: bool = False,
         waited: float | None = 0.01, held: str = "") -> Cut:
    return Cut(kind, "stream-1", 1, age, age, quiet, gap, waited, 3, "EOF", alike, held)


def test_an_alike_quiet_cut_that_only_a_total_deadline_fits_is_a_total_deadline():
    routes = (RouteTimeouts("rt", "0", (), "30s", None),)
    d = _d(IngressStreamConfig("rt", read_timeout="3600"), routes=routes)
    alike = _cut(IDLE, age=30.0, quiet=29.9, alike=True)
    assert attributed_kind(alike, d) == TOTAL
    assert explain(alike, d) == ("stream cut at 30.0 s after 29.9 s quiet (an idle timeout would look the same; EOF): "
                                 "total deadline (edge traefik-nginx; HTTPRoute rt rule 0 timeouts.request 30s, "
                                 "not honoured by the edge)")
    # a clear idle reading stays one, and an alike one that the idle timeout fits stays one
    assert attributed_kind(_cut(IDLE, age=30.0, quiet=29.9), d) == IDLE
    assert attributed_kind(_cut(IDLE, age=60.0, quiet=60.0, alike=True), _d(IngressStreamConfig("rt"))) == IDLE


def test_lines_say_when_nothing_configured_fits():
    d = _d(IngressStreamConfig("rt", read_timeout="3600"))
    assert explain(_cut(IDLE, age=61, quiet=60.0), d) == (
        "quiet stream cut after 60.0 s (EOF): idle timeout (edge traefik-nginx; Ingress proxy-read-timeout 3600 s; "
        "60.0 s does not match it)")
    assert explain(_cut(TOTAL, age=30.0, quiet=2.0, gap=5.0), d) == (
        "stream cut at 30.0 s while receiving data (longest gap 5.0 s, EOF): total deadline (edge traefik-nginx; no "
        "total deadline configured (an Ingress has none; no HTTPRoute timeouts): cut by the server or the edge's own "
        "limit)")
    routes = (RouteTimeouts("rt", "0", (), "1m", None),)
    assert "no configured total deadline matches (HTTPRoute rt rule 0 timeouts.request 1m)" in explain(
        _cut(TOTAL, age=30.0, quiet=2.0, gap=5.0), _d(routes=routes))
    gw = Deadlines(edge_profile("traefik-gateway"), StreamConfig())
    assert explain(_cut(IDLE, age=300, quiet=300.0), gw).endswith(
        "idle timeout (edge traefik-gateway; the edge has no idle timeout; nothing configured cuts a stream quiet "
        "for 300.0 s)")


def test_a_held_response_without_buffering_configured_is_blamed_on_someone_else():
    line = explain(_cut(BUFFERING, age=20.0, quiet=20.0, waited=20.0, held="response"), _d(IngressStreamConfig("rt")))
    assert line == ("no byte for 20.0 s after the request, then 3 records at once (EOF): proxy buffering (edge "
                    "traefik-nginx; Ingress proxy-buffering not set, the edge does not buffer by default: held by the "
                    "backend or another proxy)")
    body = explain(_cut(BUFFERING, age=100.0, quiet=99.8, waited=0.01, held="body"), _d(IngressStreamConfig("rt", buffering="on")))
    assert body.startswith("events held 99.8 s, then 3 at once at the close (EOF): proxy buffering")


def test_traefik_default_idle_timeout_follows_the_addon_values():
    from types import SimpleNamespace

    from harness.env.addons.traefik import upstream_read_timeout

    assert upstream_read_timeout() == 60  # harness/env/addons/charts/traefik/values.yaml upstream.readTimeout
    over = SimpleNamespace(setting=lambda addon, key: {"upstream": {"readTimeout": 90}} if addon == "traefik" else None)
    assert upstream_read_timeout(over) == 90
    assert upstream_read_timeout(SimpleNamespace(state={})) == 60  # a context without settings
