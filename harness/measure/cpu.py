"""How much of the machine the harness itself used during a scenario: its CPU seconds (all of its
threads: prober, SSE readers, watches) over the wall time, as a share of all CPUs.

``resource.getrusage(RUSAGE_SELF)`` counts user and system time of every thread of the calling
process (getrusage(2)); ``RUSAGE_CHILDREN`` counts the processes it started (helm, kubectl) once they
have ended and been waited for, reported separately because the scenario's own helm upgrade is
the action under test, not observation overhead.
"""
from __future__ import annotations

import os
import resource
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass


def _cpu(who: int) -> float:
    ru = resource.getrusage(who)
    return ru.ru_utime + ru.ru_stime


@dataclass(frozen=True)
class CpuUsage:
    """CPU used over a window: ``cpu_seconds`` (this process, all threads), ``children_cpu_seconds``
    (ended child processes), ``wall_seconds``, ``cpus`` (``os.cpu_count()``)."""

    cpu_seconds: float
    children_cpu_seconds: float
    wall_seconds: float
    cpus: int

    @property
    def percent(self) -> float:
        """The process's share of the whole machine in percent (100 = every CPU busy the whole window)."""
        if self.wall_seconds <= 0 or self.cpus <= 0:
            return 0.0
        return 100.0 * self.cpu_seconds / self.wall_seconds / self.cpus

    def figures(self, prefix: str = "harness") -> dict[str, float]:
        """``{"harness_cpu_percent", "harness_cpu_seconds", "harness_children_cpu_seconds"}`` (rounded)."""
        return {f"{prefix}_cpu_percent": round(self.percent, 2),
                f"{prefix}_cpu_seconds": round(self.cpu_seconds, 3),
                f"{prefix}_children_cpu_seconds": round(self.children_cpu_seconds, 3)}


class CpuMeter:
    """Started at construction; :meth:`read` gives the usage so far, :meth:`stop` freezes it."""

    def __init__(self) -> None:
        self._wall0 = time.monotonic()
        self._self0 = _cpu(resource.RUSAGE_SELF)
        self._kids0 = _cpu(resource.RUSAGE_CHILDREN)
        self.result: CpuUsage | None = None

    def read(self) -> CpuUsage:
        """Usage since the meter started (or the frozen result after :meth:`stop`)."""
        if self.result is not None:
            return self.result
        return CpuUsage(_cpu(resource.RUSAGE_SELF) - self._self0, _cpu(resource.RUSAGE_CHILDREN) - self._kids0,
                        time.monotonic() - self._wall0, os.cpu_count() or 1)

    def stop(self) -> CpuUsage:
        self.result = self.read()
        return self.result


@contextmanager
def measure_cpu() -> Iterator[CpuMeter]:
    """``with measure_cpu() as m: ...`` then ``m.result`` (a :class:`CpuUsage`) and ``m.result.figures()``."""
    meter = CpuMeter()
    try:
        yield meter
    finally:
        meter.stop()
