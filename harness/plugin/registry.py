"""The ``harness_registry`` fixture: the loopback OCI registry (harness/env/registry.py) for a test
session, removed with its storage at the session's end.

Requested by name only, so a run that does not ask for it starts nothing. It needs the registry
image (``images/build-registry.sh``, part of ``make images``); without it the fixture fails with
that one line.
"""
from __future__ import annotations

from collections.abc import Iterator

import pytest

from harness.core.errors import HarnessError
from harness.env import registry as registry_mod


@pytest.fixture(scope="session")
def harness_registry() -> Iterator[registry_mod.Registry]:
    """A running :class:`harness.env.registry.Registry` on ``127.0.0.1:<port chosen by Docker>``,
    joined to the ``kind`` network when it exists (else call :func:`harness.env.registry.attach`
    once a cluster made it). Push with :func:`harness.env.registry.push`, read what it served with
    :func:`harness.env.registry.requests`."""
    try:
        reg = registry_mod.start(0)
    except HarnessError as exc:
        pytest.fail(f"harness_registry: {exc}", pytrace=False)
    try:
        yield reg
    finally:
        registry_mod.stop(reg)
