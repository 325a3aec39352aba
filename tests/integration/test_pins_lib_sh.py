"""Runs bash over the project's scripts (a subprocess: integration, not unit). Split from test_pins.py."""

from __future__ import annotations

import subprocess
from pathlib import Path

from harness.core.pins import (
    kubernetes_pins,
    supported_kubernetes,
)

IMAGES = Path(__file__).resolve().parents[2] / "images"


def test_lib_sh_reads_the_same_table_as_pins_py():
    script = f'source {IMAGES}/lib.sh; supported_k8s; k8s_pins {supported_kubernetes()[-1]}; echo "$K8S_ETCD_TAG $K8S_PAUSE $K8S_KIND"'
    out = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=30, env={"HOME": "/tmp", "PATH": "/usr/bin:/bin"})
    assert out.returncode == 0, out.stderr
    lines = out.stdout.split("\n")
    assert lines[:-2] == supported_kubernetes()
    row = kubernetes_pins(supported_kubernetes()[-1])
    assert lines[-2] == f"{row.etcd} {row.pause} {row.kind}"


def test_lib_sh_rejects_an_unsupported_version_in_one_line():
    out = subprocess.run(["bash", "-c", f"source {IMAGES}/lib.sh; k8s_pins v1.20.0"], capture_output=True,
                         text=True, timeout=30, env={"HOME": "/tmp", "PATH": "/usr/bin:/bin"})
    assert out.returncode == 2
    assert out.stderr.count("\n") == 1 and "supported: " + " ".join(supported_kubernetes()) in out.stderr
