"""harness.measure.prober against the real demo service (built with go build, run as a local process)."""
from __future__ import annotations

import time
from pathlib import Path

import pytest
import requests
from demo_service import TEST_VERSION, DemoService, demo_service_binary
from support import wait_until

from harness.measure import plots
from harness.measure.prober import Prober


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
        prober.mark("service started")
        service.start()
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


def test_requests_session_is_not_reading_proxy_env(monkeypatch: pytest.MonkeyPatch, service: DemoService):
    service.start()
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:1")
    with Prober(service.base_url, "/", rate=20, max_requests=3) as p:
        wait_until(lambda: p.snapshot().total >= 3)
    assert p.result.failed_count == 0, p.result.failure_classes()
    assert requests  # imported for the monkeypatch's sake
