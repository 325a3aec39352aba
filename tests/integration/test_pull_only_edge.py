"""A pull-only edge on a machine that builds its images (issue 12): ``--harness-edge ingress-nginx``
skips the scenario with the reason before any cluster exists, and the run passes (exit 0).

Real pytest in a subprocess with the real plugin and the bundled scenario; nothing is faked, and
nothing reaches Docker or kind because the skip comes first. On a machine that pulls images the
edge runs instead, so the test skips there."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from harness.core.pins import cache_dir, pinned
from harness.env.cluster import effective_image_source

ROOT = Path(__file__).resolve().parents[2]
CLUSTER = "harness-pull-only-edge"


def test_ingress_nginx_edge_skips_with_its_reason_and_creates_nothing(tmp_path):
    if effective_image_source("auto", None, pinned()["KUBERNETES_VERSION"]) != "local":
        pytest.skip("this machine pulls images: the ingress-nginx edge runs here instead of skipping")
    art = tmp_path / "artifacts"
    r = subprocess.run([sys.executable, "-m", "pytest", str(ROOT / "scenarios" / "upgrade"), "-k",
                        "ha-service-default", "-p", "no:cacheprovider", "-q", "-rs", "--harness-edge", "ingress-nginx",
                        "--harness-cluster-name", CLUSTER, "--harness-artifacts-dir", str(art)],
                       cwd=ROOT, capture_output=True, text=True, timeout=300)
    out = r.stdout + r.stderr
    assert r.returncode == 0, out[-3000:]
    assert "1 skipped" in out, out[-3000:]
    said = [ln for ln in out.splitlines() if "edge ingress-nginx cannot run on this machine" in ln]
    assert said and "image-source is pull" in said[-1], out[-3000:]
    assert not (cache_dir() / "clusters" / CLUSTER).exists(), "a cluster record was written for a skipped edge"
    kinds = subprocess.run(["docker", "ps", "-a", "--format", "{{.Names}}"], capture_output=True, text=True,
                           timeout=60).stdout.split()
    assert not [n for n in kinds if n.startswith(CLUSTER)], kinds
