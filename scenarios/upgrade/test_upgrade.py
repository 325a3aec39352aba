"""upgrade: do users of the released chart keep being served while they upgrade to the candidate?

Steps: install the released version (the contract's ``released``, from the local chart
repository) with the variant's values; write data; start the prober (and SSE streams when the
chart has a stream) through the ingress; ``helm upgrade`` to the candidate while a watch records
Jobs and pods; wait for the rollout and for the old pods to finish terminating; stop probing.

Pass when (harness.scenario.verdicts.upgrade_verdict): failed requests <= the contract's budget; the
migration hook (contracts with ``postgres.migrationJob``) ran exactly once and completed before
the first new pod became Ready; every pod runs the candidate's images and answers with its
version; the release is ``deployed`` at revision 2.
"""
from __future__ import annotations

import time

from harness.k8s.watch import NamespaceWatch
from harness.plugin.report_rows import check_verdict
from harness.scenario.context import ScenarioContext
from harness.scenario.manifests import workload_images
from harness.scenario.verdicts import (
    Availability,
    MigrationFacts,
    ReleaseFacts,
    Verdict,
    upgrade_verdict,
)

SCENARIO = "upgrade"


def migration_facts(ctx: ScenarioContext, watch: NamespaceWatch, since_wall: float,
                    new_images: set[str]) -> MigrationFacts | None:
    """The migration hook's runs during the upgrade, from the watch (and the service's own
    ``migrations`` table when the postgres add-on serves the chart)."""
    pg = ctx.contract.postgres
    if pg is None or not pg.migration_job:
        return None
    pods, jobs = watch.snapshot()
    hooks = [j for j in jobs.values() if "pre-upgrade" in j.hook and j.created >= since_wall - 1]
    completed = [j.completed_at or j.completion_time for j in hooks if j.completed_at or j.completion_time]
    new_ready = [p.ready_at for p in pods.values() if p.ready_at and not p.job and p.first_seen >= since_wall - 1
                 and set(p.images) <= new_images]
    rows = None
    try:
        db = ctx.postgres.databases[ctx.namespace].database
        out = ctx.postgres.query(f"SELECT count(*) FROM migrations WHERE ran_at >= to_timestamp({since_wall - 1:.3f})",
                                 database=db)
        rows = int(out.splitlines()[-1])
    except Exception:  # noqa: BLE001 - the table is the demo service's; other charts have none
        rows = None
    return MigrationFacts([(j.name, j.outcome) for j in hooks], max(completed) if completed else None,
                          min(new_ready) if new_ready else None, rows)


def run_upgrade(ctx: ScenarioContext) -> Verdict:
    s = ctx.settings
    released = ctx.install_released()
    ctx.record("released_version", released.app_version)
    ctx.wait_rolled_out()
    ctx.wait_serving()
    if ctx.contract.postgres is not None:
        ctx.record("items_written", len(ctx.write_items(2)))

    prober = ctx.prober().start()
    streams = ctx.sse_group(2).start() if ctx.contract.sse is not None else None
    watch = NamespaceWatch(ctx.api, ctx.namespace).start()
    upgrade_error = None
    try:
        time.sleep(2.0)  # a baseline before the disruption
        prober.mark("upgrade started")
        if streams:
            streams.mark("upgrade started")
        since = time.time()
        with ctx.step("helm upgrade to the candidate"):
            try:
                ctx.upgrade_to_candidate()
            except Exception as exc:  # noqa: BLE001 - a failed upgrade is a verdict, not an error
                upgrade_error = str(exc)
        prober.mark("helm upgrade returned")
        with ctx.step("rollout and old pods gone"):
            try:
                ctx.wait_rolled_out()
                ctx.wait_no_terminating()
            except Exception as exc:  # noqa: BLE001 - judged by the verdict
                upgrade_error = upgrade_error or f"rollout did not complete: {exc}"
        time.sleep(s.settle)
        prober.mark("rollout complete")
    finally:
        probe = prober.stop()
        sse = streams.stop() if streams else []
        watch.stop()
    ctx.save_probe(probe, title=f"upgrade {ctx.target.id}")
    if sse:
        ctx.save_streams(sse, title=f"upgrade {ctx.target.id}: streams")

    window = probe.between("upgrade started")
    new_images = workload_images(ctx.manifest())
    status = ctx.helm.status(ctx.release)
    extra = {**window.figures("probe"), "baseline_requests": probe.between(None, "upgrade started").total,
             "version_spans": probe.version_spans()}
    for i, r in enumerate(sse):
        extra.update(r.figures(f"sse{i + 1}"))
    return upgrade_verdict(
        availability=Availability.from_probe(window, "during the upgrade"),
        budget=ctx.contract.max_failed_requests,
        pods=ctx.pods_facts(probe.last_versions(20)),
        candidate_images=new_images,
        candidate_version=ctx.candidate_version,
        release=ReleaseFacts(status.get("info", {}).get("status", ""), int(status.get("version", 0)), 2),
        migration=migration_facts(ctx, watch, since, new_images),
        upgrade_error=upgrade_error,
        extra_figures=extra,
    )


def test_upgrade(target, scenario_ctx):
    ctx = scenario_ctx(target)
    ctx.verdict = ctx.finish(run_upgrade(ctx))
    check_verdict(ctx.verdict, target, SCENARIO)


def test_upgrade_catches_broken(broken_target, scenario_ctx):
    ctx = scenario_ctx(broken_target)
    ctx.verdict = ctx.finish(run_upgrade(ctx))
    check_verdict(ctx.verdict, broken_target, SCENARIO)
