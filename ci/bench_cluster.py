"""Benchmark of the cluster toolchain (issue: real kind clusters): not a test, a measurement.

Measures on this machine, in one run so ratios are comparable:
  - warm `make images` wall time (cache hit path), median of 3
  - `kind create cluster` wall time for 1 and 3 nodes with the warm node image, median of 3 each,
    split into kind's own create and the wait until every node and kube-system pod is Ready
  - node image size
  - with --kubernetes: for each version, its node image size and 3-node create + all Ready
    (median of N), with that version's kind

Usage: .venv/bin/python ci/bench_cluster.py [--runs N] [--kubernetes "v1.35.4 v1.36.3 v1.37.2"]
       (uses host ports 38080, 38443, 30095)
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from harness.core.pins import kubernetes_pins, pinned  # noqa: E402
from harness.env import cluster as cl  # noqa: E402
from harness.tools.binaries import tool_path  # noqa: E402
from harness.tools.kind import Kind  # noqa: E402


def timed(fn) -> float:
    start = time.monotonic()
    fn()
    return time.monotonic() - start


def bench_create(workers: int, runs: int, image: str, version: str | None = None) -> dict:
    kind = Kind(tool_path("kind", version))
    creates, readies = [], []
    for i in range(runs):
        spec = cl.ClusterSpec(name=f"bench-{workers + 1}n", workers=workers, http_port=38080, https_port=38443,
                              nodeport_port=30095, node_image=image)
        cl.check_ports_free([spec.http_port, spec.https_port, spec.nodeport_port])
        kubeconfig = cl.kubeconfig_path(spec.name)
        config = kubeconfig.parent / "kind-config.yaml"
        config.write_text(cl.render_kind_config(spec))
        try:
            creates.append(timed(lambda: kind.create(spec.name, config=config, image=image, kubeconfig=kubeconfig)))
            made = cl.Cluster(spec.name, kubeconfig, f"kind-{spec.name}", True, image)
            readies.append(timed(lambda: cl.wait_ready(made, timeout=300)))
        finally:
            kind.delete(spec.name)
        print(f"  {workers + 1} node(s) run {i + 1}: create {creates[-1]:.1f} s, then Ready {readies[-1]:.1f} s",
              flush=True)
    totals = [c + r for c, r in zip(creates, readies)]
    return {"nodes": workers + 1, "create_s": creates, "ready_after_create_s": readies,
            "median_create_s": statistics.median(creates), "median_total_s": statistics.median(totals)}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--kubernetes", default="", metavar="VERSIONS",
                    help="also measure 3-node create + Ready per version (space-separated vX.Y.Z)")
    args = ap.parse_args()
    versions = [kubernetes_pins(v).version for v in args.kubernetes.split()]
    image = cl.local_node_image(pinned()["KUBERNETES_VERSION"])
    missing = [v for v in versions if not cl.local_node_image(v)]
    if not image or missing:
        print(f"no local node image for {', '.join(missing) or 'the default version'}; "
              "run `images/build-images.sh <version>` first", file=sys.stderr)
        return 3
    size = int(subprocess.check_output(["docker", "image", "inspect", "-f", "{{.Size}}", image], text=True))
    print(f"node image {image}: {size / 1e6:.0f} MB")
    warm = [timed(lambda: subprocess.run(["make", "-s", "images"], cwd=ROOT, check=True,
                                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            for _ in range(args.runs)]
    print(f"warm `make images`: median {statistics.median(warm):.1f} s ({', '.join(f'{w:.1f}' for w in warm)})")
    results = {"node_image": image, "node_image_bytes": size, "warm_make_images_s": warm}
    for workers in (0, 2):
        r = bench_create(workers, args.runs, image)
        print(f"{r['nodes']} node(s): median create {r['median_create_s']:.1f} s, "
              f"median create+all Ready {r['median_total_s']:.1f} s")
        results[f"create_{r['nodes']}_nodes"] = r
    for v in versions:
        vimage = cl.local_node_image(v)
        vsize = int(subprocess.check_output(["docker", "image", "inspect", "-f", "{{.Size}}", vimage], text=True))
        r = bench_create(2, args.runs, vimage, v)
        print(f"{v} ({vimage}, {vsize / 1e6:.0f} MB): 3 nodes median create+all Ready {r['median_total_s']:.1f} s")
        results[f"create_3_nodes_{v}"] = {"node_image": vimage, "node_image_bytes": vsize, **r}
    out = ROOT / "artifacts" / "bench-cluster.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    print(f"written {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
