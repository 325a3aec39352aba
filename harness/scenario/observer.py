"""What a scenario reads about its release while it measures, without starting processes: the
release from its storage Secrets (:class:`harness.k8s.release_store.ReleaseStore`, decoded once per
revision) and the pods from a watch (:class:`harness.k8s.informer.PodInformer`, listed once).

:class:`harness.scenario.context.ScenarioContext` delegates its manifest, workload and pod readers
here, so a wait loop polling every second costs one small API list (the release's revision labels)
and a look into memory, instead of a ``helm get manifest`` process and pod lists per poll.
"""
from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

from kubernetes import client

from harness.k8s.client import REQUEST_TIMEOUT
from harness.k8s.conditions import pod_is_ready, restart_counts
from harness.k8s.informer import PodInformer
from harness.k8s.release_store import ReleaseReadError, ReleaseStore
from harness.scenario.manifests import WORKLOAD_KINDS, probe_bounds
from harness.scenario.verdicts import PodsFacts


def workloads_of(objs: Sequence[dict[str, Any]]) -> list[tuple[str, str]]:
    """``[(kind, name)]`` of the Deployments/StatefulSets/DaemonSets among rendered objects."""
    return [(o["kind"], o["metadata"]["name"]) for o in objs if o.get("kind") in WORKLOAD_KINDS]


def selectors_of(objs: Sequence[dict[str, Any]]) -> list[dict[str, str]]:
    """Each workload's ``spec.selector.matchLabels`` as rendered (``{}`` when it has none: every pod).

    The rendered selector is the live one: helm applies the manifest as stored, and a workload's
    selector is immutable once created
    (https://kubernetes.io/docs/concepts/workloads/controllers/deployment/#label-selector-updates).
    """
    out = []
    for o in objs:
        if o.get("kind") in WORKLOAD_KINDS:
            ml = (((o.get("spec") or {}).get("selector") or {}).get("matchLabels")) or {}
            out.append({str(k): str(v) for k, v in ml.items()})
    return out


def selector_string(labels: dict[str, str]) -> str:
    """``k=v,k2=v2`` (sorted), the ``labelSelector`` form."""
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items()))


class ReleaseObserver:
    """The release's manifest, workloads and pods for one scenario.

    Args:
        api: ``kubernetes.client.ApiClient``. namespace: the release namespace. release: its name.
        store, informer: replace the defaults (unit tests).

    The pod watch starts on the first pod read and stops itself when unread for 5 minutes (see
    :class:`PodInformer`); :meth:`close` stops it at once.
    """

    def __init__(self, api: Any, namespace: str, release: str, *, store: ReleaseStore | None = None,
                 informer: PodInformer | None = None):
        self.api = api
        self.namespace = namespace
        self.store = store or ReleaseStore(api, namespace, release)
        self.informer = informer or PodInformer(api, namespace)

    def close(self) -> None:
        self.informer.stop()

    # -- the release

    def status(self) -> tuple[str, int]:
        """``(status, revision)`` of the latest revision, e.g. ``("deployed", 2)`` (what ``helm status``
        reports as ``info.status`` and ``version``). Raises ReleaseNotFound."""
        return self.store.status()

    def history(self) -> list[dict[str, Any]]:
        """Revisions oldest first, shaped like ``helm history -o json`` (``revision``, ``status``,
        ``description``, ...): what :func:`harness.scenario.verdicts.rollback_verdict` takes."""
        return self.store.history()

    def apply_method(self, revision: int | None = None) -> str:
        """How helm applied ``revision`` (default latest), as the stored release says: ``"ssa"`` or
        ``"csa"`` (Helm 4), ``"unset"`` when the field is absent (a release Helm 3 wrote, which Helm 4
        treats as client-side; see :class:`harness.k8s.release_store.ReleaseRevision`), ``"unreadable"``
        when the revision cannot be read (gone, not decodable, the API unreachable). Never raises: it
        is a figure, and a figure must not turn a verdict into an error."""
        try:
            return self.store.get(revision).apply_method or "unset"
        except (ReleaseReadError, client.ApiException, OSError, ValueError):
            return "unreadable"

    def manifest(self, revision: int | None = None) -> list[dict[str, Any]]:
        """The rendered objects of ``revision`` (default latest), a copy the caller may change."""
        return copy.deepcopy(self.store.objects(revision))

    def workloads(self, objs: list[dict[str, Any]] | None = None) -> list[tuple[str, str]]:
        """``[(kind, name)]`` of ``objs``, default the latest revision's (cached per revision)."""
        if objs is not None:
            return workloads_of(objs)
        return list(self.store.derived("workloads", workloads_of))

    def selector_labels(self) -> list[dict[str, str]]:
        return [dict(s) for s in self.store.derived("selectors", selectors_of)]

    def selectors(self) -> list[str]:
        """Each workload's label selector, ``k=v,k2=v2``."""
        return [selector_string(s) for s in self.selector_labels()]

    def probe_bounds(self, revision: int | None = None) -> dict[str, dict[str, float]]:
        """:func:`harness.scenario.manifests.probe_bounds` of the revision (cached per revision)."""
        return copy.deepcopy(self.store.derived("probe_bounds", probe_bounds, revision))

    # -- pods

    def pods(self, *, include_terminating: bool = False) -> list[Any]:
        """The workloads' pods (V1Pod), from the watch's memory; listed from the API while the watch
        is not in sync. Terminating pods (``deletionTimestamp`` set) only with ``include_terminating``."""
        sels = self.selector_labels()
        seen: dict[str, Any] = {}
        if self.informer.ensure():
            for sel in sels:
                for p in self.informer.pods(sel):
                    seen[p.metadata.name] = p
        else:

            core = client.CoreV1Api(self.api)
            for sel in sels:
                for p in core.list_namespaced_pod(self.namespace, label_selector=selector_string(sel),
                                                  _request_timeout=REQUEST_TIMEOUT).items:
                    seen[p.metadata.name] = p
        return [p for p in seen.values() if include_terminating or p.metadata.deletion_timestamp is None]

    def desired_replicas(self) -> int:
        """Sum of ``spec.replicas`` of the live Deployments and StatefulSets (live: an autoscaler may
        have changed them; one GET each)."""

        apps = client.AppsV1Api(self.api)
        n = 0
        for kind, name in self.workloads():
            if kind == "Deployment":
                n += apps.read_namespaced_deployment(name, self.namespace,
                                                     _request_timeout=REQUEST_TIMEOUT).spec.replicas or 0
            elif kind == "StatefulSet":
                n += apps.read_namespaced_stateful_set(name, self.namespace,
                                                       _request_timeout=REQUEST_TIMEOUT).spec.replicas or 0
        return n

    def pods_facts(self, versions: Sequence[str] = ()) -> PodsFacts:
        """Images per pod, Ready pods, desired replicas and the versions the prober saw last."""
        pods = self.pods()
        return PodsFacts({p.metadata.name: [c.image for c in p.spec.containers] for p in pods},
                         sum(1 for p in pods if pod_is_ready(p)), self.desired_replicas(), list(versions))

    def terminating(self) -> list[str]:
        """Names of the workloads' pods being deleted."""
        return [p.metadata.name for p in self.pods(include_terminating=True) if p.metadata.deletion_timestamp]

    def restart_counts(self) -> dict[str, int]:
        """``{"<pod>/<container>": restartCount}`` of the workloads' pods, terminating ones included."""
        return restart_counts(self.pods(include_terminating=True))
