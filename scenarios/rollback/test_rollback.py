"""rollback: when an upgrade to the candidate goes wrong, does ``helm rollback`` bring the released
version back without downtime and without losing data?

Steps: install the released version (revision 1); write data through the ingress; start the
prober; upgrade to the candidate with the harness's ``never-ready`` post-renderer
(harness/tools/postrender.py: the candidate's hooks and objects are applied as they are, only its new
pods can never become Ready), so ``helm upgrade --wait`` fails after
``HARNESS_SCENARIO_ROLLBACK_FAIL_TIMEOUT`` seconds (revision 2, failed) -- by then the candidate's
pre-upgrade migration has run, so the rollback crosses a schema change; ``helm rollback`` to
revision 1 (revision 3); wait for the rollout; stop probing.

Pass when (harness.scenario.verdicts.rollback_verdict): the upgrade failed on readiness (not earlier);
availability held throughout; history shows revision 2 failed and a deployed "Rollback to 1"
after it; every pod runs the released images and answers with the released version; the data
written before the upgrade reads back and a new write succeeds.

Negative control (contract ``migration-fails``): the candidate's migration Job fails, so the
upgrade fails in its pre-upgrade hook before any pod changes. The scenario reports FAIL ("failed
in a pre-upgrade hook ... the candidate cannot be upgraded to"): a rollback that only undoes a
release record proves nothing, and a candidate that cannot be upgraded to is not shippable.
"""
from __future__ import annotations

import time

from harness.plugin.report_rows import check_verdict
from harness.scenario.context import ScenarioContext
from harness.scenario.manifests import workload_images
from harness.scenario.verdicts import (
    Availability,
    Verdict,
    classify_upgrade_error,
    rollback_verdict,
)

SCENARIO = "rollback"


def run_rollback(ctx: ScenarioContext) -> Verdict:
    s = ctx.settings
    released = ctx.install_released()
    ctx.wait_rolled_out()
    released_images = workload_images(ctx.manifest(revision=1))
    ctx.wait_serving()
    written = ctx.write_items(2) if ctx.contract.postgres is not None else None
    ctx.record("released_version", released.app_version)

    prober = ctx.prober().start()
    upgrade_error = rollback_error = None
    try:
        time.sleep(2.0)
        prober.mark("upgrade started")
        with ctx.step("upgrade to a candidate that cannot become Ready"):
            try:
                ctx.upgrade_to_candidate(timeout=s.rollback_fail_timeout, ops=["never-ready"])
            except Exception as exc:  # noqa: BLE001 - the failure is what this scenario needs
                upgrade_error = str(exc)
        prober.mark("upgrade failed" if upgrade_error else "upgrade returned")
        schema = None
        if ctx.contract.postgres is not None:
            try:
                schema = ctx.http("GET", "/").json().get("db")
            except Exception:  # noqa: BLE001 - informational figure only
                schema = None
        with ctx.step("helm rollback to revision 1"):
            try:
                ctx.helm.rollback(ctx.release, 1, wait=True, timeout=ctx.cfg.timeouts.upgrade)
            except Exception as exc:  # noqa: BLE001 - a failed rollback is a verdict
                rollback_error = str(exc)
        prober.mark("rollback returned")
        try:
            ctx.wait_rolled_out()
            ctx.wait_no_terminating()
        except Exception as exc:  # noqa: BLE001 - judged by the verdict
            rollback_error = rollback_error or f"rollout after the rollback did not complete: {exc}"
        time.sleep(s.settle)
        prober.mark("rolled back")
    finally:
        probe = prober.stop()
    ctx.save_probe(probe, title=f"rollback {ctx.target.id}")
    window = probe.between("upgrade started")
    data = ctx.data_facts(written) if written is not None else None
    history = ctx.helm.history(ctx.release)
    return rollback_verdict(
        availability=Availability.from_probe(window, "during the failed upgrade and the rollback"),
        budget=ctx.contract.max_failed_requests,
        failed_upgrade=classify_upgrade_error(upgrade_error),
        history=history, failed_revision=2, rollback_to=1,
        pods=ctx.pods_facts(probe.last_versions(20)),
        released_images=released_images, released_version=released.app_version or None,
        data=data, rollback_error=rollback_error,
        extra_figures={**window.figures("probe"), "schema_during_failed_upgrade": schema,
                       "version_spans": probe.version_spans()},
    )


def test_rollback(target, scenario_ctx):
    ctx = scenario_ctx(target)
    ctx.verdict = ctx.finish(run_rollback(ctx))
    check_verdict(ctx.verdict, target, SCENARIO)


def test_rollback_catches_broken(broken_target, scenario_ctx):
    ctx = scenario_ctx(broken_target)
    ctx.verdict = ctx.finish(run_rollback(ctx))
    check_verdict(ctx.verdict, broken_target, SCENARIO)
