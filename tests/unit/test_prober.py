"""harness.measure.prober against the real demo service run locally, plus its figures on synthetic samples."""
from __future__ import annotations

import time
from pathlib import Path

import pytest
import requests
from demo_service import (
    TEST_VERSION,
    DemoService,
    demo_service_binary,
    free_port,
    wait_until,
)

from harness.measure import plots
from harness.measure.prober import Mark, Prober, ProbeResult, Sample, percentile


@pytest.fixture(scope="module")
def service_bin(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return demo_service_binary(tmp_path_factory.mktemp("bin"))


@pytest.fixture
def service(service_bin: Path, tmp_path: Path):
    svc = DemoService(service_bin, tmp_path)
    yield svc
    svc.stop()


def test_counts_successes_and_failures_when_the_service_stops(service: DemoService, tmp_path: Path):
    service.start(GRACEFUL_SHUTDOWN="false")
    prober = Prober(service.base_url, "/", rate=40, max_duration=30, connect_timeout=1, read_timeout=2).start()
    try:
        wait_until(lambda: prober.snapshot().total >= 20)
        prober.mark("service stopped")
        service.kill()
        wait_until(lambda: prober.snapshot().failed_count >= 20)
        service.start()  # returns once the service answers /healthz
        prober.mark("service started")  # after it: requests sent before it answered fail, and are in the window
        before = prober.snapshot().total
        wait_until(lambda: prober.snapshot().total >= before + 20)
    finally:
        result = prober.stop()

    assert result.total >= 60
    assert 20 <= result.failed_count < result.total
    assert set(result.failure_classes()) <= {"ConnectionRefused", "ConnectionError", "ConnectionReset",
                                             "RemoteDisconnected"}, result.failure_classes()
    run_n, run_s = result.longest_failure_run()
    assert run_n >= 20 and run_s > 0.3
    # every failure happened between the two marks
    down = result.between("service stopped", "service started")
    assert down.failed_count == result.failed_count
    assert result.between(None, "service stopped").failed_count == 0
    assert result.versions_seen() == [TEST_VERSION]
    assert result.pods_seen() == ["local-1"]
    assert 0 < result.p50 <= result.p99 < 1.0
    assert 0 < result.success_ratio < 1
    assert result.stop_reason == "stopped"
    figs = result.figures()
    assert figs["probe_failed"] == result.failed_count and figs["probe_versions"] == TEST_VERSION

    csv_path = result.write_csv(tmp_path / "probe.csv")
    lines = csv_path.read_text().splitlines()
    assert lines[0].startswith("seq,t,wall,latency,status,error")
    assert sum(1 for ln in lines if ",mark," in ln) == 2
    png = plots.probe_timeline(result, tmp_path / "probe.png")
    assert png is not None and png.stat().st_size > 5000


def test_abrupt_exit_fails_requests_in_flight_on_slow_path(service: DemoService):
    """/slow sends its headers at once: a process dying with it in flight cuts the body, which the
    prober must count as a failure (a truncated response), not as a 200."""
    service.start(GRACEFUL_SHUTDOWN="false")
    prober = Prober(service.base_url, "/slow?ms=400", rate=20, max_duration=20, concurrency=12,
                    connect_timeout=1, read_timeout=3).start()
    try:
        wait_until(lambda: prober.snapshot().total - prober.snapshot().failed_count >= 5)
        time.sleep(0.3)  # several requests in flight now
        service.stop()   # SIGTERM; GRACEFUL_SHUTDOWN=false exits at once
        wait_until(lambda: prober.snapshot().failed_count >= 5)
    finally:
        result = prober.stop()
    classes = result.failure_classes()
    cut = {k: v for k, v in classes.items() if k in ("ChunkedEncodingError", "ConnectionError", "ConnectionReset",
                                                       "RemoteDisconnected", "ProtocolError")}
    assert cut, f"no request cut in flight: {classes}"
    assert all(s.status in (None, 200) for s in result.failed)


def test_graceful_shutdown_finishes_requests_in_flight(service: DemoService):
    service.start()
    prober = Prober(service.base_url, "/slow?ms=300", rate=20, max_duration=20, concurrency=12,
                    connect_timeout=1, read_timeout=3).start()
    try:
        wait_until(lambda: prober.snapshot().total >= 10)
        in_flight_before = prober.snapshot()
        service.stop()  # graceful: in-flight requests finish, new ones are refused
        prober.mark("stopped")
        time.sleep(0.5)
    finally:
        result = prober.stop()
    started_before = [s for s in result.sent if s.seq <= max(x.seq for x in in_flight_before.sent)]
    assert started_before and all(s.ok for s in started_before[:-3]), result.failure_classes()
    assert result.between("stopped").failed_count > 0


def test_max_requests_bounds_the_run(service: DemoService):
    service.start()
    p = Prober(service.base_url, "/", rate=50, max_requests=15, max_duration=30).start()
    wait_until(lambda: not p.running, timeout=10)
    result = p.stop()
    assert result.total + result.skipped_count == 15
    assert result.stop_reason == "max requests"


def test_host_header_and_unexpected_status_are_recorded(service: DemoService):
    service.start()
    with Prober(service.base_url, "/nope", host="example.test", rate=20, max_requests=5) as p:
        wait_until(lambda: p.snapshot().total >= 5)
    r = p.result
    assert r.failure_classes() == {"HTTP 404": 5}
    assert all(s.source in ("proxy", "app") for s in r.failed)


def test_nothing_listening_is_connection_refused():
    with Prober(f"http://127.0.0.1:{free_port()}", "/", rate=20, max_requests=5, connect_timeout=1) as p:
        wait_until(lambda: p.snapshot().total >= 5)
    assert p.result.failed_count == 5
    assert list(p.result.failure_classes()) in (["ConnectionRefused"], ["ConnectionError"])


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


def test_requests_session_is_not_reading_proxy_env(monkeypatch: pytest.MonkeyPatch, service: DemoService):
    service.start()
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:1")
    with Prober(service.base_url, "/", rate=20, max_requests=3) as p:
        wait_until(lambda: p.snapshot().total >= 3)
    assert p.result.failed_count == 0, p.result.failure_classes()
    assert requests  # imported for the monkeypatch's sake
