"""The shared-run core (harness/scenario/shared.py) with contexts that reach no cluster: the long
phase runs once per key for every target, one target's failed preparation or skip stays its own,
a failed phase is an ERROR record for its key only; and the pytest adapter's skip conversion."""
from __future__ import annotations

import pytest
from scenario_fakes import CELL, make_ctx, target

from harness.core.errors import ScenarioSkipped
from harness.plugin.shared_run import scenario_test
from harness.scenario.shared import SharedRun
from harness.scenario.verdicts import Check, Verdict

A = target("db_outage", index=0)   # ha-service-default
B = target("db_outage", index=1)   # ha-service-tls
CONTROL = target("db_outage", negative=True)


def _verdict(ok: bool, fault) -> Verdict:
    return Verdict.from_checks([Check("NotReady", ok, "pods stayed Ready through the outage")], {"fault": fault},
                               f"{fault}: fine")


class Scenario:
    """prepare/run callables that record what they were called with."""

    def __init__(self, tmp_path, *, fail_prepare=(), skip=(), fail_run=(), fail_context=(), passing=None):
        self.tmp_path = tmp_path
        self.fail_prepare, self.skip, self.fail_run, self.fail_context = fail_prepare, skip, fail_run, fail_context
        self.passing = passing
        self.runs: list[tuple[object, list[str]]] = []
        self.prepared: list[str] = []
        self.released: list[str] = []

    def make_context(self, tgt):
        if tgt.id in self.fail_context:
            raise OSError("namespace quota exceeded")
        return make_ctx(self.tmp_path, tgt, scenario="db_outage")

    def prepare(self, ctx):
        with ctx.step("install candidate"):
            if ctx.target.id in self.skip:
                raise ScenarioSkipped(f"{ctx.target.id}: TLS without cert-manager")
            if ctx.target.id in self.fail_prepare:
                raise RuntimeError("helm install timed out")
        self.prepared.append(ctx.target.id)
        return {"id": ctx.target.id}

    def run(self, pairs, key):
        self.runs.append((key, [c.target.id for c, _ in pairs]))
        if key in self.fail_run:
            raise ConnectionError(f"docker {key} failed")
        from harness.scenario.steps import together

        with together([c.steps for c, _ in pairs], f"PostgreSQL {key}"):
            pass
        for c, _ in pairs:
            c.artifact(f"probe-{key}.csv").write_text("seq\n")
        ok = self.passing if self.passing is not None else (lambda c: c.target.broken is None)
        return {c.target.id: _verdict(ok(c), key) for c, _ in pairs}

    def release(self, state):
        self.released.append(state["id"])
        if state["id"] == B.id:
            raise RuntimeError("stream already closed")

    def shared(self, wanted):
        return SharedRun("db_outage", wanted, self.make_context, self.prepare, self.run, cell=CELL,
                         release=self.release)


def test_the_long_phase_runs_once_per_key_for_every_target(tmp_path):
    sc = Scenario(tmp_path)
    run = sc.shared([(A, "stop"), (B, "stop"), (CONTROL, "stop"), (A, "pause"), (B, "pause"), (A, "stop")])
    assert [t.id for t in run.targets()] == [A.id, B.id, CONTROL.id]
    a_stop = run.outcome(A, "stop")
    run.outcome(B, "stop")
    control = run.outcome(CONTROL, "stop")
    assert sc.runs == [("stop", [A.id, B.id, CONTROL.id])]
    assert sc.prepared == [A.id, B.id, CONTROL.id]
    a_pause = run.outcome(A, "pause")
    run.outcome(B, "pause")
    assert sc.runs[1] == ("pause", [A.id, B.id])      # only the targets that want the key
    assert len(sc.runs) == 2
    assert a_stop.result.outcome == "PASS" and a_stop.verdict.passed and a_stop.result.key == "stop"
    assert (control.result.outcome, control.result.control) == ("FAIL", CONTROL.broken.name)
    assert control.result.expected_reason is not None
    # each key's record: the preparation's steps and artifacts, then its own phase's, not another key's
    assert [s.name for s in a_stop.result.steps] == ["install candidate", "PostgreSQL stop"]
    assert [s.name for s in a_pause.result.steps] == ["install candidate", "PostgreSQL pause"]
    assert [a.rsplit("/", 1)[-1] for a in a_pause.result.artifacts] == ["probe-pause.csv", "verdict-pause.json"]
    assert a_stop.result.figures["shared_run_seconds"].unit == "s"
    assert run.outcome(A, "stop") is a_stop                        # asked again: the same outcome, no new run
    assert len(sc.runs) == 2
    assert set(run.run_all()) == {(A.id, "stop"), (B.id, "stop"), (CONTROL.id, "stop"), (A.id, "pause"),
                                  (B.id, "pause")}
    assert len(sc.runs) == 2


def test_a_failed_preparation_is_its_targets_error_only(tmp_path):
    sc = Scenario(tmp_path, fail_prepare=(A.id,), fail_context=(CONTROL.id,))
    run = sc.shared([(A, None), (B, None), (CONTROL, None)])
    a, b, c = run.outcome(A), run.outcome(B), run.outcome(CONTROL)
    assert sc.runs == [(None, [B.id])]
    assert b.result.outcome == "PASS"
    assert a.verdict is None and a.result.outcome == "ERROR"
    assert a.result.reason == (f"{A.id}: preparation failed: step 'install candidate' failed: "
                               "RuntimeError: helm install timed out")
    assert [(s.name, s.outcome, s.error) for s in a.result.steps] == [
        ("install candidate", "failed", "RuntimeError: helm install timed out")]
    assert c.result.outcome == "ERROR" and c.result.reason.endswith("OSError: namespace quota exceeded")
    assert (c.result.chart, c.result.control, c.result.cell) == ("ha-service", CONTROL.broken.name, CELL)


def test_a_skipped_target_gets_skip_records_and_the_others_run(tmp_path):
    sc = Scenario(tmp_path, skip=(B.id,))
    run = sc.shared([(A, "stop"), (B, "stop"), (B, "pause")])
    b = run.outcome(B, "stop")
    assert (b.result.outcome, b.result.reason, b.verdict) == ("SKIP", f"{B.id}: TLS without cert-manager", None)
    assert run.outcome(B, "pause").result.outcome == "SKIP"
    assert run.outcome(A, "stop").result.outcome == "PASS"
    assert sc.runs == [("stop", [A.id])]


def test_a_failed_phase_is_an_error_for_its_key_only_and_is_not_retried(tmp_path):
    sc = Scenario(tmp_path, fail_run=("pause",))
    run = sc.shared([(A, "pause"), (B, "pause"), (A, "stop")])
    a = run.outcome(A, "pause")
    b = run.outcome(B, "pause")
    assert a.result.outcome == b.result.outcome == "ERROR"
    assert a.result.reason == "the shared db_outage run pause failed: ConnectionError: docker pause failed"
    assert run.outcome(A, "stop").result.outcome == "PASS"
    assert [k for k, _ in sc.runs] == ["pause", "stop"]


def test_a_target_the_phase_gave_no_verdict_is_an_error(tmp_path):
    sc = Scenario(tmp_path)
    run = SharedRun("sse", [(A, None), (B, None)], sc.make_context, sc.prepare,
                    lambda pairs, key: {A.id: _verdict(True, key)}, cell=CELL)
    assert run.outcome(A).result.outcome == "PASS"
    assert run.outcome(B).result.reason == f"the shared sse run gave no verdict for {B.id}"


def test_close_releases_every_prepared_target_and_reports_cleanup_errors(tmp_path):
    sc = Scenario(tmp_path, fail_prepare=(CONTROL.id,))
    run = sc.shared([(A, None), (B, None), (CONTROL, None)])
    run.prepare()
    notes = run.close()
    assert sc.released == [A.id, B.id]
    assert notes == [f"db_outage {B.id}: cleanup failed: RuntimeError: stream already closed"]


def test_the_pytest_adapter_turns_a_scenario_skip_into_a_pytest_skip(tmp_path):
    ctx = make_ctx(tmp_path)

    def skipped(_ctx):
        raise ScenarioSkipped("the drain scenario needs 2 schedulable workers, the cluster has 1")

    with pytest.raises(pytest.skip.Exception, match="needs 2 schedulable workers"):
        scenario_test(skipped, ctx)
    assert ctx.result is None
    verdict = scenario_test(lambda c: _verdict(True, None), ctx)
    assert verdict.passed and ctx.result is not None and ctx.result.outcome == "PASS"
