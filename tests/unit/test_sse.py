"""harness.measure.sse: refused reconnects, the parser and the figures on synthetic input (the real demo
service: tests/integration/test_sse_service.py)."""
from __future__ import annotations

from support import free_port
from support import wait_until as _wait_until

from harness.measure.sse import (
    Record,
    SseClient,
    SseResult,
    iter_lines,
)


def wait_until(pred, timeout: float = 15.0) -> None:
    """Streams need a longer default budget than the prober's requests."""
    _wait_until(pred, timeout=timeout)


def test_refused_reconnects_are_failed_attempts():
    c = SseClient(f"http://127.0.0.1:{free_port()}/events", max_duration=10, max_attempts=3,
                  initial_reconnect=0.05, connect_timeout=1).start()
    wait_until(lambda: not c._thread.is_alive(), timeout=10)
    r = c.stop()
    assert len(r.failed_attempts) == 3 and r.stop_reason == "max attempts"
    assert r.connects == []


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


def test_a_stream_waiting_for_its_headers_is_waiting_not_connected():
    import socket
    import threading

    from harness.measure.sse import SseGroup

    # a server that accepts and never answers: what a buffering proxy looks like to the client
    srv = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        srv.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(srv.accept()[0])
            except OSError:
                continue

    t = threading.Thread(target=accept, daemon=True)
    t.start()
    try:
        g = SseGroup(2, f"http://127.0.0.1:{srv.getsockname()[1]}/events", max_duration=10, read_timeout=5).start()
        wait_until(lambda: all(c.waiting for c in g.clients), timeout=5)
        assert g.all_connected_or_waiting() and not g.all_connected()
        res = g.stop(timeout=0.5)
        assert [r.records[0].kind for r in res] == ["request", "request"] and all(not r.connects for r in res)
    finally:
        stop.set()
        t.join(2)
        for s in held:
            s.close()
        srv.close()
