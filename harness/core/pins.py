"""The pinned versions of the cluster toolchain, read from images/versions.env (the one place they live)."""
from __future__ import annotations

import os
from functools import cache
from pathlib import Path

VERSIONS_FILE = Path(__file__).resolve().parents[2] / "images" / "versions.env"


@cache
def pinned() -> dict[str, str]:
    """Return KEY -> value from images/versions.env (comments and blank lines skipped)."""
    out: dict[str, str] = {}
    for line in VERSIONS_FILE.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, _, value = line.partition("=")
            out[key.strip()] = value.strip()
    return out


def cache_dir() -> Path:
    """The build cache: $HARNESS_CACHE, else $XDG_CACHE_HOME/helm-e2e-harness, else ~/.cache/helm-e2e-harness."""
    if os.environ.get("HARNESS_CACHE"):
        return Path(os.environ["HARNESS_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "helm-e2e-harness"
