"""Helpers shared by every kind of the harness's own tests (tests/ is on sys.path through pyproject's
``pythonpath``): a free 127.0.0.1 port and a bounded poll."""
from __future__ import annotations

import socket
import time


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (the OS picked it for a socket bound to 0)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(pred, timeout: float = 10.0, interval: float = 0.05) -> None:
    """Poll ``pred()`` every ``interval`` seconds until it is true; AssertionError after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout:.0f} s")


def make_chart_tgz(path, name: str = "web", version: str = "0.1.0", files: dict | None = None, *,
                   top: str | None = None) -> "object":
    """Write a packaged chart the way ``helm package`` lays it out (entries under ``<name>/``, Chart.yaml
    first) at ``path`` (a pathlib.Path), with ``files`` (relative name -> text) beside Chart.yaml; returns path."""
    import io
    import tarfile

    top = name if top is None else top
    entries = {"Chart.yaml": f"apiVersion: v2\nname: {name}\nversion: {version}\n", **(files or {})}
    with tarfile.open(path, "w:gz") as tar:
        for rel, text in entries.items():
            data = text.encode()
            info = tarfile.TarInfo(f"{top}/{rel}" if top else rel)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path
