"""Benchmark (issue 15's figure): make e2e's scenarios run serially versus on pytest-xdist workers,
on this machine, on one cluster, in one run so the ratio is comparable. Not a test, a measurement.

Each round runs ``pytest scenarios`` twice on cluster ``harness`` (reused when it exists, kept
between runs): once serially, once with ``-n auto --harness-workers W`` (docs/parallel.md); the
kinds alternate so that the machine's noise falls on both. Per run it records:

- wall time of the pytest process (seconds) and its exit code (0: every verdict as expected);
- every test's outcome from the run's ``scenarios.json``; the parallel run must give the same
  outcome for every test id as the serial run of its round, or the round says which differ;
- the machine's peak memory in use (``MemTotal - MemAvailable`` from /proc/meminfo, sampled every
  second; the kind nodes, PostgreSQL and the harness all count) and the busy share of all CPUs
  (/proc/stat, non-idle over total jiffies, across the run);
- the prober's late sends (figure ``probe_late_sends_count``) and the failed requests not counted
  because the harness sent them late (``probe_late_failed_count``), summed over the records.

Before the first round a warm-up run (one upgrade test) creates the cluster and installs the add-ons
when they are missing, so neither kind pays for them; its time is printed, not counted.
With ``--parallel-repeats K`` each round runs the parallel kind K times in a row after its serial run
(the consecutive concurrent runs of issue 15: every one must give the serial run's verdicts, negative
controls failing for their reason included); the round's parallel time is their median.

With ``--serial-from DIR --serial-seconds S`` no serial run is made: the serial kind is an earlier run
on the same cluster (its records in ``DIR/scenarios.json``, its wall time ``S`` seconds, as that
run's ``[bench]`` line printed it), for trying another workers setting without 17 more minutes.

Usage: .venv/bin/python ci/bench_parallel.py [--runs N] [--workers W] [--parallel-repeats K]
                                             [--serial-from DIR --serial-seconds S]
       (default 1 round, W auto, K 1)
Results: artifacts/bench-parallel.json and a table on stdout.
Exit: 0 measured with the same verdicts; 1 a run failed or the verdicts differ.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "artifacts" / "bench-parallel.json"
CLUSTER = "harness"


@dataclass
class Run:
    kind: str
    wall_s: float
    exit_code: int
    outcomes: dict[str, str]
    peak_mem_gib: float
    cpu_busy_share: float
    late_sends: int
    late_failed: int
    artifacts: str
    differs: list[str] = field(default_factory=list)


def _mem_used_gib() -> float:
    info = {}
    for line in Path("/proc/meminfo").read_text().splitlines():
        k, v = line.split(":", 1)
        info[k] = int(v.split()[0])
    return (info["MemTotal"] - info["MemAvailable"]) / 1024 / 1024


def _cpu_jiffies() -> tuple[int, int]:
    parts = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = parts[3] + (parts[4] if len(parts) > 4 else 0)
    return sum(parts) - idle, sum(parts)


def _figure(figures: dict, name: str) -> float:
    """A record's figure value (records store ``{"value": ..., "unit": ...}``; 0 when absent)."""
    f = figures.get(name)
    return float((f.get("value") if isinstance(f, dict) else f) or 0)


def _records(artifacts: Path) -> list[dict]:
    path = artifacts / "scenarios.json"
    return json.loads(path.read_text()).get("results", []) if path.is_file() else []


def warm_up() -> None:
    """Create the cluster and install the add-ons if missing (one upgrade test), outside the figures."""
    argv = [sys.executable, "-m", "pytest", "scenarios/upgrade", "-q", "-p", "no:cacheprovider", "-k",
            "static-site-default", "--harness-cluster-name", CLUSTER, "--harness-reuse-cluster",
            "--harness-keep-cluster", "always", "--harness-artifacts-dir", str(ROOT / "artifacts" / "bench-parallel" / "warm-up")]
    start = time.monotonic()
    rc = subprocess.run(argv, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, timeout=1800).returncode
    print(f"[bench] warm-up (cluster {CLUSTER} and add-ons): exit {rc}, {time.monotonic() - start:.0f} s, not counted",
          flush=True)


def one_run(kind: str, index: str, workers: str) -> Run:
    art = ROOT / "artifacts" / "bench-parallel" / f"{kind}-{index}"
    argv = [sys.executable, "-m", "pytest", "scenarios", "-q", "-p", "no:cacheprovider",
            "--harness-cluster-name", CLUSTER, "--harness-reuse-cluster", "--harness-keep-cluster", "always",
            "--harness-artifacts-dir", str(art)]
    if kind == "parallel":
        argv += ["-n", "auto", "--harness-workers", workers]
    peak = [_mem_used_gib()]
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(1.0):
            peak[0] = max(peak[0], _mem_used_gib())

    sampler = threading.Thread(target=sample, daemon=True)
    busy0, total0 = _cpu_jiffies()
    start = time.monotonic()
    sampler.start()
    print(f"[bench] {kind} run {index}: {' '.join(argv[3:])}", flush=True)
    art.parent.mkdir(parents=True, exist_ok=True)
    with (art.parent / f"{kind}-{index}.log").open("w") as log:
        rc = subprocess.run(argv, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, timeout=3600).returncode
    wall = time.monotonic() - start
    stop.set()
    sampler.join(timeout=5)
    busy1, total1 = _cpu_jiffies()
    recs = _records(art)
    figures = [r.get("figures") or {} for r in recs]
    run = Run(kind, round(wall, 1), rc, {r["test_id"]: r["outcome"] for r in recs if r.get("test_id")},
              round(peak[0], 2), round((busy1 - busy0) / max(1, total1 - total0), 3),
              int(sum(_figure(f, "probe_late_sends_count") for f in figures)),
              int(sum(_figure(f, "probe_late_failed_count") for f in figures)), str(art.relative_to(ROOT)))
    print(f"[bench] {kind} run {index}: exit {rc}, {wall:.0f} s, {len(run.outcomes)} records, peak memory "
          f"{run.peak_mem_gib} GiB, CPU busy {run.cpu_busy_share:.0%}, late sends {run.late_sends}", flush=True)
    return run


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    p.add_argument("--runs", type=int, default=1, help="rounds (one serial and one parallel run each)")
    p.add_argument("--workers", default="auto", help="the workers setting of the parallel runs")
    p.add_argument("--parallel-repeats", type=int, default=1,
                   help="parallel runs per round, in a row after its serial run (each compared with it)")
    p.add_argument("--serial-from", type=Path, default=None, metavar="DIR",
                   help="an earlier serial run's artifacts directory: no serial run is made")
    p.add_argument("--serial-seconds", type=float, default=None, metavar="S", help="that run's wall time")
    args = p.parse_args()
    if (args.serial_from is None) != (args.serial_seconds is None):
        p.error("--serial-from and --serial-seconds go together")
    warm_up()
    rounds: list[tuple[Run, list[Run]]] = []

    def repeats(i: int) -> list[Run]:
        """Round ``i``'s parallel runs (``--parallel-repeats`` of them)."""
        return [one_run("parallel", f"{i}.{k}", args.workers) for k in range(1, args.parallel_repeats + 1)]

    for i in range(1, args.runs + 1):
        if args.serial_from is not None:
            recs = _records(args.serial_from)
            serial = Run("serial", args.serial_seconds, 0, {r["test_id"]: r["outcome"] for r in recs if r.get("test_id")},
                         0.0, 0.0, 0, 0, str(args.serial_from))
            print(f"[bench] serial: the earlier run in {args.serial_from} ({args.serial_seconds:.0f} s, "
                  f"{len(serial.outcomes)} records)", flush=True)
            parallels = repeats(i)
        elif args.parallel_repeats > 1 or i % 2:
            serial = one_run("serial", str(i), args.workers)
            parallels = repeats(i)
        else:
            parallels = [one_run("parallel", f"{i}.1", args.workers)]
            serial = one_run("serial", str(i), args.workers)
        for par in parallels:
            par.differs = sorted(t for t in set(serial.outcomes) | set(par.outcomes)
                                 if serial.outcomes.get(t) != par.outcomes.get(t))
        rounds.append((serial, parallels))

    def par_s(parallels: list[Run]) -> float:
        return statistics.median(p.wall_s for p in parallels)

    ratios = [par_s(pars) / ser.wall_s for ser, pars in rounds]
    summary = {
        "serial_median_s": statistics.median(s.wall_s for s, _ in rounds),
        "parallel_median_s": statistics.median(p.wall_s for _, pars in rounds for p in pars),
        "ratio_median": round(statistics.median(ratios), 3),
        "workers": args.workers, "cpus": os.cpu_count(), "parallel_repeats": args.parallel_repeats,
        "rounds": [{"serial": asdict(s), "parallel": [asdict(p) for p in pars]} for s, pars in rounds],
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(summary, indent=2))
    print("| round | serial s | parallel s | ratio | same verdicts | peak GiB (s/p) | CPU busy (s/p) | late sends (s/p) |")
    print("|---|---|---|---|---|---|---|---|")
    for i, (s, pars) in enumerate(rounds, 1):
        for par in pars:
            print(f"| {i} | {s.wall_s:.0f} | {par.wall_s:.0f} | {par.wall_s / s.wall_s:.2f} | "
                  f"{'yes' if not par.differs else 'NO: ' + ', '.join(par.differs)} | "
                  f"{s.peak_mem_gib}/{par.peak_mem_gib} | {s.cpu_busy_share:.0%}/{par.cpu_busy_share:.0%} | "
                  f"{s.late_sends}/{par.late_sends} |")
    print(f"median: serial {summary['serial_median_s']:.0f} s, parallel {summary['parallel_median_s']:.0f} s, "
          f"ratio {summary['ratio_median']:.2f} ({OUT.relative_to(ROOT)})")
    runs = [r for s, pars in rounds for r in (s, *pars)]
    bad = [r for r in runs if r.exit_code != 0] or [p for _, pars in rounds for p in pars if p.differs]
    return 1 if bad else 0

if __name__ == "__main__":
    sys.exit(main())
