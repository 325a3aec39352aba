"""Follow the logs of a set of pods through the Kubernetes API while a measurement runs, keeping the
lines a filter wants.

Why follow rather than read afterwards: the kubelet serves only a container's current log file
(https://kubernetes.io/docs/concepts/cluster-administration/logging/#log-rotation: "kubectl logs"
returns the latest log file only), so a rotation during the window would lose its start; a
followed stream carries on across a rotation. The request is
``GET /api/v1/namespaces/<ns>/pods/<pod>/log?follow=true&sinceSeconds=<n>``
(https://kubernetes.io/docs/reference/kubernetes-api/workload-resources/pod-v1/#get-read-log-of-the-specified-pod);
``sinceSeconds`` reaches back to before the follower started, so no line is missed between the
start and the stream opening. A stream that ends early (the API server's or kubelet's own limits)
is opened again from the last line's time; lines seen twice are kept once.

Bounds: ``max_duration`` seconds, ``max_lines`` kept lines (later ones are counted, not kept),
and :meth:`PodLogFollower.stop` shuts the streams' sockets so a blocked read returns at once.
"""
from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from kubernetes import client

from harness.k8s.client import REQUEST_TIMEOUT

Opener = Callable[[str, int], Any]
"""``(pod name, since_seconds) -> stream``: an object with ``stream(amt)`` yielding bytes chunks (or
itself iterable over chunks) and, optionally, ``shutdown()`` / ``close()``."""
Lister = Callable[[], list[str]]
"""``() -> names of the pods to follow`` (running ones)."""


@dataclass
class LogCapture:
    """What a :class:`PodLogFollower` kept.

    Attributes:
        lines: kept lines, per pod in arrival order, pods one after another.
        pods: the pods followed. errors: one line per problem (a stream that could not be opened...).
        dropped: lines the filter wanted beyond ``max_lines``.
    """

    lines: list[str] = field(default_factory=list)
    pods: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    dropped: int = 0


def _chunks(stream: Any) -> Iterator[bytes]:
    """Bytes as they arrive. The API server streams a followed log with chunked transfer encoding,
    where urllib3's ``stream()`` yields each chunk as it comes; without it, ``stream(n)`` would wait
    for ``n`` bytes, so ``read1`` (whatever has arrived) is used instead."""
    if getattr(stream, "chunked", None) is False and hasattr(stream, "read1"):
        while data := stream.read1(4096):
            yield data
    elif hasattr(stream, "stream"):
        yield from stream.stream(4096)
    else:
        yield from stream


def _lines(chunks: Iterable[bytes]) -> Iterator[str]:
    """Complete lines from byte chunks (a line split across chunks is joined; a last line without
    a newline is yielded when the stream ends)."""
    rest = b""
    for chunk in chunks:
        rest += chunk
        *whole, rest = rest.split(b"\n")
        for raw in whole:
            yield raw.decode("utf-8", errors="replace")
    if rest:
        yield rest.decode("utf-8", errors="replace")


class PodLogFollower:
    """Follow the logs of the pods ``lister`` names, one thread per pod, keeping lines ``keep`` wants.

    Args:
        api: a ``kubernetes.client.ApiClient`` (unused when ``opener`` and ``lister`` are given).
        namespace: the pods' namespace. selector: label selector of the pods (``app=x,tier=y``).
        container: the container whose log to read (None: the pod's only container).
        keep: ``line -> bool``; only lines it accepts are kept (a cheap test: it sees every line).
        since_seconds: how far before :meth:`start` the streams reach back (seconds).
        max_duration: seconds after which every stream stops by itself.
        max_lines: lines kept at most (over all pods).
        reopen: times a pod's stream is opened again after it ended early.
        opener, lister, clock: replace the API and the wall clock (unit tests).
    """

    def __init__(self, api: Any, namespace: str, selector: str, *, container: str | None = None,
                 keep: Callable[[str], bool] = lambda line: True, since_seconds: float = 5.0,
                 max_duration: float = 1800.0, max_lines: int = 200_000, reopen: int = 3,
                 opener: Opener | None = None, lister: Lister | None = None,
                 clock: Callable[[], float] = time.time):
        self.api = api
        self.namespace = namespace
        self.selector = selector
        self.container = container
        self.keep = keep
        self.since_seconds = since_seconds
        self.max_duration = max_duration
        self.max_lines = max_lines
        self.reopen = reopen
        self._opener = opener or self._api_open
        self._lister = lister or self._api_list
        self._clock = clock
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._open: dict[str, Any] = {}
        self._lines: dict[str, list[str]] = {}
        self._seen: set[str] = set()
        self._kept = 0
        self._dropped = 0
        self._errors: list[str] = []
        self._pods: list[str] = []
        self._started = 0.0

    def start(self) -> PodLogFollower:
        """List the pods and start following each; returns at once. A listing error is recorded
        (see :attr:`LogCapture.errors`), not raised: a measurement never fails for its evidence."""
        self._started = self._clock()
        try:
            self._pods = list(self._lister())
        except Exception as exc:  # noqa: BLE001 - recorded; the caller reports attribution unavailable
            self._errors.append(f"listing pods {self.selector} in {self.namespace}: {_first_line(exc)}")
            self._pods = []
        if not self._pods and not self._errors:
            self._errors.append(f"no running pod matches {self.selector} in {self.namespace}")
        for name in self._pods:
            self._lines[name] = []
            t = threading.Thread(target=self._follow, args=(name,), name=f"logs-{name}", daemon=True)
            t.start()
            self._threads.append(t)
        return self

    def lines(self) -> list[str]:
        """The lines kept so far (a copy)."""
        with self._lock:
            return self._collect()

    def wait_until(self, done: Callable[[list[str]], bool], timeout: float, interval: float = 0.2) -> bool:
        """Poll :meth:`lines` until ``done(lines)`` or ``timeout`` seconds passed (or every stream
        ended); returns whether ``done`` held. For the last lines of a measurement: the edge writes
        a line when its response completes, and the kubelet passes it on a moment later."""
        deadline = time.monotonic() + timeout
        while True:
            if done(self.lines()):
                return True
            if time.monotonic() >= deadline or not any(t.is_alive() for t in self._threads):
                return done(self.lines())
            time.sleep(interval)

    def stop(self) -> LogCapture:
        """Stop every stream (their sockets are shut, so blocked reads return) and return what was kept."""
        self._stop.set()
        with self._lock:
            streams = list(self._open.values())
        for s in streams:
            _close(s)
        for t in self._threads:
            t.join(REQUEST_TIMEOUT)
        with self._lock:
            return LogCapture(self._collect(), list(self._pods), list(self._errors), self._dropped)

    def _collect(self) -> list[str]:  # under self._lock
        return [line for name in self._pods for line in self._lines.get(name, [])]

    # -- one pod

    def _follow(self, name: str) -> None:
        deadline = time.monotonic() + self.max_duration
        last_line_at: float | None = None
        for attempt in range(self.reopen + 1):
            if self._stop.is_set() or time.monotonic() >= deadline:
                return
            # reach back to since_seconds before start() however late the stream opens; when
            # opened again, to a second before the last line (duplicates are dropped in _take)
            since = (self._clock() - self._started + self.since_seconds if last_line_at is None
                     else self._clock() - last_line_at + 1.0)
            try:
                stream = self._opener(name, max(1, math.ceil(since)))
            except Exception as exc:  # noqa: BLE001 - recorded; attribution reports what it lacks
                self._note(f"log of {name}: {_first_line(exc)}")
                return
            with self._lock:
                self._open[name] = stream
            if self._stop.is_set():  # stop() ran while the stream opened: it did not see this one
                _close(stream)
            try:
                for line in _lines(_chunks(stream)):
                    last_line_at = self._clock()
                    self._take(name, line)
                    if self._stop.is_set() or time.monotonic() >= deadline:
                        return
            except Exception as exc:  # noqa: BLE001 - a shut socket ends the read with an error
                if not self._stop.is_set():
                    self._note(f"log of {name} ended: {_first_line(exc)}")
            finally:
                with self._lock:
                    self._open.pop(name, None)
                _close(stream)
            if self._stop.is_set():
                return
            if attempt < self.reopen:
                self._stop.wait(0.5)

    def _take(self, name: str, line: str) -> None:
        if not line or not self.keep(line):
            return
        with self._lock:
            if line in self._seen:
                return
            self._seen.add(line)
            if self._kept >= self.max_lines:
                self._dropped += 1
                return
            self._kept += 1
            self._lines[name].append(line)

    def _note(self, text: str) -> None:
        with self._lock:
            self._errors.append(text)

    # -- the API

    def _api_list(self) -> list[str]:
        pods = client.CoreV1Api(self.api).list_namespaced_pod(self.namespace, label_selector=self.selector,
                                                              _request_timeout=REQUEST_TIMEOUT)
        return sorted(p.metadata.name for p in pods.items
                      if p.status is not None and p.status.phase == "Running" and p.metadata.deletion_timestamp is None)

    def _api_open(self, name: str, since_seconds: int) -> Any:
        kw: dict[str, Any] = {"follow": True, "since_seconds": int(since_seconds), "_preload_content": False,
                              # connect within REQUEST_TIMEOUT; a log quiet for FOLLOW_READ_TIMEOUT ends
                              # the read and _follow opens it again (kubernetes>=35 validates both
                              # numbers: (connect, read) must be positive, no None)
                              "_request_timeout": (REQUEST_TIMEOUT, FOLLOW_READ_TIMEOUT)}
        if self.container:
            kw["container"] = self.container
        return client.CoreV1Api(self.api).read_namespaced_pod_log(name, self.namespace, **kw)


FOLLOW_READ_TIMEOUT = 120.0
"""Seconds a followed log may stay quiet before the read ends (and the follower opens it again)."""


def _close(stream: Any) -> None:
    """Shut the stream's socket (urllib3 2.3+: ``shutdown()`` makes a read blocked in another thread
    return), then release it."""
    for method in ("shutdown", "close", "release_conn"):
        fn = getattr(stream, method, None)
        if callable(fn):
            try:
                fn()
            except Exception:  # noqa: BLE001, S110 - closing is best effort
                pass


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0][:200]}" if text else type(exc).__name__
