"""harness.scenario.verdicts on synthetic measurements: each verdict passes on good figures and fails, with
its one-line reason, on each kind of bad figure."""
from __future__ import annotations

import re

import pytest

from harness.measure.sse import Record, SseResult
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
                "data": DataFacts({"1": "before"}, {"1": (200, "before")}, write_after=201)}
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
    ({"data": DataFacts({"1": "before"}, {"1": (404, None)})}, r"data written before is not intact: item 1: HTTP 404"),
    ({"data": DataFacts({"1": "before"}, {"1": (200, "other")})}, r"value 'other' != 'before'"),
    ({"data": DataFacts({}, {})}, r"no data could be written before"),
    ({"data": DataFacts({"1": "x"}, {"1": (200, "x")}, write_after=503)}, r"a write after the disruption answered HTTP 503"),
    ({"availability": Availability(100, 4, 4, 1.0, "HTTP 503 x4", "throughout")}, r"4 of 100 requests failed throughout"),
    ({"rollback_error": "Error: no revision"}, r"helm rollback failed: Error: no revision"),
])
def test_rollback_fails(kw, reason):
    v = _rollback(**kw)
    assert not v.passed
    assert re.search(reason, v.reason), v.reason
    _one_line(v)


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


def _sse(**kw) -> Verdict:
    args = {"hold": [_hold_ok()], "rollout": [_rollout_ok()], "read_timeout": 3600, "margin": 5, "reconnect_bound": 10,
                "hold_seconds": 125}
    args.update(kw)
    return sse_verdict(**args)


def test_sse_passes():
    v = _sse()
    assert v.passed, v.reason
    assert v.figures["rollout_max_reconnect_s"] == 1.1 and v.figures["hold_longest_silence_s"] == 15.0


@pytest.mark.parametrize("kw, reason", [
    ({"hold": [_stream("stream-2", [(0, "connect", 1, None), (60.5, "disconnect", 1, None),
                                     (61.6, "connect", 2, None)], 125)]},
     r"streams were cut during the 125 s hold: stream-2 cut at 60\.5 s \(end of stream\)"),
    ({"hold": [_stream("stream-1", [(0, "connect", 1, None), (30, "event", 1, "1")], 125)], "read_timeout": 60},
     (r"streams went silent for at least 55 s \(ingress proxy read timeout 60 s - 5 s margin\), so a proxy cuts "
      r"them: stream-1 silent 95 s from 30 s")),
    ({"rollout": [_stream("stream-1", [(5.0, "disconnect", 1, None)], 20)]},
     r"streams never reconnected after the rollout cut them: stream-1 \(cut at 5\.0 s: end of stream\)"),
    ({"rollout": [_stream("stream-1", [(5.0, "disconnect", 1, None), (17.0, "connect", 2, None)], 20)]},
     r"reconnects took longer than 10 s: stream-1 12\.0 s"),
    ({"rollout": [_stream("stream-1", [(1, "event", 1, "100"), (5.0, "disconnect", 1, None),
                                        (6.0, "connect", 2, None), (6.1, "event", 2, "104")], 20)]},
     r"event ids missed across reconnects: stream-1 missed 3 ids \(101-103\)"),
    ({"rollout": [_stream("stream-1", [(1, "event", 1, "100"), (5.0, "disconnect", 1, None),
                                        (6.0, "connect", 2, None), (6.1, "event", 2, "100")], 20)]},
     r"event ids delivered twice: stream-1 got 1 ids twice \(100\)"),
    ({"rollout": [SseResult("stream-1", "u", [Record(5, 1005, "disconnect", 1, None, "end of stream"),
                                               Record(6, 1006, "attempt-failed", 2, None, "HTTP 503"),
                                               Record(7, 1007, "connect", 3)], 20)]},
     r"reconnects were refused during the rollout: stream-1: HTTP 503"),
    ({"rollout": None}, r"the rolling restart did not run"),
])
def test_sse_fails(kw, reason):
    v = _sse(**kw)
    assert not v.passed
    assert re.search(reason, v.reason), v.reason
    _one_line(v)


def test_sse_negative_pattern_matches_a_quiet_stream():
    v = _sse(hold=[_stream("stream-1", [(0, "connect", 1, None)], 125)], read_timeout=60)
    assert re.search(EXPECTED_FAILURE["sse"], v.reason)


# --------------------------------------------------------------------------- db outage


def _outage(**kw) -> Verdict:
    args = {"fault": "stop", "duration": 25.0, "not_ready_bound": 11.0,
                "not_ready_after": {"p0": 3.1, "p1": 3.3, "p2": 4.0}, "endpoints_empty_after": 4.5,
                "ingress": IngressAnswers(60, 60), "restarts": {}, "recovery_bound": 14.0, "ready_after_recovery": 3.0,
                "data": DataFacts({"7": "v"}, {"7": (200, "v")}, 201)}
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
    ({"data": DataFacts({"7": "v"}, {"7": (503, None)})}, r"data written before is not intact"),
    ({"not_ready_after": {}}, r"no pods were observed"),
])
def test_db_outage_fails(kw, reason):
    v = _outage(**kw)
    assert not v.passed
    assert re.search(reason, v.reason), v.reason
    _one_line(v)


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
                                             "old pods drained before termination", "release"]
    assert all(c.ok for c in good.checks)
    bad = _upgrade(availability=Availability(10, 5, 5, 1.0, "HTTP 502 x5"), release=ReleaseFacts("failed", 2, 2))
    assert [c.name for c in bad.checks if not c.ok] == list(bad.failed) == ["availability", "release"]
    assert next(c for c in bad.checks if c.name == "release").detail in bad.reason
