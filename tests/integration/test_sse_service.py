"""harness.measure.sse against the real demo service run locally (no database: clock-based event ids)."""
from __future__ import annotations

import time
from pathlib import Path

import pytest
from demo_service import TEST_VERSION, DemoService, demo_service_binary
from support import wait_until as _wait_until

from harness.measure import plots
from harness.measure.sse import (
    SseClient,
    SseGroup,
    event_data,
)


QUIET_MS = "86400000"
"""An event interval for a stream that carries no event while a test reads it. Without a database the
service's event N falls at unix time N * interval (charts-under-test/service/events.go clockEvents), so
with one minute a test crossing a full minute got an event (1 run in about 30): one a day, at 00:00 UTC."""


def wait_until(pred, timeout: float = 15.0) -> None:
    """Streams need a longer default budget than the prober's requests."""
    _wait_until(pred, timeout=timeout)


@pytest.fixture(scope="module")
def service_bin(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return demo_service_binary(tmp_path_factory.mktemp("bin"))


@pytest.fixture
def service(service_bin: Path, tmp_path: Path):
    svc = DemoService(service_bin, tmp_path, SSE_INTERVAL_MS="200", HEARTBEAT_SECONDS="1")
    yield svc
    svc.stop()


def test_resumes_after_a_server_restart_without_gaps(service: DemoService, tmp_path: Path):
    service.start()
    client = SseClient(service.base_url + "/events", host="realtime.test", name="s1", max_duration=60).start()
    try:
        wait_until(lambda: len(client.snapshot().events) >= 5 and client.snapshot().of("comment"))
        client.mark("server restart")
        assert service.stop() == 0  # graceful: the stream ends cleanly, the process exits 0
        time.sleep(1.5)             # ~7 events happen while the server is down
        service.start()
        wait_until(lambda: len(client.snapshot().connects) >= 2 and len(client.snapshot().events) >= 20)
    finally:
        result = client.stop()

    assert result.disconnects, "the restart was not recorded as a disconnect"
    assert result.disconnects[0].data == "end of stream"
    # the server was down ~1.5 s, so the first reconnect attempts were refused, then one succeeded
    assert result.failed_attempts and {r.data for r in result.failed_attempts} <= {"ConnectionError"}
    latencies = result.reconnect_latencies()
    assert latencies and latencies[0] is not None and 1.0 <= latencies[0] < 10
    assert result.of("retry") and result.of("retry")[0].data == "1000"
    assert result.gaps() == [] and result.gaps_at_reconnect() == [], result.ids
    assert result.duplicates() == [] and result.out_of_order() == []
    ids = result.ids
    assert ids == list(range(ids[0], ids[0] + len(ids)))
    # the events missed while down were replayed at once after the reconnect
    after = [r for r in result.events if r.conn == result.connects[1].conn]
    assert after and after[0].t - result.connects[1].t < 0.5
    assert event_data(result.events[0])["version"] == TEST_VERSION
    assert result.longest_silence(connected_only=True)[0] < 1.5
    assert result.figures()["sse_missed_ids"] == 0
    png = plots.sse_timeline([result], tmp_path / "sse.png")
    assert png is not None and png.exists()


def test_without_last_event_id_a_restart_loses_events(service: DemoService):
    """The control for the test above: a client that does not send Last-Event-ID misses the ids
    of the downtime, and the recording shows them as a gap at the reconnect."""
    service.start()
    client = SseClient(service.base_url + "/events", name="forgetful", max_duration=60)
    client.start()
    try:
        wait_until(lambda: len(client.snapshot().events) >= 3)
        service.stop()
        client.last_event_id = None
        orig_read = client._read

        def forgetful_read(resp, conn):
            cause = orig_read(resp, conn)
            client.last_event_id = None
            return cause

        client._read = forgetful_read  # type: ignore[method-assign]
        time.sleep(1.2)
        service.start()
        wait_until(lambda: len(client.snapshot().connects) >= 2 and
              any(r.conn == client.snapshot().connects[-1].conn for r in client.snapshot().events))
    finally:
        result = client.stop()
    assert result.gaps_at_reconnect(), result.ids
    assert result.missed_count(result.gaps_at_reconnect()) >= 3


def test_heartbeats_are_recorded_and_silence_measured(service_bin: Path, tmp_path: Path):
    svc = DemoService(service_bin, tmp_path, SSE_INTERVAL_MS=QUIET_MS, HEARTBEAT_SECONDS="1").start()
    try:
        with SseClient(svc.base_url + "/events", max_duration=20) as c:
            wait_until(lambda: len(c.snapshot().of("comment")) >= 2)
        r = c.result if hasattr(c, "result") else c.stop()
    finally:
        svc.stop()
    assert {x.data for x in r.of("comment")} == {"heartbeat"}
    assert r.events == []
    assert r.longest_silence(connected_only=True)[0] < 1.6


def test_quiet_stream_without_heartbeat_shows_its_silence(service_bin: Path, tmp_path: Path):
    svc = DemoService(service_bin, tmp_path, SSE_INTERVAL_MS=QUIET_MS, HEARTBEAT_SECONDS="0").start()
    try:
        c = SseClient(svc.base_url + "/events", max_duration=20).start()
        time.sleep(2.0)
        r = c.stop()
    finally:
        svc.stop()
    silence, since = r.longest_silence(connected_only=True)
    last_byte = max(x.t for x in r.records if x.kind in ("connect", "retry"))
    assert since == round(last_byte, 3) and silence == round(r.t_end - last_byte, 3)
    assert silence >= 1.0
    assert r.disconnects == []  # closed by us, not a disconnect


def test_max_duration_bounds_a_blocked_read(service_bin: Path, tmp_path: Path):
    svc = DemoService(service_bin, tmp_path, SSE_INTERVAL_MS=QUIET_MS, HEARTBEAT_SECONDS="0").start()
    try:
        c = SseClient(svc.base_url + "/events", max_duration=1.0).start()
        wait_until(lambda: c._thread is not None and not c._thread.is_alive(), timeout=5)
        r = c.stop()
    finally:
        svc.stop()
    assert r.stop_reason == "max duration"
    assert 0.9 <= r.duration < 4


def test_group_of_streams(service: DemoService):
    service.start()
    g = SseGroup(3, service.base_url + "/events", max_duration=30).start()
    try:
        wait_until(lambda: all(len(s.events) >= 2 for s in g.snapshots()))
        assert g.all_connected()
    finally:
        results = g.stop()
    assert [r.name for r in results] == ["stream-1", "stream-2", "stream-3"]
    # every replica (here: one process) computes the same ids for the same time
    assert len({r.ids[1] for r in results}) <= 2
