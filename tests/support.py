"""Helpers shared by every kind of the harness's own tests (tests/ is on sys.path through pyproject's
``pythonpath``): a free 127.0.0.1 port and a bounded poll."""
from __future__ import annotations

import os
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


def install_wheel(root, dest) -> "object":
    """Build the harness's wheel from the repository ``root`` and install it, with its dependencies
    (from PyPI through pip's cache), into a fresh virtualenv under ``dest`` (a directory outside the
    repository). Only pyproject.toml, README.md and harness/ are copied to build from, so the wheel
    cannot lean on anything else in the checkout (and setuptools' build/ stays out of it).

    Returns the virtualenv's python (a pathlib.Path). Raises subprocess.CalledProcessError."""
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    root, dest = Path(root), Path(dest)
    src = dest / "src"
    src.mkdir(parents=True)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(root / name, src / name)
    shutil.copytree(root / "harness", src / "harness", ignore=shutil.ignore_patterns("__pycache__"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(dest / "dist"), str(src)],
                   check=True, timeout=600)
    [wheel] = sorted((dest / "dist").glob("helm_e2e_harness-*.whl"))
    subprocess.run([sys.executable, "-m", "venv", str(dest / "venv")], check=True, timeout=300)
    python = dest / "venv" / "bin" / "python"
    subprocess.run([str(python), "-m", "pip", "install", "-q", str(wheel)], check=True, timeout=1200)
    return python


def install_wheel_with_charts(root, base) -> tuple:
    """``(python, work dir)``: the wheel installed by :func:`install_wheel` under ``base``, and
    ``base/work/charts`` holding copies of the realtime chart, its released repository and the broken
    overlays, as a user's checkout would."""
    import shutil
    from pathlib import Path

    python = install_wheel(root, base)
    work = Path(base) / "work"
    for name in ("realtime", "repo", "broken"):
        shutil.copytree(Path(root) / "charts-under-test" / name, work / "charts" / name)
    return python, work


def session_cluster_args(cluster, harness_config) -> list[str]:
    """The pytest options (namespaced: harness/core/flags.py) that make a nested pytest run use this
    session's cluster, Kubernetes version, add-ons and helm: the cluster reused and kept, or its
    kubeconfig when external."""
    where = (["--harness-kubeconfig", str(harness_config.kubeconfig)] if harness_config.external_cluster else
             ["--harness-cluster-name", cluster.name, "--harness-reuse-cluster", "--harness-keep-cluster", "always"])
    return [*where, "--harness-kubernetes-version", harness_config.kubernetes_version,
            "--harness-addons", ",".join(harness_config.addons) or "none",
            *(["--harness-helm", str(harness_config.helm)] if harness_config.helm else [])]


def harness_env(root) -> dict[str, str]:
    """This process's environment for a ``python -m harness`` subprocess of checkout ``root``: no
    ``HARNESS_*`` setting leaks in from the caller except the cache directory (shared build cache)."""
    e = {k: v for k, v in os.environ.items() if not k.startswith("HARNESS_")}
    e["PYTHONPATH"] = str(root)
    if os.environ.get("HARNESS_CACHE"):
        e["HARNESS_CACHE"] = os.environ["HARNESS_CACHE"]
    return e
