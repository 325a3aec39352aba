"""harness/scenario/edge_log.py without a cluster: which edge is read, and when finishing stops waiting."""
from __future__ import annotations

from types import SimpleNamespace

from test_attribution_parse import traefik_line

from harness.k8s.logs import LogCapture
from harness.scenario import edge_log
from harness.scenario.edge_log import EdgeLog, follow_edge


class Follower:
    def __init__(self, lines, errors=()):
        self._lines, self.errors, self.waited = list(lines), list(errors), []

    def wait_until(self, done, timeout):
        self.waited.append(done(self._lines))
        return self.waited[-1]

    def stop(self):
        return LogCapture(self._lines, ["traefik-x"], self.errors)


def test_only_the_traefik_edge_is_followed(monkeypatch):
    ctx = SimpleNamespace(api=None, env=SimpleNamespace(cell=SimpleNamespace(edge="ingress-nginx")))
    edge = follow_edge(ctx, "cafe0001")
    assert edge.follower is None
    assert edge.finish([0, 1]) == (None, "the edge is ingress-nginx; only the Traefik add-on's access log is read")
    started = []

    class Fake:
        def __init__(self, api, namespace, selector, **kw):
            started.append((namespace, selector, kw["keep"]("x cafe0001-3"), kw["keep"]("other")))

        def start(self):
            return self

    monkeypatch.setattr(edge_log, "PodLogFollower", Fake)
    ctx.env.cell.edge = "traefik-nginx"
    assert follow_edge(ctx, "cafe0001").follower is not None
    assert started == [("harness-traefik", "app.kubernetes.io/name=traefik,app.kubernetes.io/instance=traefik",
                        True, False)]


def test_finishing_waits_for_a_line_per_request_and_parses_them():
    lines = [traefik_line(0, pid="cafe0001"), traefik_line(1, pid="cafe0001"), "INF cafe0001 mentioned"]
    f = Follower(lines)
    log, why = EdgeLog("cafe0001", f).finish([0, 1, 2])
    assert f.waited == [False]  # two access-log lines for three requests: the mention does not count
    assert why == "" and sorted(log.records) == [0, 1] and log.other == 1


def test_a_log_that_could_not_be_read_says_why():
    log, why = EdgeLog("cafe0001", Follower([], ["log of traefik-x: ApiException: (403)"])).finish([0])
    assert log is None and why == "log of traefik-x: ApiException: (403)"
