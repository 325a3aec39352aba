"""drain: can an operator drain a node running the chart's replicas while users are served?

Steps: install the candidate (variant values; a negative control adds its overlay); wait until
the release serves through the ingress; pick the worker running the most replicas (never the
control-plane node, which runs the ingress controller); start the prober; cordon it and evict the
release's pods there through the Eviction API (harness.k8s.drain, like ``kubectl drain``: a 429 from a
PodDisruptionBudget is retried with backoff within ``HARNESS_SCENARIO_DRAIN_BUDGET`` seconds); wait
until the replicas are Ready elsewhere; stop probing; uncordon (always).

Pass when (harness.scenario.verdicts.drain_verdict): the drain finished within its budget; the PDB was
respected (a refused eviction was retried; with more pods on the node than disruptions allowed at
least one refusal was seen); failed requests <= the contract's budget; every replica is Ready and
none is left on the drained node. A PDB that can never allow fails with "drain blocked by
PodDisruptionBudget <namespace>/<name>".

Only the release's pods are evicted: a full node drain would also move other tests' leftovers,
which the chart is not answerable for. The scenario needs two schedulable workers (with one, the
evicted replica stays Pending and even a correct PDB blocks the next eviction).
"""
from __future__ import annotations

import time
from collections import Counter

import pytest

from harness.k8s.drain import DrainError, cordon, drain_node
from harness.k8s.wait import wait_for
from harness.plugin.report_rows import check_verdict
from harness.scenario.context import ScenarioContext
from harness.scenario.verdicts import (
    Availability,
    DrainFacts,
    RescheduleFacts,
    Verdict,
    drain_verdict,
)

SCENARIO = "drain"
CONTROL_PLANE_LABELS = ("node-role.kubernetes.io/control-plane", "node-role.kubernetes.io/master")


def schedulable_workers(api) -> list[str]:
    from kubernetes import client

    out = []
    for n in client.CoreV1Api(api).list_node().items:
        labels = n.metadata.labels or {}
        if any(k in labels for k in CONTROL_PLANE_LABELS) or labels.get("ingress-ready") == "true":
            continue
        if n.spec.unschedulable:
            continue
        out.append(n.metadata.name)
    return sorted(out)


def run_drain(ctx: ScenarioContext) -> Verdict:
    from kubernetes import client

    s = ctx.settings
    workers = schedulable_workers(ctx.api)
    if len(workers) < 2:
        pytest.skip(f"the drain scenario needs 2 schedulable workers, the cluster has {len(workers)}: {workers}")
    ctx.install_candidate()
    ctx.wait_rolled_out()
    ctx.wait_serving()
    pods = ctx.pods()
    by_node = Counter(p.spec.node_name for p in pods if p.spec.node_name in workers)
    if not by_node:
        raise AssertionError(f"no replica of {ctx.release} runs on a worker ({[p.spec.node_name for p in pods]})")
    node, on_node = by_node.most_common(1)[0]
    ctx.record("drain_node", node)
    ctx.record("replicas_on_node", on_node)
    ctx.record("replicas", len(pods))

    prober = ctx.prober().start()
    core = client.CoreV1Api(ctx.api)
    report = None
    message = ""
    resched_seconds = 0.0
    try:
        time.sleep(2.0)
        prober.mark("drain started")
        with ctx.step(f"drain {node}"):
            try:
                report = drain_node(ctx.api, node, namespaces=[ctx.namespace], budget=s.drain_budget,
                                    blocked_after=s.drain_blocked_after)
            except DrainError as exc:
                report, message = exc.report, str(exc)
        prober.mark("drain finished" if report.outcome == "done" else f"drain {report.outcome}")
        t0 = time.monotonic()

        def replaced() -> tuple[bool, str]:
            facts = ctx.pods_facts()
            left = [p.metadata.name for p in ctx.pods() if p.spec.node_name == node]
            return facts.ready >= facts.desired and not left, f"{facts.ready}/{facts.desired} Ready, on {node}: {left}"

        if report.outcome == "done":
            with ctx.step("replicas Ready elsewhere"):
                try:
                    wait_for(replaced, timeout=ctx.cfg.timeouts.rollout, interval=1.0,
                             what=f"replicas of {ctx.release} Ready off {node}")
                except Exception:  # noqa: BLE001, S110 - judged below from the final state
                    pass
        resched_seconds = time.monotonic() - t0
        time.sleep(s.settle)
        prober.mark("rescheduled")
    finally:
        probe = prober.stop()
        cordon(core, node, False)
    ctx.save_probe(probe, title=f"drain {ctx.target.id} ({node})")
    (ctx.artifacts / "drain.txt").write_text("\n".join(
        f"{a.t:7.2f}s {a.status} {a.pod} {a.pdb or ''} {a.message}" for a in report.attempts) + "\n")
    facts = ctx.pods_facts()
    left = [f"{p.metadata.namespace}/{p.metadata.name}" for p in ctx.pods() if p.spec.node_name == node]
    window = probe.between("drain started")
    return drain_verdict(
        availability=Availability.from_probe(window, "during the drain"),
        budget=ctx.contract.max_failed_requests,
        drain=DrainFacts(node, report.outcome, report.seconds, s.drain_budget, len(report.evicted), report.refusals,
                         report.pdb, message or report.message, report.refusals_expected),
        after=RescheduleFacts(facts.ready, facts.desired, left, resched_seconds),
        extra_figures={**window.figures("probe"), "pdb_allowed_at_start": str(report.disruptions_allowed_at_start)},
    )


def test_drain(target, scenario_ctx):
    ctx = scenario_ctx(target)
    ctx.verdict = ctx.finish(run_drain(ctx))
    check_verdict(ctx.verdict, target, SCENARIO)


def test_drain_catches_broken(broken_target, scenario_ctx):
    ctx = scenario_ctx(broken_target)
    ctx.verdict = ctx.finish(run_drain(ctx))
    check_verdict(ctx.verdict, broken_target, SCENARIO)
