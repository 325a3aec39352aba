"""Benchmark: the upgrade scenario's wall time with Helm 4 against Helm 3 on one cluster (not a test).

Runs ``pytest scenarios/upgrade -k "<chart>-default"`` alternately with the pinned helm (v4) and the
pinned helm3, ``--runs`` times each, against one kept cluster, and reads the steps' seconds from each
run's ``scenarios.json`` record (harness/scenario/result.py): "helm upgrade to the candidate" (the
helm process, with its wait), "rollout and old pods gone" (the harness's own wait after helm
returned) and the whole record. Helm 4's upgrade waits with kstatus (``--wait=watcher``), which also
waits for the old pods to go (https://helm.sh/docs/overview/, "kstatus-based waiting"); Helm 3's
``--wait`` returns once the new ReplicaSet is available, so its share moves to the harness's wait.

Usage: .venv/bin/python ci/bench_upgrade.py [--runs 3] [--chart ha-service]
       (creates or reuses the cluster `harness`, keeps it; results in artifacts/bench-upgrade.json)
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from harness.scenario.result import read_results  # noqa: E402
from harness.tools.binaries import tool_path  # noqa: E402

STEPS = ("helm upgrade to the candidate", "rollout and old pods gone")


def one_run(helm: str, chart: str, artifacts: Path) -> dict:
    art = artifacts / Path(helm).name
    (art / "scenarios.json").unlink(missing_ok=True)
    argv = [sys.executable, "-m", "pytest", "scenarios/upgrade", "-q", "-p", "no:cacheprovider",
            "-k", f"{chart}-default", "--harness-helm", helm, "--harness-reuse-cluster", "--harness-keep-cluster",
            "always", "--harness-artifacts-dir", str(art)]
    rc = subprocess.run(argv, cwd=ROOT).returncode
    records = [r for r in read_results(art / "scenarios.json") if r.scenario == "upgrade"]
    if rc != 0 or len(records) != 1 or records[0].outcome != "PASS":
        raise SystemExit(f"bench_upgrade: the upgrade with {helm} did not pass (pytest exit {rc}); see {art}")
    r = records[0]
    steps = {s.name: s.seconds for s in r.steps}
    return {"helm": r.cell.helm_version, "record_s": r.seconds, **{name: steps.get(name) for name in STEPS}}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--chart", default="ha-service")
    args = ap.parse_args()
    artifacts = ROOT / "artifacts" / "bench-upgrade"
    helms = {"helm4": tool_path("helm"), "helm3": tool_path("helm3")}
    runs: dict[str, list[dict]] = {k: [] for k in helms}
    for i in range(args.runs):
        for key, helm in helms.items():  # alternate, so drift in machine load hits both alike
            runs[key].append(one_run(helm, args.chart, artifacts))
            print(f"run {i + 1} {key}: {runs[key][-1]}", flush=True)
    summary = {}
    for key, rs in runs.items():
        summary[key] = {"helm": rs[0]["helm"], **{
            f"median {name} s": round(statistics.median(r[name] for r in rs), 1) for name in (*STEPS, "record_s")}}
        print(f"{key}: {summary[key]}")
    out = ROOT / "artifacts" / "bench-upgrade.json"
    out.write_text(json.dumps({"runs": runs, "summary": summary}, indent=2))
    print(f"written {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
