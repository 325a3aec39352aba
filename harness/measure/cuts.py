"""Why a stream ended, told from the client's recording alone: idle timeout, total deadline or a
response held back by proxy buffering.

A proxy in front of a long-lived response can end it in three ways, and each leaves its own
trace in the times at which the client received bytes (:class:`harness.measure.sse.Record`):

* **idle timeout** (nginx's and Traefik's ``proxy-read-timeout``: a deadline on each read from the
  backend, reset by every byte): the stream goes quiet for N s and is cut at the end of the
  quiet. Every earlier gap between bytes was shorter than N (else it would have fired there), so
  the quiet before the cut is the longest the connection ever had.
* **total deadline** (Gateway API's HTTPRoute ``timeouts.request`` / ``timeouts.backendRequest``,
  "the maximum duration for a gateway to respond to an HTTP request", GEP-1742; ingress2gateway
  turns nginx's timeouts into one): the stream is cut a fixed time after the request started,
  whatever it is doing: bytes kept arriving at their usual pace until the cut.
* **proxy buffering** (``proxy-buffering: "on"``; Traefik's buffering middleware, vulcand/oxy's
  ``buffer.Buffer``, holds the status line, the headers and the body until the backend's response
  ends): nothing arrives for a long time after the request, then everything at once when the
  response ends; with a proxy that passes the headers and buffers the body, the events arrive in
  one burst at the close.

:func:`classify` turns one stream's recording into :class:`Cut` findings (pure: no I/O, no
clock), so every class is unit-tested on synthetic streams (tests/unit/test_cuts.py). Which
configured value fired is the scenario's business (:mod:`harness.scenario.deadlines`): this
module knows only what was measured.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

IDLE = "idle timeout"
TOTAL = "total deadline"
BUFFERING = "proxy buffering"

HELD_SECONDS = 10.0
"""A response whose first byte (status line and headers), or whose whole body, comes this long or
longer after the request was held back. Why 10 s: an event-stream server sends its headers at once
(EventSource fires ``open`` on them, HTML standard 9.2.3) and the demo service flushes them with
a ``retry:`` line within milliseconds; connecting through the edge on loopback takes milliseconds
too (the client's connect timeout is 5 s). 10 s is far above any scheduling delay of a loaded CI
host and far below the 60 s idle timeouts and the 120 s hold, so a held response is told apart
before any deadline could have fired."""

BURST_SECONDS = 0.5
"""Records that arrive within 0.5 s of the end of a connection arrived "at the close", in one
burst. A buffering proxy writes the held response in one go; the client parses it within
milliseconds. 0.5 s leaves room for the client's reader thread on a loaded host and is far
below the spacing of any stream's own bytes (the charts under test: heartbeats every 15 s)."""

MIN_QUIET_SECONDS = 1.0
"""A cut less than 1 s after the last byte is a cut while receiving, never an idle timeout: no
proxy's idle timeout is set below a second (nginx and Traefik take whole seconds)."""

QUIET_FACTOR = 1.5
"""How much longer than every earlier gap the final quiet must be for an idle timeout to be told
from a total deadline by the measurement alone.

An idle timeout's timer is reset by every byte, so it fires only on a gap longer than every gap it
let through: a final quiet no longer than the longest earlier gap (plus :data:`BURST_SECONDS` of
timing noise) rules it out, and the cut is a total deadline (cut while receiving at the stream's
usual pace). A longer final quiet is read as an idle timeout. A total deadline can still land late
in a long gap of a sparse stream (events 90 s apart), so when the quiet is not clearly longer,
over 1.5 x the longest earlier gap (heartbeat tickers keep their gaps within far less than 50 %
of each other), or when nothing came after the first bytes, the finding is marked ``alike`` and
the configured values decide (:mod:`harness.scenario.deadlines`)."""


@dataclass(frozen=True)
class Connection:
    """One connection of a stream, as the client saw it (seconds on the recording's clock).

    Attributes:
        stream: the stream's name; conn: its connection number (:attr:`Record.conn`).
        requested: when the request was sent (the ``request`` record; for a recording without
            one, the first thing seen of the connection).
        first_byte: when the status line and headers arrived (``connect``); None: never.
        body: when each event, comment or ``retry:`` line arrived, in order.
        ended: when the connection was cut (``disconnect``); None: still open at ``end``.
        cause: the client's cause of the cut (``end of stream``, ``ConnectionReset``...).
        end: where the recording (or window) ends.
    """

    stream: str
    conn: int
    requested: float
    first_byte: float | None
    body: tuple[float, ...]
    ended: float | None
    cause: str
    end: float


@dataclass(frozen=True)
class Cut:
    """A finding about one connection.

    Attributes:
        kind: :data:`IDLE`, :data:`TOTAL` or :data:`BUFFERING`.
        stream, conn: which connection.
        at: when it happened on the recording's clock (the cut; for a held response, when its
            first byte came, or the recording's end while it was still waiting).
        age: seconds from the request to ``at`` (what a total deadline measures).
        quiet: seconds without a byte before the cut (what an idle timeout measures).
        longest_gap: the longest gap between bytes before that final quiet (0: none).
        waited: seconds from the request to the first byte (None: it never came).
        records: events, comments and ``retry:`` lines the connection received.
        how: ``EOF``, ``reset``, ``error ChunkedEncodingError``, ``still waiting``...
        alike: read as an idle timeout, but a total deadline would leave the same trace: nothing
            came after the first bytes (the quiet is the connection's whole life), or the quiet is
            not over :data:`QUIET_FACTOR` x the longest earlier gap.
        held: for :data:`BUFFERING`, what was held: ``response`` (nothing for ``waited`` s, then the
            status line, headers, body and end at once), ``body`` (headers at once, the body in one
            burst at the close) or
            ``waiting`` (no answer yet at the recording's end); "" for a cut.
    """

    kind: str
    stream: str
    conn: int
    at: float
    age: float
    quiet: float
    longest_gap: float
    waited: float | None
    records: int
    how: str
    alike: bool = False
    held: str = ""


def how_cut(cause: str) -> str:
    """The client's cause of a disconnect as EOF, reset or error: ``end of stream`` -> ``EOF``
    (a clean end of the response), ``ConnectionReset`` -> ``reset``, anything else ->
    ``error <cause>`` (``ChunkedEncodingError``: the response stopped mid-body, how Traefik aborts a
    response whose backend read timed out)."""
    if cause == "end of stream":
        return "EOF"
    if cause == "ConnectionReset":
        return "reset"
    return f"error {cause}" if cause else "error"


def connections(result: Any) -> list[Connection]:
    """The connections of one stream (:class:`harness.measure.sse.SseResult` or a window of it),
    in order. Refused attempts (``attempt-failed``) are not connections.

    A window that starts with the stream open (``connected_at_start``) gets that connection with
    ``requested`` and ``first_byte`` at the window's start (its real start is outside the window).
    """
    by_conn: dict[int, dict[str, Any]] = {}
    order: list[int] = []
    for r in result.records:
        c = by_conn.get(r.conn)
        if c is None:
            c = by_conn[r.conn] = {"requested": None, "first": None, "body": [], "ended": None, "cause": "",
                                   "failed": False, "seen": r.t}
            order.append(r.conn)
        if r.kind == "request":
            c["requested"] = r.t
        elif r.kind == "connect":
            c["first"] = r.t
        elif r.kind in ("event", "comment", "retry"):
            c["body"].append(r.t)
        elif r.kind == "disconnect":
            c["ended"], c["cause"] = r.t, r.data
        elif r.kind == "attempt-failed":
            c["failed"] = True
    out = []
    for n, conn in enumerate(order):
        c = by_conn[conn]
        if c["failed"]:
            continue
        first = c["first"]
        if first is None and n == 0 and result.connected_at_start and c["requested"] is None:
            first = result.t0  # open before the window began
        requested = c["requested"] if c["requested"] is not None else (first if first is not None else c["seen"])
        out.append(Connection(result.name, conn, requested, first, tuple(c["body"]), c["ended"], c["cause"],
                              result.t_end))
    return out


def classify_connection(c: Connection) -> Cut | None:
    """What ended (or held back) one connection; None when nothing did (it was open and answered
    at the recording's end, or it was still waiting less than :data:`HELD_SECONDS`).

    Order: a held response first (its bytes all arrive at the close, so it would otherwise look like
    a cut while receiving), then a cut: idle timeout when the final quiet is at least
    :data:`MIN_QUIET_SECONDS` and longer than every earlier gap (by more than
    :data:`BURST_SECONDS`), total deadline otherwise; ``alike`` per :data:`QUIET_FACTOR`.
    """
    if c.first_byte is None:
        waiting = c.end - c.requested
        if c.ended is None and waiting >= HELD_SECONDS:
            return Cut(BUFFERING, c.stream, c.conn, c.end, round(waiting, 3), round(waiting, 3), 0.0, None,
                       len(c.body), "still waiting", held="waiting")
        return None
    waited = c.first_byte - c.requested
    last = c.body[-1] if c.body else c.first_byte
    if (waited >= HELD_SECONDS and c.ended is not None and c.ended - c.first_byte <= BURST_SECONDS
            and c.ended - last <= BURST_SECONDS):
        # the whole response (headers, body, end) at once after a long wait: held by the edge. A late
        # first byte followed by a normal stream is not (a slow answer: the reconnect checks judge it)
        return Cut(BUFFERING, c.stream, c.conn, c.first_byte, round(waited, 3), round(waited, 3), 0.0,
                   round(waited, 3), len(c.body), how_cut(c.cause), held="response")
    if c.ended is None:
        return None
    if (len(c.body) >= 2 and c.ended - c.first_byte >= HELD_SECONDS
            and all(c.ended - t <= BURST_SECONDS for t in c.body)):
        # headers passed at once, the body held until the close
        held = c.body[0] - c.first_byte
        return Cut(BUFFERING, c.stream, c.conn, c.ended, round(c.ended - c.requested, 3), round(held, 3), 0.0,
                   round(waited, 3), len(c.body), how_cut(c.cause), held="body")
    times = [c.first_byte, *c.body]
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    longest = max(gaps, default=0.0)
    quiet = c.ended - times[-1]
    age = c.ended - c.requested
    idle = quiet >= MIN_QUIET_SECONDS and quiet > longest + BURST_SECONDS
    alike = idle and (longest <= BURST_SECONDS or quiet <= QUIET_FACTOR * longest)
    return Cut(IDLE if idle else TOTAL, c.stream, c.conn, c.ended, round(age, 3), round(quiet, 3),
               round(longest, 3), round(waited, 3), len(c.body), how_cut(c.cause), alike)


def classify(result: Any, since: float = 0.0, until: float = math.inf) -> list[Cut]:
    """The findings of one stream whose moment (:attr:`Cut.at`) lies in ``[since, until)``.

    Args:
        result: a :class:`harness.measure.sse.SseResult` (the whole recording, so a connection that
            began before ``since`` is measured from its own request).
        since, until: seconds on the recording's clock.
    """
    out = []
    for c in connections(result):
        cut = classify_connection(c)
        if cut is not None and since <= cut.at < until:
            out.append(cut)
    return out
