"""The pull path, run here: a real OCI registry on loopback stands in for docker.io, quay.io and
registry.k8s.io, and a cluster pulls everything from it (issue 17).

Users' machines take ``image-source pull``: kind pulls ``kindest/node``, the nodes pull the edge, the
charts' images and busybox, the host's Docker pulls PostgreSQL. This machine reaches no registry, so:

1. the distribution registry (harness/env/registry.py, built here) starts on 127.0.0.1 and on the
   ``kind`` network (on a machine without one yet, it joins it once the cluster is created:
   harness/env/containers.py, ``join_registry_serving``);
2. the locally built images are pushed to it under their upstream names (harness/env/pullpath.py):
   the node image as the ``NODE_PULL_*`` pin (a copy labelled with this run: a digest the host's
   Docker never pulled, since dockerd takes a manifest it already holds by digest from its own
   content store and would not ask the registry), ``harness/traefik`` as ``TRAEFIK_PULL_IMAGE``,
   ``harness/toolbox`` as ``TOOLBOX_PULL_IMAGE``, ``harness/postgres`` as ``POSTGRES_PULL_IMAGE``,
   cert-manager's and the charts' images as themselves; where an upstream pin cannot match a local build (a digest, a
   PostgreSQL major) it says so in one line;
3. pytest runs the upgrade and sse scenarios with ``--harness-image-source pull``, the registry as
   ``--harness-registry-mirror`` (the host's pulls) and a kind config whose ``hosts.toml`` route the
   nodes' pulls to it: the same resolution code as on a user's machine, nothing preloaded;
4. the registry's own log must show a pull of every image by the nodes' containerd and by the host's
   Docker (a preloaded image would never be pulled: ``IfNotPresent``), and the session must not have
   loaded any image (its timings have no ``load N images`` phase, only ``check N images``);
5. OCI charts: the released static-site chart (charts-under-test/repo) and the candidate, packaged,
   are pushed with ``helm push`` to ``oci://127.0.0.1:<port>/charts``; the release gate
   (``python -m harness gate --scenarios upgrade``) runs on the same cluster with ``released.chart:
   oci://...`` (a copy of the contract) and ``--chart oci://...`` as the candidate; its gate.json must
   say exit 0 and name the candidate, and the registry's log must show helm fetching both versions.

The cluster (``harness-pull``, the default ports: run it when the ``harness`` cluster is gone) is
kept between the two pytest runs and deleted at the end with the add-on containers that served it,
the registry too. Exit: pytest's
code, or 1 when an assertion about the pulls fails.

Usage: make e2e-pull   (or: .venv/bin/python ci/e2e_pull.py [-- PYTEST_ARGS])
"""
from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from harness.core.contract import discover  # noqa: E402
from harness.core.imageref import parse_image  # noqa: E402
from harness.core.pins import pinned  # noqa: E402
from harness.env import pullpath, registry  # noqa: E402
from harness.env.addons import certmanager  # noqa: E402
from harness.env.cluster import ClusterSpec  # noqa: E402
from harness.gate.matrix import KindClusters  # noqa: E402
from harness.k8s.namespaces import new_run_id  # noqa: E402
from harness.tools.binaries import tool_path  # noqa: E402
from harness.tools.helm import Helm  # noqa: E402
from harness.tools.kind import Kind  # noqa: E402

CLUSTER = "harness-pull"
ARTIFACTS = ROOT / "artifacts" / "pull"


def pushes() -> dict[str, str]:
    """Local image -> the upstream name a pulling machine uses for it."""
    v = pinned()
    out = {f"harness/traefik:{v['TRAEFIK_VERSION']}": v["TRAEFIK_PULL_IMAGE"],
           "harness/toolbox:latest": v["TOOLBOX_PULL_IMAGE"],
           v["POSTGRES_IMAGE"]: v["POSTGRES_PULL_IMAGE"]}
    out.update({img: img for img in certmanager.images()})  # built here under their quay.io names
    for c in discover(ROOT / "charts-under-test"):
        out.update({img: img for img in c.images})
    return out


def main(argv: list[str]) -> int:
    extra = argv[argv.index("--") + 1:] if "--" in argv else []
    started = time.monotonic()
    if CLUSTER in Kind().get_clusters():  # an earlier run's: its nodes route to a registry that is gone
        print(f"==> e2e-pull: deleting the leftover cluster {CLUSTER}", flush=True)
        KindClusters().delete(CLUSTER)
    reg = registry.start(0, run_id=new_run_id(), cluster=CLUSTER)
    print(f"==> e2e-pull: registry {reg.name} on {reg.address} (nodes: {reg.in_network})", flush=True)
    try:
        images = pushes()
        # stamped: a node image digest this host's Docker never pulled, so kind's pull has to reach the registry
        path = pullpath.prepare(reg, ClusterSpec(name=CLUSTER), images=images, stamp=reg.run_id)
        print(f"==> e2e-pull: pushed {len(path.pushed)} images; node image {path.node_image}", flush=True)
        for note in [path.digest_note,
                     f"PostgreSQL: the local build {pinned()['POSTGRES_IMAGE']} stands in for "
                     f"{pinned()['POSTGRES_PULL_IMAGE']} (Debian's PostgreSQL {pinned()['POSTGRES_MAJOR']})",
                     f"busybox: the local static busybox image stands in for {pinned()['TOOLBOX_PULL_IMAGE']}"]:
            if note:
                print(f"    note: {note}", flush=True)
        # kind pulls the node image only when the host's Docker lacks it: name the cause, not just the symptom
        held = subprocess.run(["docker", "image", "inspect", path.node_image], capture_output=True).returncode == 0
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        common = ["-q", "-rfEs", "-p", "no:cacheprovider", "--harness-cluster-name", CLUSTER,
                  "--harness-image-source", "pull", "--harness-node-image", path.node_image,
                  "--harness-kind-config", str(path.kind_config), "--harness-registry-mirror", reg.address,
                  "--harness-reuse-cluster"]
        cmd = [sys.executable, "-m", "pytest", "scenarios/upgrade", "scenarios/sse", "-k", "not broken", *common,
               "--harness-keep-cluster", "always", "--harness-artifacts-dir", str(ARTIFACTS), *extra]
        print("==> e2e-pull: " + " ".join(cmd[2:]), flush=True)
        rc = subprocess.call(cmd, cwd=ROOT)
        problems = check_pulls(reg, images, path)
        if held:
            problems.append(f"{path.node_image} was in the host's Docker before the cluster was created, "
                            "so kind did not pull it")
        with tempfile.TemporaryDirectory(prefix="harness-e2e-pull-") as tmp:
            oci = oci_charts(reg, Path(tmp))
            # the release gate, as a chart repository's CI runs it: its preflight asks the registry
            # for the chart's images (pull path) and helm fetches both charts from oci://
            report = ARTIFACTS / "oci-report"
            cmd = [sys.executable, "-m", "harness", "gate", "--chart", oci["candidate"], "--chart-version",
                   oci["version"], "--contract", oci["contract"], "--scenarios", "upgrade",
                   "--cluster-name", CLUSTER, "--image-source", "pull", "--node-image", path.node_image,
                   "--kind-config", str(path.kind_config), "--registry-mirror", reg.address, "--reuse-cluster",
                   "--keep-cluster", "always", "--artifacts-dir", str(ARTIFACTS / "oci"),
                   "--report-dir", str(report), *(["--", *extra] if extra else [])]
            print("==> e2e-pull: OCI charts through the gate: " + " ".join(cmd[2:]), flush=True)
            gate_rc = subprocess.call(cmd, cwd=ROOT)
            rc = rc or gate_rc
            problems += gate_problems(report / "gate.json", oci["candidate"])
        fetched = {ref for name, ref in registry.manifest_pulls(reg, agent="helm") if name == "charts/static-site"}
        for version in (oci["released"], oci["version"]):
            if version not in fetched:
                problems.append(f"oci://.../charts/static-site:{version}: no fetch by helm in the registry log")
        if CLUSTER in Kind().get_clusters():
            print(f"==> e2e-pull: deleting cluster {CLUSTER}", flush=True)
            KindClusters().delete(CLUSTER)
        for p in problems:
            print(f"e2e-pull: {p}", flush=True)
        print(f"==> e2e-pull: pytest exited {rc}; {len(problems)} problems with the pulls; "
              f"{time.monotonic() - started:.0f} s", flush=True)
        return rc or (1 if problems else 0)
    finally:
        registry.stop(reg)


def oci_charts(reg: registry.Registry, tmp: Path) -> dict[str, str]:
    """Push the released static-site chart and the packaged candidate to ``reg``; write a copy of the
    contract whose ``released.chart`` is the OCI one (beside links to the files its relative paths
    name). Returns ``candidate`` (oci:// ref), ``version`` (the candidate's), ``released`` (its
    version) and ``contract`` (the copy's path)."""
    src = ROOT / "charts-under-test" / "static-site"
    helm = Helm(None, home=tmp / "helm-home", binary=str(tool_path("helm")))
    contract = yaml.safe_load((src / "harness-contract.yaml").read_text())
    released_version = contract["released"]["version"]
    released = ROOT / "charts-under-test" / "repo" / f"static-site-{released_version}.tgz"
    candidate = helm.package(src, tmp / "packaged")
    remote = reg.chart_url()
    helm.push(released, remote)
    ref = helm.push(candidate, remote)
    contract["released"] = {"chart": f"{remote}/static-site", "version": released_version}
    copy = tmp / "static-site"
    copy.mkdir()
    for name in ("ci",):
        (copy / name).symlink_to(src / name)
    (tmp / "broken").symlink_to(ROOT / "charts-under-test" / "broken")
    (copy / "harness-contract.yaml").write_text(yaml.safe_dump(contract, sort_keys=False))
    version = yaml.safe_load((src / "Chart.yaml").read_text())["version"]
    print(f"==> e2e-pull: pushed static-site {released_version} and {version} to {remote}", flush=True)
    return {"candidate": ref.ref, "version": str(version), "released": str(released_version),
            "contract": str(copy / "harness-contract.yaml")}


def gate_problems(gate_json: Path, candidate: str) -> list[str]:
    """What the gate's own record says against "the OCI candidate passed the upgrade scenario"."""
    try:
        text = gate_json.read_text()
        record = json.loads(text)
    except (OSError, ValueError) as exc:
        return [f"the gate wrote no readable {gate_json}: {exc}"]
    problems = []
    if record.get("exit_code") != 0:
        problems.append(f"the gate exited {record.get('exit_code')} ({gate_json})")
    if candidate not in text:
        problems.append(f"{gate_json} does not name the candidate {candidate}")
    return problems


def check_pulls(reg: registry.Registry, images: dict[str, str], path: pullpath.PullPath) -> list[str]:
    """What the registry's log and the session's timings say against "everything was pulled"."""
    problems = []
    by_node = {name for name, _ in registry.manifest_pulls(reg, agent="containerd")}
    by_host = {name for name, _ in registry.manifest_pulls(reg, agent="docker")}
    node_side = [u for local, u in images.items() if u != pinned()["POSTGRES_PULL_IMAGE"]]
    for upstream in node_side:
        repo = parse_image(upstream).path
        if repo not in by_node:
            problems.append(f"{upstream}: no pull by the nodes' containerd in the registry log (preloaded?)")
    for upstream in (pinned()["POSTGRES_PULL_IMAGE"], path.upstream_node_image):
        repo = parse_image(upstream).path
        if repo not in by_host:
            problems.append(f"{upstream}: no pull by the host's Docker in the registry log")
    timings = ARTIFACTS / "timings.json"
    try:
        phases = [p["name"] for p in json.loads(timings.read_text()).get("phases", [])]
    except (OSError, ValueError) as exc:
        return [*problems, f"cannot read {timings}: {exc}"]
    if any(n.startswith("load ") and n.endswith(" images") for n in phases):
        problems.append(f"the session loaded images into the nodes ({timings})")
    if not any(n.startswith("check ") and n.endswith(" images") for n in phases):
        problems.append(f"the session did not check the charts' images against the registry ({timings})")
    return problems


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
