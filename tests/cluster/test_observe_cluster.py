"""Observing a release does not perturb it: after ``helm upgrade`` returns, the reads the upgrade
scenario makes (rollout, old pods gone, pods, pods facts, workload images, release status) start no
helm process, and what they read from helm's storage Secrets equals what helm itself reports."""
from __future__ import annotations

from pathlib import Path

import pytest

from harness.core import contract as contract_mod
from harness.env.cluster import load_images
from harness.k8s import conditions
from harness.k8s.wait import all_of, wait_for
from harness.measure.cpu import measure_cpu
from harness.scenario.manifests import manifest_objects, workload_images
from harness.scenario.observer import ReleaseObserver
from harness.tools.exec import started, started_since

pytestmark = pytest.mark.cluster

CHART = Path(__file__).resolve().parents[2] / "charts-under-test" / "realtime"
# No Ingress: this test needs no ingress controller, and no host may clash with another release's.
SETS = ["ingress.enabled=false"]


def test_reads_after_an_upgrade_start_no_helm_process(cluster, kube_api, namespace, helm, chart_repo,
                                                      harness_config):
    contract = contract_mod.load(CHART / "harness-contract.yaml")
    if not harness_config.external_cluster:  # like the chart_images fixture: an external cluster has them
        load_images(cluster, list(contract.images))
    release = "observe"
    helm.install(release, contract.released.ref, sets=SETS, wait=True, timeout=300)
    obs = ReleaseObserver(kube_api, namespace, release)
    try:
        assert obs.status() == ("deployed", 1)
        first_pods = {p.metadata.name for p in obs.pods()}
        assert first_pods, "the released chart's pods were not seen"

        helm.upgrade(release, str(CHART), sets=SETS, wait=True, timeout=300)
        before = started()
        with measure_cpu() as cpu:
            # what run_upgrade does after `helm upgrade` returned
            workloads = obs.workloads()
            conds = [conditions.deployment_rolled_out(kube_api, namespace, name)
                     for kind, name in workloads if kind == "Deployment"]
            assert conds, f"no Deployment among {workloads}"
            wait_for(all_of(*conds), timeout=300, interval=1.0)

            def no_terminating() -> tuple[bool, str]:
                term = obs.terminating()
                return not term, f"terminating: {', '.join(term) or 'none'}"

            wait_for(no_terminating, timeout=120, interval=1.0, what="old pods to finish terminating")
            new_images = workload_images(obs.manifest())
            status = obs.status()
            facts = obs.pods_facts()
            restarts = obs.restart_counts()
        spawned = started_since(before)
        assert not {"helm", "kubectl"} & set(spawned), f"processes started after the upgrade returned: {spawned}"

        assert status == ("deployed", 2)
        assert new_images == {"harness/demo-service:1.1.0"}, new_images
        assert facts.images and all(imgs == ["harness/demo-service:1.1.0"] for imgs in facts.images.values()), facts
        assert facts.ready == facts.desired == len(facts.images)
        assert not first_pods & set(facts.images), "old pods are still listed"
        assert {key.split("/")[0] for key in restarts} == set(facts.images), restarts
        assert obs.informer.usable(), f"the pods did not come from the watch: {obs.informer.errors}"
        assert obs.store.decode_count == 2, "revisions 1 and 2 are each decoded once"
        assert cpu.result is not None and cpu.result.wall_seconds > 0

        # The storage Secrets say what helm says (helm may run now: the observation is over).
        assert obs.manifest() == manifest_objects(helm.get_manifest(release))
        assert obs.manifest(1) == manifest_objects(helm.get_manifest(release, revision=1))
        st = helm.status(release)
        assert (st["info"]["status"], int(st["version"])) == status
        keys = ("revision", "status", "chart", "app_version", "description")
        assert [{k: h[k] for k in keys} for h in obs.history()] == \
            [{k: (int(h[k]) if k == "revision" else h[k]) for k in keys} for h in helm.history(release)]
    finally:
        obs.close()
