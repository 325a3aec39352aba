"""Phase timings (table, JSON) and progress lines (start/end, "still waiting" at most every 15 s)."""
from __future__ import annotations

import json

import pytest

from harness.core import progress
from harness.core.fmt import duration
from harness.core.timings import Timings


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


@pytest.fixture
def lines():
    got: list[str] = []
    previous = progress.set_sink(got.append)
    yield got
    progress.set_sink(previous)


def test_phases_table_and_json(tmp_path, lines):
    clock = Clock()
    t = Timings(clock=clock)
    with t.phase("cluster create", announce=False):
        clock.now += 42.25
        with t.phase("load images", announce=False):
            clock.now += 5.0
    with pytest.raises(RuntimeError):
        with t.phase("helm upgrade web-x1", announce=False):
            clock.now += 3.0
            raise RuntimeError("boom")
    table = t.table().splitlines()
    assert table[0].split() == ["phase", "seconds", "outcome"]
    assert table[2].split() == ["cluster", "create", "47.2", "ok"]
    assert table[3].startswith("  load images") and table[3].split()[-2:] == ["5.0", "ok"]
    assert table[4].split()[-3:] == ["3.0", "failed:", "RuntimeError"]
    assert table[5].split()[-1] == "50.2"  # top-level phases only
    data = json.loads(t.write_json(tmp_path / "a" / "timings.json").read_text())
    assert [(p["name"], p["duration"], p["depth"]) for p in data["phases"]] == [
        ("cluster create", 47.25, 0), ("load images", 5.0, 1), ("helm upgrade web-x1", 3.0, 0)]
    assert lines == []  # announce=False prints nothing


def test_phase_announces_start_and_end(lines):
    t = Timings()
    with t.phase("kind create cluster harness"):
        pass
    assert lines[0] == "[harness] kind create cluster harness: started"
    assert lines[1].startswith("[harness] kind create cluster harness: done in ")
    with pytest.raises(ValueError), t.phase("helm install"):
        raise ValueError
    assert lines[-1].startswith("[harness] helm install: failed after ")


def test_tracker_ticks_at_most_every_15_seconds():
    clock = Clock()
    tr = progress.Tracker("deployment ns/web rolled out", clock=clock)
    clock.now = 14.9
    assert tr.tick() is None
    clock.now = 15.0
    assert tr.tick() == "still waiting for deployment ns/web rolled out (15 s)"
    clock.now = 20.0
    assert tr.tick() is None
    clock.now = 30.0
    assert tr.tick() == "still waiting for deployment ns/web rolled out (30 s)"
    clock.now = 125.0
    assert tr.tick() == "still waiting for deployment ns/web rolled out (2m05s)"


def test_only_innermost_tracker_ticks(lines):
    clock = Clock()
    with progress.tracking("helm upgrade", announce=False) as outer:
        outer.clock = clock
        outer.started = outer.last_line = 0.0
        with progress.tracking("rollout", announce=False) as inner:
            inner.clock = clock
            inner.started = inner.last_line = 0.0
            clock.now = 16
            assert outer.tick() is None
            assert inner.tick() == "still waiting for rollout (16 s)"
        clock.now = 40
        assert outer.tick() == "still waiting for helm upgrade (40 s)"


def test_one_duration_formatter():
    assert [duration(s) for s in (0.25, 42.4, 61, 3600)] == ["0.2 s", "42 s", "61 s", "60m00s"]
    assert [duration(s, "latency") for s in (0.0031, 0.0482, 5.38)] == ["3.1 ms", "48 ms", "5.38 s"]
    assert [duration(s, "clock") for s in (-1, 7.9, 754, 3723)] == ["0:00", "0:07", "12:34", "1:02:03"]
    assert duration(None) == duration(None, "clock") == "–"
