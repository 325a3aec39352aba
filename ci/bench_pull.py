"""Benchmark (issue 17's figure): a cluster whose nodes pull every image versus one preloaded with
`kind load`, on this machine in one run so the ratio is comparable. Not a test, a measurement.

Each round creates cluster ``harness-bench`` twice (the default ports: run it with no other harness
cluster up) and installs the default add-ons the way a test session does, timing create + every
node and add-on Ready (their smoke checks included):

- **preloaded**: image-source ``local`` (the local node image; the add-ons' images loaded with
  kind load), what this machine's CI does;
- **pull**: image-source ``pull`` through the loopback registry (harness/env/registry.py) as
  ``make e2e-pull`` sets it up: the host's Docker pulls the node image and PostgreSQL through it
  (their local references under its address are removed before each round, so nothing is cached
  on the host), the nodes' containerd pulls the edge, busybox and cert-manager's images (a new
  cluster's nodes start empty). The registry's log must show the nodes' pulls of each round, or
  the round does not count.

The two kinds alternate (preloaded, pull, preloaded, ...) so that the machine's noise falls on
both. Loopback pulls cost no network time: this measures what pulling costs in containerd and
Docker (unpacking layers), not a user's bandwidth.

Usage: .venv/bin/python ci/bench_pull.py [--runs N]   (default 3; results in artifacts/bench-pull.json)
Exit: 0 measured; 1 a round failed; 3 the environment (no Docker, no local node image, ports taken).
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "ci"))

from e2e_pull import pushes  # noqa: E402  (the images make e2e-pull pushes: the same set here)

from harness.core import runs  # noqa: E402
from harness.core.config import load_config  # noqa: E402
from harness.core.errors import HarnessError  # noqa: E402
from harness.env import cluster as kind_cluster  # noqa: E402
from harness.env import pullpath, registry  # noqa: E402
from harness.env.addons.catalog import AddonContext, install_addons, teardown_addons  # noqa: E402
from harness.k8s.namespaces import new_run_id  # noqa: E402
from harness.tools.kind import Kind  # noqa: E402

CLUSTER = "harness-bench"
OUT = ROOT / "artifacts" / "bench-pull.json"


def timed_up(cli: dict[str, object]) -> float:
    """Create cluster CLUSTER with the configuration ``cli`` (keys as on the command line) and
    install the default add-ons as a test session does (harness/plugin/session.py: ``cluster`` and
    ``addons`` fixtures; each add-on's smoke check included); the seconds until all of it is Ready.
    The add-ons' own containers (PostgreSQL) are removed after."""
    cfg = load_config({"cluster-name": CLUSTER, **cli}, rootdir=ROOT)
    run_id = new_run_id()
    start = time.monotonic()
    cluster = kind_cluster.ensure_cluster(kind_cluster.spec_from_config(cfg), owner=runs.owner_now(run_id))
    ctx = AddonContext.from_config(cfg, cluster, run_id=run_id)
    try:
        install_addons(cfg.addons, ctx)
        return time.monotonic() - start
    finally:
        teardown_addons(ctx)


def down() -> None:
    """Delete the cluster, its kubeconfig and owner record (as `python -m harness cluster down`)."""
    if CLUSTER in Kind().get_clusters():
        kind_cluster.delete_cluster(kind_cluster.Cluster(CLUSTER, kind_cluster.kubeconfig_path(CLUSTER),
                                                         f"kind-{CLUSTER}", True))


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="ci/bench_pull.py")
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args(argv)
    if CLUSTER in Kind().get_clusters():
        down()
    try:
        reg = registry.start(0, run_id=new_run_id(), cluster=CLUSTER)
    except HarnessError as exc:
        print(f"bench-pull: {exc}", file=sys.stderr)
        return 3
    results: dict[str, list[float]] = {"preloaded": [], "pull": []}
    node_pulls: list[int] = []
    try:
        path = pullpath.prepare(reg, kind_cluster.ClusterSpec(name=CLUSTER), images=pushes())
        print(f"bench-pull: registry {reg.address}; {len(path.pushed)} images pushed; node image {path.node_image}",
              flush=True)
        pull_opts = {"image-source": "pull", "node-image": path.node_image, "kind-config": str(path.kind_config),
                     "registry-mirror": reg.address}
        for i in range(1, args.runs + 1):
            try:
                results["preloaded"].append(timed_up({"image-source": "local"}))
            finally:
                down()
            registry.forget_host_pulls(reg)
            before = len(registry.manifest_pulls(reg, agent="containerd"))
            try:
                results["pull"].append(timed_up(pull_opts))
            finally:
                down()
            node_pulls.append(len(registry.manifest_pulls(reg, agent="containerd")) - before)
            if node_pulls[-1] == 0:
                raise RuntimeError(f"round {i}: the nodes pulled nothing from the registry (preloaded?)")
            print(f"  round {i}: preloaded {results['preloaded'][-1]:.1f} s, pull {results['pull'][-1]:.1f} s "
                  f"({node_pulls[-1]} manifest pulls by the nodes)", flush=True)
    except (RuntimeError, HarnessError) as exc:
        print(f"bench-pull: {exc}", file=sys.stderr)
        return 1
    finally:
        registry.forget_host_pulls(reg)
        registry.stop(reg)
    med = {k: statistics.median(v) for k, v in results.items()}
    summary = {"runs": args.runs, "seconds": results, "median_s": med, "ratio_pull_to_preloaded": med["pull"] / med["preloaded"],
               "node_manifest_pulls_per_round": node_pulls, "cluster": CLUSTER,
               "command": "ci/bench_pull.py: ensure_cluster + install_addons (create + add-ons Ready)"}
    OUT.write_text(json.dumps(summary, indent=2) + "\n")
    print(f"bench-pull: create + all Ready, median of {args.runs}: preloaded {med['preloaded']:.1f} s, "
          f"pull {med['pull']:.1f} s (x{summary['ratio_pull_to_preloaded']:.2f}); {OUT}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
