"""Fixtures for the harness's own real-cluster tests: the toolbox image and a scratch namespace."""
from __future__ import annotations

import pytest

from harness.env.cluster import load_images

TOOLBOX = "harness/toolbox:latest"


@pytest.fixture(scope="session")
def toolbox(cluster) -> str:
    """harness/toolbox (static busybox, built by `make images`) loaded into every node."""
    load_images(cluster, [TOOLBOX])
    return TOOLBOX
