"""The harness's own CPU share (harness/measure/cpu.py): it rises when the process burns CPU."""
from __future__ import annotations

import hashlib
import os
import threading
import time

from harness.measure.cpu import CpuUsage, measure_cpu


def burn(seconds: float) -> None:
    end = time.process_time() + seconds
    data = b"x" * 4096
    while time.process_time() < end:
        data = hashlib.sha256(data).digest() * 128


def test_busy_share_is_higher_than_idle_share():
    with measure_cpu() as idle:
        threading.Event().wait(0.3)  # the window being measured: nothing runs
    with measure_cpu() as busy:
        burn(0.3)
    assert busy.result is not None and idle.result is not None
    assert busy.result.cpu_seconds >= 0.25
    assert idle.result.cpu_seconds < 0.1
    # (no absolute bound on the busy share: on a shared machine the burn may get only part of a CPU)
    assert busy.result.percent > idle.result.percent
    assert busy.result.cpus == (os.cpu_count() or 1)


def test_cpu_of_other_threads_counts():
    with measure_cpu() as m:
        t = threading.Thread(target=burn, args=(0.3,))
        t.start()
        t.join(30)
    assert m.result is not None and m.result.cpu_seconds >= 0.25


def test_figures_and_the_share_formula():
    u = CpuUsage(cpu_seconds=3.0, children_cpu_seconds=1.5, wall_seconds=10.0, cpus=2)
    assert u.percent == 15.0
    assert u.figures() == {"harness_cpu_percent": 15.0, "harness_cpu_seconds": 3.0,
                           "harness_children_cpu_seconds": 1.5}
    assert CpuUsage(1.0, 0.0, 0.0, 2).percent == 0.0


def test_read_before_stop_and_frozen_after():
    with measure_cpu() as m:
        burn(0.05)
        running = m.read()
    assert running.cpu_seconds > 0
    assert m.read() is m.result
