"""harness.measure.sse against the real demo service run locally (no database: clock-based event ids),
plus the parser and the figures on synthetic input."""
from __future__ import annotations

import time
from pathlib import Path

import pytest
from demo_service import TEST_VERSION, DemoService, demo_service_binary, free_port
from demo_service import wait_until as _wait_until

from harness.measure import plots
from harness.measure.sse import (
    Record,
    SseClient,
    SseGroup,
    SseResult,
    event_data,
    iter_lines,
)


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
    svc = DemoService(service_bin, tmp_path, SSE_INTERVAL_MS="60000", HEARTBEAT_SECONDS="1").start()
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
    svc = DemoService(service_bin, tmp_path, SSE_INTERVAL_MS="60000", HEARTBEAT_SECONDS="0").start()
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
    svc = DemoService(service_bin, tmp_path, SSE_INTERVAL_MS="60000", HEARTBEAT_SECONDS="0").start()
    try:
        c = SseClient(svc.base_url + "/events", max_duration=1.0).start()
        wait_until(lambda: c._thread is not None and not c._thread.is_alive(), timeout=5)
        r = c.stop()
    finally:
        svc.stop()
    assert r.stop_reason == "max duration"
    assert 0.9 <= r.duration < 4


def test_refused_reconnects_are_failed_attempts():
    c = SseClient(f"http://127.0.0.1:{free_port()}/events", max_duration=10, max_attempts=3,
                  initial_reconnect=0.05, connect_timeout=1).start()
    wait_until(lambda: not c._thread.is_alive(), timeout=10)
    r = c.stop()
    assert len(r.failed_attempts) == 3 and r.stop_reason == "max attempts"
    assert r.connects == []


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


# --------------------------------------------------------------------------- parser and figures


def test_iter_lines_handles_every_line_ending_and_split_chunks():
    chunks = [b"id: 1\r", b"\ndata: a\rdata: b\n\n: hb", b"\r\n\r\n", b"retry: 5\n"]
    assert list(iter_lines(iter(chunks))) == ["id: 1", "data: a", "data: b", "", ": hb", "", "retry: 5"]


def _r(t: float, kind: str, conn: int = 1, id: str | None = None) -> Record:
    return Record(t, 1000 + t, kind, conn, id)


def test_gaps_duplicates_latency_and_silence_on_synthetic_records():
    recs = [_r(0.1, "connect"), _r(0.2, "event", id="10"), _r(1.2, "event", id="11"), _r(2.0, "comment"),
            _r(3.0, "disconnect"), _r(3.5, "attempt-failed", 2), _r(4.5, "connect", 3),
            _r(4.6, "event", 3, "11"), _r(4.7, "event", 3, "14"), _r(5.0, "event", 3, "16")]
    r = SseResult("s", "u", recs, duration=20.0)
    assert r.duplicates() == [11]
    assert r.gaps() == [(12, 13), (15, 15)]
    assert r.gaps_at_reconnect() == []   # 11 -> 11 across the reconnect; the jumps are within conn 3
    assert r.reconnect_latencies() == [1.5]
    assert r.longest_silence(connected_only=True) == (15.0, 5.0)  # from the last event to the end
    assert r.longest_silence(connected_only=True)[0] > r.between(0, 4).longest_silence(connected_only=True)[0]
    assert "at 3.0 s (" in r.describe_disconnects()

    gap = SseResult("s", "u", [_r(0, "connect"), _r(1, "event", 1, "5"), _r(2, "disconnect"),
                               _r(3, "connect", 2), _r(3.1, "event", 2, "9")], duration=4)
    assert gap.gaps_at_reconnect() == [(6, 8)] and gap.missed_count(gap.gaps_at_reconnect()) == 3
    never = SseResult("s", "u", [_r(0, "connect"), _r(1, "disconnect")], duration=9)
    assert never.reconnect_latencies() == [None]


def test_a_window_measures_silence_that_began_before_it():
    r = SseResult("s", "u", [_r(0.1, "connect"), _r(0.2, "retry"), _r(150, "event", id="1")], duration=200)
    w = r.between(10, 110)
    assert w.connected_at_start and w.t0 == 10 and w.t_end == 110
    assert w.longest_silence(connected_only=True) == (100.0, 10.0)
    down = SseResult("s", "u", [_r(0.1, "connect"), _r(5, "disconnect"), _r(50, "connect", 2)], duration=60)
    assert not down.between(10, 40).connected_at_start
    assert down.between(10, 40).longest_silence(connected_only=True) == (0.0, 0.0)
