"""Soak: the full e2e suite N times on one warm machine, and what went differently across the runs.

Runs ``pytest scenarios`` ``--runs`` times on one kind cluster (created by the first run or found,
then reused: ``--harness-reuse-cluster --harness-keep-cluster always``), each with its own artifacts
directory ``artifacts/soak/run-<i>``, reads each run's ``scenarios.json`` (harness/scenario/result.py)
and writes ``artifacts/soak.md`` and ``artifacts/soak.json``: per test, its outcome in each run;
the unexpected results (a positive test that did not PASS, a negative control the scenario did not
FAIL for its own reason: :func:`harness.scenario.result.gate_status`; a test missing from a run);
each run's wall time and exit code. The target (issue 14): 0 unexpected results in 5 runs.

A cluster this script created is deleted at the end (``python -m harness cluster down``) unless
``--keep-cluster``; a cluster that was there before is left as it was.

Usage: make soak N=5   (or: .venv/bin/python ci/soak.py --runs 5 [--cluster-name harness] [-- PYTEST_ARGS])
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from harness.scenario.result import ScenarioResult, gate_status, read_results  # noqa: E402
from harness.tools.kind import Kind  # noqa: E402

RESULTS_FILE = "scenarios.json"


@dataclass(frozen=True)
class SoakRun:
    """One run of the suite: its index (1-based), wall seconds, pytest's exit code, its records
    (None when it left no readable scenarios.json; ``error`` says why)."""

    index: int
    seconds: float
    exit_code: int
    results: tuple[ScenarioResult, ...] | None
    error: str = ""


@dataclass
class Row:
    """One test across the runs: its status per run (``PASS``/``FAIL``/``ERROR``/``SKIP`` as the gate
    counts it, ``missing`` when the run has no record of it) and the reasons of its unexpected ones."""

    key: str
    scenario: str
    control: bool
    statuses: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)

    @property
    def failures(self) -> int:
        return len(self.unexpected)


@dataclass
class Soak:
    """The aggregate: one row per test, each run's figures, the count of unexpected results."""

    runs: list[dict]
    tests: list[Row]
    unexpected: int

    def by_scenario(self) -> dict[str, int]:
        """Unexpected results per scenario."""
        out: dict[str, int] = {}
        for t in self.tests:
            out[t.scenario] = out.get(t.scenario, 0) + t.failures
        return out


def record_key(r: ScenarioResult) -> str:
    """A test's identity across runs: its pytest id, else scenario + target + key."""
    return r.test_id or " ".join(x for x in (r.scenario, r.target, r.key or "") if x)


def aggregate(runs: Sequence[SoakRun]) -> Soak:
    """Aggregate the runs (pure).

    A result is unexpected when :func:`gate_status` is not PASS or SKIP (a positive test that failed
    or erred, a negative control that passed or failed for another reason), and when a test that
    some run recorded is missing from another run that has records. A run without readable records
    counts as one unexpected result of its own (row ``(run <i>: no scenarios.json)``).

    Returns:
        Soak with the tests in first-seen order.
    """
    rows: dict[str, Row] = {}
    for run in runs:
        for r in run.results or ():
            rows.setdefault(record_key(r), Row(record_key(r), r.scenario, r.is_control))
    run_docs = []
    extra: list[Row] = []
    for i, run in enumerate(runs):
        run_docs.append({"run": run.index, "seconds": round(run.seconds, 1), "exit_code": run.exit_code,
                         "records": None if run.results is None else len(run.results), "error": run.error})
        if run.results is None:
            extra.append(Row(f"(run {run.index}: no {RESULTS_FILE})", "-", False, [],
                                 [f"run {run.index}: {run.error or 'no records'}"]))
            for row in rows.values():
                row.statuses.append("missing")
            continue
        seen = {record_key(r): r for r in run.results}
        for key, row in rows.items():
            r = seen.get(key)
            if r is None:
                row.statuses.append("missing")
                row.unexpected.append(f"run {run.index}: missing")
                continue
            status = gate_status(r)
            row.statuses.append(status)
            if status not in ("PASS", "SKIP"):
                what = "negative control not caught" if r.is_control and r.outcome == "PASS" else r.outcome
                row.unexpected.append(f"run {run.index}: {what}: {r.reason}".rstrip(": "))
    tests = list(rows.values()) + extra
    return Soak(run_docs, tests, sum(t.failures for t in tests))


def render_markdown(soak: Soak, *, command: str) -> str:
    """``artifacts/soak.md``: the runs, unexpected results per scenario, then per test."""
    n = len(soak.runs)
    lines = [f"# Soak: {n} runs of the full e2e suite", "", f"Command: `{command}`", "",
             f"**Unexpected results: {soak.unexpected}** (target: 0 in 5 consecutive runs)", "",
             "| run | wall time | exit | records |", "|---|---|---|---|"]
    for r in soak.runs:
        lines.append(f"| {r['run']} | {r['seconds']:.0f} s | {r['exit_code']} | "
                     f"{'-' if r['records'] is None else r['records']} |")
    lines += ["", "| scenario | unexpected |", "|---|---|"]
    lines += [f"| {s} | {c} |" for s, c in sorted(soak.by_scenario().items())]
    lines += ["", "| test | kind | " + " | ".join(f"run {r['run']}" for r in soak.runs) + " | unexpected |",
              "|---|---|" + "---|" * n + "---|"]
    for t in soak.tests:
        statuses = (t.statuses + [""] * n)[:n]
        lines.append(f"| `{t.key}` | {'control' if t.control else 'positive'} | " + " | ".join(statuses)
                     + f" | {t.failures} |")
    failing = [t for t in soak.tests if t.unexpected]
    if failing:
        lines += ["", "## Unexpected results", ""]
        for t in failing:
            lines += [f"- `{t.key}`"] + [f"  - {u}" for u in t.unexpected]
    return "\n".join(lines) + "\n"


def to_json(soak: Soak) -> dict:
    return {"unexpected": soak.unexpected, "runs": soak.runs, "by_scenario": soak.by_scenario(),
            "tests": [{**asdict(t), "failures": t.failures} for t in soak.tests]}


def read_run(index: int, seconds: float, exit_code: int, artifacts: Path) -> SoakRun:
    try:
        results = read_results(artifacts / RESULTS_FILE)
    except ValueError as exc:
        return SoakRun(index, seconds, exit_code, None, str(exc))
    if not results:
        return SoakRun(index, seconds, exit_code, None, f"no {artifacts / RESULTS_FILE}")
    return SoakRun(index, seconds, exit_code, tuple(results))


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="ci/soak.py", description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=5, help="how many full runs (default 5) [make: N]")
    p.add_argument("--cluster-name", default="harness", help="the kind cluster the runs share (default harness)")
    p.add_argument("--keep-cluster", action="store_true", help="keep a cluster this script created")
    p.add_argument("--artifacts-dir", default="artifacts", help="soak.md, soak.json and soak/run-<i>/ go here")
    p.add_argument("pytest_args", nargs="*", help="after --: passed on to every run's pytest")
    args = p.parse_args(argv)
    if args.runs < 1:
        p.error("--runs must be at least 1")

    out = (ROOT / args.artifacts_dir).resolve()
    existed = args.cluster_name in Kind().get_clusters()
    base = [sys.executable, "-m", "pytest", "scenarios", "-q", "-p", "no:cacheprovider",
            "--harness-cluster-name", args.cluster_name, "--harness-reuse-cluster",
            "--harness-keep-cluster", "always"]
    runs = []
    for i in range(1, args.runs + 1):
        art = out / "soak" / f"run-{i}"
        argv_i = [*base, "--harness-artifacts-dir", str(art), *args.pytest_args]
        print(f"==> soak run {i}/{args.runs}: {' '.join(argv_i)}", flush=True)
        start = time.monotonic()
        rc = subprocess.run(argv_i, cwd=ROOT).returncode
        took = time.monotonic() - start
        runs.append(read_run(i, took, rc, art))
        print(f"==> soak run {i}: exit {rc} in {took:.0f} s", flush=True)
        if rc == 130:
            print("==> interrupted; aggregating the runs so far", flush=True)
            break
    soak = aggregate(runs)
    command = f"make soak N={args.runs}"
    out.mkdir(parents=True, exist_ok=True)
    (out / "soak.md").write_text(render_markdown(soak, command=command))
    (out / "soak.json").write_text(json.dumps(to_json(soak), indent=2) + "\n")
    print(f"==> {soak.unexpected} unexpected results in {len(runs)} runs: {out / 'soak.md'}")
    if not existed and not args.keep_cluster:
        subprocess.run([sys.executable, "-m", "harness", "cluster", "down", "--cluster-name", args.cluster_name],
                       cwd=ROOT, check=False)
    return 0 if soak.unexpected == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
