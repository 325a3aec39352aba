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


# --------------------------------------------------------------------------- sends late by the harness

RATE = 20.0  # slots every 0.05 s


def _slot(seq: int, ok: bool = True, lag: float = 0.0, wait: float = 0.0, error: str = "HTTP 503") -> Sample:
    """Ticket ``seq`` issued ``lag`` s after its slot by the scheduler, sent ``wait`` s later by a worker."""
    t = seq / RATE + lag
    return Sample(seq, round(t, 4), 1000 + t, 0.02, 200 if ok else None, None if ok else error, late=lag + wait)


def test_ticket_lag_is_the_schedulers_own_part_of_the_lateness():
    from harness.measure.prober import sent_late_by_harness, ticket_lag

    on_time, scheduler_late, worker_wait = _slot(10), _slot(11, lag=0.8), _slot(12, wait=3.0)
    assert ticket_lag(on_time, RATE) == pytest.approx(0.0, abs=1e-4)
    assert ticket_lag(scheduler_late, RATE) == pytest.approx(0.8, abs=1e-4)
    # waited 3 s for a worker (every worker held by slower requests): late, but not the harness's doing
    assert worker_wait.late == 3.0 and ticket_lag(worker_wait, RATE) == pytest.approx(0.0, abs=1e-4)
    assert sent_late_by_harness(scheduler_late, RATE) and not sent_late_by_harness(worker_wait, RATE)
    assert not sent_late_by_harness(scheduler_late, RATE, bound=1.0)
    # without the rate nothing is known to be late: nothing is excused
    assert ticket_lag(scheduler_late, None) is None and not sent_late_by_harness(scheduler_late, None)
    assert ticket_lag(Sample(5, 0.2, 1000.2, 0.0, 200, None), RATE) == 0.0  # never negative


def test_late_failures_are_set_apart_and_late_successes_stay():
    samples = ([_slot(i) for i in range(10)]
               + [_slot(10, ok=False), _slot(11, ok=False, lag=0.9), _slot(12, ok=False)]  # a late one inside a run
               + [_slot(13, lag=0.7), _slot(14, ok=False, wait=4.0)] + [_slot(i) for i in range(15, 20)])
    r = ProbeResult("http://x/", "h", samples, duration=1.0, rate=RATE)
    assert [s.seq for s in r.late_failed()] == [11]
    judged = r.without_late_failures()
    assert judged.total == r.total - 1 == 19 and judged.failed_count == 3  # 10, 12 and the worker-wait 14
    assert 13 in {s.seq for s in judged.sent if s.ok}  # sent late, and it succeeded: a success
    # the late failure neither counts nor splits the run of failures around it
    assert r.longest_failure_run()[0] == 3 and judged.longest_failure_run()[0] == 2
    assert [s.seq for s in judged.samples if not s.ok] == [10, 12, 14]
    # the raw figures stay what the prober saw
    assert r.figures()["probe_failed"] == 4
    # a result without its rate (built by hand) excuses nothing
    assert ProbeResult("http://x/", "h", samples).late_failed() == []
    assert r.between(0.5).rate == RATE and r.between(0.5).late_failed()[0].seq == 11


def test_a_prober_records_its_rate():
    with Prober(f"http://127.0.0.1:{free_port()}", "/", rate=40, max_requests=3, connect_timeout=1) as p:
        wait_until(lambda: p.snapshot().total >= 3)
        assert p.snapshot().rate == 40
    assert p.result.rate == 40 and p.result.between(0.0).rate == 40
