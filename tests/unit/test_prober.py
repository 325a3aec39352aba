"""harness.measure.prober with nothing listening, and its figures on synthetic samples (the real demo service:
tests/integration/test_prober_service.py)."""
from __future__ import annotations

import pytest
from support import free_port, wait_until

from harness.measure.prober import Mark, Prober, ProbeResult, Sample, percentile


def test_nothing_listening_is_connection_refused():
    with Prober(f"http://127.0.0.1:{free_port()}", "/", rate=20, max_requests=5, connect_timeout=1) as p:
        wait_until(lambda: p.snapshot().total >= 5)
    assert p.result.failed_count == 5
    assert list(p.result.failure_classes()) in (["ConnectionRefused"], ["ConnectionError"])


def test_every_request_names_its_run_and_ticket():
    from scenario_fakes import local_server

    from harness.measure.prober import PROBE_HEADER, new_probe_id, probe_header_value

    assert PROBE_HEADER == "X-Harness-Probe" and len(new_probe_id()) == 8 and new_probe_id() != new_probe_id()
    with local_server() as server:
        with Prober(server.url, "/", rate=50, max_requests=6, probe_id="cafe0001") as p:
            wait_until(lambda: p.snapshot().total >= 6)
    assert p.result.probe_id == "cafe0001" and p.result.between(0.0).probe_id == "cafe0001"
    assert sorted(v for v, _ in server.probes) == [probe_header_value("cafe0001", i) for i in range(6)]


# --------------------------------------------------------------------------- synthetic figures


def _s(seq: int, t: float, ok: bool = True, latency: float = 0.01, version: str | None = "1.0.0") -> Sample:
    return Sample(seq, t, 1000 + t, latency, 200 if ok else 503, None if ok else "HTTP 503",
                  version if ok else None, "p")


def test_figures_on_synthetic_samples():
    samples = [_s(0, 0.0), _s(1, 0.1), _s(2, 0.2, ok=False), _s(3, 0.3, ok=False), _s(4, 0.4, ok=False, latency=0.2),
               _s(5, 0.5, version="1.1.0"), _s(6, 0.6, ok=False), _s(7, 0.7, version="1.1.0"),
               Sample(8, 0.8, 1000.8, 0.0, None, "skipped")]
    r = ProbeResult("http://x/", "h", samples, [Mark(0.25, 1000.25, "upgrade")], duration=1.0)
    assert r.total == 8 and r.skipped_count == 1
    assert r.failed_count == 4
    assert r.longest_failure_run() == (3, 0.4)  # from 0.2 to 0.4 + 0.2
    assert r.versions_seen() == ["1.0.0", "1.1.0"]
    assert r.version_changes() == [(0.0, "1.0.0"), (0.5, "1.1.0")]
    assert r.between("upgrade").total == 5
    assert r.describe_failures() == "HTTP 503 x4"
    assert percentile([1, 2, 3, 4], 50) == 2.5 and percentile([], 50) is None
    with pytest.raises(KeyError):
        r.between("never marked")


# --------------------------------------------------------------------------- the version source


@pytest.fixture
def html_server():
    """An HTTP server on 127.0.0.1 answering HTML that names its version, and an X-App-Version header."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server's name
            body = b'<html><body>{"version": "9.9.9"} static v1.2.3</body></html>'
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("X-App-Version", "2.0.0")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("version_from, want", [
    (None, "2.0.0"),  # no source given: the guess (no JSON body, so the X-App-Version header)
    (lambda headers, body: None, None),  # a contract without versionFrom: nothing
    ("regex", "1.2.3"),
    ("header", "2.0.0"),
])
def test_version_comes_from_the_declared_source_only(html_server, version_from, want):
    from harness.core.contract import VersionFrom

    if version_from == "regex":
        version_from = VersionFrom("regex", r"v(\d+\.\d+\.\d+)").extract
    elif version_from == "header":
        version_from = VersionFrom("header", "x-app-version").extract
    with Prober(html_server, "/", rate=20, max_requests=3, version_from=version_from) as p:
        wait_until(lambda: p.snapshot().total >= 3)
    assert p.result.failed_count == 0
    assert {s.version for s in p.result.sent} == {want}


# --------------------------------------------------------------------------- the prober's own timing error


def test_send_lateness_counts_sends_later_than_the_bound():
    from harness.measure.prober import LATE_SEND_BOUND, send_lateness

    lates = [0.001, 0.002, None, 0.7, 0.5, 1.25, -0.001] + [0.003] * 93
    figs = send_lateness(lates, prefix="probe")
    # 0.5 is at the bound, not over it; None (not sent) is left out; -0.001 counts as 0
    assert figs["probe_late_sends_count"] == 2
    assert figs["probe_send_late_max_s"] == 1.25
    assert 0.003 < figs["probe_send_late_p99_s"] <= 1.25
    assert figs["probe_late_send_bound_s"] == LATE_SEND_BOUND == 0.5


def test_send_lateness_on_time_and_unknown():
    from harness.measure.prober import send_lateness

    on_time = send_lateness([0.01, 0.02, 0.0], bound=0.5, prefix="p")
    assert on_time["p_late_sends_count"] == 0 and on_time["p_send_late_max_s"] == 0.02
    nothing = send_lateness([None, None])
    assert nothing["probe_late_sends_count"] == 0
    assert nothing["probe_send_late_max_s"] is None and nothing["probe_send_late_p99_s"] is None


def test_lateness_is_beside_the_failures_not_among_them():
    late = [Sample(i, i * 0.1, 1000 + i * 0.1, 0.01, 200, None, "1.0.0", "p", late=0.9 if i < 3 else 0.01)
            for i in range(10)]
    r = ProbeResult("http://x/", "h", late + [Sample(10, 1.0, 1001.0, 0.0, None, "skipped")], duration=1.1)
    figs = r.figures()
    assert figs["probe_late_sends_count"] == 3 and figs["probe_send_late_max_s"] == 0.9
    # a late send is still a successful request: the verdict's figures do not change
    assert figs["probe_failed"] == 0 and figs["probe_success_ratio"] == 1.0 and figs["probe_requests"] == 10
    assert r.between(0.25).lateness_figures()["probe_late_sends_count"] == 0


def test_a_real_prober_records_each_sends_lateness(tmp_path):
    from scenario_fakes import local_server

    with local_server() as server:
        with Prober(server.url, "/", rate=50, max_requests=5) as p:
            wait_until(lambda: p.snapshot().total >= 5)
    lates = [s.late for s in p.result.sent]
    # measured, and small on an idle machine (a generous bound: the test must not flake on a busy one)
    assert len(lates) == 5 and all(x is not None and -0.01 < x < 5 for x in lates)
    header, first = p.result.write_csv(tmp_path / "probe.csv").read_text().splitlines()[:2]
    assert header.endswith(",source,late") and first.split(",")[-1] != ""
