"""Scenario contexts without a cluster, for the unit tests of the scenario library (imported as a
plain module: tests/unit is on sys.path).

:func:`make_ctx` builds a real :class:`harness.scenario.context.ScenarioContext` for a chart of
charts-under-test, with an Env whose cluster pieces are inert (nothing here reaches a cluster) and
whose ingress is a given base URL (a local server) or none.
"""
from __future__ import annotations

import http.server
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from harness.core.contract import ChartUnderTest, discover
from harness.core.values import ChartRef
from harness.scenario.context import Env, ScenarioContext
from harness.scenario.result import Cell
from harness.scenario.settings import Settings
from harness.scenario.targets import Target, targets_for

ROOT = Path(__file__).resolve().parents[2]
CELL = Cell("v1.31.0", "v3.16.2", "floor")


def charts() -> list[ChartUnderTest]:
    return [ChartUnderTest(ChartRef(str(c.chart_dir), "dir"), c) for c in discover(ROOT / "charts-under-test")]


def target(scenario: str = "upgrade", *, negative: bool = False, index: int = 0) -> Target:
    return targets_for(scenario, charts(), negative=negative)[index]


def make_env(artifacts_dir: Path, settings: Settings | None = None) -> Env:
    cfg = SimpleNamespace(artifacts_dir=artifacts_dir, timeouts=SimpleNamespace(install=60, upgrade=60, rollout=60,
                                                                                wait=10))
    return Env(cfg, api=None, cluster=None, kubectl=None, addons=SimpleNamespace(state={}),
               settings=settings or Settings(), helm_home=artifacts_dir / "helm", cell=CELL)


def make_ctx(tmp_path: Path, tgt: Target | None = None, *, scenario: str = "upgrade", base_url: str | None = None,
             settings: Settings | None = None) -> ScenarioContext:
    tgt = tgt or target(scenario)
    env = make_env(tmp_path, settings)
    ctx = ScenarioContext(scenario, tgt, f"{scenario}-{tgt.id}", env, helm=None, artifacts=tmp_path / tgt.id)
    if base_url is not None:
        ctx._base = (base_url, True, None)  # the ingress is the local server (no manifest to read)
    return ctx


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: Any) -> None:  # quiet
        pass

    def _json(self, status: int, doc: Any) -> None:
        body = json.dumps(doc).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        """``POST /items`` ``{"value": ...}`` -> 201 ``{"id": N}`` (the demo service's items API)."""
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path != "/items" or self.server.status != 200:  # type: ignore[attr-defined]
            self._json(404 if self.path != "/items" else self.server.status, {"error": "no"})  # type: ignore[attr-defined]
            return
        items = self.server.items  # type: ignore[attr-defined]
        items[str(len(items) + 1)] = json.loads(raw)["value"]
        self._json(201, {"id": len(items)})

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        if self.path.startswith("/events"):
            self._events()
            return
        probe = self.headers.get("X-Harness-Probe")
        if probe:
            self.server.probes.append((probe, time.time()))  # type: ignore[attr-defined]
        if self.path.startswith("/items/"):
            key = self.path.removeprefix("/items/")
            value = self.server.items.get(key)  # type: ignore[attr-defined]
            self._json(200 if value is not None else 404,
                       {"id": int(key), "value": value} if value is not None else {"error": "no such item"})
            return
        status = self.server.status  # type: ignore[attr-defined]
        if status == 503:  # what an ingress controller answers itself when a Service has no endpoints
            body, ctype = b"<html><body>503 Service Temporarily Unavailable</body></html>", "text/html"
        else:
            body = json.dumps({"version": self.server.version, "pod": "local-1"}).encode()  # type: ignore[attr-defined]
            ctype = "application/json"
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _events(self) -> None:
        release = getattr(self.server, "held", None)
        if release is not None:
            self._held_events(release)
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")  # so a client reading chunks sees each event at once
        self.end_headers()
        deadline = time.monotonic() + 20  # bounded: the client closes long before
        n = 0
        try:
            while time.monotonic() < deadline and not self.server.closing.is_set():  # type: ignore[attr-defined]
                n += 1
                event = f"id: {n}\ndata: {{\"n\": {n}}}\n\n".encode()
                self.wfile.write(b"%x\r\n%s\r\n" % (len(event), event))
                self.wfile.flush()
                time.sleep(0.2)
        except (BrokenPipeError, ConnectionResetError):
            return


    def _held_events(self, release: threading.Event) -> None:
        """What a buffering proxy does to a stream: nothing until ``release`` (the backend's response
        ended), then the status line, headers and every event at once, and the end of the response."""
        deadline = time.monotonic() + 20  # bounded: the test releases it or closes the server
        while not release.wait(0.1):
            if self.server.closing.is_set() or time.monotonic() > deadline:  # type: ignore[attr-defined]
                return
        body = b"retry: 1000\n\n" + b"".join(f"id: {n}\ndata: {n}\n\n".encode() for n in (1, 2, 3))
        try:
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            return


@contextmanager
def local_server(status: int = 200, version: str = "1.0.0") -> Iterator[Any]:
    """A threaded HTTP server on 127.0.0.1: ``GET /...`` answers ``status`` (``.status``, may change) with a
    JSON body naming ``version`` (503: an HTML page, as an ingress controller's own answer),
    ``GET /events`` is an event stream (an event every 0.2 s; with ``.held`` set to a
    ``threading.Event``, a buffered one: :meth:`_Handler._held_events`), ``POST /items`` and
    ``GET /items/<id>`` keep values in ``.items`` like the demo service. Yields the server (``.url``;
    ``.probes``: the ``X-Harness-Probe`` header and arrival time of each GET that carried one)."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    server.status = status  # type: ignore[attr-defined]
    server.version = version  # type: ignore[attr-defined]
    server.closing = threading.Event()  # type: ignore[attr-defined]
    server.probes = []  # type: ignore[attr-defined]  # (X-Harness-Probe value, time.time()) per request
    server.items = {}  # type: ignore[attr-defined]  # id -> value, for POST /items and GET /items/<id>
    server.url = f"http://127.0.0.1:{server.server_address[1]}"  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.closing.set()  # type: ignore[attr-defined]
        server.shutdown()
        server.server_close()
        thread.join(5)
