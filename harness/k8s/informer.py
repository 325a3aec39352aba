"""The current pods of a namespace, kept in memory by one list and then a watch (a small informer).

Reading pods from memory instead of listing them on every poll keeps the harness from loading the
API server and the machine it measures. The pattern is client-go's reflector
(https://kubernetes.io/docs/reference/using-api/api-concepts/#efficient-detection-of-changes): list
once, remember the list's ``resourceVersion``, watch from there; each watch request ends after
``timeout_seconds`` and the next one resumes from the last ``resourceVersion`` seen; when the server
answers 410 Gone (that version is no longer in its history) list again and replace the whole set.

The informer is bounded: it stops after ``max_duration`` seconds, or when nobody read from it for
``idle_stop`` seconds; :meth:`PodInformer.usable` tells a reader whether to trust the memory or list
directly.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from kubernetes import client, watch

from harness.k8s.client import REQUEST_TIMEOUT, api_status

Stream = Callable[[str, str | None, int], Iterator[Mapping[str, Any]]]
"""``(namespace, resource_version, timeout_seconds) -> watch events`` (``{"type", "object", "raw_object"}``)."""
Lister = Callable[[str], tuple[list[Any], str | None]]
"""``namespace -> (pods, list resourceVersion)``."""


class Relist(Exception):
    """The watch's resourceVersion expired (410 Gone): list again."""


def _rv(obj: Any) -> str | None:
    md = getattr(obj, "metadata", None)
    return getattr(md, "resource_version", None) if md is not None else None


class PodInformer:
    """Pods of one namespace, in memory, as V1Pod objects exactly as the API served them.

    Args:
        api: a ``kubernetes.client.ApiClient`` (unused when ``lister`` and ``stream`` are given).
        namespace: the namespace to watch.
        max_duration: seconds after :meth:`start` when the watch stops for good.
        idle_stop: seconds without a read (:meth:`pods`) after which the watch stops (a reader then
            starts a new informer; see :meth:`usable`).
        slice_seconds: ``timeoutSeconds`` of each watch request.
        lister, stream: replace the API (unit tests).

    Use :meth:`apply` / :meth:`replace` to feed events by hand (unit tests; no thread).
    """

    def __init__(self, api: Any, namespace: str, *, max_duration: float = 3600.0, idle_stop: float = 300.0,
                 slice_seconds: int = 30, lister: Lister | None = None, stream: Stream | None = None):
        self.api = api
        self.namespace = namespace
        self.max_duration = max_duration
        self.idle_stop = idle_stop
        self.slice_seconds = slice_seconds
        self._lister = lister or self._api_list
        self._stream = stream or self._api_stream
        self._pods: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._start_lock = threading.Lock()
        self._stop = threading.Event()
        self._synced = threading.Event()
        self._thread: threading.Thread | None = None
        self._watch: Any = None
        self._last_read = time.monotonic()
        self.resource_version: str | None = None
        self.errors: list[str] = []
        self.lists = 0
        self.events = 0

    # -- feeding the memory (pure; no I/O)

    def replace(self, pods: Iterable[Any], resource_version: str | None) -> None:
        """Replace the whole set with a fresh list's ``pods`` (a pod deleted while no watch ran disappears)."""
        with self._lock:
            self._pods = {p.metadata.name: p for p in pods}
            self.resource_version = resource_version
            self.lists += 1
        self._synced.set()

    def apply(self, event: Mapping[str, Any]) -> None:
        """Apply one watch event ``{"type": ADDED|MODIFIED|DELETED|BOOKMARK|ERROR, "object": ...}``.

        ADDED/MODIFIED store the object under its name (a newer pod of the same name replaces the
        older one); DELETED removes it; BOOKMARK only advances the resourceVersion.

        Raises:
            Relist: an ERROR event with code 410 (the resourceVersion expired).
            RuntimeError: any other ERROR event (its reason and message).
        """
        etype = event.get("type")
        obj = event.get("object")
        if etype == "ERROR":
            raw = event.get("raw_object") or (obj if isinstance(obj, Mapping) else {}) or {}
            if raw.get("code") == 410:
                raise Relist(str(raw.get("message", "resourceVersion expired")))
            raise RuntimeError(f"watch error {raw.get('code')}: {raw.get('reason')}: {raw.get('message')}")
        if etype == "BOOKMARK":
            raw = event.get("raw_object") or (obj if isinstance(obj, Mapping) else {}) or {}
            rv = ((raw.get("metadata") or {}).get("resourceVersion")) if isinstance(raw, Mapping) else _rv(obj)
            with self._lock:
                self.resource_version = rv or self.resource_version
            return
        name = obj.metadata.name
        with self._lock:
            self.events += 1
            if etype == "DELETED":
                current = self._pods.get(name)
                if current is None or current.metadata.uid == obj.metadata.uid:
                    self._pods.pop(name, None)
            elif etype in ("ADDED", "MODIFIED"):
                self._pods[name] = obj
            self.resource_version = _rv(obj) or self.resource_version

    # -- reading

    def pods(self, selector: Mapping[str, str] | None = None) -> list[Any]:
        """The pods in memory whose labels include every ``selector`` pair (all pods for None or ``{}``),
        terminating ones included (``metadata.deletionTimestamp`` set) until their DELETED event."""
        self._last_read = time.monotonic()
        with self._lock:
            pods = list(self._pods.values())
        if not selector:
            return pods
        return [p for p in pods if all((p.metadata.labels or {}).get(k) == v for k, v in selector.items())]

    def usable(self) -> bool:
        """True while the memory is current: the initial list is done and the watch thread is running."""
        return self._synced.is_set() and self._thread is not None and self._thread.is_alive() \
            and not self._stop.is_set()

    # -- the background watch

    def start(self, *, sync_timeout: float = 10.0) -> bool:
        """Start the list-and-watch thread and wait up to ``sync_timeout`` seconds for the first list.

        Returns:
            whether the first list arrived (otherwise readers should list directly).
        """
        # each run has its own stop flag, so a previous run still winding down cannot stop this one
        self._stop = threading.Event()
        self._synced.clear()
        self._last_read = time.monotonic()
        self._thread = threading.Thread(target=self._loop, args=(self._stop,), daemon=True,
                                        name=f"informer-pods-{self.namespace}")
        self._thread.start()
        return self._synced.wait(sync_timeout)

    def ensure(self, *, sync_timeout: float = 10.0) -> bool:
        """Start the watch unless it runs (again after an idle or duration stop); safe from several
        threads. Returns :meth:`usable` once the first list arrived or ``sync_timeout`` passed."""
        with self._start_lock:
            if not self.usable():
                alive = self._thread is not None and self._thread.is_alive() and not self._stop.is_set()
                if alive:
                    self._synced.wait(sync_timeout)
                else:
                    if self._thread is not None:
                        self._thread.join(self.slice_seconds + 5)  # a stopped loop ends within a slice
                    self.start(sync_timeout=sync_timeout)
        return self.usable()

    def stop(self) -> None:
        self._stop.set()
        w = self._watch
        if w is not None:
            w.stop()  # the client shuts the socket down, so a blocked read returns now
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(self.slice_seconds + 5)

    def _loop(self, stop: threading.Event) -> None:
        deadline = time.monotonic() + self.max_duration
        rv: str | None = None
        try:
            while not stop.is_set() and time.monotonic() < deadline:
                if time.monotonic() - self._last_read > self.idle_stop:
                    return
                try:
                    if rv is None:
                        pods, rv = self._lister(self.namespace)
                        if stop.is_set():
                            return
                        self.replace(pods, rv)
                    for ev in self._stream(self.namespace, rv, self.slice_seconds):
                        if stop.is_set():
                            return
                        self.apply(ev)
                        rv = self.resource_version
                except Relist:
                    rv = None
                except Exception as exc:  # noqa: BLE001 - keep the memory current; the problem is noted
                    if api_status(exc) == 410:
                        rv = None
                        continue
                    first = str(exc).splitlines()[0][:200] if str(exc) else ""
                    self.errors.append(f"{type(exc).__name__}: {first}")
                    self._synced.clear()  # the memory may be behind: readers list directly until the relist
                    rv = None
                    stop.wait(1.0)
        finally:
            stop.set()

    def _api_list(self, namespace: str) -> tuple[list[Any], str | None]:

        listed = client.CoreV1Api(self.api).list_namespaced_pod(namespace, _request_timeout=REQUEST_TIMEOUT)
        return list(listed.items), listed.metadata.resource_version

    def _api_stream(self, namespace: str, resource_version: str | None, timeout: int) -> Iterator[Mapping[str, Any]]:

        w = watch.Watch()
        self._watch = w
        try:
            yield from w.stream(client.CoreV1Api(self.api).list_namespaced_pod, namespace,
                                resource_version=resource_version, timeout_seconds=timeout,
                                allow_watch_bookmarks=True, _request_timeout=timeout + REQUEST_TIMEOUT)
        finally:
            self._watch = None
            w.stop()
