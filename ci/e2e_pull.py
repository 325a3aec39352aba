"""The pull path, run here: a real OCI registry on loopback stands in for docker.io, quay.io and
registry.k8s.io, and a cluster pulls everything from it (issue 17).

Users' machines take ``image-source pull``: kind pulls ``kindest/node``, the nodes pull the edge, the
charts' images and busybox, the host's Docker pulls PostgreSQL. This machine reaches no registry, so:

1. the distribution registry (harness/env/registry.py, built here) starts on 127.0.0.1 and on the
   ``kind`` network;
2. the locally built images are pushed to it under their upstream names (harness/env/pullpath.py):
   the node image as the ``NODE_PULL_*`` pin, ``harness/traefik`` as ``TRAEFIK_PULL_IMAGE``,
   ``harness/toolbox`` as ``TOOLBOX_PULL_IMAGE``, ``harness/postgres`` as ``POSTGRES_PULL_IMAGE``,
   cert-manager's and the charts' images as themselves; where an upstream pin cannot match a local build (a digest, a
   PostgreSQL major) it says so in one line;
3. pytest runs the upgrade and sse scenarios with ``--harness-image-source pull``, the registry as
   ``--harness-registry-mirror`` (the host's pulls) and a kind config whose ``hosts.toml`` route the
   nodes' pulls to it: the same resolution code as on a user's machine, nothing preloaded;
4. the registry's own log must show a pull of every image by the nodes' containerd and by the host's
   Docker (a preloaded image would never be pulled: ``IfNotPresent``), and the session must not have
   loaded any image (its timings have no ``load N images`` phase, only ``check N images``).

The cluster (``harness-pull``, the default ports: run it when the ``harness`` cluster is gone) is
deleted by the session (``--harness-keep-cluster never``), the registry at the end. Exit: pytest's
code, or 1 when an assertion about the pulls fails.

Usage: make e2e-pull   (or: .venv/bin/python ci/e2e_pull.py [-- PYTEST_ARGS])
"""
from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from harness.core.contract import discover  # noqa: E402
from harness.core.imageref import parse_image  # noqa: E402
from harness.core.pins import pinned  # noqa: E402
from harness.env import pullpath, registry  # noqa: E402
from harness.env.addons import certmanager  # noqa: E402
from harness.env.cluster import ClusterSpec  # noqa: E402
from harness.k8s.namespaces import new_run_id  # noqa: E402

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
    reg = registry.start(0, run_id=new_run_id(), cluster=CLUSTER)
    print(f"==> e2e-pull: registry {reg.name} on {reg.address} (nodes: {reg.in_network})", flush=True)
    try:
        images = pushes()
        path = pullpath.prepare(reg, ClusterSpec(name=CLUSTER), images=images)
        print(f"==> e2e-pull: pushed {len(path.pushed)} images; node image {path.node_image}", flush=True)
        for note in [path.digest_note,
                     f"PostgreSQL: the local build {pinned()['POSTGRES_IMAGE']} stands in for "
                     f"{pinned()['POSTGRES_PULL_IMAGE']} (Debian's PostgreSQL {pinned()['POSTGRES_MAJOR']})",
                     f"busybox: the local static busybox image stands in for {pinned()['TOOLBOX_PULL_IMAGE']}"]:
            if note:
                print(f"    note: {note}", flush=True)
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        cmd = [sys.executable, "-m", "pytest", "scenarios/upgrade", "scenarios/sse", "-q", "-rfEs",
               "-p", "no:cacheprovider", "-k", "not broken",
               "--harness-cluster-name", CLUSTER, "--harness-image-source", "pull",
               "--harness-node-image", path.node_image, "--harness-kind-config", str(path.kind_config),
               "--harness-registry-mirror", reg.address, "--harness-keep-cluster", "never",
               "--harness-artifacts-dir", str(ARTIFACTS), *extra]
        print("==> e2e-pull: " + " ".join(cmd[2:]), flush=True)
        rc = subprocess.call(cmd, cwd=ROOT)
        problems = check_pulls(reg, images, path)
        for p in problems:
            print(f"e2e-pull: {p}", flush=True)
        print(f"==> e2e-pull: pytest exited {rc}; {len(problems)} problems with the pulls; "
              f"{time.monotonic() - started:.0f} s", flush=True)
        return rc or (1 if problems else 0)
    finally:
        registry.stop(reg)


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
