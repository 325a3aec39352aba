"""The step runner (harness/scenario/steps.py): timing, order, marks, a failure naming its step, a
captured failure, skips passing through, one step shared by several runs."""
from __future__ import annotations

import pytest

from harness.core.errors import CommandError, HarnessError, ScenarioSkipped
from harness.scenario.steps import StepFailed, Steps, describe, together


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Timeline:
    def __init__(self) -> None:
        self.marks: list[str] = []

    def mark(self, label: str) -> None:
        self.marks.append(label)


def test_steps_are_timed_and_kept_in_the_order_they_started():
    clock = FakeClock()
    steps = Steps(clock=clock)
    clock.advance(1.0)
    with steps.step("install"):
        clock.advance(2.5)
    with steps.step("upgrade"):
        clock.advance(0.5)
        with steps.step("wait"):
            clock.advance(4.0)
    recs = steps.snapshot()
    assert [r.name for r in recs] == ["install", "upgrade", "wait"]
    assert [(r.started, r.seconds) for r in recs] == [(1.0, 2.5), (3.5, 4.5), (4.0, 4.0)]
    assert all(r.outcome == "ok" and r.error is None for r in recs)


def test_a_failing_step_raises_step_failed_naming_it_and_keeps_the_cause():
    clock = FakeClock()
    steps = Steps(clock=clock)
    cause = CommandError(["helm", "upgrade", "x"], 1, stderr="Error: UPGRADE FAILED: timed out")
    with pytest.raises(StepFailed) as info:
        with steps.step("helm upgrade to the candidate"):
            clock.advance(3.0)
            raise cause
    err = info.value
    assert isinstance(err, HarnessError)
    assert err.step == "helm upgrade to the candidate" and err.cause is cause and err.__cause__ is cause
    assert str(err).startswith("step 'helm upgrade to the candidate' failed: CommandError: `helm upgrade x` exited 1")
    (rec,) = steps.snapshot()
    assert rec.outcome == "failed" and rec.seconds == 3.0
    assert rec.error == "CommandError: `helm upgrade x` exited 1: Error: UPGRADE FAILED: timed out"


def test_an_inner_failure_is_named_by_the_innermost_step_and_fails_the_outer_one_too():
    steps = Steps(clock=FakeClock())
    with pytest.raises(StepFailed) as info:
        with steps.step("rollout"):
            with steps.step("old pods gone"):
                raise TimeoutError("still terminating: web-1")
    assert info.value.step == "old pods gone" and isinstance(info.value.cause, TimeoutError)
    outer, inner = steps.snapshot()
    assert (outer.name, outer.outcome, outer.error) == ("rollout", "failed", "TimeoutError: still terminating: web-1")
    assert (inner.name, inner.outcome, inner.error) == ("old pods gone", "failed", "TimeoutError: still terminating: web-1")


def test_an_attempt_captures_the_failure_as_a_verdict_input():
    clock = FakeClock()
    steps = Steps(clock=clock)
    with steps.attempt("helm upgrade to the candidate") as upgrade:
        clock.advance(40.0)
        raise RuntimeError("UPGRADE FAILED: context deadline exceeded")
    assert upgrade.failed and upgrade.error == "UPGRADE FAILED: context deadline exceeded"
    assert isinstance(upgrade.exception, RuntimeError)
    with steps.attempt("helm rollback to revision 1") as rollback:
        clock.advance(5.0)
    assert not rollback.failed and rollback.error is None
    first, second = steps.snapshot()
    assert (first.outcome, first.seconds, first.error) == ("failed", 40.0,
                                                           "RuntimeError: UPGRADE FAILED: context deadline exceeded")
    assert (second.outcome, second.seconds) == ("ok", 5.0)


def test_a_skip_passes_through_unwrapped_even_from_an_attempt():
    steps = Steps(clock=FakeClock())
    with pytest.raises(ScenarioSkipped, match="needs 2 workers"):
        with steps.attempt("pick a node"):
            raise ScenarioSkipped("needs 2 workers")
    assert steps.snapshot()[0].error == "ScenarioSkipped: needs 2 workers"


def test_steps_are_marked_on_attached_timelines_only_while_attached():
    steps = Steps(clock=FakeClock())
    prober, streams = Timeline(), Timeline()
    with steps.step("install"):
        pass
    steps.attach(prober, streams)
    with steps.step("helm upgrade"):
        pass
    steps.detach(streams)
    with steps.step("settle"):
        pass
    steps.detach(prober)
    with steps.step("judge"):
        pass
    assert prober.marks == ["helm upgrade", "settle"]
    assert streams.marks == ["helm upgrade"]


def test_describe_keeps_the_type_and_the_first_line():
    assert describe(ValueError("bad value\nmore detail")) == "ValueError: bad value"
    assert describe(KeyError()) == "KeyError"
    assert describe(StepFailed("x", OSError("disk full"))) == "OSError: disk full"
    assert describe(ValueError("x" * 500)).endswith("...") and len(describe(ValueError("x" * 500))) < 320


def test_a_step_shared_by_several_runs_is_recorded_in_each():
    clock = FakeClock()
    a, b = Steps(clock=clock), Steps(clock=clock)
    ta, tb = Timeline(), Timeline()
    a.attach(ta)
    b.attach(tb)
    clock.advance(2.0)
    with together([a, b], "hold 6 streams for 120 s"):
        clock.advance(120.0)
    for s in (a, b):
        (rec,) = s.snapshot()
        assert (rec.name, rec.started, rec.seconds, rec.outcome) == ("hold 6 streams for 120 s", 2.0, 120.0, "ok")
    assert ta.marks == tb.marks == ["hold 6 streams for 120 s"]
    with pytest.raises(StepFailed):
        with together([a, b], "PostgreSQL stop"):
            raise ConnectionError("docker stop failed")
    assert a.snapshot()[-1].error == b.snapshot()[-1].error == "ConnectionError: docker stop failed"


def test_a_failed_attempt_is_timed_as_an_attempt_and_a_failed_step_as_a_failure(monkeypatch):
    """The run's timings (and so its Gantt chart) tell a provoked failure from an error of the run."""
    from harness.core import timings

    recorder = timings.Timings()
    monkeypatch.setattr(timings, "RECORDER", recorder)
    steps = Steps(label="rollback x")
    with steps.attempt("upgrade to a candidate that cannot become Ready"):
        raise RuntimeError("UPGRADE FAILED")
    with pytest.raises(StepFailed):
        with steps.step("judge"):
            raise RuntimeError("no records")
    assert [(p.name, p.outcome) for p in recorder.ordered()] == [
        ("rollback x: upgrade to a candidate that cannot become Ready", "attempt failed: RuntimeError"),
        ("rollback x: judge", "failed: RuntimeError")]
