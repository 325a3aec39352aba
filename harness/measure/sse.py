"""A server-sent-events client that behaves like a browser's ``EventSource`` and records everything.

Why not a library: launchdarkly-eventsource (maintained, exposes comments and Last-Event-ID) ignores
``retry:`` in its synchronous client (its reader gets no retry callback) and hides when each
reconnect attempt happens; sseclient / sseclient-py drop comment lines, so heartbeats would be
invisible. What a scenario needs is small: the event-stream parser of the HTML standard
(https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation) over
``requests``' streamed body, plus timestamps.

Behaviour (as ``EventSource``):

* ``Accept: text/event-stream``, ``Cache-Control: no-cache``; after the first event with an id,
  every reconnect sends ``Last-Event-ID``.
* A stream that ends (cleanly or with an error) is reconnected after the current reconnection
  time: 3 s initially, replaced by each ``retry: <ms>`` field the server sends.
* A reconnect answered with a non-200 status or another content type is recorded as a *failed
  attempt* (a browser would give up for good here; the client keeps trying, bounded, so the
  scenario can report how long the stream stayed away).

Everything is recorded with seconds-since-start and wall-clock stamps (:class:`Record`): requests sent, connects,
events (id, data), comments (``: heartbeat``), ``retry:`` values, disconnects with their cause, and
failed attempts. :class:`SseResult` computes ids received, gaps, duplicates, disconnects, the
longest silent interval and reconnect latencies.

Bounds: ``max_duration`` seconds overall (a watchdog closes the connection at the deadline, so a
blocked read never outlives it), ``max_attempts`` connection attempts, and a per-read timeout.
"""
from __future__ import annotations

import itertools
import json
import math
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Self

import requests

DEFAULT_RECONNECT = 3.0  # seconds; the HTML standard leaves it to the user agent, browsers use ~3 s


@dataclass(frozen=True)
class Record:
    """One thing that happened on a stream.

    Attributes:
        t: seconds since the client started; wall: ``time.time()``.
        kind: ``request`` (a connection attempt is sent), ``connect`` (its status line and headers
            arrived: the response's first bytes), ``event``, ``comment``, ``retry``, ``disconnect``
            or ``attempt-failed``.
        conn: connection number (1 for the first connection; attempts count too).
        id: the event's id (``event``), as sent.
        data: event data, comment text, retry milliseconds, or the cause of a disconnect/failure.
        event: the event type (``event``).
    """

    t: float
    wall: float
    kind: str
    conn: int
    id: str | None = None
    data: str = ""
    event: str = ""


def _int_id(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


@dataclass
class SseResult:
    """The recording of one stream and what follows from it.

    Attributes:
        name, url: which stream; records: everything in order; duration: seconds recorded;
        stop_reason: ``stopped``, ``max duration`` or ``max attempts``; started_wall: wall clock at start.
    """

    name: str
    url: str
    records: list[Record]
    duration: float
    started_wall: float = 0.0
    stop_reason: str = "stopped"
    marks: list[tuple[float, str]] = field(default_factory=list)
    t0: float = 0.0
    connected_at_start: bool = False

    @property
    def t_end(self) -> float:
        """Where the recording (or window) ends, in the same seconds as the records' ``t``."""
        return self.t0 + self.duration

    def of(self, kind: str) -> list[Record]:
        return [r for r in self.records if r.kind == kind]

    def between(self, t0: float = 0.0, t1: float = float("inf")) -> SseResult:
        """The records with ``t0 <= t < t1``, remembering whether the stream was open at ``t0``
        (so a silence that began before the window is measured from the window's start)."""
        t0 = max(t0, self.t0)
        end = min(t1, self.t_end)
        connected = self.connected_at_start
        for r in self.records:
            if r.t >= t0:
                break
            if r.kind == "connect":
                connected = True
            elif r.kind in ("disconnect", "attempt-failed"):
                connected = False
        return SseResult(self.name, self.url, [r for r in self.records if t0 <= r.t < t1],
                         max(0.0, end - t0), self.started_wall, self.stop_reason,
                         [m for m in self.marks if t0 <= m[0] < t1], t0, connected)

    # -- events and ids

    @property
    def events(self) -> list[Record]:
        return self.of("event")

    @property
    def ids(self) -> list[int]:
        """Numeric event ids in arrival order (non-numeric ids are left out)."""
        return [i for i in (_int_id(r.id) for r in self.events) if i is not None]

    def duplicates(self) -> list[int]:
        """Ids received more than once."""
        return sorted(i for i, n in Counter(self.ids).items() if n > 1)

    def out_of_order(self) -> list[tuple[int, int]]:
        """``(previous, id)`` pairs where an id is smaller than the one before it (duplicates excluded)."""
        ids = self.ids
        return [(a, b) for a, b in itertools.pairwise(ids) if b < a]

    def gaps(self) -> list[tuple[int, int]]:
        """Missed id ranges ``(first missing, last missing)`` between consecutive received ids."""
        ids = self.ids
        return [(a + 1, b - 1) for a, b in itertools.pairwise(ids) if b > a + 1]

    def gaps_at_reconnect(self) -> list[tuple[int, int]]:
        """Missed id ranges across a reconnect: between the last id of one connection and the first
        id of the next. This is what ``Last-Event-ID`` must prevent; a jump *within* one
        connection is the server's own numbering (e.g. a sequence with holes)."""
        out: list[tuple[int, int]] = []
        last: int | None = None
        last_conn: int | None = None
        for r in self.events:
            i = _int_id(r.id)
            if i is None:
                continue
            if last is not None and r.conn != last_conn and i > last + 1:
                out.append((last + 1, i - 1))
            last, last_conn = i, r.conn
        return out

    def missed_count(self, gaps: list[tuple[int, int]] | None = None) -> int:
        return sum(b - a + 1 for a, b in (self.gaps() if gaps is None else gaps))

    # -- connections

    @property
    def connects(self) -> list[Record]:
        return self.of("connect")

    @property
    def disconnects(self) -> list[Record]:
        return self.of("disconnect")

    @property
    def failed_attempts(self) -> list[Record]:
        return self.of("attempt-failed")

    def reconnect_latencies(self) -> list[float | None]:
        """For each disconnect, seconds until the next successful connect (None: never reconnected
        within the recording)."""
        out: list[float | None] = []
        for d in self.disconnects:
            nxt = next((c for c in self.connects if c.t >= d.t), None)
            out.append(None if nxt is None else round(nxt.t - d.t, 3))
        return out

    def longest_silence(self, *, connected_only: bool = False, uncut_only: bool = False) -> tuple[float, float]:
        """The longest interval without any byte-carrying record (connect, event, comment, retry),
        counting from the start and up to the end of the recording: ``(seconds, starting at t)``.

        With ``connected_only``, intervals are cut at disconnects (silence of an open stream, what
        a proxy's read timeout measures). With ``uncut_only`` (implies ``connected_only``), a
        silence that ended in a disconnect is left out: that one is judged as a cut
        (:mod:`harness.measure.cuts`), not as a silence the stream survived."""
        connected_only = connected_only or uncut_only
        marks = [self.t0] if (not connected_only or self.connected_at_start) else []
        for r in self.records:
            if r.kind in ("connect", "event", "comment", "retry"):
                marks.append(r.t)
            elif r.kind == "disconnect" and connected_only:
                if not uncut_only:
                    marks.append(r.t)
                marks.append(float("nan"))  # cut
        marks.append(self.t_end)
        best = (0.0, 0.0)
        prev: float | None = None
        for m in marks:
            if math.isnan(m):  # the stream was down until the next connect
                prev = None
                continue
            if prev is not None and m - prev > best[0]:
                best = (round(m - prev, 3), round(prev, 3))
            prev = m
        return best

    def figures(self, prefix: str = "sse") -> dict[str, Any]:
        lat = [x for x in self.reconnect_latencies() if x is not None]
        silence, _ = self.longest_silence(connected_only=True)
        return {
            f"{prefix}_events": len(self.events),
            f"{prefix}_heartbeats": len(self.of("comment")),
            f"{prefix}_disconnects": len(self.disconnects),
            f"{prefix}_failed_attempts": len(self.failed_attempts),
            f"{prefix}_gaps": len(self.gaps_at_reconnect()),
            f"{prefix}_missed_ids": self.missed_count(self.gaps_at_reconnect()),
            f"{prefix}_duplicates": len(self.duplicates()),
            f"{prefix}_longest_silence_s": silence,
            f"{prefix}_max_reconnect_s": max(lat) if lat else None,
        }

    def describe_disconnects(self, limit: int = 3) -> str:
        """``"at 61.2 s (end of stream), at 122.4 s (ChunkedEncodingError)"``."""
        ds = self.disconnects
        text = ", ".join(f"at {d.t:.1f} s ({d.data})" for d in ds[:limit])
        return text + (f" (+{len(ds) - limit} more)" if len(ds) > limit else "")

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "url": self.url, "duration": self.duration, "stop_reason": self.stop_reason,
                "started_wall": self.started_wall, "marks": self.marks,
                "records": [r.__dict__ for r in self.records]}


def iter_lines(chunks: Iterator[bytes]) -> Iterator[str]:
    """Split a byte stream into lines ending in CRLF, LF or CR (the event-stream line rule), as text."""
    buf = b""
    pending_cr = False
    for chunk in chunks:
        if not chunk:
            continue
        if pending_cr and chunk[:1] == b"\n":
            chunk = chunk[1:]
        pending_cr = False
        buf += chunk
        while True:
            i_n, i_r = buf.find(b"\n"), buf.find(b"\r")
            cands = [i for i in (i_n, i_r) if i >= 0]
            if not cands:
                break
            i = min(cands)
            line, sep = buf[:i], buf[i:i + 1]
            if sep == b"\r":
                if i + 1 < len(buf):
                    rest = buf[i + 2:] if buf[i + 1:i + 2] == b"\n" else buf[i + 1:]
                else:
                    rest = b""
                    pending_cr = True
            else:
                rest = buf[i + 1:]
            buf = rest
            yield line.decode("utf-8", errors="replace")


class SseClient:
    """One ``EventSource``-like stream in a background thread; see the module docstring.

    Args:
        url: e.g. ``http://127.0.0.1:18080/events``.
        host: ``Host`` header (the chart's ingress host).
        name: label for reports (``stream-1``).
        max_duration: seconds after which the client stops by itself.
        max_attempts: connection attempts after which it stops by itself.
        connect_timeout: per connection attempt.
        read_timeout: longest wait for the next bytes of an open stream before the client gives up
            on it (recorded as a disconnect ``ReadTimeout``); default: ``max_duration``.
        initial_reconnect: reconnection time until the server sends ``retry:``.
        session_factory: returns a ``requests.Session``-like object (TLS adapters, tests).
        verify: TLS verification (CA bundle path or True).
        on_record: called with every :class:`Record` (from the client's thread).
    """

    def __init__(self, url: str, *, host: str | None = None, name: str = "stream", max_duration: float = 300.0,
                 max_attempts: int = 200, connect_timeout: float = 5.0, read_timeout: float | None = None,
                 initial_reconnect: float = DEFAULT_RECONNECT, session_factory: Callable[[], Any] | None = None,
                 verify: bool | str = True, on_record: Callable[[Record], None] | None = None,
                 clock: Callable[[], float] = time.monotonic, wall: Callable[[], float] = time.time):
        self.url = url
        self.host = host
        self.name = name
        self.max_duration = max_duration
        self.max_attempts = max_attempts
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout if read_timeout is not None else max_duration
        self.reconnect = initial_reconnect
        self.verify = verify
        self.on_record = on_record
        self._session_factory = session_factory
        self._clock = clock
        self._wall = wall
        self._lock = threading.Lock()
        self._records: list[Record] = []
        self._marks: list[tuple[float, str]] = []
        self._stop = threading.Event()
        self._resp: Any = None
        self._thread: threading.Thread | None = None
        self._watchdog: threading.Thread | None = None
        self._t0 = 0.0
        self._wall0 = 0.0
        self._stop_reason = "stopped"
        self.last_event_id: str | None = None
        self._result: SseResult | None = None
        self._end = 0.0

    # -- lifecycle

    def start(self) -> SseClient:
        if self._thread is not None:
            raise RuntimeError("client already started")
        self._t0 = self._clock()
        self._wall0 = self._wall()
        self._thread = threading.Thread(target=self._run, name=f"sse-{self.name}", daemon=True)
        self._thread.start()
        self._watchdog = threading.Thread(target=self._watch, name=f"sse-{self.name}-watchdog", daemon=True)
        self._watchdog.start()
        return self

    def mark(self, label: str) -> None:
        with self._lock:
            self._marks.append((round(self._clock() - self._t0, 4), label))

    def stop(self, timeout: float = 10.0) -> SseResult:
        """Close the stream and return the recording (safe to call twice)."""
        if self._result is not None:
            return self._result
        self._stop.set()
        self._close_response()
        if self._thread is not None:
            self._thread.join(timeout)
        self._end = self._clock()
        return self._finish()

    def _finish(self) -> SseResult:
        with self._lock:
            records = list(self._records)
            marks = list(self._marks)
        self._result = SseResult(self.name, self.url, records, round((self._end or self._clock()) - self._t0, 4),
                                 self._wall0, self._stop_reason, marks)
        return self._result

    def snapshot(self) -> SseResult:
        """The recording so far (duration = now), without stopping."""
        with self._lock:
            records = list(self._records)
            marks = list(self._marks)
        return SseResult(self.name, self.url, records, round(self._clock() - self._t0, 4), self._wall0,
                         "running", marks)

    @property
    def connected(self) -> bool:
        return self._last_state() == "connect"

    @property
    def waiting(self) -> bool:
        """A request is out and no answer (status line and headers) has come back yet."""
        return self._last_state() == "request"

    def _last_state(self) -> str:
        with self._lock:
            for r in reversed(self._records):
                if r.kind in ("request", "connect", "disconnect", "attempt-failed"):
                    return r.kind
        return ""

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- internals

    def _record(self, kind: str, conn: int, *, id: str | None = None, data: str = "", event: str = "") -> None:
        r = Record(round(self._clock() - self._t0, 4), self._wall(), kind, conn, id, data, event)
        with self._lock:
            self._records.append(r)
        if self.on_record is not None:
            try:
                self.on_record(r)
            except Exception:  # noqa: BLE001, S110 - a callback must not kill the stream
                pass

    def _close_response(self) -> None:
        resp = self._resp
        if resp is None:
            return
        raw = getattr(resp, "raw", None)
        try:
            if raw is not None and hasattr(raw, "shutdown"):
                raw.shutdown()  # urllib3 >= 2.3: wakes a blocked read at once
        except Exception:  # noqa: BLE001, S110 - closing is best effort
            pass
        try:
            resp.close()
        except Exception:  # noqa: BLE001, S110 - closing is best effort
            pass

    def _watch(self) -> None:
        if not self._stop.wait(self.max_duration):
            self._stop_reason = "max duration"
            self._stop.set()
            self._close_response()

    def _new_session(self) -> Any:
        if self._session_factory is not None:
            return self._session_factory()

        s = requests.Session()
        s.trust_env = False
        return s

    def _sleep(self, seconds: float) -> None:
        deadline = self._t0 + self.max_duration
        self._stop.wait(max(0.0, min(seconds, deadline - self._clock())))

    def _run(self) -> None:

        session = self._new_session()
        attempts = 0
        try:
            while not self._stop.is_set():
                if attempts >= self.max_attempts:
                    self._stop_reason = "max attempts"
                    break
                attempts += 1
                headers = {"Accept": "text/event-stream", "Cache-Control": "no-cache"}
                if self.host:
                    headers["Host"] = self.host
                if self.last_event_id:
                    headers["Last-Event-ID"] = self.last_event_id
                # when the request left: a response held back by a buffering proxy shows as a long
                # wait from here to the connect (harness.measure.cuts)
                self._record("request", attempts)
                try:
                    resp = session.get(self.url, headers=headers, stream=True, allow_redirects=False,
                                       timeout=(self.connect_timeout, self.read_timeout), verify=self.verify)
                except requests.RequestException as exc:
                    if self._stop.is_set():
                        break
                    self._record("attempt-failed", attempts, data=type(exc).__name__)
                    self._sleep(self.reconnect)
                    continue
                ctype = resp.headers.get("Content-Type", "")
                if resp.status_code != 200 or not ctype.startswith("text/event-stream"):
                    cause = f"HTTP {resp.status_code}" if resp.status_code != 200 else f"Content-Type {ctype!r}"
                    resp.close()
                    self._record("attempt-failed", attempts, data=cause)
                    self._sleep(self.reconnect)
                    continue
                self._resp = resp
                self._record("connect", attempts, data=resp.headers.get("X-Pod", "") or "")
                cause = self._read(resp, attempts)
                self._resp = None
                resp.close()
                if self._stop.is_set():
                    break
                self._record("disconnect", attempts, data=cause)
                self._sleep(self.reconnect)
        finally:
            try:
                session.close()
            except Exception:  # noqa: BLE001, S110 - closing is best effort
                pass

    def _read(self, resp: Any, conn: int) -> str:
        """Parse one open stream until it ends; returns the cause (``end of stream`` or an error class)."""
        data: list[str] = []
        event_type = ""
        id_buffer: str | None = self.last_event_id
        try:
            for line in iter_lines(resp.iter_content(chunk_size=None)):
                if self._stop.is_set():
                    return "stopped"
                if line == "":
                    # dispatch (HTML standard: the last event id is set even when data is empty)
                    self.last_event_id = id_buffer
                    if data:
                        self._record("event", conn, id=id_buffer, data="\n".join(data), event=event_type or "message")
                    data, event_type = [], ""
                    continue
                if line.startswith(":"):
                    self._record("comment", conn, data=line[1:].strip())
                    continue
                name, _, value = line.partition(":")
                value = value.removeprefix(" ")
                if name == "data":
                    data.append(value)
                elif name == "event":
                    event_type = value
                elif name == "id" and "\x00" not in value:
                    id_buffer = value
                elif name == "retry" and value.isdigit():
                    self.reconnect = int(value) / 1000.0
                    self._record("retry", conn, data=value)
            return "end of stream"
        except Exception as exc:  # noqa: BLE001 - every way a stream can break is a recorded cause
            if self._stop.is_set():
                return "stopped"
            return _cause(exc)


def _cause(exc: BaseException) -> str:
    name = type(exc).__name__
    text = repr(exc)
    if "Read timed out" in text or "ReadTimeout" in name:
        return "ReadTimeout"
    if "Connection reset" in text:
        return "ConnectionReset"
    if "IncompleteRead" in text or "InvalidChunkLength" in text:
        return "ChunkedEncodingError"
    return name


def event_data(record: Record) -> dict[str, Any]:
    """An event's data as JSON (the demo service sends ``{"id", "pod", "version"}``), else ``{}``."""
    try:
        d = json.loads(record.data)
        return d if isinstance(d, dict) else {}
    except ValueError:
        return {}


class SseGroup:
    """Several streams to the same URL, started and stopped together (``name`` = ``stream-<n>``)."""

    def __init__(self, count: int, url: str, **kwargs: Any):
        self.clients = [SseClient(url, name=f"stream-{i + 1}", **kwargs) for i in range(count)]

    def start(self) -> SseGroup:
        for c in self.clients:
            c.start()
        return self

    def mark(self, label: str) -> None:
        for c in self.clients:
            c.mark(label)

    def stop(self, timeout: float = 10.0) -> list[SseResult]:
        """Stop every stream; ``timeout`` seconds in all (not per stream) for their threads to end.
        A stream still waiting for its response headers (held back by a buffering proxy) cannot be
        woken: its daemon thread ends at the client's read timeout, the recording ends now."""
        for c in self.clients:
            c._stop.set()
            c._close_response()
        deadline = time.monotonic() + timeout
        return [c.stop(max(0.0, deadline - time.monotonic())) for c in self.clients]

    def snapshots(self) -> list[SseResult]:
        return [c.snapshot() for c in self.clients]

    def all_connected(self) -> bool:
        return all(c.connected for c in self.clients)

    def all_connected_or_waiting(self) -> bool:
        """Every stream is open, or still waiting for the answer to its first request (none was
        refused or failed: a stream between failed attempts is not waiting for an answer)."""
        return all(c.connected or (c.waiting and not c.snapshot().failed_attempts) for c in self.clients)
