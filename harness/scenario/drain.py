"""drain: can an operator drain a node running the chart's replicas while users are served?

Steps: install the candidate (variant values; a negative control adds its overlay); rolled out;
serving through the ingress; pick the worker running the most replicas (never the control-plane
node, which runs the ingress controller); a baseline of the prober; cordon it and evict the
release's pods there through the Eviction API (harness.k8s.drain, like ``kubectl drain``: a 429
from a PodDisruptionBudget is retried with backoff within ``HARNESS_SCENARIO_DRAIN_BUDGET``
seconds); the replicas Ready elsewhere; settle; uncordon (always); judge.

Pass when (:func:`harness.scenario.verdicts.drain_verdict`): the drain finished within its
budget; the PDB was respected (a refused eviction was retried; with more pods on the node than
disruptions allowed at least one refusal was seen); failed requests <= the contract's budget;
every replica is Ready and none is left on the drained node. A PDB that can never allow fails
with "drain blocked by PodDisruptionBudget <namespace>/<name>".

Only the release's pods are evicted: a full node drain would also move other tests' leftovers,
which the chart is not answerable for. The scenario needs two schedulable workers (with one, the
evicted replica stays Pending and even a correct PDB blocks the next eviction).
"""
from __future__ import annotations

import time
from collections import Counter
from typing import Any

from kubernetes import client

from harness.core.errors import HarnessError, ScenarioSkipped
from harness.k8s.client import REQUEST_TIMEOUT
from harness.k8s.drain import DrainError, cordon, drain_node
from harness.k8s.wait import wait_for
from harness.scenario.context import ScenarioContext
from harness.scenario.probing import probe_while
from harness.scenario.verdicts import (
    Availability,
    DrainFacts,
    RescheduleFacts,
    Verdict,
    drain_verdict,
)

CONTROL_PLANE_LABELS = ("node-role.kubernetes.io/control-plane", "node-role.kubernetes.io/master")


def schedulable_workers(api: Any) -> list[str]:
    """Names of the nodes a drained replica can move to: not the control plane, not the node
    labelled ``ingress-ready=true`` (it runs the ingress controller), not cordoned; sorted."""
    # the kubernetes client is heavy: loaded when a scenario runs

    out = []
    for n in client.CoreV1Api(api).list_node(_request_timeout=REQUEST_TIMEOUT).items:
        labels = n.metadata.labels or {}
        if any(k in labels for k in CONTROL_PLANE_LABELS) or labels.get("ingress-ready") == "true":
            continue
        if n.spec.unschedulable:
            continue
        out.append(n.metadata.name)
    return sorted(out)


def busiest_worker(pods: list[Any], workers: list[str]) -> tuple[str, int]:
    """``(node, replicas on it)`` of the worker running most of ``pods``.

    Raises:
        HarnessError: no pod runs on any of ``workers``.
    """
    by_node = Counter(p.spec.node_name for p in pods if p.spec.node_name in workers)
    if not by_node:
        raise HarnessError(f"no replica runs on a worker ({[p.spec.node_name for p in pods]})")
    return by_node.most_common(1)[0]


def run_drain(ctx: ScenarioContext) -> Verdict:
    """The drain scenario for ``ctx.target``; see the module docstring.

    Raises:
        harness.core.errors.ScenarioSkipped: fewer than two schedulable workers.
        harness.scenario.steps.StepFailed: a step that must succeed failed (no verdict).
    """
    # the kubernetes client is heavy: loaded when a scenario runs

    s = ctx.settings
    workers = schedulable_workers(ctx.api)
    if len(workers) < 2:
        raise ScenarioSkipped(f"the drain scenario needs 2 schedulable workers, the cluster has {len(workers)}: "
                              f"{workers}")
    ctx.install_candidate()
    with ctx.step("rolled out"):
        ctx.wait_rolled_out()
    with ctx.step("serving"):
        ctx.wait_serving()
    with ctx.step("pick the worker running most replicas"):
        pods = ctx.pods()
        node, on_node = busiest_worker(pods, workers)
    ctx.record("drain_node", node)
    ctx.record("replicas_on_node", on_node)
    ctx.record("replicas", len(pods))

    def replaced() -> tuple[bool, str]:
        facts = ctx.pods_facts()
        left = [p.metadata.name for p in ctx.pods() if p.spec.node_name == node]
        return facts.ready >= facts.desired and not left, f"{facts.ready}/{facts.desired} Ready, on {node}: {left}"

    core = client.CoreV1Api(ctx.api)
    message = ""
    resched_seconds = 0.0
    try:
        with probe_while(ctx, "drain started", title=f"drain {ctx.target.id} ({node})", pod_lanes=True) as probing:
            with ctx.step(f"drain {node}"):
                try:
                    report = drain_node(ctx.api, node, namespaces=[ctx.namespace], budget=s.drain_budget,
                                        blocked_after=s.drain_blocked_after)
                except DrainError as exc:  # blocked or out of time: a finding, judged below
                    report, message = exc.report, str(exc)
            probing.mark("drain finished" if report.outcome == "done" else f"drain {report.outcome}")
            t0 = time.monotonic()
            if report.outcome == "done":
                with ctx.attempt("replicas Ready elsewhere"):  # judged below from the final state
                    wait_for(replaced, timeout=ctx.cfg.timeouts.rollout, interval=1.0,
                             what=f"replicas of {ctx.release} Ready off {node}")
            resched_seconds = time.monotonic() - t0
            with ctx.step("settle"):
                time.sleep(s.settle)
            probing.mark("rescheduled")
    finally:
        cordon(core, node, False)

    with ctx.step("judge"):
        ctx.write_artifact("drain.txt", "\n".join(
            f"{a.t:7.2f}s {a.status} {a.pod} {a.pdb or ''} {a.message}" for a in report.attempts) + "\n")
        facts = ctx.pods_facts()
        left = [f"{p.metadata.namespace}/{p.metadata.name}" for p in ctx.pods() if p.spec.node_name == node]
        window = probing.window
        return drain_verdict(
            availability=Availability.from_probe(window, "during the drain"),
            budget=ctx.contract.max_failed_requests,
            drain=DrainFacts(node, report.outcome, report.seconds, s.drain_budget, len(report.evicted),
                             report.refusals, report.pdb, message or report.message, report.refusals_expected),
            after=RescheduleFacts(facts.ready, facts.desired, left, resched_seconds),
            extra_figures={**window.figures("probe"),
                           "pdb_allowed_at_start": str(report.disruptions_allowed_at_start)},
        )
