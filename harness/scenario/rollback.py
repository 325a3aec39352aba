"""rollback: when an upgrade to the candidate goes wrong, does ``helm rollback`` bring the released
version back without downtime and without losing data?

Steps: install the released version (revision 1); rolled out; serving; write data with the
contract's declared data check (``data.write``; skipped when none is declared); a baseline of the prober; upgrade to the candidate with the harness's ``never-ready``
post-renderer (harness/tools/postrender.py: the candidate's hooks and objects are applied as they
are, only its new pods can never become Ready), so ``helm upgrade --wait`` fails after
``HARNESS_SCENARIO_ROLLBACK_FAIL_TIMEOUT`` seconds (revision 2, failed) -- by then the candidate's
pre-upgrade migration has run, so the rollback crosses a schema change; ``helm rollback`` to
revision 1 (revision 3); the rollout after it; settle; judge.

Pass when (:func:`harness.scenario.verdicts.rollback_verdict`): the upgrade failed on readiness
(not earlier); availability held throughout; history shows revision 2 failed and a deployed
"Rollback to 1" after it; every pod runs the released images and (with ``versionFrom``) answers with
the released version; the data written before the upgrade reads back (``data.read``) and a new write
succeeds (a contract without a data check: the figure "data integrity: not declared", not a failure).

Negative control (contract ``migration-fails``): the candidate's migration Job fails, so the
upgrade fails in its pre-upgrade hook before any pod changes. The scenario reports FAIL ("failed
in a pre-upgrade hook ... the candidate cannot be upgraded to"): a rollback that only undoes a
release record proves nothing, and a candidate that cannot be upgraded to is not shippable.
"""
from __future__ import annotations

import time
from typing import Any

from harness.scenario.context import ScenarioContext
from harness.scenario.manifests import workload_images
from harness.scenario.probing import probe_while
from harness.scenario.verdicts import (
    Availability,
    Verdict,
    classify_upgrade_error,
    rollback_verdict,
)


def schema_version(ctx: ScenarioContext) -> Any:
    """The database schema the service reports on ``/`` (``db``), None when it does not say."""
    try:
        return ctx.http("GET", "/").json().get("db")
    except Exception:  # noqa: BLE001 - informational figure only
        return None


def run_rollback(ctx: ScenarioContext) -> Verdict:
    """The rollback scenario for ``ctx.target``; see the module docstring.

    Raises:
        harness.scenario.steps.StepFailed: a step that must succeed failed (no verdict).
        harness.core.errors.ScenarioSkipped: the variant cannot be reached here.
    """
    s = ctx.settings
    released = ctx.install_released()
    with ctx.step("rolled out"):
        ctx.wait_rolled_out()
        released_images = workload_images(ctx.manifest(revision=1))
    with ctx.step("serving"):
        ctx.wait_serving()
    written = None
    if ctx.data_declared:  # the contract's data check; else the verdict reports "not declared"
        with ctx.step("write data"):
            written = ctx.write_data(2)
    ctx.record("released_version", released.app_version)

    with probe_while(ctx, "upgrade started", pod_lanes=True) as probing:
        with ctx.attempt("upgrade to a candidate that cannot become Ready") as upgrade:
            ctx.upgrade_to_candidate(timeout=s.rollback_fail_timeout, ops=["never-ready"])
        probing.mark("upgrade failed" if upgrade.failed else "upgrade returned")
        schema = schema_version(ctx) if ctx.contract.postgres is not None else None
        with ctx.attempt("helm rollback to revision 1") as rollback:
            ctx.helm.rollback(ctx.release, 1, wait=True, timeout=ctx.cfg.timeouts.upgrade)
        probing.mark("rollback returned")
        with ctx.attempt("rollout after the rollback") as rollout:
            ctx.wait_rolled_out()
            ctx.wait_no_terminating()
        with ctx.step("settle"):
            time.sleep(s.settle)
        probing.mark("rolled back")

    with ctx.step("judge"):
        probe, window = probing.probe, probing.window
        data = ctx.data_facts(written)
        history = ctx.observer.history()
        rollback_error = rollback.error or (
            f"rollout after the rollback did not complete: {rollout.error}" if rollout.failed else None)
        return rollback_verdict(
            availability=Availability.from_probe(window, "during the failed upgrade and the rollback"),
            budget=ctx.contract.max_failed_requests,
            failed_upgrade=classify_upgrade_error(upgrade.error),
            history=history, failed_revision=2, rollback_to=1,
            pods=ctx.pods_facts(probe.last_versions(20)),
            released_images=released_images, released_version=ctx.expected_version(released.app_version or None),
            version_from=ctx.version_source,
            data=data, rollback_error=rollback_error,
            extra_figures={**window.figures("probe"), "schema_during_failed_upgrade": schema,
                           "version_spans": probe.version_spans()},
        )
