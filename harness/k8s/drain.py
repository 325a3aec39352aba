"""Drain a node the way ``kubectl drain`` does: cordon, then evict through the Eviction API.

``kubectl drain`` (https://kubernetes.io/docs/tasks/administer-cluster/safely-drain-node/) creates
an ``Eviction`` for each pod; the API server answers **429 Too Many Requests** while a
PodDisruptionBudget covering the pod allows no disruption, and kubectl retries (every 5 s) until
its ``--timeout``. This module does the same with the official client, but records every attempt
(so a scenario can show that the PDB was respected) and names the PDB that blocks:

* 201: the eviction was accepted; the pod is then awaited until it is gone.
* 429: refused by a PDB; retried with backoff (1 s doubling to ``max_backoff``) within the budget.
  The PDB's name comes from the refusal's ``details.causes`` (``DisruptionBudget``) or, failing
  that, from the PDBs whose selector matches the pod.
* 404: the pod is already gone.
* A PDB that can *never* allow the eviction (every covered pod healthy, none pending, and still
  ``disruptionsAllowed == 0``: ``minAvailable`` equal to the replica count) is reported after
  ``blocked_after`` seconds of consistent refusals instead of waiting out the whole budget:
  :class:`DrainBlocked` "drain blocked by PodDisruptionBudget <namespace>/<name>".

Which pods: by default those of the given ``namespaces`` on the node (the scenario's release),
skipping DaemonSet pods and mirror pods as kubectl does; ``namespaces=None`` takes every pod on
the node. The caller uncordons in a ``finally`` (see :func:`cordoned`).
"""
from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from kubernetes import client

from harness.core.errors import HarnessError
from harness.k8s.client import REQUEST_TIMEOUT, api_status, is_transient, typed_api

MIRROR_ANNOTATION = "kubernetes.io/config.mirror"


class DrainError(HarnessError):
    """The drain did not finish. ``report`` holds what happened until then."""

    def __init__(self, message: str, report: DrainReport):
        super().__init__(message)
        self.report = report


class DrainBlocked(DrainError):
    """A PodDisruptionBudget refused the evictions and could not have allowed them."""


class DrainTimeout(DrainError):
    """The budget ran out before every pod was evicted and gone."""


@dataclass
class Attempt:
    """One eviction request: ``t`` seconds after the drain started, pod, HTTP status, PDB named."""

    t: float
    pod: str
    status: int
    pdb: str | None = None
    message: str = ""


@dataclass
class DrainReport:
    """What a drain did.

    Attributes:
        node: the node. started_wall: ``time.time()`` at the start. seconds: duration.
        pods: ``namespace/name`` of the pods to evict (in order).
        evicted: pods whose eviction was accepted. gone: pods seen deleted afterwards.
        attempts: every eviction request. outcome: ``done``, ``blocked``, ``timeout`` or ``error``.
        pdb: the PDB that refused last. message: one line when the drain did not finish.
        disruptions_allowed_at_start: per PDB covering the pods, at the start.
    """

    node: str
    started_wall: float = 0.0
    seconds: float = 0.0
    pods: list[str] = field(default_factory=list)
    evicted: list[str] = field(default_factory=list)
    gone: list[str] = field(default_factory=list)
    attempts: list[Attempt] = field(default_factory=list)
    outcome: str = "running"
    pdb: str | None = None
    message: str = ""
    disruptions_allowed_at_start: dict[str, int] = field(default_factory=dict)

    @property
    def refusals(self) -> int:
        return sum(1 for a in self.attempts if a.status == 429)

    @property
    def refusals_expected(self) -> bool:
        """More pods to evict than the covering PDBs allowed at the start: a correct drain must
        have been refused at least once."""
        if not self.disruptions_allowed_at_start:
            return False
        return len(self.pods) > min(self.disruptions_allowed_at_start.values())


def cordon(core: Any, node: str, unschedulable: bool = True) -> None:
    """Mark ``node`` (un)schedulable (what ``kubectl cordon/uncordon`` patch)."""
    core.patch_node(node, {"spec": {"unschedulable": unschedulable}}, _request_timeout=REQUEST_TIMEOUT)


@contextmanager
def cordoned(api: Any, node: str) -> Iterator[None]:
    """Cordon ``node`` for the block and uncordon it afterwards, whatever happens."""
    core = typed_api(api, "CoreV1Api")
    cordon(core, node, True)
    try:
        yield
    finally:
        cordon(core, node, False)


def pods_to_evict(pods: Iterable[Any], namespaces: Sequence[str] | None = None) -> list[Any]:
    """The pods ``kubectl drain --ignore-daemonsets`` would evict: not DaemonSet-owned, not mirror
    pods, not already finished or terminating; limited to ``namespaces`` when given."""
    out = []
    for p in pods:
        md = p.metadata
        if namespaces is not None and md.namespace not in namespaces:
            continue
        if md.deletion_timestamp is not None:
            continue
        if MIRROR_ANNOTATION in (md.annotations or {}):
            continue
        if any(o.kind == "DaemonSet" for o in (md.owner_references or ())):
            continue
        if p.status is not None and p.status.phase in ("Succeeded", "Failed"):
            continue
        out.append(p)
    return out


def _selector_matches(selector: Any, labels: dict[str, str]) -> bool:
    if selector is None:
        return False
    for k, v in (selector.match_labels or {}).items():
        if labels.get(k) != v:
            return False
    for expr in selector.match_expressions or ():
        val = labels.get(expr.key)
        if expr.operator == "In" and val not in (expr.values or ()):
            return False
        if expr.operator == "NotIn" and val in (expr.values or ()):
            return False
        if expr.operator == "Exists" and expr.key not in labels:
            return False
        if expr.operator == "DoesNotExist" and expr.key in labels:
            return False
    return bool(selector.match_labels or selector.match_expressions)


def covering_pdbs(pdbs: Iterable[Any], pod: Any) -> list[Any]:
    """The PDBs in the pod's namespace whose selector matches its labels."""
    labels = pod.metadata.labels or {}
    return [b for b in pdbs if b.metadata.namespace == pod.metadata.namespace and _selector_matches(b.spec.selector, labels)]


def never_allows(pdb: Any) -> bool:
    """True when the PDB refuses although nothing is pending: every expected pod is healthy and
    still no disruption is allowed (``minAvailable`` equal to the replica count, or
    ``maxUnavailable: 0``). Waiting cannot change that."""
    st = pdb.status
    if st is None or (st.observed_generation or 0) < (pdb.metadata.generation or 0):
        return False
    expected = int(st.expected_pods or 0)
    return (expected > 0 and int(st.disruptions_allowed or 0) == 0 and int(st.current_healthy or 0) >= expected
            and int(st.desired_healthy or 0) >= expected and not (st.disrupted_pods or {}))


def _refusal_pdb(exc: Any) -> str | None:
    """The PDB named in a 429's ``details.causes`` (reason ``DisruptionBudget``), if any."""
    try:
        body = json.loads(getattr(exc, "body", "") or "{}")
    except ValueError:
        return None
    for cause in (body.get("details") or {}).get("causes") or ():
        if cause.get("reason") == "DisruptionBudget":
            msg = cause.get("message", "")
            # "The disruption budget <name> needs 3 healthy pods and has 3 currently"
            parts = msg.split()
            if len(parts) > 3 and parts[:3] == ["The", "disruption", "budget"]:
                return parts[3]
    return None


def _message(exc: Any) -> str:
    try:
        body = json.loads(getattr(exc, "body", "") or "{}")
        return str(body.get("message") or exc)
    except ValueError:
        return str(getattr(exc, "reason", "") or exc)


def drain_node(api: Any, node: str, *, namespaces: Sequence[str] | None = None, budget: float = 180.0,
               blocked_after: float = 15.0, max_backoff: float = 5.0, poll: float = 1.0, cordon_node: bool = True,
               clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep,
               on_attempt: Callable[[Attempt], None] | None = None) -> DrainReport:
    """Cordon ``node`` and evict its pods through the Eviction API within ``budget`` seconds.

    Args:
        api: ApiClient (or a fake exposing CoreV1Api's and PolicyV1Api's methods).
        namespaces: only pods of these namespaces (None: every pod on the node).
        budget: seconds for the whole drain: evictions, 429 retries and waiting for the pods to go.
        blocked_after: seconds of refusals by a PDB that :func:`never_allows` before giving up early.
        max_backoff: longest pause between two attempts on a refused pod.
        poll: seconds between checks that an evicted pod is gone.
        cordon_node: cordon first (the caller uncordons; see :func:`cordoned`).

    Returns:
        the :class:`DrainReport` (outcome ``done``).

    Raises:
        DrainBlocked: "drain blocked by PodDisruptionBudget <ns>/<name>: ..." (report attached).
        DrainTimeout: the budget ran out (report attached; ``report.pdb`` names a refusing PDB).
    """
    core = typed_api(api, "CoreV1Api")
    policy = typed_api(api, "PolicyV1Api")

    start = clock()
    report = DrainReport(node=node, started_wall=time.time())

    def elapsed() -> float:
        return clock() - start

    def finish(outcome: str, message: str = "") -> DrainReport:
        report.outcome = outcome
        report.message = message
        report.seconds = round(elapsed(), 3)
        return report

    if cordon_node:
        cordon(core, node, True)
    pods = pods_to_evict(core.list_pod_for_all_namespaces(field_selector=f"spec.nodeName={node}",
                                                          _request_timeout=REQUEST_TIMEOUT).items, namespaces)
    report.pods = [f"{p.metadata.namespace}/{p.metadata.name}" for p in pods]
    ns_set = sorted({p.metadata.namespace for p in pods})
    pdbs = [b for ns in ns_set for b in policy.list_namespaced_pod_disruption_budget(
        ns, _request_timeout=REQUEST_TIMEOUT).items]
    for p in pods:
        for b in covering_pdbs(pdbs, p):
            key = f"{b.metadata.namespace}/{b.metadata.name}"
            report.disruptions_allowed_at_start[key] = int((b.status.disruptions_allowed if b.status else 0) or 0)

    for pod in pods:
        ns, name = pod.metadata.namespace, pod.metadata.name
        key = f"{ns}/{name}"
        backoff = 1.0
        refused_since: float | None = None
        while True:
            if elapsed() >= budget:
                who = f"PodDisruptionBudget {report.pdb}" if report.pdb else "the drain"
                raise DrainTimeout(f"drain of {node} did not finish within {budget:.0f} s: {key} not evicted "
                                   f"({report.refusals} refusals by {who})", finish("timeout", f"{key} not evicted"))
            body = client.V1Eviction(metadata=client.V1ObjectMeta(name=name, namespace=ns))
            try:
                core.create_namespaced_pod_eviction(name, ns, body, _request_timeout=REQUEST_TIMEOUT)
                att = Attempt(round(elapsed(), 3), key, 201)
                report.attempts.append(att)
                report.evicted.append(key)
                if on_attempt:
                    on_attempt(att)
                break
            except Exception as exc:
                status = api_status(exc)
                if status == 404:
                    report.attempts.append(Attempt(round(elapsed(), 3), key, 404))
                    report.gone.append(key)
                    break
                if status == 429:
                    pdb_name = _refusal_pdb(exc)
                    current = covering_pdbs(policy.list_namespaced_pod_disruption_budget(
                        ns, _request_timeout=REQUEST_TIMEOUT).items, pod)
                    if pdb_name is None and current:
                        pdb_name = current[0].metadata.name
                    report.pdb = f"{ns}/{pdb_name}" if pdb_name else None
                    att = Attempt(round(elapsed(), 3), key, 429, report.pdb, _message(exc))
                    report.attempts.append(att)
                    if on_attempt:
                        on_attempt(att)
                    hopeless = [b for b in current if (pdb_name is None or b.metadata.name == pdb_name)
                                and never_allows(b)]
                    if hopeless:
                        refused_since = refused_since if refused_since is not None else elapsed()
                        if elapsed() - refused_since >= blocked_after:
                            b = hopeless[0]
                            st = b.status
                            msg = (f"drain blocked by PodDisruptionBudget {ns}/{b.metadata.name}: "
                                   f"{report.refusals} evictions of {key} refused over {elapsed() - refused_since:.0f} s; "
                                   f"it needs {st.desired_healthy} healthy pods of {st.expected_pods} and allows "
                                   f"{st.disruptions_allowed} disruptions, so no eviction can ever pass")
                            report.pdb = f"{ns}/{b.metadata.name}"
                            raise DrainBlocked(msg, finish("blocked", msg))
                    else:
                        refused_since = None
                    sleep(min(backoff, max(0.0, budget - elapsed())))
                    backoff = min(backoff * 2, max_backoff)
                    continue
                if is_transient(exc):
                    report.attempts.append(Attempt(round(elapsed(), 3), key, status or 0, message=_message(exc)))
                    sleep(min(backoff, max(0.0, budget - elapsed())))
                    backoff = min(backoff * 2, max_backoff)
                    continue
                finish("error", f"eviction of {key} failed: {_message(exc)}")
                raise

    # like kubectl drain: wait until the evicted pods are gone (deleted, or replaced under a new uid)
    uids = {f"{p.metadata.namespace}/{p.metadata.name}": p.metadata.uid for p in pods}
    pending = [k for k in report.evicted if k not in report.gone]
    while pending:
        still = []
        for k in pending:
            ns, name = k.split("/", 1)
            try:
                p = core.read_namespaced_pod(name, ns, _request_timeout=REQUEST_TIMEOUT)
                if p.metadata.uid != uids.get(k):
                    report.gone.append(k)
                else:
                    still.append(k)
            except Exception as exc:
                if api_status(exc) == 404:
                    report.gone.append(k)
                elif is_transient(exc):
                    still.append(k)
                else:
                    raise
        pending = still
        if not pending:
            break
        if elapsed() >= budget:
            raise DrainTimeout(f"drain of {node} did not finish within {budget:.0f} s: evicted pods still "
                               f"terminating: {', '.join(pending[:4])}", finish("timeout", "pods still terminating"))
        sleep(min(poll, max(0.0, budget - elapsed())))
    return finish("done")
