"""The real demo service (charts-under-test/service) as a local subprocess, for the prober and SSE
integration tests.

``demo_service_binary()`` builds it once per session with the Go toolchain (``go build`` with
``-X main.version=<v>``; seconds when Go's build cache is warm) or uses ``$DEMO_SERVICE_BIN``.
:class:`DemoService` runs it on free 127.0.0.1 ports without a database (clock-based event ids),
and can be stopped and started again on the same port.
"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest
import requests
from support import free_port

SERVICE_DIR = Path(__file__).resolve().parents[2] / "charts-under-test" / "service"
TEST_VERSION = "9.9.9-test"


def demo_service_binary(dest_dir: Path) -> Path:
    """The service binary: ``$DEMO_SERVICE_BIN``, else built into ``dest_dir`` (skips without Go)."""
    env_bin = os.environ.get("DEMO_SERVICE_BIN")
    if env_bin:
        return Path(env_bin)
    go = shutil.which("go") or ("/usr/local/go/bin/go" if Path("/usr/local/go/bin/go").exists() else None)
    if go is None:
        pytest.skip("the Go toolchain is needed to build the demo service (or set DEMO_SERVICE_BIN)")
    out = dest_dir / "demo-service"
    res = subprocess.run([go, "build", "-ldflags", f"-X main.version={TEST_VERSION}", "-o", str(out), "."],
                         cwd=SERVICE_DIR, capture_output=True, text=True, timeout=600, check=False,
                         env={**os.environ, "CGO_ENABLED": "0"})
    if res.returncode != 0:
        raise RuntimeError(f"go build of the demo service failed: {res.stderr[-2000:]}")
    return out


class DemoService:
    """One service process on 127.0.0.1 ports chosen at construction (kept across restarts)."""

    def __init__(self, binary: Path, log_dir: Path, **env: str):
        self.binary = binary
        self.port = free_port()
        self.env = {"PORT": str(self.port), "INTERNAL_PORT": str(free_port()), "METRICS_PORT": str(free_port()),
                    "POD_NAME": "local-1", **env}
        self.log_dir = log_dir
        self.proc: subprocess.Popen | None = None
        self.starts = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 10.0, **env: str) -> DemoService:
        self.starts += 1
        log = (self.log_dir / f"service-{self.starts}.log").open("w")
        full = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME")}
        full.update(self.env)
        full.update(env)
        self.proc = subprocess.Popen([str(self.binary)], env=full, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"demo service exited with {self.proc.returncode}; see {log.name}")
            try:
                if requests.get(self.base_url + "/healthz", timeout=0.5).status_code == 200:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.05)
        raise RuntimeError("demo service did not answer /healthz in time")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15.0) -> int | None:
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait(5)

    def kill(self) -> None:
        self.stop(signal.SIGKILL)

