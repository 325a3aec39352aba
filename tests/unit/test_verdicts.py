"""harness.scenario.verdicts on synthetic measurements: each verdict passes on good figures and fails, with
its one-line reason, on each kind of bad figure."""
from __future__ import annotations

import re

import pytest

from harness.measure.cuts import classify
from harness.measure.sse import Record, SseResult
from harness.scenario.deadlines import Deadlines, Edge, edge_profile
from harness.scenario.manifests import IngressStreamConfig, RouteTimeouts, StreamConfig
from harness.scenario.verdicts import (
    EXPECTED_FAILURE,
    Availability,
    DataFacts,
    DrainFacts,
    FailedUpgrade,
    IngressAnswers,
    MigrationFacts,
    OutageFacts,
    PodsFacts,
    ReleaseFacts,
    RescheduleFacts,
    Verdict,
    classify_upgrade_error,
    db_outage_verdict,
    drain_verdict,
    rollback_verdict,
    sse_verdict,
    upgrade_verdict,
)

NEW = ["harness/demo-service:1.1.0"]
OLD = ["harness/demo-service:1.0.0"]
GOOD_AV = Availability(600, 0, window="during the upgrade")


def _pods(images=NEW, ready=3, desired=3, versions=("1.1.0",)):
    return PodsFacts({f"p{i}": list(images) for i in range(ready)}, ready, desired, list(versions))


def _upgrade(**kw) -> Verdict:
    args = {"availability": GOOD_AV, "budget": 0, "pods": _pods(), "candidate_images": NEW, "candidate_version": "1.1.0",
                "release": ReleaseFacts("deployed", 2, 2),
                "migration": MigrationFacts([("m", "succeeded")], completed_at=100.0, first_new_ready_at=104.0,
                                         table_rows=1)}
    args.update(kw)
    return upgrade_verdict(**args)


def _one_line(v: Verdict) -> None:
    assert "\n" not in v.reason and v.reason.strip() == v.reason


# --------------------------------------------------------------------------- upgrade


def test_upgrade_passes():
    v = _upgrade()
    assert v.passed and v.reason.startswith("PASS: 600 requests, 0 failed (budget 0)")
    assert v.figures["migration_lead_seconds"] == 4.0 and v.figures["failed_requests"] == 0
    _one_line(v)


@pytest.mark.parametrize("kw, reason", [
    ({"availability": Availability(600, 12, 8, 2.4, "HTTP 503 x12", "during the upgrade")},
     r"^12 of 600 requests failed during the upgrade \(budget 0\): HTTP 503 x12; longest outage 8 requests / 2\.4 s$"),
    ({"availability": Availability(0, 0)}, r"the prober sent only 0 requests"),
    ({"migration": MigrationFacts([], None, 104.0)}, r"the migration hook ran 0 times during the upgrade"),
    ({"migration": MigrationFacts([("a", "succeeded"), ("b", "succeeded")], 100.0, 104.0)},
     r"ran 2 times during the upgrade \(want exactly once: a, b\)"),
    ({"migration": MigrationFacts([("m", "failed")], None, None)}, r"migration Job failed: m"),
    ({"migration": MigrationFacts([("m", "succeeded")], 110.0, 104.0)},
     r"a new pod was Ready 6\.0 s before the migration completed"),
    ({"migration": MigrationFacts([("m", "succeeded")], 100.0, 104.0, table_rows=3)},
     r"the migrations table recorded 3 runs"),
    ({"pods": _pods(images=OLD)}, r"pods not running the candidate images"),
    ({"pods": _pods(versions=("1.1.0", "1.0.0"))}, r"answers still report version 1\.0\.0 \(want 1\.1\.0\)"),
    ({"pods": _pods(ready=2, desired=3)}, r"2/3 pods Ready"),
    ({"release": ReleaseFacts("failed", 2, 2)}, r"release is failed at revision 2 \(want deployed at 2\)"),
    ({"upgrade_error": "UPGRADE FAILED: timed out"}, r"helm upgrade failed: UPGRADE FAILED"),
])
def test_upgrade_fails(kw, reason):
    v = _upgrade(**kw)
    assert not v.passed
    assert re.search(reason, v.reason), v.reason
    _one_line(v)


def test_upgrade_judges_declared_data_and_reports_undeclared_data():
    assert _upgrade().figures["data_integrity"] == "not declared" and _upgrade().passed
    ok = _upgrade(data=DataFacts(["upgrade-1a (id=1)"]))
    assert ok.passed and ok.figures["data_integrity"] == "1 of 1 records intact"
    bad = _upgrade(data=DataFacts(["upgrade-1a (id=1)"], ["upgrade-1a: data.read GET /items/1: HTTP 500 (want 200)"]))
    assert bad.failed == ("data",)
    assert bad.reason == ("data written before is not intact (1 of 1 records): "
                          "upgrade-1a: data.read GET /items/1: HTTP 500 (want 200)")


def test_upgrade_negative_pattern_matches_availability_failure():
    v = _upgrade(availability=Availability(600, 3, 3, 0.8, "ChunkedEncodingError x3", "during the upgrade"))
    assert re.search(EXPECTED_FAILURE["upgrade"], v.reason)
    assert v.failed == ("availability",)


def test_several_failures_in_one_line():
    v = _upgrade(availability=Availability(10, 5, 5, 1.0, "HTTP 502 x5"), release=ReleaseFacts("failed", 2, 2))
    assert v.failed == ("availability", "release") and v.reason.count(";") >= 2


# --------------------------------------------------------------------------- rollback


def _rollback(**kw) -> Verdict:
    history = [{"revision": 1, "status": "superseded", "description": "Install complete"},
               {"revision": 2, "status": "failed", "description": "Upgrade failed: context deadline exceeded"},
               {"revision": 3, "status": "deployed", "description": "Rollback to 1"}]
    args = {"availability": GOOD_AV, "budget": 0, "failed_upgrade": FailedUpgrade("readiness", "timed out"),
                "history": history, "failed_revision": 2, "rollback_to": 1, "pods": _pods(images=OLD, versions=("1.0.0",)),
                "released_images": OLD, "released_version": "1.0.0",
                "data": DataFacts(["rollback-1a (id=1)", "rollback-2b (id=2)"])}
    args.update(kw)
    return rollback_verdict(**args)


def test_rollback_passes():
    v = _rollback()
    assert v.passed, v.reason
    assert v.figures["history"] == "1:superseded 2:failed 3:deployed"


@pytest.mark.parametrize("kw, reason", [
    ({"failed_upgrade": FailedUpgrade("hook", "UPGRADE FAILED: pre-upgrade hooks failed: job failed")},
     r"failed in a pre-upgrade hook before any pod was replaced"),
    ({"failed_upgrade": FailedUpgrade("succeeded")}, r"reported success: helm did not wait for readiness"),
    ({"failed_upgrade": FailedUpgrade("other", "boom")}, r"failed for another reason than readiness: boom"),
    ({"history": [{"revision": 1, "status": "deployed", "description": "Install complete"}]},
     r"history: revision 2 is missing \(want failed\)"),
    ({"history": [{"revision": 1, "status": "superseded"}, {"revision": 2, "status": "failed"},
                   {"revision": 3, "status": "failed", "description": "Rollback to 1"}]},
     r"the last revision is 3 failed"),
    ({"pods": _pods(images=NEW, versions=("1.1.0",))}, r"pods not running the released images"),
    ({"data": DataFacts(["t-1a (id=1)"], ["t-1a: data.read GET /items/1: HTTP 404 (want 200)"])},
     r"data written before is not intact \(1 of 1 records\): t-1a: data.read GET /items/1: HTTP 404 \(want 200\)$"),
    ({"data": DataFacts(["t-1a (id=1)"], ["t-1a: data.read GET /items/1: JSON value is 'other' (want 't-1a')"])},
     r"data.read GET /items/1: JSON value is 'other' \(want 't-1a'\)"),
    ({"data": DataFacts([], write_failure="data.write POST /items: HTTP 501 (want 200 or 201)")},
     r"^no data could be written before the disruption, so its survival is unproven: data.write POST /items: HTTP 501"),
    ({"data": DataFacts(["t-1a"], write_after="data.write POST /items: HTTP 503 (want 200 or 201)")},
     r"a write after the disruption failed: data.write POST /items: HTTP 503"),
    ({"availability": Availability(100, 4, 4, 1.0, "HTTP 503 x4", "throughout")}, r"4 of 100 requests failed throughout"),
    ({"rollback_error": "Error: no revision"}, r"helm rollback failed: Error: no revision"),
])
def test_rollback_fails(kw, reason):
    v = _rollback(**kw)
    assert not v.passed
    assert re.search(reason, v.reason), v.reason
    _one_line(v)


def test_rollback_without_a_declared_data_check_reports_it_and_does_not_fail():
    v = _rollback(data=None)
    assert v.passed, v.reason
    assert v.figures["data_integrity"] == "not declared"
    data = next(c for c in v.checks if c.name == "data")
    assert data.ok and data.detail == "data integrity: not declared"
    assert _rollback().figures["data_integrity"] == "2 of 2 records intact"


def test_a_lost_record_is_a_rollback_failure_the_control_pattern_knows():
    v = _rollback(data=DataFacts(["t-1a (id=1)", "t-2b (id=2)"],
                                 ["t-2b: data.read GET /items/2: JSON value is 'x' (want 't-2b')"]))
    assert v.failed == ("data",) and v.figures["data_integrity"] == "1 of 2 records intact"
    assert re.search(EXPECTED_FAILURE["rollback"], v.reason)


def test_rollback_negative_pattern_matches_the_hook_failure():
    v = _rollback(failed_upgrade=classify_upgrade_error(
        "helm upgrade x failed (exit 1): Error: UPGRADE FAILED: pre-upgrade hooks failed: 1 error occurred: "
        "* job ha-service-x-migrate failed: BackoffLimitExceeded"))
    assert re.search(EXPECTED_FAILURE["rollback"], v.reason)


@pytest.mark.parametrize("error, kind", [
    (None, "succeeded"),
    ("Error: UPGRADE FAILED: pre-upgrade hooks failed: job failed: BackoffLimitExceeded", "hook"),
    ("Error: UPGRADE FAILED: context deadline exceeded", "readiness"),
    ("Error: UPGRADE FAILED: resource Deployment/ns/x not ready. status: InProgress", "readiness"),
    ("Error: UPGRADE FAILED: cannot patch", "other"),
])
def test_classify_upgrade_error(error, kind):
    assert classify_upgrade_error(error).kind == kind


# --------------------------------------------------------------------------- drain


def _drain(**kw) -> Verdict:
    args = {"availability": Availability(400, 0, window="during the drain"), "budget": 0,
                "drain": DrainFacts("worker", "done", 21.0, 120.0, 2, 3, "ns/pdb", refusals_expected=True),
                "after": RescheduleFacts(3, 3, [], 4.0)}
    args.update(kw)
    return drain_verdict(**args)


def test_drain_passes():
    v = _drain()
    assert v.passed and "2 pods evicted from worker in 21.0 s (budget 120 s, 3 refusals retried)" in v.reason


@pytest.mark.parametrize("kw, reason", [
    ({"drain": DrainFacts("worker", "blocked", 16.0, 120.0, 0, 9, "ns/ha-service-x",
                           "drain blocked by PodDisruptionBudget ns/ha-service-x: 9 evictions refused")},
     r"^drain blocked by PodDisruptionBudget ns/ha-service-x: "),
    ({"drain": DrainFacts("worker", "timeout", 120.0, 120.0, 1, 30, "ns/pdb", "ns/p not evicted")},
     r"drain blocked by PodDisruptionBudget ns/pdb"),
    ({"drain": DrainFacts("worker", "timeout", 120.0, 120.0, 2, 0, None, "pods still terminating")},
     r"drain of worker did not finish within 120 s \(timeout\): pods still terminating"),
    ({"drain": DrainFacts("worker", "done", 3.0, 120.0, 2, 0, None, refusals_expected=True)},
     r"no eviction was refused although the PodDisruptionBudget allowed fewer"),
    ({"availability": Availability(400, 7, 7, 1.5, "HTTP 503 x7", "during the drain")},
     r"7 of 400 requests failed during the drain"),
    ({"after": RescheduleFacts(2, 3, ["ns/p1"], 60.0)}, r"2/3 replicas Ready after the drain; pods still on worker: ns/p1"),
])
def test_drain_fails(kw, reason):
    v = _drain(**kw)
    assert not v.passed
    assert re.search(reason, v.reason), v.reason
    _one_line(v)


def test_drain_negative_pattern():
    v = _drain(drain=DrainFacts("w", "blocked", 16.0, 120.0, 0, 9, "ns/x", "m"))
    assert re.search(EXPECTED_FAILURE["drain"], v.reason)
    # no-graceful-shutdown: the drain finishes, but requests in flight on the evicted pods fail
    v = _drain(availability=Availability(400, 2, 1, 0.1, "ChunkedEncodingError x2", "during the drain"))
    assert not v.passed and re.search(EXPECTED_FAILURE["drain"], v.reason)
    assert not re.search(EXPECTED_FAILURE["drain"], _drain(after=RescheduleFacts(2, 3, [], 60.0)).reason)


# --------------------------------------------------------------------------- sse


def _stream(name: str, recs: list[tuple[float, str, int, str | None]], duration: float) -> SseResult:
    return SseResult(name, "u", [Record(t, 1000 + t, k, c, i, "end of stream" if k == "disconnect" else "")
                                 for t, k, c, i in recs], duration)


def _hold_ok(name: str = "stream-1") -> SseResult:
    return _stream(name, [(0.0, "connect", 1, None)] + [(15.0 * i, "comment", 1, None) for i in range(1, 9)], 125)


def _rollout_ok(name: str = "stream-1") -> SseResult:
    return _stream(name, [(1.0, "event", 1, "100"), (5.0, "disconnect", 1, None), (6.1, "connect", 2, None),
                          (6.2, "event", 2, "101"), (7.0, "event", 2, "102")], 20)


def _deadlines(read: str | None = "3600", edge: str = "traefik-nginx", buffering: str | None = "off") -> Deadlines:
    return Deadlines(edge_profile(edge), StreamConfig((IngressStreamConfig("rt", ("rt.test",), read, None, buffering),)))


def _sse(**kw) -> Verdict:
    args = {"hold": [_hold_ok()], "rollout": [_rollout_ok()], "margin": 5, "reconnect_bound": 10,
            "hold_seconds": 125, "deadlines": _deadlines()}
    args.update(kw)
    return sse_verdict(**args)


def test_sse_passes():
    v = _sse()
    assert v.passed, v.reason
    assert v.figures["rollout_max_reconnect_s"] == 1.1 and v.figures["hold_longest_silence_s"] == 15.0
    assert v.figures["rollout_reconnect_p50_s"] == 1.1 and v.figures["rollout_reconnect_p99_s"] == 1.1
    assert v.figures["edge"] == "traefik-nginx" and v.figures["edge_idle_timeout_s"] == 3600
    assert "through edge traefik-nginx (longest silence 15 s; Ingress proxy-read-timeout 3600 s)" in v.reason
    assert [c.name for c in v.checks][:3] == ["not buffered", "no cut during hold", "heartbeat"]


_QUIET_CUT = _stream("stream-2", [(0, "connect", 1, None), (60.5, "disconnect", 1, None), (61.6, "connect", 2, None)],
                     125)


@pytest.mark.parametrize("kw, reason", [
    ({"hold": [_QUIET_CUT]},
     r"streams were cut during the 125 s hold: stream-2: quiet stream cut after 60\.5 s \(EOF\): idle timeout "
     r"\(edge traefik-nginx; Ingress proxy-read-timeout 3600 s; 60\.5 s does not match it\)"),
    ({"hold": [_QUIET_CUT], "deadlines": _deadlines(None)},
     r"stream-2: quiet stream cut after 60\.5 s \(EOF\): idle timeout \(edge traefik-nginx; Ingress "
     r"proxy-read-timeout not set, edge default 60 s\)"),
    ({"hold": [_stream("stream-1", [(0, "connect", 1, None), (30, "event", 1, "1")], 125)],
      "deadlines": _deadlines("60")},
     (r"streams went silent for at least 55 s, within 5 s of the idle timeout of edge traefik-nginx \(Ingress "
      r"proxy-read-timeout 60 s\), so it cuts them: stream-1 silent 95 s from 30 s")),
    ({"hold": [_stream("stream-1", [(0, "connect", 1, None), (30, "event", 1, "1")], 125)],
      "deadlines": Deadlines(edge_profile("traefik-gateway"), StreamConfig())},
     (r"streams went silent for at least 55 s, prediction for an nginx ingress, not under test \(edge "
      r"traefik-gateway: the edge has no idle timeout\): within 5 s of its idle timeout \(Ingress "
      r"proxy-read-timeout not set, nginx default 60 s\), so nginx cuts them: stream-1 silent 95 s from 30 s")),
    ({"hold": [_stream("stream-1", [(0, "request", 1, None)], 125)], "deadlines": _deadlines(buffering="on")},
     r"responses held back: stream-1: no byte for 125\.0 s after the request \(still waiting\): proxy buffering "
     r"\(edge traefik-nginx; Ingress proxy-buffering \"on\"\)"),
    ({"rollout": [_stream("stream-1", [(5.0, "disconnect", 1, None)], 20)]},
     r"streams never reconnected after the rollout cut them \(edge traefik-nginx\): stream-1 \(cut at 5\.0 s: end of stream\)"),
    ({"rollout": [_stream("stream-1", [(5.0, "disconnect", 1, None), (17.0, "connect", 2, None)], 20)]},
     r"reconnects took longer than 10 s \(edge traefik-nginx\): stream-1 12\.0 s"),
    ({"rollout": [_stream("stream-1", [(1, "event", 1, "100"), (5.0, "disconnect", 1, None),
                                        (6.0, "connect", 2, None), (6.1, "event", 2, "104")], 20)]},
     r"event ids missed across reconnects: stream-1 missed 3 ids \(101-103\)"),
    ({"rollout": [_stream("stream-1", [(1, "event", 1, "100"), (5.0, "disconnect", 1, None),
                                        (6.0, "connect", 2, None), (6.1, "event", 2, "100")], 20)]},
     r"event ids delivered twice: stream-1 got 1 ids twice \(100\)"),
    ({"rollout": [SseResult("stream-1", "u", [Record(5, 1005, "disconnect", 1, None, "end of stream"),
                                               Record(6, 1006, "attempt-failed", 2, None, "HTTP 503"),
                                               Record(7, 1007, "connect", 3)], 20)]},
     r"reconnects were refused during the rollout \(edge traefik-nginx\): stream-1: HTTP 503"),
    ({"rollout": None}, r"the rolling restart did not run"),
])
def test_sse_fails(kw, reason):
    v = _sse(**kw)
    assert not v.passed
    assert re.search(reason, v.reason), v.reason
    _one_line(v)


def _no_heartbeat(name: str, start: float) -> SseResult:
    """The no-sse-heartbeat control through Traefik: the retry line at connect, nothing for 60 s, cut."""
    recs = [Record(start, 0, "request", 1), Record(start + 0.01, 0, "connect", 1),
            Record(start + 0.02, 0, "retry", 1, None, "1000"),
            Record(start + 60.02, 0, "disconnect", 1, None, "ChunkedEncodingError"),
            Record(start + 61.1, 0, "request", 2), Record(start + 61.11, 0, "connect", 2)]
    return SseResult(name, "u", recs, 125)


def test_sse_negative_pattern_matches_a_quiet_stream():
    streams = [_no_heartbeat("stream-1", 0.0), _no_heartbeat("stream-2", 0.2), _no_heartbeat("stream-3", 0.3)]
    v = _sse(hold=streams, deadlines=_deadlines("60"))
    assert re.search(EXPECTED_FAILURE["sse"], v.reason)
    assert ("streams were cut during the 125 s hold: stream-1, stream-2, stream-3: quiet stream cut after 60.0 s "
            "(error ChunkedEncodingError) (3 times, 60.0-60.0 s): idle timeout (edge traefik-nginx; Ingress "
            "proxy-read-timeout 60 s)") in v.reason, v.reason
    assert v.figures["hold_cut_kinds"] == "idle timeout x3"
    # the silence that ended in the cut is the cut's; the one reported is the next connection's
    assert "stream-1 silent 64 s from 61 s" in v.reason and "silent 60 s from 0 s" not in v.reason
    one_cut = [SseResult(s.name, "u", s.records[:4], 64) for s in streams]
    assert _sse(hold=one_cut, deadlines=_deadlines("60")).failed == ("no cut during hold",)


def test_sse_total_deadline_names_the_httproute_timeout():
    beats = [Record(0, 0, "request", 1), Record(0.01, 0, "connect", 1)]
    beats += [Record(0.01 + 5 * i, 0, "comment", 1) for i in range(1, 6)]
    cut = SseResult("stream-1", "u", [*beats, Record(30.0, 0, "disconnect", 1, None, "end of stream")], 40)
    envoy = Edge("envoy-gateway", "gateway", route_timeouts=True)
    route = StreamConfig(routes=(RouteTimeouts("rt", "0", ("rt.test",), "30s", None),))
    v = _sse(hold=[cut], deadlines=Deadlines(envoy, route))
    assert ("stream-1: stream cut at 30.0 s while receiving data (longest gap 5.0 s, EOF): total deadline (edge "
            "envoy-gateway; HTTPRoute rt rule 0 timeouts.request 30s)") in v.reason, v.reason
    assert re.search(EXPECTED_FAILURE["sse"], v.reason)
    # Traefik's Gateway provider ignores the field: the line says so
    v = _sse(hold=[cut], deadlines=Deadlines(edge_profile("traefik-gateway"), route))
    assert "total deadline (edge traefik-gateway; HTTPRoute rt rule 0 timeouts.request 30s, not honoured" in v.reason


def test_sse_route_deadline_the_edge_ignores_is_a_labelled_prediction():
    route = StreamConfig(routes=(RouteTimeouts("rt", "0", ("rt.test",), "30s", None),))
    v = _sse(deadlines=Deadlines(edge_profile("traefik-gateway"), route))  # the streams were held uncut
    assert v.failed == ("route deadline",)
    assert ("streams would be cut by a Gateway that honours HTTPRoute timeouts (prediction, not under test: edge "
            "traefik-gateway ignores them): HTTPRoute rt rule 0 timeouts.request 30s is shorter than the 125 s hold: "
            "total deadline at 30 s") in v.reason, v.reason
    assert re.search(EXPECTED_FAILURE["sse"], v.reason)
    # longer than the hold, or an edge that honours it (then the cut itself is measured): no prediction
    long_route = StreamConfig(routes=(RouteTimeouts("rt", "0", ("rt.test",), "1h", None),))
    assert _sse(deadlines=Deadlines(edge_profile("traefik-gateway"), long_route)).passed
    envoy = Edge("envoy-gateway", "gateway", route_timeouts=True)
    assert _sse(deadlines=Deadlines(envoy, route)).passed


def test_sse_buffered_response_is_its_own_finding():
    held = SseResult("stream-1", "u", [Record(0, 0, "request", 1), Record(150.0, 0, "connect", 1),
                                       *[Record(150.01, 0, "comment", 1) for _ in range(9)],
                                       Record(150.02, 0, "disconnect", 1, None, "end of stream")], 160)
    v = _sse(hold=[held.between(0, 125)], findings=classify(held), deadlines=_deadlines(buffering="on"))
    assert v.failed[0] == "not buffered"
    assert ('responses held back: stream-1: no byte for 150.0 s after the request, then 9 records at once (EOF): '
            'proxy buffering (edge traefik-nginx; Ingress proxy-buffering "on")') in v.reason, v.reason
    assert re.search(EXPECTED_FAILURE["sse"], v.reason)


# --------------------------------------------------------------------------- db outage


def _outage(**kw) -> Verdict:
    args = {"fault": "stop", "duration": 25.0, "not_ready_bound": 11.0,
                "not_ready_after": {"p0": 3.1, "p1": 3.3, "p2": 4.0}, "endpoints_empty_after": 4.5,
                "ingress": IngressAnswers(60, 60), "restarts": {}, "recovery_bound": 14.0, "ready_after_recovery": 3.0,
                "data": DataFacts(["db_outage-7c (id=7)"])}
    args.update(kw)
    return db_outage_verdict(OutageFacts(**args))


def test_db_outage_passes():
    v = _outage()
    assert v.passed, v.reason
    assert v.reason.startswith("PASS: stop: 3 pods NotReady within 4.0 s (bound 11 s)")


@pytest.mark.parametrize("kw, reason", [
    ({"not_ready_after": {"p0": None, "p1": None, "p2": None}, "endpoints_empty_after": None,
          "ingress": IngressAnswers(60, 0, 60)},
     (r"pods stayed Ready through the 25 s stop outage: p0, p1, p2; the Service kept ready endpoints during the "
      r"outage; the ingress did not answer 503 once the pods should be out \(60 answered by the pods of 60 "
      r"requests\)")),
    ({"not_ready_after": {"p0": 3.1, "p1": 13.5, "p2": 4.0}}, r"pods went NotReady later than 11 s: p1 after 13\.5 s"),
    ({"restarts": {"p0/service": 1, "p1/service": 1}}, r"containers restarted during the outage: p0/service \+1"),
    ({"ingress": IngressAnswers(60, 50, 0, {"ReadTimeout": 10})},
     r"did not answer 503 once the pods should be out \(ReadTimeout x10 of 60 requests\)"),
    ({"ingress": IngressAnswers(0, 0)}, r"no requests were judged during the outage"),
    ({"ready_after_recovery": None}, r"pods not all Ready within 14 s after the database returned \(not at all\)"),
    ({"ready_after_recovery": 20.0}, r"\(after 20\.0 s\)"),
    ({"data": DataFacts(["t-7c (id=7)"], ["t-7c: data.read GET /items/7: HTTP 503 (want 200)"])},
     r"data written before is not intact \(1 of 1 records\): t-7c: data.read GET /items/7"),
    ({"not_ready_after": {}}, r"no pods were observed"),
])
def test_db_outage_fails(kw, reason):
    v = _outage(**kw)
    assert not v.passed
    assert re.search(reason, v.reason), v.reason
    _one_line(v)


def test_db_outage_without_a_declared_data_check_passes_and_says_so():
    v = _outage(data=None)
    assert v.passed, v.reason
    assert v.figures["data_integrity"] == "not declared"


@pytest.mark.parametrize("kw", [{"restarts": {"p0/service": 1}},
                                {"not_ready_after": {"p0": None}, "endpoints_empty_after": None}])
def test_db_outage_negative_pattern(kw):
    assert re.search(EXPECTED_FAILURE["db_outage"], _outage(**kw).reason)


def test_every_scenario_has_a_negative_pattern():
    from harness.core.contract import SCENARIOS

    assert set(EXPECTED_FAILURE) == set(SCENARIOS)


def test_a_verdict_carries_every_check_in_order():
    good = _upgrade()
    assert [c.name for c in good.checks] == ["helm upgrade", "availability", "migration", "candidate everywhere",
                                             "served by candidate after rollout",
                                             "old pods drained before termination", "release", "data"]
    assert all(c.ok for c in good.checks)
    bad = _upgrade(availability=Availability(10, 5, 5, 1.0, "HTTP 502 x5"), release=ReleaseFacts("failed", 2, 2))
    assert [c.name for c in bad.checks if not c.ok] == list(bad.failed) == ["availability", "release"]
    assert next(c for c in bad.checks if c.name == "release").detail in bad.reason


# --------------------------------------------------------------------------- versionFrom


def test_version_not_declared_is_a_figure_never_a_failure():
    v = _upgrade(pods=_pods(versions=("1.0.0", "whatever")), version_from=None)
    assert v.passed, v.reason
    assert v.figures["version_from"] == "not declared"
    r = _rollback(pods=_pods(images=OLD, versions=("1.1.0",)), version_from=None)
    assert r.passed, r.reason
    assert r.figures["version_from"] == "not declared"


def test_declared_version_source_is_checked_and_named():
    v = _upgrade(pods=_pods(versions=("1.0.0",)), version_from="header: X-App-Version")
    assert not v.passed and "answers still report version 1.0.0 (want 1.1.0)" in v.reason
    assert v.figures["version_from"] == "header: X-App-Version"
    r = _rollback(pods=_pods(images=OLD, versions=("1.1.0",)), version_from="json: version")
    assert not r.passed and "answers still report version 1.1.0 (want 1.0.0)" in r.reason


# --------------------------------------------------------------------------- failed requests the harness sent late


RATE = 20.0


def _probe(pattern: str, *, rate: float | None = RATE):
    """A probe window from ``pattern``, one ticket per character: ``.`` success on time, ``x`` failure on
    time, ``L`` failure the scheduler issued 0.9 s late, ``l`` success issued 0.9 s late, ``w`` failure that
    waited 4 s for a worker (every worker held by slower requests)."""
    from harness.measure.prober import ProbeResult, Sample

    samples = []
    for seq, c in enumerate(pattern):
        lag = 0.9 if c in "Ll" else 0.0
        t = seq / RATE + lag
        ok = c in ".l"
        error = None if ok else ("ReadTimeout" if c == "w" else "HTTP 503")
        samples.append(Sample(seq, round(t, 4), 1000 + t, 0.02, 200 if ok else (503 if error == "HTTP 503" else None),
                              error, late=lag + (4.0 if c == "w" else 0.0)))
    return ProbeResult("http://x/", "h", samples, duration=len(pattern) / RATE, rate=rate)


def test_all_failures_sent_late_pass_and_say_the_machine_was_the_problem():
    a = Availability.from_probe(_probe("." * 50 + "LLL" + "." * 50), "during the upgrade")
    assert (a.total, a.failed, a.late_failed, a.late_classes) == (100, 0, 3, "HTTP 503 x3")
    v = _upgrade(availability=a)
    assert v.passed, v.reason
    _one_line(v)
    assert ("all 3 failed requests during the upgrade were sent late by the harness (> 0.5 s behind schedule; "
            "HTTP 503 x3) and are not counted: the machine, not the chart, was too busy to probe on time") in v.reason
    assert v.figures["probe_late_failed_count"] == 3 and v.figures["failed_requests"] == 0
    assert v.figures["requests"] == 100 and v.figures["probe_late_failure_classes"] == "HTTP 503 x3"


def test_a_real_outage_still_fails_and_only_the_late_sends_are_set_apart():
    # the negative control's outage: 10 on-time failures, with 2 late sends inside it
    a = Availability.from_probe(_probe("." * 40 + "xxxxLxxxLxxx" + "." * 40), "during the upgrade")
    assert (a.failed, a.late_failed, a.longest_run) == (10, 2, 10)  # the late ones do not split the outage
    v = _upgrade(availability=a)
    assert not v.passed and v.failed == ("availability",)
    assert re.search(EXPECTED_FAILURE["upgrade"], v.reason)
    assert v.reason.startswith("10 of 90 requests failed during the upgrade (budget 0): HTTP 503 x10; "
                               "longest outage 10 requests / "), v.reason
    assert v.reason.endswith("; 2 failed requests sent late by the harness (> 0.5 s behind schedule; "
                             "HTTP 503 x2) not counted"), v.reason
    assert v.figures["probe_late_failed_count"] == 2 and v.figures["failed_requests"] == 10


def test_a_hanging_chart_that_made_sends_wait_for_workers_is_still_judged():
    # sends late only because every worker was held by hanging requests: the chart's doing
    v = _drain(availability=Availability.from_probe(_probe("." * 30 + "xww" + "." * 30), "during the drain"))
    assert not v.passed and re.search(EXPECTED_FAILURE["drain"], v.reason)
    assert "3 of 63 requests failed during the drain" in v.reason and "sent late" not in v.reason
    assert v.figures["probe_late_failed_count"] == 0


def test_late_successes_stay_successes_and_no_rate_excuses_nothing():
    a = Availability.from_probe(_probe("." * 20 + "lll" + "." * 20), "during the upgrade")
    assert (a.total, a.failed, a.late_failed) == (43, 0, 0)
    unknown = Availability.from_probe(_probe("." * 20 + "LLL", rate=None), "during the upgrade")
    assert (unknown.total, unknown.failed, unknown.late_failed) == (23, 3, 0)
    assert not _upgrade(availability=unknown).passed


def test_nothing_left_to_judge_fails_naming_the_machine_not_the_chart():
    v = _upgrade(availability=Availability.from_probe(_probe("LLLL"), "during the upgrade"))
    assert not v.passed and v.failed == ("availability",)
    assert ("only 0 requests during the upgrade could be judged (at least 1 needed): 4 more failed but were sent "
            "late by the harness (> 0.5 s behind schedule): the machine, not the chart, was too busy") in v.reason
    # not the chart's failure: a negative control failing only this way is not caught for its reason
    assert not re.search(EXPECTED_FAILURE["upgrade"], v.reason)


@pytest.mark.parametrize("late_failed, failed", [(1, 0), (5, 0), (2, 7)])
def test_the_late_note_never_reads_as_a_scenarios_own_failure(late_failed, failed):
    from harness.scenario.verdicts import late_failed_note

    note = late_failed_note(late_failed, failed, 0.5, "during the drain", "ReadTimeout x1")
    assert note and not any(re.search(p, note) for p in EXPECTED_FAILURE.values()), note
    assert late_failed_note(0, failed, 0.5, "during the drain") == ""


def test_rollback_and_drain_report_the_late_sends_whatever_the_outcome():
    a = Availability.from_probe(_probe("." * 30 + "LL" + "." * 30), "during the drain")
    passed = _drain(availability=a)
    assert passed.passed and "all 2 failed requests during the drain were sent late by the harness" in passed.reason
    # another criterion fails: the note still follows the failure, after it
    blocked = _drain(availability=a, drain=DrainFacts("w1", "blocked", 90, 90, 0, 12, pdb="ha"))
    assert not blocked.passed and blocked.reason.startswith("drain blocked by PodDisruptionBudget ha")
    assert blocked.reason.endswith("were sent late by the harness (> 0.5 s behind schedule; HTTP 503 x2) and are "
                                   "not counted: the machine, not the chart, was too busy to probe on time")
    rb = _rollback(availability=Availability.from_probe(_probe("." * 30 + "xL" + "." * 30), "throughout"))
    assert not rb.passed and "1 of 61 requests failed throughout" in rb.reason
    assert rb.reason.endswith("1 failed request sent late by the harness (> 0.5 s behind schedule; "
                              "HTTP 503 x1) not counted")


def _outage_probe(kinds: str):
    """One request per character, all inside the judged window: ``5`` the ingress's 503 (sent 0.9 s late
    by the harness when ``%``), ``t`` ReadTimeout on time, ``T`` ReadTimeout sent 0.9 s late, ``a`` answered
    by the pods, sent 0.9 s late."""
    from harness.measure.prober import ProbeResult, Sample

    samples = []
    for seq, c in enumerate(kinds):
        lag = 0.9 if c in "%Ta" else 0.0
        t = seq / RATE + lag
        if c in "5%":
            s = Sample(seq, t, 1000 + t, 0.01, 503, "HTTP 503", source="proxy")
        elif c in "tT":
            s = Sample(seq, t, 1000 + t, 5.0, None, "ReadTimeout")
        else:
            s = Sample(seq, t, 1000 + t, 0.01, 200, None, "1.0.0", "p0")
        samples.append(s)
    return ProbeResult("http://x/", "h", samples, rate=RATE)


def test_db_outage_sets_apart_only_the_failures_the_harness_sent_late():
    ing = IngressAnswers.from_probe(_outage_probe("5" * 20 + "%%" + "TT" + "a" + "5" * 10), 1000.0, 1100.0)
    # the late 503s and the late answer from the pods are judged (they say what the chart did)
    assert (ing.total, ing.proxy_503, ing.passed_through, dict(ing.other)) == (33, 32, 1, {})
    assert (ing.late_failed, ing.late_classes) == (2, "ReadTimeout x2")
    v = _outage(ingress=ing)
    assert not v.passed and "(1 answered by the pods of 33 requests)" in v.reason
    assert v.figures["probe_late_failed_count"] == 2 and v.figures["ingress_requests"] == 33
    only_late = _outage(ingress=IngressAnswers.from_probe(_outage_probe("5" * 30 + "TT"), 1000.0, 1100.0))
    assert only_late.passed, only_late.reason
    assert only_late.reason.endswith("all 2 failed requests during the outage were sent late by the harness "
                                     "(> 0.5 s behind schedule; ReadTimeout x2) and are not counted: the machine, "
                                     "not the chart, was too busy to probe on time")
    on_time = _outage(ingress=IngressAnswers.from_probe(_outage_probe("5" * 30 + "tT"), 1000.0, 1100.0))
    assert not on_time.passed and "ReadTimeout x1 of 31 requests" in on_time.reason
    assert on_time.reason.endswith("1 failed request sent late by the harness (> 0.5 s behind schedule; "
                                   "ReadTimeout x1) not counted")
    nothing = _outage(ingress=IngressAnswers.from_probe(_outage_probe("TTT"), 1000.0, 1100.0))
    assert not nothing.passed and ("no requests could be judged during the outage: all 3 failed but were sent late "
                                   "by the harness") in nothing.reason


def test_the_availability_check_of_the_record_names_the_late_sends():
    v = _upgrade(availability=Availability.from_probe(_probe("." * 30 + "L" + "." * 30), "during the upgrade"))
    check = next(c for c in v.checks if c.name == "availability")
    assert check.ok and check.detail == ("the only failed request during the upgrade was sent late by the harness "
                                         "(> 0.5 s behind schedule; HTTP 503 x1) and is not counted: the machine, "
                                         "not the chart, was too busy to probe on time")
    assert next(c for c in _upgrade().checks if c.name == "availability").detail == ""
