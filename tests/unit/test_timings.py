"""Phase timings (table, JSON) and progress lines (start/end, "still waiting" at most every 15 s)."""
from __future__ import annotations

import contextvars
import json
import threading

import pytest

from harness.core import progress, timings
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


def _in_copied_context(fn, *args) -> threading.Thread:
    """A worker thread as harness.env.addons.catalog starts them: in a copy of the caller's context."""
    t = threading.Thread(target=contextvars.copy_context().run, args=(fn, *args), daemon=True)
    t.start()
    return t


def test_concurrent_phases_nest_under_the_open_phase_not_under_each_other():
    t = Timings()
    both_open = threading.Barrier(2, timeout=5)

    def worker(name):
        with t.phase(name, announce=False):
            both_open.wait()

    with t.phase("add-ons", announce=False):
        for th in [_in_copied_context(worker, n) for n in ("a", "b")]:
            th.join(5)
    plain = threading.Thread(target=worker, args=("c",), daemon=True)  # a plain thread: no parent
    plain.start()
    copied = _in_copied_context(worker, "d")  # outside any phase: top level too
    for th in (plain, copied):
        th.join(5)
    assert {p.name: p.depth for p in t.phases} == {"a": 1, "b": 1, "add-ons": 0, "c": 0, "d": 0}


def test_concurrent_trackers_each_tick_and_their_common_parent_does_not():
    clock = Clock()
    both_open, checked = threading.Barrier(3, timeout=5), threading.Barrier(3, timeout=5)
    inner: dict[str, progress.Tracker] = {}

    def worker(name):
        with progress.tracking(name, announce=False) as tr:
            tr.clock = clock
            tr.started = tr.last_line = 0.0
            inner[name] = tr
            both_open.wait()
            checked.wait()

    with progress.tracking("add-ons", announce=False) as outer:
        outer.clock = clock
        outer.started = outer.last_line = 0.0
        threads = [_in_copied_context(worker, n) for n in ("a", "b")]
        both_open.wait()
        clock.now = 16
        ticks = (outer.tick(), inner["a"].tick(), inner["b"].tick())
        checked.wait()
        for th in threads:
            th.join(5)
        clock.now = 40
        assert outer.tick() == "still waiting for add-ons (40 s)", "its children are over"
    assert ticks == (None, "still waiting for a (16 s)", "still waiting for b (16 s)")
    assert inner["a"].parent is outer and outer.children == 0


def test_progress_lines_reach_the_sink_one_at_a_time(monkeypatch):
    """While the sink writes a line (a stream may take several writes), no other thread gets in."""
    other_could_enter: list[bool] = []
    out: list[str] = []

    def sink(line):
        def other():
            got = progress._say_lock.acquire(blocking=False)  # what another thread's say() must do first
            if got:
                progress._say_lock.release()
            other_could_enter.append(got)

        t = threading.Thread(target=other, daemon=True)
        t.start()
        t.join(5)
        out.append(line)

    monkeypatch.setattr(progress, "_sink", sink)
    progress.say("one")
    assert out == ["[harness] one"] and other_could_enter == [False]
    progress._say_lock.acquire()
    progress._say_lock.release()  # and it is free again afterwards


def test_one_duration_formatter():
    assert [duration(s) for s in (0.25, 42.4, 61, 3600)] == ["0.2 s", "42 s", "61 s", "60m00s"]
    assert [duration(s, "latency") for s in (0.0031, 0.0482, 5.38)] == ["3.1 ms", "48 ms", "5.38 s"]
    assert [duration(s, "clock") for s in (-1, 7.9, 754, 3723)] == ["0:00", "0:07", "12:34", "1:02:03"]
    assert duration(None) == duration(None, "clock") == "–"


def test_merged_records_line_up_on_the_wall_clock_and_give_each_process_its_setup_lane():
    from harness.core.timings import merge_records
    gw0 = {"origin_epoch": 1000.0, "phases": [
        {"name": "cluster harness ready", "start": 0.0, "duration": 40.0, "outcome": "ok", "depth": 0},
        {"name": "upgrade a-default: helm upgrade", "start": 50.0, "duration": 10.0, "outcome": "ok", "depth": 0}]}
    gw1 = {"origin_epoch": 1002.5, "phases": [
        {"name": "sse b-default: hold", "start": 48.0, "duration": 120.0, "outcome": "failed: X", "depth": 1},
        {"name": "no start"}]}
    ctl = {"phases": [{"name": "cluster harness delete", "start": 1.0, "duration": 5.0, "outcome": "ok", "depth": 0}]}
    merged = merge_records({"gw1": gw1, "gw0": gw0, "controller": ctl})
    assert merged["origin_epoch"] == 1000.0
    assert merged["processes"] == {"controller": 0.0, "gw0": 0.0, "gw1": 2.5}
    assert [(p["name"], p["start"]) for p in merged["phases"]] == [
        ("harness gw0: cluster harness ready", 0.0),
        ("harness controller: cluster harness delete", 1.0),  # no wall clock: taken as starting at the earliest
        ("upgrade a-default: helm upgrade", 50.0),
        ("sse b-default: hold", 50.5)]  # 48 s after a start 2.5 s later
    assert merged["phases"][-1]["outcome"] == "failed: X" and merged["phases"][-1]["depth"] == 1


def test_a_record_carries_the_wall_clock_of_its_start():
    import time as _time
    before = _time.time()
    t = Timings(Clock())
    data = t.to_json()
    assert before - 1 <= data["origin_epoch"] <= _time.time() + 1 and data["phases"] == []


def test_the_table_of_a_merged_record_names_each_tests_worker_and_the_wall_time():
    record = timings.merge_records({
        "gw0": {"origin_epoch": 100.0, "phases": [
            {"name": "cluster harness ready", "start": 0.0, "duration": 40.0, "outcome": "ok", "depth": 0},
            {"name": "upgrade x: judge", "start": 50.0, "duration": 10.0, "outcome": "ok", "depth": 0}]},
        "gw1": {"origin_epoch": 101.0, "phases": [
            {"name": "drain x: drain w1", "start": 45.0, "duration": 20.0, "outcome": "failed: StepFailed",
             "depth": 0}]}})
    lines = timings.format_table(record).splitlines()
    assert lines[2].startswith("harness gw0: cluster harness ready ") and lines[2].endswith("40.0  ok")
    assert lines[3].startswith("drain x: drain w1 [gw1] ") and lines[3].endswith("failed: StepFailed")
    assert lines[4].startswith("upgrade x: judge [gw0] ")
    assert lines[5].startswith("total (top-level phases, side by side)") and lines[5].endswith("70.0")
    assert lines[6].startswith("wall time (first start to last end)") and lines[6].endswith("66.0")


def test_the_table_of_one_process_has_no_wall_time_line():
    t = timings.Timings(clock=lambda: 0.0)
    assert "wall time" not in t.table() and t.table() == "(no phases recorded)"
    with t.phase("x", announce=False):
        pass
    assert t.table().splitlines()[-1].startswith("total (top-level phases) ")
