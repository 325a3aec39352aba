"""The static-site chart's application (charts-under-test/static-server), built with go build and run
as a local process, seen the way the harness sees it: through harness.measure.prober and the pure
version check the upgrade and rollback verdicts use. It answers HTML and says nothing about itself,
so the prober records no version and no pod, and the version check is left to the pods' images."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
from pathlib import Path

import pytest
import requests
from support import free_port, wait_until

from harness.measure.prober import Prober
from harness.scenario.verdicts import PodsFacts, runs_version_check

SERVER_DIR = Path(__file__).resolve().parents[2] / "charts-under-test" / "static-server"


def go_binary() -> str:
    go = shutil.which("go") or ("/usr/local/go/bin/go" if Path("/usr/local/go/bin/go").exists() else None)
    if go is None:
        pytest.skip("the Go toolchain is needed to build the static server")
    return go


def test_go_unit_tests_pass():
    """static-server's own tests (main_test.go): a real SIGTERM drains an in-flight request, the
    grace period is bounded, the pages and routes."""
    res = subprocess.run(["nice", "-n", "19", go_binary(), "test", "-count=1", "./..."], cwd=SERVER_DIR,
                         capture_output=True, text=True, timeout=600, check=False,
                         env={**os.environ, "CGO_ENABLED": "0"})
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-2000:]


@pytest.fixture(scope="module")
def binaries(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """``{version: binary}`` for 1.0.0 and 1.1.0 (skips without Go)."""
    go = go_binary()
    out = tmp_path_factory.mktemp("bin")
    found = {}
    for v in ("1.0.0", "1.1.0"):
        found[v] = out / f"static-server-{v}"
        res = subprocess.run(["nice", "-n", "19", go, "build", "-ldflags", f"-X main.version={v}", "-o", str(found[v]),
                              "."], cwd=SERVER_DIR, capture_output=True, text=True, timeout=600, check=False,
                             env={**os.environ, "CGO_ENABLED": "0"})
        assert res.returncode == 0, f"go build of the static server failed: {res.stderr[-2000:]}"
    return found


class Server:
    def __init__(self, binary: Path, log: Path):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log.open("w")
        self.proc = subprocess.Popen([str(binary), f"-addr=127.0.0.1:{self.port}"], stdout=self.log,
                                     stderr=subprocess.STDOUT)

        def up() -> bool:
            assert self.proc.poll() is None, f"the static server exited with {self.proc.returncode}"
            try:
                return requests.get(self.url + "/", timeout=0.5).status_code == 200
            except requests.RequestException:
                return False

        wait_until(up, timeout=10)

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.log.close()
        return self.proc.returncode


@pytest.fixture
def server(binaries, tmp_path):
    started: list[Server] = []

    def start(version: str) -> Server:
        started.append(Server(binaries[version], tmp_path / f"server-{len(started)}.log"))
        return started[-1]

    yield start
    for s in started:
        s.stop()


def test_html_answers_give_the_prober_no_version_so_the_check_rests_on_images(server):
    old, new = server("1.0.0"), server("1.1.0")
    pages = {v: requests.get(s.url + "/", timeout=5) for v, s in (("1.0.0", old), ("1.1.0", new))}
    assert all(r.status_code == 200 and r.headers["Content-Type"].startswith("text/html") for r in pages.values())
    assert pages["1.0.0"].text != pages["1.1.0"].text
    assert not any(h.lower().startswith("x-") for r in pages.values() for h in r.headers)

    with Prober(new.url, "/", host="static-site.test", rate=40, max_requests=20) as p:
        wait_until(lambda: p.snapshot().total >= 20)
    r = p.result
    assert r.total == 20 and r.failed_count == 0, r.failure_classes()
    assert r.versions_seen() == [] and r.pods_seen() == [] and r.last_versions() == []
    # what upgrade_verdict's "candidate everywhere" gets for this application: the images decide
    facts = PodsFacts({"p1": ["harness/static-site:1.1.0"]}, 1, 1, r.last_versions())
    assert runs_version_check("c", facts, want_images=["harness/static-site:1.1.0"], want_version="1.1.0",
                              which="candidate").ok
    old_pod = PodsFacts({"p1": ["harness/static-site:1.0.0"]}, 1, 1, r.last_versions())
    assert not runs_version_check("c", old_pod, want_images=["harness/static-site:1.1.0"], want_version="1.1.0",
                                  which="candidate").ok


def test_no_data_endpoints(server):
    s = server("1.1.0")
    assert requests.post(s.url + "/items", json={"value": "x"}, timeout=5).status_code in (404, 405)
    assert requests.get(s.url + "/items/1", timeout=5).status_code == 404


def test_sigterm_under_load_loses_no_request_and_exits_0(server):
    s = server("1.1.0")
    prober = Prober(s.url, "/", rate=50, max_duration=30, connect_timeout=1, read_timeout=2).start()
    try:
        wait_until(lambda: prober.snapshot().total >= 25)
        prober.mark("SIGTERM")
        assert s.stop() == 0
        wait_until(lambda: prober.snapshot().between("SIGTERM").failed_count >= 5)  # then it is gone
    finally:
        result = prober.stop()
    assert result.between(None, "SIGTERM").failed_count == 0, result.failure_classes()
    after = result.between("SIGTERM").failed
    assert {f.error for f in after} <= {"ConnectionRefused", "ConnectionError"}, result.failure_classes()
