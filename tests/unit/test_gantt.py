"""The run's Gantt chart from timings.json (harness/report/gantt.py)."""
from __future__ import annotations

import json

import pytest

from harness.core.timings import Timings
from harness.report.gantt import (
    GANTT_NAME,
    SETUP_LANE,
    GanttBar,
    bar_color,
    fit_label,
    gantt_bars,
    lanes,
    span,
    write_gantt,
)

RECORD = {"phases": [
    {"name": "cluster harness ready", "start": 0.0, "duration": 40.0, "outcome": "ok", "depth": 0},
    {"name": "add-on traefik", "start": 5.0, "duration": 20.0, "outcome": "ok", "depth": 1},
    {"name": "upgrade ha-service-default: helm upgrade to the candidate", "start": 60.0, "duration": 21.0,
     "outcome": "ok", "depth": 0},
    {"name": "drain ha-service-default: drain kind-worker", "start": 50.0, "duration": 9.5,
     "outcome": "failed: StepFailed", "depth": 0},
    {"name": "upgrade ha-service-default: install released", "start": 45.0, "duration": 12.0, "outcome": "ok",
     "depth": 0},
]}


def test_one_bar_per_phase_in_the_lane_of_its_test():
    bars = gantt_bars(RECORD)
    assert [(b.lane, b.label) for b in bars] == [
        (SETUP_LANE, "cluster harness ready"), (SETUP_LANE, "add-on traefik"),
        ("upgrade ha-service-default", "install released"), ("drain ha-service-default", "drain kind-worker"),
        ("upgrade ha-service-default", "helm upgrade to the candidate")]
    assert bars[1] == GanttBar(SETUP_LANE, "add-on traefik", 5.0, 20.0, True, 1)
    assert not bars[3].ok and all(b.ok for b in bars if b is not bars[3])
    # lanes in order of their first start: the harness's setup, then the tests as they began
    assert lanes(bars) == [SETUP_LANE, "upgrade ha-service-default", "drain ha-service-default"]
    assert lanes(bars, limit=2) == [SETUP_LANE, "upgrade ha-service-default"]
    assert span(bars) == 81.0 and span([]) == 0.0


def test_what_the_harness_writes_is_what_the_chart_reads(tmp_path):
    now = [100.0]
    t = Timings(clock=lambda: now[0])
    with t.phase("cluster harness ready", announce=False):
        now[0] += 3
    with t.phase("sse realtime-default: hold 3 streams for 120 s", announce=False):
        now[0] += 120
    bars = gantt_bars(json.loads(t.write_json(tmp_path / "timings.json").read_text()))
    assert [(b.lane, b.label, b.start, b.seconds) for b in bars] == [
        (SETUP_LANE, "cluster harness ready", 0.0, 3.0), ("sse realtime-default", "hold 3 streams for 120 s", 3.0, 120.0)]


def test_a_phase_missing_its_numbers_is_left_out_and_a_non_record_is_refused():
    record = {"phases": [{"name": "x", "start": "soon", "duration": 1}, {"start": 0, "duration": 1}, "junk",
                         {"name": "ok: ", "start": 1, "duration": True},
                         {"name": "y: step", "start": 2, "duration": -1, "depth": "deep"}]}
    assert gantt_bars(record) == [GanttBar("y", "step", 2.0, 0.0, True, 0)]
    with pytest.raises(ValueError, match="no 'phases' list"):
        gantt_bars({"steps": []})
    with pytest.raises(ValueError):
        gantt_bars([])  # type: ignore[arg-type]


def test_a_label_fits_its_bar_or_is_cut_or_left_out():
    assert fit_label("judge", 50, 100) == "judge"
    assert fit_label("helm upgrade to the candidate", 5, 100) == "helm upg…"  # 9 characters fit in 5 %
    assert fit_label("helm upgrade to the candidate", 1, 100) == ""


def test_the_chart_is_drawn_from_a_timings_file(tmp_path):
    src = tmp_path / "timings.json"
    src.write_text(json.dumps(RECORD))
    out = write_gantt(src, tmp_path / "report" / GANTT_NAME)
    assert out == tmp_path / "report" / GANTT_NAME and out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert out.stat().st_size > 5000


def test_no_chart_without_a_readable_record(tmp_path):
    (tmp_path / "empty.json").write_text(json.dumps({"phases": []}))
    (tmp_path / "bad.json").write_text("{not json")
    assert write_gantt(tmp_path / "empty.json", tmp_path / "a.png") is None
    assert write_gantt(tmp_path / "bad.json", tmp_path / "b.png") is None
    assert write_gantt(tmp_path / "missing.json", tmp_path / "c.png") is None
    assert not any(tmp_path.glob("*.png"))


def test_a_concurrent_runs_lanes_name_the_worker_that_ran_each_test():
    from harness.core.timings import merge_records
    merged = merge_records({
        "gw0": {"origin_epoch": 100.0, "phases": [RECORD["phases"][0], RECORD["phases"][2]]},
        "gw1": {"origin_epoch": 101.0, "phases": [RECORD["phases"][3]]}})
    assert lanes(gantt_bars(merged)) == ["harness gw0", "drain ha-service-default [gw1]",
                                         "upgrade ha-service-default [gw0]"]


def test_a_failed_attempt_is_drawn_apart_from_a_failure():
    record = {"phases": [
        {"name": "rollback x: upgrade to a candidate that cannot become Ready", "start": 0, "duration": 30,
         "outcome": "attempt failed: StepFailed"},
        {"name": "rollback x: judge", "start": 31, "duration": 1, "outcome": "failed: StepFailed"},
        {"name": "rollback x: settle", "start": 30, "duration": 1, "outcome": "ok"}]}
    attempt, settle, judge = gantt_bars(record)
    assert not attempt.ok and attempt.attempt and not judge.ok and not judge.attempt and not settle.attempt
    assert len({bar_color(attempt), bar_color(judge), bar_color(settle)}) == 3
