"""upgrade: do users of the released chart keep being served while they upgrade to the candidate?

Steps: install the released version (the contract's ``released``, from the local chart
repository) with the variant's values (by ``ctx.released_helm``: the helm under test, or for the
``from-helm3`` row the pinned Helm 3, so a Helm 4 upgrade meets a client-side-applied release as
users' do, https://helm.sh/docs/overview/ "Server-side apply"); rolled out; serving through the ingress; write data
with the contract's declared data check (``data.write``; skipped when none is declared); a baseline of the prober (and SSE streams when the chart has a stream) through the ingress;
``helm upgrade`` to the candidate while a watch records Jobs and pods; the rollout and the old
pods gone; settle; judge.

Pass when (:func:`harness.scenario.verdicts.upgrade_verdict`): failed requests <= the contract's
budget; the migration hook (contracts with ``postgres.migrationJob``) ran exactly once (by the
watch, and by the chart's own record where ``data.migrations`` declares it) and completed before
the first new pod became Ready; every pod runs the candidate's images and, where the contract
declares ``versionFrom``, answers with its version (else the figure ``version_from`` says "not
declared"); from the edge's access log, whatever the application answers, every request after the
rollout completed went to a candidate pod and no old pod was sent a request after it terminated
(:mod:`harness.scenario.attribution`; not judged when the log cannot be read); the release is
``deployed`` at revision 2; the data written before reads back (``data.read``; not declared: a
figure, not a failure).
"""
from __future__ import annotations

import csv
import time
from typing import Any

from harness.k8s.watch import NamespaceWatch
from harness.measure.attribution import served_series
from harness.measure.lanes import lanes_from_states
from harness.measure.prober import new_probe_id
from harness.scenario.attribution import (
    attribution_facts,
    series_rows,
    served_points,
    served_rows,
)
from harness.scenario.context import ScenarioContext
from harness.scenario.datacheck import migration_count, runs_between
from harness.scenario.edge_log import EdgeLog, follow_edge
from harness.scenario.manifests import workload_images
from harness.scenario.probing import probe_while
from harness.scenario.steps import describe
from harness.scenario.verdicts import (
    AttributionFacts,
    Availability,
    MigrationFacts,
    ReleaseFacts,
    Verdict,
    upgrade_verdict,
)
from harness.tools.exec import started, started_since


def migration_facts(ctx: ScenarioContext, watch: NamespaceWatch, since_wall: float,
                    new_images: set[str], runs_before: int | None = None) -> MigrationFacts | None:
    """The migration hook's runs during the upgrade, from the watch (and the chart's own record
    of them when the contract declares ``data.migrations``: its count now less ``runs_before``).

    Args:
        since_wall: wall time (``time.time()``) the upgrade started; Jobs and pods seen before
            it (less one second of clock skew) are not the upgrade's.
        new_images: the candidate's workload images (a new pod runs only these).
        runs_before: the ``data.migrations`` count before ``helm upgrade`` (None: not declared
            or not readable, so the record is not judged).

    Returns:
        None when the contract declares no migration Job, else :class:`MigrationFacts`.
    """
    pg = ctx.contract.postgres
    if pg is None or not pg.migration_job:
        return None
    pods, jobs = watch.snapshot()
    hooks = [j for j in jobs.values() if "pre-upgrade" in j.hook and j.created >= since_wall - 1]
    completed = [j.completed_at or j.completion_time for j in hooks if j.completed_at or j.completion_time]
    new_ready = [p.ready_at for p in pods.values() if p.ready_at and not p.job and p.first_seen >= since_wall - 1
                 and set(p.images) <= new_images]
    rows = runs_between(runs_before, migration_count(ctx, ctx.contract.data))
    return MigrationFacts([(j.name, j.outcome) for j in hooks], max(completed) if completed else None,
                          min(new_ready) if new_ready else None, rows)


def release_facts(ctx: ScenarioContext, expected_revision: int) -> ReleaseFacts:
    """The release's status and revision from its storage Secrets through the API (the observer's
    release store), so judging starts no helm process after ``helm upgrade`` returned."""
    status, revision = ctx.observer.status()
    return ReleaseFacts(status, revision, expected_revision)


def apply_method_figures(ctx: ScenarioContext) -> dict[str, str]:
    """``released_apply_method`` and ``upgraded_apply_method``: how revisions 1 and 2 were applied, from
    the release's storage Secrets (:meth:`harness.scenario.observer.ReleaseObserver.apply_method`:
    ``ssa``, ``csa``, ``unset`` for a release Helm 3 wrote, ``unreadable``). Figures, not criteria:
    Helm 4's upgrade inherits the released revision's method (``--server-side=auto``,
    https://helm.sh/docs/helm/helm_upgrade/), so a Helm 3 release upgraded by Helm 4 stays ``csa``."""
    return {"released_apply_method": ctx.observer.apply_method(1),
            "upgraded_apply_method": ctx.observer.apply_method(2)}


ROLLED_OUT = "rolled out"
"""The mark put on the prober's timeline when the rollout was seen complete: requests after it
(plus the attribution's tolerance) must all go to candidate pods."""


def _write_csv(path: Any, rows: list[Any]) -> None:
    with path.open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]) if rows else ["t"])
        w.writeheader()
        w.writerows(rows)


def judge_attribution(ctx: ScenarioContext, edge: EdgeLog, probe: Any, window: Any, watch: NamespaceWatch,
                      new_images: set[str], *, rolled_out: bool) -> AttributionFacts:
    """Who served each probed request, from the edge's log (:func:`harness.scenario.attribution.attribution_facts`);
    writes ``attribution.csv`` (per request), ``served.csv`` (old/new per second), ``edge-log.jsonl``
    and redraws ``probe.png`` with the served share (when attributed) and one lane per pod of the watch.

    Args:
        probe: the whole probe run; window: its judged window. rolled_out: the rollout was seen complete.
    """
    done = next((m.t for m in probe.marks if m.label == ROLLED_OUT), None) if rolled_out else None
    try:
        log, unavailable = edge.finish(s.seq for s in probe.sent)
        history = watch.pod_history()
        facts, _ = attribution_facts(window.samples, log, history, new_images, rollout_done_t=done,
                                     started_wall=probe.started_wall, unavailable=unavailable, source=edge.source)
    except Exception as exc:  # noqa: BLE001 - the evidence of who served is a figure; it never errors a run
        edge.close()
        return AttributionFacts(edge.source, f"attribution failed: {describe(exc)}")
    try:
        if edge.lines:
            ctx.write_artifact("edge-log.jsonl", "\n".join(edge.lines) + "\n")  # through the redactor
        lanes = lanes_from_states(history, probe.started_wall)
        if facts.available:
            # the whole run (the baseline included) for the evidence and the plot; the verdict judges the window
            _, served = attribution_facts(probe.samples, log, history, new_images, rollout_done_t=done,
                                          started_wall=probe.started_wall, source=edge.source)
            series = served_series(served_points(served))
            _write_csv(ctx.artifact("attribution.csv"), served_rows(served))
            _write_csv(ctx.artifact("served.csv"), series_rows(series))
            old_pods = [(o.pod, o.last_t, None if o.margin is None else o.last_t + o.margin) for o in facts.old_pods]
            ctx.save_probe(probe, "probe", title=f"{ctx.scenario} {ctx.target.id}", served=series, old_pods=old_pods,
                           pods=lanes)
        elif lanes:  # no attribution: still one lane per pod under the timeline
            ctx.save_probe(probe, "probe", title=f"{ctx.scenario} {ctx.target.id}", pods=lanes)
    except Exception as exc:  # noqa: BLE001 - evidence is best effort; the facts stand
        ctx.say(f"attribution evidence not written: {describe(exc)}")
    return facts


def run_upgrade(ctx: ScenarioContext) -> Verdict:
    """The upgrade scenario for ``ctx.target``; see the module docstring.

    Raises:
        harness.scenario.steps.StepFailed: a step that must succeed failed (the install, the
            release never serving...): no verdict can be reached.
        harness.core.errors.ScenarioSkipped: the variant cannot be reached here (TLS without cert-manager).
    """
    released = ctx.install_released()
    ctx.record("released_version", released.app_version)
    with ctx.step("rolled out"):
        ctx.wait_rolled_out()
    with ctx.step("serving"):
        ctx.wait_serving()
    written = None
    if ctx.data_declared:  # the contract's data check; else the verdict reports "not declared"
        with ctx.step("write data"):
            written = ctx.write_data(2)
    pg = ctx.contract.postgres
    runs_before = migration_count(ctx, ctx.contract.data) if pg is not None and pg.migration_job else None

    watch = NamespaceWatch(ctx.api, ctx.namespace).start()
    probe_id = new_probe_id()
    edge = follow_edge(ctx, probe_id)  # before the prober sends its first request
    try:
        return _probe_and_judge(ctx, watch, edge, probe_id, written=written, runs_before=runs_before)
    finally:
        edge.close()  # whatever happened (already stopped once judged)


def _probe_and_judge(ctx: ScenarioContext, watch: NamespaceWatch, edge: EdgeLog, probe_id: str, *,
                     written: Any, runs_before: int | None) -> Verdict:
    """:func:`run_upgrade` from the prober's start: the upgrade while probing, then the judgement.

    Args:
        written: what the declared data check wrote before (None: nothing declared).
        runs_before: the chart's own migration count before the upgrade (None: not declared).
    """
    try:
        with probe_while(ctx, "upgrade started", streams=2 if ctx.contract.sse is not None else 0,
                         probe_id=probe_id) as probing:
            since = time.time()
            with ctx.attempt("helm upgrade to the candidate") as upgrade:
                ctx.upgrade_to_candidate()
            probing.mark("helm upgrade returned")
            after_upgrade = started()  # from here on the harness reads the release without helm
            with ctx.attempt("rollout and old pods gone") as rollout:
                ctx.wait_rolled_out()
                probing.mark(ROLLED_OUT)
                ctx.wait_no_terminating()
            with ctx.step("settle"):
                time.sleep(ctx.settings.settle)
            probing.mark("rollout complete")
    finally:
        watch.stop()

    with ctx.step("judge"):
        probe, window = probing.probe, probing.window
        new_images = workload_images(ctx.manifest())
        extra = {**window.figures("probe"), "baseline_requests": probing.baseline.total,
                 "version_spans": probe.version_spans()}
        for i, r in enumerate(probing.sse):
            extra.update(r.figures(f"sse{i + 1}"))
        pods = ctx.pods_facts(probe.last_versions(20))
        release = release_facts(ctx, 2)
        migration = migration_facts(ctx, watch, since, new_images, runs_before)
        data = ctx.data_facts(written)
        # a figure, not a criterion: it is the harness's behaviour, not the chart's (tests/cluster checks it)
        extra["helm_processes_after_upgrade_count"] = started_since(after_upgrade).get("helm", 0)
        extra.update(apply_method_figures(ctx))
        attribution = judge_attribution(ctx, edge, probe, window, watch, new_images,
                                        rolled_out=not rollout.failed and not upgrade.failed)
        return upgrade_verdict(
            availability=Availability.from_probe(window, "during the upgrade"),
            budget=ctx.contract.max_failed_requests,
            pods=pods,
            candidate_images=new_images,
            candidate_version=ctx.expected_version(ctx.candidate_version),
            version_from=ctx.version_source,
            release=release,
            migration=migration,
            upgrade_error=upgrade.error or (f"rollout did not complete: {rollout.error}" if rollout.failed else None),
            data=data, extra_figures=extra,
            attribution=attribution,
        )
