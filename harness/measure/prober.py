"""Availability prober: a bounded background load of requests through the ingress, recorded one by one.

Like Kubernetes' own upgrade e2e tests (ServiceUpgradeTest hits the Service continuously while the
disruption runs), a scenario starts a :class:`Prober` before it disrupts the release and stops it
afterwards::

    with Prober("http://127.0.0.1:18080", "/slow?ms=250", host="ha-service.test") as prober:
        prober.mark("upgrade started")
        helm.upgrade(...)
        prober.mark("upgrade done")
    result = prober.result           # ProbeResult: success ratio, longest outage, p50/p99, versions
    result.write_csv(dir / "probe.csv"); plots.probe_timeline(result, dir / "probe.png")

How it sends: a scheduler thread issues one ticket every ``1/rate`` seconds; ``concurrency``
worker threads (each with its own ``requests.Session``, as sessions are not thread-safe) take
tickets and send the request, so a slow path (``/slow?ms=250``) keeps several requests in flight
at the fixed rate. When every worker is busy, the ticket is recorded as *skipped* (the prober
could not keep up) rather than silently delayed: skipped tickets are not failures of the chart,
but they are reported, because they mean the measurement was thinner than asked for.

Bounds: ``max_duration`` seconds and ``max_requests`` tickets, whichever comes first, and every
request has a connect and a read timeout. Traffic goes where ``base_url`` points (the harness
passes ``http://127.0.0.1:<ingress port>``); the ``Host`` header selects the chart's Ingress rule.

What one request records (:class:`Sample`): when it started (seconds since the prober started,
and wall-clock time), the status or the error class (``ConnectionError``, ``ReadTimeout``,
``ChunkedEncodingError``: a response cut after its headers...), the latency, and which
version/pod answered. The version comes from ``version_from`` when the caller gives one (the
scenarios pass the contract's ``versionFrom``, and nothing when the contract declares none); a
prober without it guesses, from a JSON body's ``version`` key or ``X-Version`` style headers. The
pod comes from a JSON body's ``pod`` key (the demo service's ``/`` and ``/slow``) or ``X-Pod``
style headers.

Every request carries ``X-Harness-Probe: <probe id>-<seq>`` (:data:`PROBE_HEADER`), a value unique
to this prober run and ticket, so the edge's access log line for it can be found without the
application's help (:mod:`harness.measure.attribution`).
"""
from __future__ import annotations

import csv
import json
import math
import queue
import secrets
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Self

import requests
from requests.adapters import HTTPAdapter

VERSION_HEADERS = ("x-version", "x-app-version", "x-service-version")
POD_HEADERS = ("x-pod", "x-pod-name", "x-served-by", "x-backend")
INGRESS_503_BODY_MAX = 4096
VERSION_BODY_MAX = 65536  # how much of a body a version_from extractor sees (an HTML page's footer)
PROBE_HEADER = "X-Harness-Probe"
"""The request header naming each probed request (``<probe id>-<seq>``); the Traefik add-on keeps it
in its access log as ``request_X-Harness-Probe`` (harness/env/addons/charts/traefik/values.yaml ``accessLog``)."""


def new_probe_id() -> str:
    """A fresh probe id: 8 hex digits, so one run's requests are told from every other run's in a
    shared edge's log."""
    return secrets.token_hex(4)


def probe_header_value(probe_id: str, seq: int) -> str:
    """``<probe id>-<seq>``: the :data:`PROBE_HEADER` value of ticket ``seq``."""
    return f"{probe_id}-{seq}"


@dataclass(frozen=True)
class Sample:
    """One request.

    Attributes:
        seq: ticket number (0-based, in send order).
        t: seconds from the prober's start to when the scheduler issued its ticket (the send follows
            at once unless every worker is busy: :attr:`late` tells; :func:`ticket_lag` relies on it).
        wall: ``time.time()`` when the ticket was issued (to line up with Kubernetes timestamps).
        latency: seconds until the whole body was read, or until the error.
        status: HTTP status, or None when no response arrived.
        error: None for an expected status; else the error class (``ConnectionError``,
            ``ReadTimeout``...) or ``HTTP <status>`` for an unexpected status; ``skipped`` when
            every worker was busy (not sent at all).
        version, pod: who answered, when the response said so.
        phase: the last :meth:`Prober.mark` label before the request was sent ("" before any).
        source: for non-2xx answers: ``app`` when the body is the service's JSON, ``proxy`` when
            it is not (an ingress controller's own error page, e.g. "no available server").
        late: seconds the send was later than its slot on the schedule (``seq / rate`` after the
            start): the worker's send time minus the scheduled time, the prober's own timing error
            (a busy machine wakes the scheduler late, or every worker was still busy). None for a
            skipped ticket and for samples built by hand.
    """

    seq: int
    t: float
    wall: float
    latency: float
    status: int | None
    error: str | None
    version: str | None = None
    pod: str | None = None
    phase: str = ""
    source: str = ""
    late: float | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def skipped(self) -> bool:
        return self.error == "skipped"


@dataclass(frozen=True)
class Mark:
    """A phase marker: ``t`` seconds after the start, ``wall`` clock time, ``label``."""

    t: float
    wall: float
    label: str


LATE_SEND_BOUND = 0.5
"""Seconds a send may lag its slot before it counts as late (:func:`send_lateness`). The scenarios'
outage figures have a resolution of about a second (a readiness probe's period is 1-10 s, a longest
failure run is read in seconds), so a send half a second off its slot may have missed what the chart
did in that half second: the gap is then the machine's, not the chart's. Ordinary thread wake-up
jitter is milliseconds, far below it. The verdicts use it through :func:`sent_late_by_harness`: a
failed request whose ticket the scheduler issued more than this late is the machine's, not the chart's."""


def percentile(values: Sequence[float], p: float) -> float | None:
    """The ``p``-th percentile (0..100) by linear interpolation between closest ranks; None if empty."""
    if not values:
        return None
    s = sorted(values)
    if len(s) == 1:
        return s[0]
    k = (len(s) - 1) * p / 100.0
    lo, hi = math.floor(k), math.ceil(k)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def send_lateness(lates: Iterable[float | None], bound: float = LATE_SEND_BOUND,
                  prefix: str = "probe") -> dict[str, Any]:
    """The prober's own timing error over its sends, as figures.

    Args:
        lates: :attr:`Sample.late` of each request, seconds (None: not sent or not known, left out).
        bound: seconds a send may lag before it counts as late (default :data:`LATE_SEND_BOUND`).
        prefix: the figure names' prefix.

    Returns:
        ``{<prefix>_late_sends_count: sends late by more than bound, <prefix>_send_late_max_s,
        <prefix>_send_late_p99_s: seconds (None when no send has a lateness),
        <prefix>_late_send_bound_s: bound}``. A negative lateness (a send a hair before its slot,
        clock rounding) counts as 0.
    """
    known = [max(0.0, x) for x in lates if x is not None]
    p99 = percentile(known, 99)
    return {
        f"{prefix}_late_sends_count": sum(1 for x in known if x > bound),
        f"{prefix}_send_late_max_s": round(max(known), 4) if known else None,
        f"{prefix}_send_late_p99_s": None if p99 is None else round(p99, 4),
        f"{prefix}_late_send_bound_s": bound,
    }


def ticket_lag(sample: Sample, rate: float | None) -> float | None:
    """Seconds the scheduler issued ``sample``'s ticket after its slot: ``t - seq / rate``, at least 0.

    This is the part of :attr:`Sample.late` only the harness can cause: the scheduler thread never
    waits for a worker (a ticket no worker can take is recorded as skipped), so its lag is the
    machine not waking it on time. The rest of ``late`` is the ticket's wait for a free worker,
    which a slow or hanging chart causes by holding every worker (so it never excuses a failure).

    Args:
        sample: a sent or skipped ticket (``t``: seconds since the start when it was issued).
        rate: the prober's requests per second (:attr:`ProbeResult.rate`); None or 0: not known.

    Returns:
        Seconds (>= 0), or None when ``rate`` is not known.
    """
    if not rate:
        return None
    return max(0.0, sample.t - sample.seq / rate)


def sent_late_by_harness(sample: Sample, rate: float | None, bound: float = LATE_SEND_BOUND) -> bool:
    """The harness sent ``sample`` more than ``bound`` seconds behind its schedule by its own doing:
    :func:`ticket_lag` over ``bound`` (False when the rate is not known: nothing is excused then)."""
    lag = ticket_lag(sample, rate)
    return lag is not None and lag > bound


@dataclass
class ProbeResult:
    """What a probe run measured; every figure is computed from :attr:`samples`.

    Attributes:
        url: what was requested; host: the Host header.
        samples: in send order (skipped tickets included, see :attr:`Sample.skipped`).
        marks: phase markers in order.
        duration: seconds from start to stop.
        started_wall: ``time.time()`` at start.
        stop_reason: ``stopped``, ``max duration`` or ``max requests``.
        probe_id: the id in every request's :data:`PROBE_HEADER` ("" for results built by hand).
        rate: the requests per second the prober was asked for, which places each ticket's slot on
            the schedule (:func:`ticket_lag`); None for results built by hand (no send is then
            known to be late by the harness).
    """

    url: str
    host: str | None
    samples: list[Sample]
    marks: list[Mark] = field(default_factory=list)
    duration: float = 0.0
    started_wall: float = 0.0
    stop_reason: str = "stopped"
    probe_id: str = ""
    rate: float | None = None

    # -- selections

    @property
    def sent(self) -> list[Sample]:
        """Samples that were actually sent (not skipped)."""
        return [s for s in self.samples if not s.skipped]

    def between(self, start: str | float | None = None, end: str | float | None = None) -> ProbeResult:
        """The samples sent between two marks (labels, or seconds since start); None = open end.

        Raises:
            KeyError: a label that was never marked.
        """
        t0 = self._mark_time(start, 0.0)
        t1 = self._mark_time(end, math.inf)
        return ProbeResult(self.url, self.host, [s for s in self.samples if t0 <= s.t < t1],
                           [m for m in self.marks if t0 <= m.t < t1], duration=max(0.0, min(t1, self.duration) - t0),
                           started_wall=self.started_wall + t0, stop_reason=self.stop_reason, probe_id=self.probe_id,
                           rate=self.rate)

    def _mark_time(self, ref: str | float | None, default: float) -> float:
        if ref is None:
            return default
        if isinstance(ref, int | float):
            return float(ref)
        for m in self.marks:
            if m.label == ref:
                return m.t
        raise KeyError(f"no mark {ref!r} (marks: {', '.join(m.label for m in self.marks) or 'none'})")

    # -- figures

    @property
    def total(self) -> int:
        return len(self.sent)

    @property
    def skipped_count(self) -> int:
        return sum(1 for s in self.samples if s.skipped)

    @property
    def failed(self) -> list[Sample]:
        return [s for s in self.sent if not s.ok]

    @property
    def failed_count(self) -> int:
        return len(self.failed)

    @property
    def success_ratio(self) -> float:
        """Successful / sent; 1.0 when nothing was sent (use :attr:`total` to tell)."""
        return 1.0 - self.failed_count / self.total if self.total else 1.0

    def late_failed(self, bound: float = LATE_SEND_BOUND) -> list[Sample]:
        """Failed requests the harness itself sent more than ``bound`` seconds behind schedule
        (:func:`sent_late_by_harness`): the machine's failures, not the chart's. [] without a rate."""
        return [s for s in self.failed if sent_late_by_harness(s, self.rate, bound)]

    def without_late_failures(self, bound: float = LATE_SEND_BOUND) -> ProbeResult:
        """A copy without :meth:`late_failed` (late successes stay): what a verdict judges. Removed
        requests neither count as failures nor as requests, and do not break a run of failures."""
        late = {s.seq for s in self.late_failed(bound)}
        if not late:
            return self
        return replace(self, samples=[s for s in self.samples if s.seq not in late or s.skipped])

    def failure_classes(self) -> dict[str, int]:
        """``{"ConnectionError": 3, "HTTP 503": 12}``, most frequent first."""
        return dict(Counter(s.error for s in self.failed if s.error).most_common())

    def longest_failure_run(self) -> tuple[int, float]:
        """The longest run of consecutive failed requests (in send order): (count, seconds from the
        first failed request's send to the last one's completion). (0, 0.0) without failures."""
        best = (0, 0.0)
        run: list[Sample] = []
        for s in self.sent + [None]:  # type: ignore[list-item]
            if s is not None and not s.ok:
                run.append(s)
                continue
            if run:
                seconds = max(r.t + r.latency for r in run) - run[0].t
                if (len(run), seconds) > best:
                    best = (len(run), round(seconds, 3))
                run = []
        return best

    def latencies(self, *, ok_only: bool = True) -> list[float]:
        return [s.latency for s in self.sent if s.ok or not ok_only]

    @property
    def p50(self) -> float | None:
        """Median latency of successful requests (seconds)."""
        return percentile(self.latencies(), 50)

    @property
    def p99(self) -> float | None:
        """99th-percentile latency of successful requests (seconds)."""
        return percentile(self.latencies(), 99)

    def versions_seen(self) -> list[str]:
        """Versions that answered, in order of first appearance."""
        out: list[str] = []
        for s in self.sent:
            if s.version and s.version not in out:
                out.append(s.version)
        return out

    def pods_seen(self) -> list[str]:
        out: list[str] = []
        for s in self.sent:
            if s.pod and s.pod not in out:
                out.append(s.pod)
        return out

    def version_timeline(self, bucket: float = 1.0) -> list[tuple[float, dict[str, int]]]:
        """Which versions answered in each ``bucket``-second slot: ``[(slot start, {version: n})]``."""
        slots: dict[int, Counter[str]] = {}
        for s in self.sent:
            if s.version:
                slots.setdefault(int(s.t // bucket), Counter())[s.version] += 1
        return [(k * bucket, dict(v)) for k, v in sorted(slots.items())]

    def version_changes(self) -> list[tuple[float, str]]:
        """``[(t, version)]`` each time the answering version differs from the previous answer."""
        out: list[tuple[float, str]] = []
        for s in self.sent:
            if s.version and (not out or out[-1][1] != s.version):
                out.append((round(s.t, 3), s.version))
        return out

    def version_spans(self) -> str:
        """``"1.0.0 0.0-10.8 s, 1.1.0 4.6-15.0 s"``: when each version answered first and last."""
        spans: dict[str, list[float]] = {}
        for s in self.sent:
            if s.version:
                span = spans.setdefault(s.version, [s.t, s.t])
                span[1] = s.t
        return ", ".join(f"{v} {a:.1f}-{b:.1f} s" for v, (a, b) in spans.items())

    def last_versions(self, n: int = 20) -> list[str]:
        """Versions reported by the last ``n`` successful answers (oldest first)."""
        return [s.version for s in self.sent if s.ok and s.version][-n:]

    def figures(self, prefix: str = "probe") -> dict[str, Any]:
        """The numbers a report needs, flat (for JUnit properties and the session summary)."""
        run_n, run_s = self.longest_failure_run()
        p50, p99 = self.p50, self.p99
        return {
            f"{prefix}_requests": self.total,
            f"{prefix}_failed": self.failed_count,
            f"{prefix}_success_ratio": round(self.success_ratio, 5),
            f"{prefix}_longest_failure_run": run_n,
            f"{prefix}_longest_failure_seconds": run_s,
            f"{prefix}_p50_ms": None if p50 is None else round(p50 * 1000, 1),
            f"{prefix}_p99_ms": None if p99 is None else round(p99 * 1000, 1),
            f"{prefix}_skipped": self.skipped_count,
            f"{prefix}_versions": ",".join(self.versions_seen()),
            f"{prefix}_failure_classes": ", ".join(f"{k} x{v}" for k, v in self.failure_classes().items()),
            # the prober's own timing error, beside the figures above: it changes none of them
            **self.lateness_figures(prefix),
        }

    def lateness_figures(self, prefix: str = "probe") -> dict[str, Any]:
        """:func:`send_lateness` of the sent requests: how late the prober itself sent them."""
        return send_lateness((s.late for s in self.sent), prefix=prefix)

    def describe_failures(self, limit: int = 3) -> str:
        """``"HTTP 503 x10, ChunkedEncodingError x2"`` (the ``limit`` most frequent)."""
        items = list(self.failure_classes().items())
        text = ", ".join(f"{k} x{v}" for k, v in items[:limit])
        return text + (f" (+{len(items) - limit} more kinds)" if len(items) > limit else "")

    # -- files

    def write_csv(self, path: Path | str) -> Path:
        """One row per ticket: seq, t, wall, latency, status, error, version, pod, phase, source,
        late (seconds, "" when not known); then the marks as rows with ``error`` = ``mark``."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["seq", "t", "wall", "latency", "status", "error", "version", "pod", "phase", "source", "late"])
            for s in self.samples:
                w.writerow([s.seq, f"{s.t:.4f}", f"{s.wall:.4f}", f"{s.latency:.4f}", s.status or "",
                            s.error or "", s.version or "", s.pod or "", s.phase, s.source,
                            "" if s.late is None else f"{s.late:.4f}"])
            for m in self.marks:
                w.writerow(["", f"{m.t:.4f}", f"{m.wall:.4f}", "", "", "mark", "", "", m.label, "", ""])
        return path


def _classify_body(body: bytes, content_type: str) -> tuple[str | None, str | None, str]:
    """(version, pod, source) from a response body: JSON from the service, or something else."""
    if "json" in content_type.lower() or body[:1] in (b"{", b"["):
        try:
            data = json.loads(body.decode("utf-8", errors="replace"))
        except ValueError:
            return None, None, "proxy"
        if isinstance(data, dict):
            v, p = data.get("version"), data.get("pod")
            return (str(v) if v is not None else None, str(p) if p is not None else None, "app")
        return None, None, "app"
    return None, None, "proxy"


def _header(headers: Any, names: Iterable[str]) -> str | None:
    for n in names:
        v = headers.get(n)
        if v:
            return str(v)
    return None


class Prober:
    """Send ``GET base_url + path`` at a fixed rate in the background; see the module docstring.

    Args:
        base_url: e.g. ``http://127.0.0.1:18080``.
        path: e.g. the contract's ``probePath`` (``/slow?ms=250``).
        host: the ``Host`` header (the chart's ingress host); None sends the URL's own.
        rate: requests per second (default 20).
        max_duration: seconds after which the prober stops by itself (default 600).
        max_requests: tickets after which it stops by itself (default ``rate x max_duration``).
        connect_timeout, read_timeout: per request, seconds. The defaults (3 s / 10 s) exceed an
            ingress controller's own connect timeout plus one retry, so a slow retry that
            succeeds is not counted as a failure of the chart.
        concurrency: worker threads, i.e. requests that may be in flight at once.
        expect: statuses counted as success (default: 200 only).
        verify: TLS verification for https (a CA bundle path, or True).
        session_factory: returns a ``requests.Session``-like object (tests; TLS adapters).
        clock, wall: injectable time sources.
        version_from: ``(headers, body bytes) -> version or None``, the only source of
            :attr:`Sample.version` when given (e.g. :meth:`harness.core.contract.VersionFrom.extract`);
            None guesses (a JSON ``version`` key, then :data:`VERSION_HEADERS`).
        probe_id: the id sent in :data:`PROBE_HEADER` (default: :func:`new_probe_id`); give one to
            filter an edge's log for this run before the prober starts.
    """

    def __init__(self, base_url: str, path: str = "/", *, host: str | None = None, rate: float = 20.0,
                 max_duration: float = 600.0, max_requests: int | None = None, connect_timeout: float = 3.0,
                 read_timeout: float = 10.0, concurrency: int = 8, expect: Iterable[int] = (200,),
                 verify: bool | str = True, session_factory: Callable[[], Any] | None = None,
                 clock: Callable[[], float] = time.monotonic, wall: Callable[[], float] = time.time,
                 name: str = "prober", version_from: Callable[[Any, bytes], str | None] | None = None,
                 probe_id: str | None = None):
        if rate <= 0:
            raise ValueError("rate must be > 0")
        self.url = base_url.rstrip("/") + (path if path.startswith("/") else "/" + path)
        self.host = host
        self.rate = rate
        self.max_duration = max_duration
        self.max_requests = max_requests if max_requests is not None else max(1, int(rate * max_duration))
        self.timeout = (connect_timeout, read_timeout)
        self.concurrency = max(1, concurrency)
        self.expect = frozenset(expect)
        self.verify = verify
        self.name = name
        self.version_from = version_from
        self.probe_id = probe_id or new_probe_id()
        self._session_factory = session_factory
        self._clock = clock
        self._wall = wall
        self._lock = threading.Lock()
        self._samples: list[Sample] = []
        self._marks: list[Mark] = []
        self._phase = ""
        self._stop = threading.Event()
        self._tickets: queue.Queue[tuple[int, float, float, str] | None] = queue.Queue(maxsize=self.concurrency)
        self._threads: list[threading.Thread] = []
        self._t0 = 0.0
        self._wall0 = 0.0
        self._stop_reason = "stopped"
        self._result: ProbeResult | None = None
        self._ended = 0.0

    # -- lifecycle

    def start(self) -> Prober:
        """Start the scheduler and workers; returns at once."""
        if self._threads:
            raise RuntimeError("prober already started")
        self._t0 = self._clock()
        self._wall0 = self._wall()
        for i in range(self.concurrency):
            t = threading.Thread(target=self._worker, name=f"{self.name}-w{i}", daemon=True)
            t.start()
            self._threads.append(t)
        sched = threading.Thread(target=self._schedule, name=f"{self.name}-sched", daemon=True)
        sched.start()
        self._threads.append(sched)
        return self

    def mark(self, label: str) -> Mark:
        """Record a phase marker now (also the ``phase`` of later samples)."""
        m = Mark(round(self._clock() - self._t0, 4), self._wall(), label)
        with self._lock:
            self._marks.append(m)
            self._phase = label
        return m

    def stop(self, timeout: float | None = None) -> ProbeResult:
        """Stop sending, wait for requests in flight (at most ``timeout``, default read timeout + 5 s)
        and return the result. Safe to call twice."""
        if self._result is not None:
            return self._result
        self._stop.set()
        deadline = time.monotonic() + (timeout if timeout is not None else self.timeout[1] + 5)
        for t in self._threads:
            t.join(max(0.0, deadline - time.monotonic()))
        self._ended = self._clock()
        with self._lock:
            samples = sorted(self._samples, key=lambda s: s.seq)
            marks = list(self._marks)
        self._result = ProbeResult(self.url, self.host, samples, marks, duration=round(self._ended - self._t0, 4),
                                   started_wall=self._wall0, stop_reason=self._stop_reason, probe_id=self.probe_id,
                                   rate=self.rate)
        return self._result

    @property
    def result(self) -> ProbeResult:
        """The result after :meth:`stop` (raises before)."""
        if self._result is None:
            raise RuntimeError("prober not stopped yet")
        return self._result

    @property
    def running(self) -> bool:
        return bool(self._threads) and not self._stop.is_set()

    def snapshot(self) -> ProbeResult:
        """The samples so far, without stopping (for live checks)."""
        with self._lock:
            samples = sorted(self._samples, key=lambda s: s.seq)
            marks = list(self._marks)
        return ProbeResult(self.url, self.host, samples, marks, duration=round(self._clock() - self._t0, 4),
                           started_wall=self._wall0, probe_id=self.probe_id, rate=self.rate)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- threads

    def _schedule(self) -> None:
        interval = 1.0 / self.rate
        seq = 0
        try:
            while not self._stop.is_set():
                now = self._clock()
                elapsed = now - self._t0
                if elapsed >= self.max_duration:
                    self._stop_reason = "max duration"
                    break
                if seq >= self.max_requests:
                    self._stop_reason = "max requests"
                    break
                with self._lock:
                    phase = self._phase
                ticket = (seq, round(elapsed, 4), self._wall(), phase)
                try:
                    self._tickets.put_nowait(ticket)
                except queue.Full:
                    with self._lock:
                        self._samples.append(Sample(seq, ticket[1], ticket[2], 0.0, None, "skipped", phase=phase))
                seq += 1
                # sleep until the next slot (fixed schedule, no drift)
                next_at = self._t0 + seq * interval
                self._stop.wait(max(0.0, next_at - self._clock()))
        finally:
            self._stop.set()
            for _ in range(self.concurrency):
                try:
                    self._tickets.put(None, timeout=self.timeout[0] + self.timeout[1] + 5)
                except queue.Full:
                    break

    def _new_session(self) -> Any:
        if self._session_factory is not None:
            return self._session_factory()

        s = requests.Session()
        s.trust_env = False  # no proxies from the environment: traffic goes to base_url only
        return s

    def _worker(self) -> None:

        session = self._new_session()
        headers = {"Host": self.host} if self.host else {}
        headers["Connection"] = "keep-alive"
        try:
            while True:
                try:
                    ticket = self._tickets.get(timeout=0.5)
                except queue.Empty:
                    if self._stop.is_set():
                        return
                    continue
                if ticket is None:
                    return
                seq, t, wall, phase = ticket
                start = self._clock()
                # the slot the scheduler meant this ticket for (its fixed schedule, no drift)
                late = start - (self._t0 + seq / self.rate)
                status = None
                version = pod = None
                source = ""
                error: str | None
                try:
                    resp = session.get(self.url, headers={**headers, PROBE_HEADER: probe_header_value(self.probe_id, seq)},
                                       timeout=self.timeout, allow_redirects=False,
                                       verify=self.verify)
                    body = resp.content  # the whole body: a response cut after its headers fails here
                    status = resp.status_code
                    ctype = resp.headers.get("Content-Type", "")
                    version, pod, source = _classify_body(body[:INGRESS_503_BODY_MAX], ctype)
                    if self.version_from is not None:
                        version = self.version_from(resp.headers, body[:VERSION_BODY_MAX])
                    else:
                        version = version or _header(resp.headers, VERSION_HEADERS)
                    pod = pod or _header(resp.headers, POD_HEADERS)
                    error = None if status in self.expect else f"HTTP {status}"
                except requests.RequestException as exc:
                    error = _error_class(exc)
                except Exception as exc:  # noqa: BLE001 - a prober must never die on one request
                    error = type(exc).__name__
                latency = self._clock() - start
                sample = Sample(seq, t, wall, round(latency, 5), status, error, version, pod, phase,
                                source if status is not None and status >= 300 else "", round(late, 5))
                with self._lock:
                    self._samples.append(sample)
        finally:
            try:
                session.close()
            except Exception:  # noqa: BLE001, S110 - closing is best effort
                pass


def _error_class(exc: BaseException) -> str:
    """The most specific useful name: ``ConnectTimeout``/``ReadTimeout``/``ChunkedEncodingError``...,
    and for a bare ``ConnectionError`` its cause (``ConnectionRefused``, ``ConnectionReset``,
    ``RemoteDisconnected``) when urllib3 tells it."""
    name = type(exc).__name__
    if name != "ConnectionError":
        return name
    text = repr(exc)
    for needle, label in (("Connection refused", "ConnectionRefused"), ("Connection reset", "ConnectionReset"),
                          ("RemoteDisconnected", "RemoteDisconnected"), ("Read timed out", "ReadTimeout"),
                          ("timed out", "Timeout")):
        if needle in text:
            return label
    return name


def https_session_factory(server_hostname: str) -> Callable[[], Any]:
    """A session factory for HTTPS through ``127.0.0.1``: the TLS handshake sends ``server_hostname``
    as SNI and checks the certificate against it (requests alone would send and check ``127.0.0.1``)."""

    def make() -> Any:

        class _SNIAdapter(HTTPAdapter):
            def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
                kwargs["server_hostname"] = server_hostname
                kwargs["assert_hostname"] = server_hostname
                super().init_poolmanager(*args, **kwargs)

        s = requests.Session()
        s.trust_env = False
        s.mount("https://", _SNIAdapter())
        return s

    return make
