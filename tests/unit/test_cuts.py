"""harness.measure.cuts on synthetic streams: each class (idle timeout, total deadline, proxy
buffering) is recognised, and a stream that only looks close to it is not."""
from __future__ import annotations

import pytest

from harness.measure.cuts import (
    BUFFERING,
    HELD_SECONDS,
    IDLE,
    TOTAL,
    classify,
    classify_connection,
    connections,
    how_cut,
)
from harness.measure.sse import Record, SseResult


def _stream(recs: list[tuple[float, str]], duration: float, cause: str = "end of stream", conn: int = 1) -> SseResult:
    return SseResult("stream-1", "u", [Record(t, 0, k, conn, None, cause if k == "disconnect" else "")
                                       for t, k in recs], duration)


def _beats(every: float, until: float, start: float = 0.0) -> list[tuple[float, str]]:
    """A request, its headers and a retry line at once, then a heartbeat every ``every`` s before ``until``."""
    out = [(start, "request"), (start + 0.01, "connect"), (start + 0.02, "retry")]
    t = start + 0.02 + every
    while t < until:
        out.append((t, "comment"))
        t += every
    return out


def _one(result: SseResult):
    cuts = classify(result)
    assert len(cuts) == 1, cuts
    return cuts[0]


# --------------------------------------------------------------------------- idle timeout


def test_a_stream_that_went_quiet_and_was_cut_is_an_idle_timeout():
    # heartbeats every 15 s until 45 s, then nothing; cut 60 s after the last one
    recs = [*_beats(15, 50), (105.02, "disconnect")]
    cut = _one(_stream(recs, 120, "ChunkedEncodingError"))
    assert (cut.kind, cut.quiet, cut.longest_gap, cut.how, cut.alike) == (IDLE, 60.0, 15.0,
                                                                          "error ChunkedEncodingError", False)
    assert cut.age == 105.02


def test_a_quiet_stream_without_heartbeat_is_an_idle_timeout_alike_a_total_deadline():
    cut = _one(_stream([(0, "request"), (0.01, "connect"), (0.02, "retry"), (60.02, "disconnect")], 70))
    assert (cut.kind, cut.quiet, cut.alike) == (IDLE, 60.0, True)


def test_a_sparse_stream_cut_60_s_after_its_event_is_still_an_idle_reading():
    # events 90 s apart: the first one came 45 s in, the cut 60 s later (longer than every earlier gap,
    # not 1.5 x longer: a total deadline of 105 s would look the same)
    cut = _one(_stream([(0, "request"), (0.01, "connect"), (45.0, "event"), (105.0, "disconnect")], 110))
    assert (cut.kind, cut.quiet, cut.longest_gap, cut.alike) == (IDLE, 60.0, 44.99, True)


def test_a_quiet_no_longer_than_an_earlier_gap_is_not_an_idle_timeout():
    # heartbeats every 15 s, cut 10 s after the last: an idle timeout of 10 s would have fired at 15 s
    cut = _one(_stream([*_beats(15, 50), (55.02, "disconnect")], 60))
    assert cut.kind == TOTAL and cut.quiet == 10.0


# --------------------------------------------------------------------------- total deadline


def test_a_stream_cut_while_receiving_is_a_total_deadline():
    cut = _one(_stream([*_beats(5, 30), (30.0, "disconnect")], 40))
    assert (cut.kind, cut.age, cut.longest_gap, cut.how) == (TOTAL, 30.0, 5.0, "EOF")
    assert cut.quiet < 5.0 and not cut.alike


def test_a_stream_cut_after_a_long_quiet_is_not_a_total_deadline():
    # same rhythm, but 20 s of quiet before the cut: longer than any earlier gap
    cut = _one(_stream([*_beats(5, 11), (30.02, "disconnect")], 40))
    assert cut.kind == IDLE and cut.quiet == 20.0


def test_a_cut_right_after_a_byte_is_a_total_deadline_even_without_earlier_gaps():
    cut = _one(_stream([(0, "request"), (0.01, "connect"), (0.3, "disconnect")], 5, "ConnectionReset"))
    assert (cut.kind, cut.how) == (TOTAL, "reset")


# --------------------------------------------------------------------------- proxy buffering


def test_headers_held_until_the_close_are_proxy_buffering():
    recs = [(0, "request"), (150.0, "connect"), *[(150.01, "comment")] * 9, (150.02, "disconnect")]
    cut = _one(_stream(recs, 160))
    assert (cut.kind, cut.waited, cut.records, cut.how, cut.at) == (BUFFERING, 150.0, 10 - 1, "EOF", 150.0)


def test_a_request_still_unanswered_after_the_bound_is_proxy_buffering():
    cut = _one(_stream([(3.0, "request")], 3.0 + HELD_SECONDS + 5))
    assert (cut.kind, cut.waited, cut.age, cut.how) == (BUFFERING, None, HELD_SECONDS + 5, "still waiting")


def test_a_late_first_byte_followed_by_a_normal_stream_is_not_proxy_buffering():
    # an edge retrying a dead pod for 15 s, then a stream with heartbeats: a slow answer, not a held one
    recs = [(0, "request"), (15.0, "connect"), (15.01, "retry"), (30.01, "comment"), (45.01, "comment")]
    assert classify(_stream(recs, 50)) == []
    cut = _one(_stream([*recs, (46.0, "disconnect")], 50))
    assert cut.kind == TOTAL and cut.waited == 15.0
    # headers and a burst after a long wait, but the response goes on: not held either
    assert classify(_stream([(0, "request"), (20.0, "connect"), (20.01, "retry")], 60)) == []


def test_a_short_wait_or_a_prompt_answer_is_not_proxy_buffering():
    assert classify(_stream([(3.0, "request")], 3.0 + HELD_SECONDS - 1)) == []  # not held long enough yet
    assert classify(_stream([(0, "request"), (0.05, "connect"), (0.06, "retry")], 200)) == []  # open, answered


def test_a_body_held_until_the_close_is_proxy_buffering():
    # headers at once (a proxy that passes them), then every event in one burst at the close
    recs = [(0, "request"), (0.01, "connect"), (99.8, "event"), (99.85, "event"), (99.9, "comment"),
            (100.0, "disconnect")]
    cut = _one(_stream(recs, 110))
    assert (cut.kind, cut.records, cut.quiet) == (BUFFERING, 3, 99.79)


def test_one_late_event_before_a_cut_is_not_a_burst():
    cut = _one(_stream([(0, "request"), (0.01, "connect"), (99.8, "event"), (100.0, "disconnect")], 110))
    assert cut.kind == TOTAL


# --------------------------------------------------------------------------- connections


def test_connections_skip_refused_attempts_and_measure_from_each_request():
    recs = [Record(0, 0, "request", 1), Record(0.01, 0, "connect", 1), Record(60.0, 0, "disconnect", 1, None, "x"),
            Record(61, 0, "request", 2), Record(61.01, 0, "attempt-failed", 2, None, "HTTP 503"),
            Record(64, 0, "request", 3), Record(64.02, 0, "connect", 3), Record(70, 0, "event", 3)]
    cs = connections(SseResult("s", "u", recs, 80))
    assert [(c.conn, c.requested, c.first_byte, c.body, c.ended, c.end) for c in cs] == [
        (1, 0, 0.01, (), 60.0, 80), (3, 64, 64.02, (70,), None, 80)]


def test_a_window_that_starts_open_measures_from_the_window():
    full = _stream([*_beats(15, 50), (105.02, "disconnect")], 120)
    window = full.between(30, 120)
    (c,) = connections(window)
    assert (c.requested, c.first_byte) == (30, 30)
    assert classify(window)[0].kind == IDLE
    assert classify(full, since=30, until=100) == [] and len(classify(full, since=100)) == 1


@pytest.mark.parametrize("cause, how", [("end of stream", "EOF"), ("ConnectionReset", "reset"),
                                        ("ChunkedEncodingError", "error ChunkedEncodingError"), ("", "error")])
def test_how_a_stream_was_cut(cause, how):
    assert how_cut(cause) == how


def test_an_open_answered_connection_is_no_finding():
    (c,) = connections(_stream(_beats(15, 100), 100))
    assert classify_connection(c) is None
