"""What may run at once on one cluster: the ``workers`` setting, the shared resources a test
declares, and the locks that follow from them. Pure: no file, no process (harness/core/locks.py
holds the locks; harness/plugin/parallel.py applies this to pytest-xdist workers).

A test declares what it takes exclusively with ``@pytest.mark.harness_exclusive("node")`` or a
scenario module's ``EXCLUSIVE = ("node",)`` (docs/parallel.md). The resources:

``node``
    a worker node of the cluster, cordoned and drained (the drain scenario). Two drains at once
    could cordon both schedulable workers and leave the evicted replicas nowhere to go.
``postgres``
    the PostgreSQL server, stopped, paused or disconnected (the db_outage scenario).
``edge``
    the edge every probe goes through (the Traefik add-on). Every test uses it, so a test that
    restarts or reconfigures it runs alone: every other test takes ``edge`` shared.

The plan (:func:`lock_plan`) lists the locks in one fixed order (the edge first, then the others
by name), so two tests never wait for each other's second lock.
"""
from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from harness.core.errors import UsageError

EDGE = "edge"
RESOURCES: dict[str, str] = {
    "node": "a worker node, cordoned and drained",
    "postgres": "the PostgreSQL server, stopped, paused or disconnected",
    EDGE: "the edge every probe goes through, restarted or reconfigured (the test runs alone)",
}
"""Resource name -> what a test that declares it does to it."""

MARKER = "harness_exclusive"
"""The pytest marker: ``@pytest.mark.harness_exclusive("node", ...)``."""
MODULE_ATTRIBUTE = "EXCLUSIVE"
"""A scenario module's declaration: ``EXCLUSIVE = ("node",)``."""

AUTO = "auto"
AUTO_CAP = 4
"""``workers: auto`` runs at most this many at once (see :func:`resolve_workers`)."""


def resolve_workers(value: str | int | None, cpus: int | None = None) -> int:
    """The number of tests that run at once for a ``workers`` setting.

    ``auto``: one per core (``os.cpu_count()``) and one more, at least 2 and at most
    :data:`AUTO_CAP`. A scenario mostly waits (a 120 s stream hold, a 25 s outage): on this
    project's 2-core machine the CPUs were 47 % busy with 2 workers and 55 % with 3, no probe was
    sent late with either, and 3 took 0.40 of the serial wall time against 0.55 for 2
    (docs/performance.md). Beyond 4 the cluster's own API server and the probes' send timing on a
    small machine are the limit (docs/parallel.md). A number: that many (1 = serial).

    Args:
        value: ``auto``, a positive integer or its text.
        cpus: the machine's cores (default ``os.cpu_count()``; 1 when unknown).

    Returns:
        a positive integer.

    Raises:
        UsageError: not ``auto`` nor a positive integer.
    """
    text = str(value if value is not None else AUTO).strip().lower()
    if text == AUTO:
        cores = cpus if cpus is not None else (os.cpu_count() or 1)
        return max(2, min(cores + 1, AUTO_CAP))
    try:
        n = int(text)
    except ValueError:
        raise UsageError(f"workers: {value!r} is not 'auto' or a positive number") from None
    if n < 1:
        raise UsageError(f"workers: {value!r} must be at least 1 (1 runs the tests one after another)")
    return n


def parse_declaration(names: Iterable[object], where: str) -> frozenset[str]:
    """The resources one declaration names, checked against :data:`RESOURCES`.

    Args:
        names: the marker's arguments or the module attribute's items.
        where: what declared them, for the message (``marker on scenarios/x.py::test_y``).

    Raises:
        UsageError: an unknown name, a name that is not a string, or no name at all.
    """
    items = [names] if isinstance(names, str) else list(names)
    if not items:
        raise UsageError(f"{where}: {MARKER} names no resource; known: {', '.join(RESOURCES)}")
    out = set()
    for n in items:
        if not isinstance(n, str) or n not in RESOURCES:
            raise UsageError(f"{where}: unknown shared resource {n!r}; known: {', '.join(RESOURCES)}")
        out.add(n)
    return frozenset(out)


@dataclass(frozen=True)
class Lock:
    """One lock a test holds while it runs: ``name`` (a resource) and whether it is ``exclusive``."""

    name: str
    exclusive: bool = True


def lock_plan(declared: Iterable[str]) -> list[Lock]:
    """The locks a test holds, in the order they are taken.

    Every test holds ``edge``: shared, or exclusive when it declares ``edge``. Then each other
    declared resource, exclusive, by name. One global order for every test rules out two tests
    each holding a lock the other waits for.
    """
    names = set(declared)
    return [Lock(EDGE, exclusive=EDGE in names), *(Lock(n) for n in sorted(names - {EDGE}))]


TOGETHER = ("sse", "db_outage")
"""Scenarios whose module is one shared run (harness/plugin/shared_run.py): its tests are sent to
one worker together, since the module's first test prepares every target and runs the long phase
for all of them (harness/scenario/shared.py)."""


def schedule_scope(nodeid: str) -> str:
    """The group pytest-xdist sends a test with: the module's path for a shared-run scenario
    module (``.../test_sse.py``, ``.../test_db_outage.py``: the layout tests/unit/test_layout.py
    checks), else the test's own id (dealt alone).

    >>> schedule_scope("scenarios/sse/test_sse.py::test_sse[web-default]")
    'scenarios/sse/test_sse.py'
    >>> schedule_scope("scenarios/drain/test_drain.py::test_drain[web-default]")
    'scenarios/drain/test_drain.py::test_drain[web-default]'
    """
    module = nodeid.split("::", 1)[0]
    name = module.rsplit("/", 1)[-1]
    if any(name == f"test_{s}.py" for s in TOGETHER):
        return module
    return nodeid


def describe(declared: Iterable[str]) -> str:
    """``node, postgres`` or ``nothing`` (for messages and the docs' table)."""
    names = sorted(declared)
    return ", ".join(names) if names else "nothing"


WORKER_OUTPUT_KEY = "harness"
"""The key of the harness's facts in an xdist worker's ``workeroutput`` (harness/plugin/workers.py
writes them; the plugin's and the gate's controller read them)."""


def worker_exit(output: Mapping[str, Any] | None) -> tuple[str, int] | None:
    """The stop a worker's session fixture reported in its ``workeroutput``
    (harness/plugin/workers.py ``report_exit``): ``(line, exit code)``, or None. Pure.

    >>> worker_exit({"harness": {"exit": ["harness: cluster: Docker is not answering", 3]}})
    ('harness: cluster: Docker is not answering', 3)
    >>> worker_exit({}) is None and worker_exit(None) is None
    True
    """
    stopped = ((output or {}).get(WORKER_OUTPUT_KEY) or {}).get("exit")
    return (str(stopped[0]), int(stopped[1])) if stopped else None
