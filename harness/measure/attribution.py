"""Who answered each probed request, from the edge's access log: parsing Traefik's JSON lines, and
the per-second share of old and new pods.

The prober names every request with ``X-Harness-Probe: <probe id>-<seq>``
(:data:`harness.measure.prober.PROBE_HEADER`). The Traefik add-on writes one JSON line per request
to its stdout (its access log, ``--accesslog.format=json``, unbuffered) and keeps that header as the
field ``request_X-Harness-Probe`` (``--accesslog.fields.headers.names.X-Harness-Probe=keep``).
What a line holds, from Traefik v3.7's source (``pkg/middlewares/accesslog/logdata.go`` for the
names, ``logger.go`` for how they are written, ``pkg/server/service/service.go`` for where the
upstream is set):

* ``StartUTC``: when Traefik started handling the request, a Go ``time.Time`` in JSON (RFC 3339
  with up to nine fractional digits, ``Z``);
* ``ServiceAddr``: the ``host:port`` of the server Traefik last sent the request to (with the
  Ingress NGINX provider: a pod IP and target port from the Service's EndpointSlices; a retry to
  another server overwrites it, so it names the server that answered, or the last one tried);
  absent when Traefik answered by itself (``503`` "no available server", a redirect);
* ``ServiceURL``: the same server as a URL (``http://10.244.1.7:8080``);
* ``DownstreamStatus``: the status sent to the client; ``OriginStatus``: the upstream's (0 or
  absent when none answered); ``RetryAttempts``; ``Duration`` (nanoseconds); ``RequestHost``;
* ``request_<Header>``: a kept request header, its name in Go's canonical form
  (``textproto.CanonicalMIMEHeaderKey``), several values joined by ``,``.

Traefik's own log lines share the stream (plain text or JSON without these fields); they are
counted and skipped. Everything here is pure: lines in, records out.
"""
from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from harness.measure.prober import PROBE_HEADER

ACCESS_LOG_FIELDS = ("StartUTC", "Duration", "RouterName", "ServiceName", "ServiceURL", "ServiceAddr",
                     "RequestHost", "RequestMethod", "RequestPath", "DownstreamStatus", "OriginStatus",
                     "RetryAttempts")
"""The access-log fields the Traefik add-on keeps (harness/env/addons/charts/traefik/values.yaml ``accessLog.fields``);
the parser reads ``StartUTC``, ``ServiceAddr``/``ServiceURL``, ``DownstreamStatus``, ``OriginStatus``,
``RetryAttempts``, ``Duration`` and ``RequestHost``."""


def canonical_header(name: str) -> str:
    """Go's canonical form of a header name (``x-harness-probe`` -> ``X-Harness-Probe``), as Traefik
    writes it in ``request_<Header>``: the first letter and each letter after ``-`` upper case, the
    rest lower case (``net/textproto.CanonicalMIMEHeaderKey``)."""
    return "-".join(part[:1].upper() + part[1:].lower() for part in name.split("-"))


def header_field(header: str = PROBE_HEADER) -> str:
    """The access-log field holding a kept request header: ``request_X-Harness-Probe``."""
    return "request_" + canonical_header(header)


_TIME = re.compile(r"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$")


def parse_time(value: Any) -> float | None:
    """Epoch seconds of an RFC 3339 time as Go writes it (``2026-11-30T08:50:52.123456789Z``,
    ``...+01:00``, no fraction at all); None for anything else. Nanoseconds are kept to the
    microsecond (a float's precision is the limit anyway)."""
    if not isinstance(value, str):
        return None
    m = _TIME.match(value.strip())
    if not m:
        return None
    base, frac, zone = m.groups()
    try:
        when = dt.datetime.fromisoformat(base + ("+00:00" if zone == "Z" else zone))
    except ValueError:
        return None
    return when.timestamp() + (int(frac) / 10 ** len(frac) if frac else 0.0)


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    return None


def split_host_port(addr: str) -> tuple[str, int | None]:
    """``("10.244.1.7", 8080)`` from ``10.244.1.7:8080``; ``("fd00::7", 8080)`` from ``[fd00::7]:8080``;
    the bare address and None without a port."""
    addr = addr.strip()
    if addr.startswith("["):
        host, _, rest = addr[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else ""
        return host, int(port) if port.isdigit() else None
    if addr.count(":") == 1:
        host, _, port = addr.partition(":")
        return host, int(port) if port.isdigit() else None
    return addr, None


def _upstream(data: Mapping[str, Any]) -> str | None:
    addr = data.get("ServiceAddr")
    if isinstance(addr, str) and addr.strip() and addr.strip() != "-":
        return addr.strip()
    url = data.get("ServiceURL")
    if isinstance(url, str) and "://" in url:
        rest = url.split("://", 1)[1].split("/", 1)[0]
        return rest or None
    return None


@dataclass(frozen=True)
class EdgeRecord:
    """One probed request as the edge logged it.

    Attributes:
        seq: the prober's ticket (from ``request_X-Harness-Probe``).
        start: epoch seconds Traefik started handling it (``StartUTC``).
        upstream: ``ip:port`` it was sent to last (``ServiceAddr``), None when Traefik answered by itself.
        status: the status sent to the client (``DownstreamStatus``); origin_status: the upstream's
            (``OriginStatus``; None or 0 when no upstream answered).
        retries: ``RetryAttempts``. duration: seconds (``Duration``), None when absent. host: ``RequestHost``.
    """

    seq: int
    start: float
    upstream: str | None
    status: int | None = None
    origin_status: int | None = None
    retries: int = 0
    duration: float | None = None
    host: str = ""

    @property
    def upstream_ip(self) -> str | None:
        return split_host_port(self.upstream)[0] if self.upstream else None


@dataclass
class ParsedLog:
    """What :func:`parse_lines` made of a log.

    Attributes:
        records: ``{seq: EdgeRecord}`` of this probe run (the first line for a seq wins).
        lines: lines read; other: lines that were not this run's access-log lines (Traefik's own
            log, other runs' requests); malformed: this run's lines that could not be read
            (no usable ``StartUTC``, a seq that is not a number); duplicates: further lines for a seq.
    """

    records: dict[int, EdgeRecord] = field(default_factory=dict)
    lines: int = 0
    other: int = 0
    malformed: int = 0
    duplicates: int = 0


def parse_line(line: str, probe_id: str, header: str = PROBE_HEADER) -> EdgeRecord | None | bool:
    """One log line -> its :class:`EdgeRecord` when it is an access-log line of probe run ``probe_id``.

    Returns:
        the record; None when the line is not this run's (not JSON, no header field, another id);
        False when it is this run's but unreadable (see :attr:`ParsedLog.malformed`).
    """
    text = line.strip()
    if not text.startswith("{") or probe_id not in text:
        return None
    try:
        data = json.loads(text)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    value = data.get(header_field(header))
    if not isinstance(value, str):
        return None
    pid, _, seq_text = value.strip().rpartition("-")
    if pid != probe_id:
        return None
    start = parse_time(data.get("StartUTC"))
    if not seq_text.isdigit() or start is None:
        return False
    nanos = _int(data.get("Duration"))
    return EdgeRecord(int(seq_text), start, _upstream(data), _int(data.get("DownstreamStatus")),
                      _int(data.get("OriginStatus")), _int(data.get("RetryAttempts")) or 0,
                      None if nanos is None else nanos / 1e9, str(data.get("RequestHost") or ""))


def parse_lines(lines: Iterable[str], probe_id: str, header: str = PROBE_HEADER) -> ParsedLog:
    """Every line of an edge's log -> this probe run's records (see :class:`ParsedLog`)."""
    out = ParsedLog()
    for line in lines:
        out.lines += 1
        rec = parse_line(line, probe_id, header)
        if rec is None:
            out.other += 1
        elif rec is False:
            out.malformed += 1
        elif rec.seq in out.records:
            out.duplicates += 1
        else:
            out.records[rec.seq] = rec
    return out


# --------------------------------------------------------------------------- old/new over time

OLD, NEW = "old", "new"


@dataclass(frozen=True)
class ServedBucket:
    """One slot of :func:`served_series`: ``t`` (slot start, seconds since the prober started),
    requests answered by ``old`` and ``new`` pods and ``unattributed`` ones sent in the slot."""

    t: float
    old: int
    new: int
    unattributed: int

    @property
    def new_share(self) -> float | None:
        """new / (old + new); None when no request of the slot was attributed."""
        n = self.old + self.new
        return self.new / n if n else None


def served_series(points: Iterable[tuple[float, str | None]], bucket: float = 1.0) -> list[ServedBucket]:
    """Per ``bucket`` seconds, how many requests old and new pods served.

    Args:
        points: ``(t, side)`` per probed request: ``t`` seconds since the prober started, ``side``
            :data:`OLD`, :data:`NEW` or None (not attributed).
        bucket: slot width in seconds.

    Returns:
        one :class:`ServedBucket` per slot from the first request's to the last one's, empty slots
        included (so a gap shows), in time order; [] for no points.
    """
    counts: dict[int, list[int]] = {}
    for t, side in points:
        c = counts.setdefault(int(t // bucket), [0, 0, 0])
        c[0 if side == OLD else 1 if side == NEW else 2] += 1
    if not counts:
        return []
    return [ServedBucket(round(k * bucket, 6), *counts.get(k, [0, 0, 0]))
            for k in range(min(counts), max(counts) + 1)]


def served_spans(points: Sequence[tuple[float, str | None]]) -> str:
    """``"old 0.0-10.8 s, new 4.6-15.0 s"``: when old and new pods served first and last ("" for none)."""
    spans: dict[str, list[float]] = {}
    for t, side in points:
        if side in (OLD, NEW):
            span = spans.setdefault(side, [t, t])
            span[0], span[1] = min(span[0], t), max(span[1], t)
    return ", ".join(f"{side} {spans[side][0]:.1f}-{spans[side][1]:.1f} s" for side in (OLD, NEW) if side in spans)


def mixed_seconds(series: Sequence[ServedBucket], bucket: float = 1.0) -> float:
    """Seconds (slots x ``bucket``) in which both old and new pods served."""
    return round(sum(bucket for b in series if b.old and b.new), 3)
