"""probe_while (harness/scenario/probing.py) against a tiny HTTP server on 127.0.0.1, and
ScenarioContext.finish building the result record for a positive target and a negative control."""
from __future__ import annotations

import json
import re

import pytest
from scenario_fakes import CELL, local_server, make_ctx, target

from harness.k8s.watch import PodState
from harness.scenario.probing import probe_while
from harness.scenario.result import ScenarioResult
from harness.scenario.settings import Settings
from harness.scenario.steps import StepFailed
from harness.scenario.verdicts import EXPECTED_FAILURE, Check, Verdict

FAST = Settings(probe_rate=20.0, probe_concurrency=2, sse_streams=1)


def test_probe_while_measures_the_window_marks_the_steps_and_saves_the_evidence(tmp_path):
    with local_server() as server:
        ctx = make_ctx(tmp_path, target("upgrade", index=2), base_url=server.url, settings=FAST)  # realtime: streams
        with probe_while(ctx, "upgrade started", streams=1, baseline=0.5) as probing:
            assert probing.prober.running and probing.probe is None
            with pytest.raises(RuntimeError, match="has not ended"):
                _ = probing.window
            with ctx.step("helm upgrade to the candidate"):
                probing.prober.snapshot()  # the block does its work while the prober runs
                import time

                time.sleep(0.6)
            probing.mark("helm upgrade returned")
        assert not probing.prober.running
        probe = probing.probe
        labels = [m.label for m in probe.marks]
        assert labels == ["baseline", "upgrade started", "helm upgrade to the candidate", "helm upgrade returned"]
        assert probe.total >= 10 and probe.failed_count == 0
        assert probing.baseline.total >= 3 and probing.window.total >= 5
        assert probing.baseline.total + probing.window.total == probe.total
        assert all(s.t >= probe.marks[1].t for s in probing.window.sent)
        assert len(probing.sse) == 1 and probing.sse[0].events
        assert [label for _, label in probing.sse[0].marks] == labels
    steps = [(s.name, s.outcome) for s in ctx.steps.snapshot()]
    assert steps == [("baseline", "ok"), ("helm upgrade to the candidate", "ok")]
    names = {p.name for p in ctx.artifact_paths}
    assert names == {"probe.csv", "probe.png", "sse.json", "sse.png"}
    assert all(p.is_file() and p.stat().st_size > 0 for p in ctx.artifact_paths)
    assert "upgrade started" in (ctx.artifacts / "probe.csv").read_text()


def test_probe_while_stops_and_saves_when_the_block_fails(tmp_path):
    with local_server(status=503) as server:
        ctx = make_ctx(tmp_path, base_url=server.url, settings=FAST)
        with pytest.raises(StepFailed, match="step 'drain w1' failed: RuntimeError: eviction API down"):
            with probe_while(ctx, "drain started", baseline=0.2, name="probe-x", title="drain x") as probing:
                with ctx.step("drain w1"):
                    raise RuntimeError("eviction API down")
    assert not probing.prober.running
    assert probing.probe is not None and probing.probe.failed_count == probing.probe.total > 0
    assert probing.probe.failure_classes() == {"HTTP 503": probing.probe.total}
    assert {p.name for p in ctx.artifact_paths} == {"probe-x.csv", "probe-x.png"}
    assert ctx.steps.snapshot()[-1].error == "RuntimeError: eviction API down"


class _Watch:
    """A started namespace watch: one pod, Ready before the prober and deleted while it runs."""

    def __init__(self):
        import time

        now = time.time()
        self.stopped_with = None
        self.history = [PodState("web-1", "u1", ("app:1",), "ReplicaSet", now - 30, ready_at=now - 29,
                                 readiness=((now - 29, True),), deleted_at=now + 0.2, gone_at=now + 0.4)]

    def stop(self, *, wait=True):
        self.stopped_with = wait

    def pod_history(self):
        return self.history


def test_probe_while_draws_one_lane_per_pod_the_watch_saw(tmp_path, monkeypatch):
    from harness.measure import plots

    drawn = []
    monkeypatch.setattr(plots, "probe_timeline", lambda *a, **kw: drawn.append(kw))
    watch = _Watch()
    with local_server() as server:
        ctx = make_ctx(tmp_path, base_url=server.url, settings=FAST)
        ctx.watch_pods = lambda: watch
        with probe_while(ctx, "drain started", baseline=0.2, pod_lanes=True):
            pass
    assert watch.stopped_with is False  # probing does not wait for the watch's threads
    (lane,) = drawn[-1]["pods"]
    assert lane.name == "web-1" and lane.ready < 0 < lane.terminating < lane.gone


def test_no_lanes_without_a_watch_or_when_it_cannot_start(tmp_path, monkeypatch):
    from harness.measure import plots

    drawn = []
    monkeypatch.setattr(plots, "probe_timeline", lambda *a, **kw: drawn.append(kw))
    with local_server() as server:
        ctx = make_ctx(tmp_path, base_url=server.url, settings=FAST)
        assert ctx.watch_pods() is None  # no Kubernetes API: nothing to watch
        with probe_while(ctx, "drain started", baseline=0.1, pod_lanes=True):
            pass

        def broken():
            raise OSError("API unreachable")

        ctx.watch_pods = broken
        with probe_while(ctx, "drain started", baseline=0.1, pod_lanes=True) as probing:
            pass
    assert [("pods" in kw) for kw in drawn] == [False, False]
    assert probing.probe.total > 0  # the measurement went on


def _verdict(passed: bool) -> Verdict:
    checks = [Check("helm upgrade", True),
              Check("availability", passed, "" if passed else "12 of 600 requests failed during the upgrade (budget 0)"),
              Check("release", True)]
    return Verdict.from_checks(checks, {"requests": 600, "failed_requests": 0 if passed else 12,
                                        "longest_failure_seconds": 0.0 if passed else 2.4, "version_spans": "1.0.0"},
                               "600 requests, 0 failed (budget 0)")


def test_finish_builds_the_record_of_a_positive_target(tmp_path):
    ctx = make_ctx(tmp_path)
    ctx.record("released_version", "1.0.0")
    with ctx.step("install released"):
        pass
    ctx.artifact("probe.csv").write_text("seq\n")
    result = ctx.finish(_verdict(True))
    assert ctx.result is result and ctx.verdict is not None and ctx.verdict.passed
    assert (result.scenario, result.chart, result.variant, result.control) == ("upgrade", "ha-service", "default", None)
    assert (result.outcome, result.cell, result.key, result.expected_reason) == ("PASS", CELL, None, None)
    assert result.reason == "PASS: 600 requests, 0 failed (budget 0)"
    assert [(c.name, c.passed) for c in result.checks] == [("helm upgrade", True), ("availability", True),
                                                           ("release", True)]
    assert result.figures["released_version"].value == "1.0.0"
    assert (result.figures["longest_failure_seconds"].value, result.figures["longest_failure_seconds"].unit) == (0.0, "s")
    assert result.figures["failed_requests"].unit == "requests"
    assert "verdict" not in result.figures and "reason" not in result.figures
    assert [s.name for s in result.steps] == ["install released"]
    assert result.artifacts == (f"{ctx.target.id}/probe.csv", f"{ctx.target.id}/verdict.json")
    assert result.target == "ha-service-default"
    written = json.loads((ctx.artifacts / "verdict.json").read_text())
    assert written["passed"] is True and written["figures"]["verdict"] == "PASS"
    assert ScenarioResult.from_json(json.loads(json.dumps(result.to_json()))) == result


def test_finish_builds_the_record_of_a_negative_control(tmp_path):
    control = target("upgrade", negative=True)
    ctx = make_ctx(tmp_path, control)
    result = ctx.finish(_verdict(False))
    assert (result.chart, result.variant, result.control) == ("ha-service", "default", "max-unavailable-all")
    assert result.outcome == "FAIL" and result.is_control and result.target == "ha-service-broken-max-unavailable-all"
    assert result.expected_reason == EXPECTED_FAILURE["upgrade"]
    assert re.search(result.expected_reason, result.reason)
    assert [(c.name, c.passed, c.detail) for c in result.checks if not c.passed] == [
        ("availability", False, "12 of 600 requests failed during the upgrade (budget 0)")]


def test_a_shared_key_writes_its_own_verdict_file_and_an_incomplete_run_keeps_its_steps(tmp_path):
    ctx = make_ctx(tmp_path, target("db_outage"), scenario="db_outage")
    result = ctx.finish(_verdict(True), key="stop")
    assert result.key == "stop" and (ctx.artifacts / "verdict-stop.json").is_file()
    with pytest.raises(StepFailed):
        with ctx.step("PostgreSQL pause"):
            raise TimeoutError("docker pause hung")
    error = ctx.incomplete("ERROR", "the shared db_outage run pause failed", key="pause")
    assert (error.outcome, error.key, error.checks) == ("ERROR", "pause", ())
    assert error.steps[-1].error == "TimeoutError: docker pause hung"


def test_marks_at_nearly_the_same_time_share_one_label():
    from harness.measure.plots import label_groups

    marks = [(2.0, "upgrade started"), (2.001, "helm upgrade to the candidate"), (30.0, "helm upgrade returned"),
             (30.2, "rollout and old pods gone"), (45.0, "settle")]
    assert label_groups(marks, within=0.5) == [
        (2.0, "upgrade started · helm upgrade to the candidate"),
        (30.0, "helm upgrade returned · rollout and old pods gone"), (45.0, "settle")]
    assert label_groups([], within=0.5) == []
