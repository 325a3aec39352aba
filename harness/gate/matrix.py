"""``make matrix`` / ``python -m harness matrix``: a scenario set across Kubernetes versions x helm majors.

A *cell* is one Kubernetes version (a row of harness/data/versions.env) and one helm: ``4`` (the pinned
helm), ``3`` (the pinned ``helm3`` as the helm under test) or ``3to4`` (the pinned helm, with the
released chart installed by ``helm3``: the upgrade test's ``from-helm3`` row, ``--helm-from 3``).
The run goes version by version: the tools and images of that version (images/build-tools.sh and
images/build-images.sh, cached), then one pytest per helm of that version against one kind cluster
named for the version (``harness-v1-37``: created by the first cell, reused by the next, deleted
after the last), each cell with its own artifacts directory (``<artifacts>/matrix/<cell>``). The
rows come from each cell's ``scenarios.json`` records (harness/scenario/result.py), nothing parses
pytest's output: one row per record, plus an ERROR row for a cell that left no record.
With ``cluster_tests`` (a repository checkout's ``tests/cluster/test_cluster_basics.py``: nodes
Ready, DNS, Service, NodePort, PVC, eviction, ``kubectl version``), each version's cluster first
runs those tests: one ``cluster-basics`` row per version, read from pytest's JUnit XML.
Written to ``report/matrix.md`` and ``report/matrix.json``.

Exit code: 0 every row passed or was skipped (as the gate counts it:
:func:`harness.scenario.result.gate_status`; a skip says why in its reason), 1 a row failed or
errored, 2 a usage error (unknown version, helm or scenario).
"""
from __future__ import annotations

import json
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from harness.core.errors import HarnessError, UsageError
from harness.core.fmt import duration
from harness.core.packaged import checkout_root
from harness.core.pins import supported_kubernetes
from harness.env import cluster as cluster_mod
from harness.gate.run import SCENARIOS_DIR
from harness.report.figures import format_figure
from harness.scenario.result import (
    Figure,
    ScenarioResult,
    gate_status,
    read_results,
    unit_for,
)
from harness.tools import binaries  # a module: tests replace tool_path
from harness.tools.kind import Kind

ROOT = checkout_root()
"""The harness repository checkout (the matrix builds each version's tools and images with its
``images/*.sh``), or None for an installed package, which cannot run the matrix."""
HELMS = ("4", "3", "3to4")
"""The helm a cell runs: the pinned Helm 4, the pinned Helm 3, or Helm 4 upgrading Helm 3's release."""
DEFAULT_HELMS = ("4", "3")
DEFAULT_SCENARIOS = ("upgrade", "rollback")
KEY_FIGURES = ("failed_requests", "requests", "longest_failure_seconds", "released_apply_method",
               "upgraded_apply_method", "drain_seconds", "restarts")
"""The figures a matrix row shows, when its record has them."""
RESULTS_FILE = "scenarios.json"
CLUSTER_TESTS = ROOT / "tests" / "cluster" / "test_cluster_basics.py" if ROOT is not None else None
"""The cluster basics each version's cluster passes first (None for an installed package: no tests/)."""
CLUSTER_ROW = "cluster-basics"


@dataclass(frozen=True)
class MatrixCell:
    """One cell: ``kubernetes_version`` (``vX.Y.Z``) and ``helm`` (one of :data:`HELMS`)."""

    kubernetes_version: str
    helm: str

    @property
    def minor(self) -> str:
        """``v1.37``."""
        return self.kubernetes_version.rsplit(".", 1)[0]

    @property
    def cluster_name(self) -> str:
        """The kind cluster of this cell's Kubernetes version, ``harness-v1-37`` (shared by its helms)."""
        return "harness-" + self.minor.replace(".", "-")

    @property
    def name(self) -> str:
        """``k8s-v1.37.2-helm4``: the cell's artifacts directory name."""
        return f"k8s-{self.kubernetes_version}-helm{self.helm}"


@dataclass(frozen=True)
class MatrixRow:
    """One row of the table: a scenario record of one cell (or the ERROR of a cell that left none)."""

    kubernetes: str
    helm: str
    scenario: str
    chart: str
    control: str
    outcome: str
    reason: str
    figures: dict[str, Any] = field(default_factory=dict)
    cell: str = ""


@dataclass(frozen=True)
class CellRun:
    """What running one cell gave: pytest's exit code, its wall time (seconds), its artifacts directory."""

    cell: MatrixCell
    exit_code: int
    seconds: float
    artifacts: Path


# --------------------------------------------------------------------------- planning


def _words(spec: str | Sequence[str] | None) -> list[str]:
    if spec is None:
        return []
    items = spec.replace(",", " ").split() if isinstance(spec, str) else [w for s in spec for w in _words(s)]
    return list(dict.fromkeys(items))


def kubernetes_versions(spec: str | Sequence[str] | None, supported: Sequence[str] | None = None) -> list[str]:
    """The pinned ``vX.Y.Z`` versions ``spec`` names: empty for every supported one; each word a
    minor (``v1.35``, ``1.35``) or a full pinned version (``v1.35.4``), space- or comma-separated.

    Raises:
        UsageError: a word names no pinned version (the message lists the supported ones).
    """
    supported = list(supported if supported is not None else supported_kubernetes())
    words = _words(spec)
    if not words:
        return supported
    out = []
    for w in words:
        v = w if w.startswith("v") else f"v{w}"
        match = [s for s in supported if s == v or s.rsplit(".", 1)[0] == v]
        if not match:
            raise UsageError(f"matrix: Kubernetes {w!r} is not supported; supported: {', '.join(supported)} "
                             "(a minor like v1.36 selects its pinned patch release)")
        out.extend(m for m in match if m not in out)
    return out


def helm_majors(spec: str | Sequence[str] | None) -> list[str]:
    """The helms ``spec`` names (words of :data:`HELMS`, ``helm4``/``helm3`` also accepted); empty: ``4 3``.

    Raises:
        UsageError: an unknown helm.
    """
    words = [w.removeprefix("helm") for w in _words(spec)] or list(DEFAULT_HELMS)
    for w in words:
        if w not in HELMS:
            raise UsageError(f"matrix: helm {w!r} is not one of {', '.join(HELMS)} "
                             "(4: pinned helm; 3: pinned helm3; 3to4: helm3 installs, helm 4 upgrades)")
    return list(dict.fromkeys(words))


def scenario_names(spec: str | Sequence[str] | None, scenarios_dir: Path | None = None) -> list[str]:
    """The scenarios ``spec`` names (default ``upgrade rollback``), each a folder of scenarios/.

    Raises:
        UsageError: a scenario with no folder (the message lists the known ones).
    """
    scenarios_dir = scenarios_dir or SCENARIOS_DIR
    words = _words(spec) or list(DEFAULT_SCENARIOS)
    known = sorted(p.name for p in scenarios_dir.iterdir() if p.is_dir() and not p.name.startswith(("_", ".")))
    for w in words:
        if w not in known:
            raise UsageError(f"matrix: scenario {w!r} is not one of {', '.join(known)}")
    return words


def plan_cells(versions: Iterable[str], helms: Iterable[str]) -> list[MatrixCell]:
    """Every (version, helm) cell, grouped by version (one cluster per version, created and deleted in turn)."""
    helms = list(helms)
    return [MatrixCell(v, h) for v in versions for h in helms]


def pytest_argv(cell: MatrixCell, scenarios: Sequence[str], *, artifacts: Path, helm_binary: str,
                scenarios_dir: Path | None = None, python: str | None = None,
                extra: Sequence[str] = ()) -> list[str]:
    """The pytest command line of one cell.

    The cluster is the version's (``--harness-cluster-name``, ``--harness-reuse-cluster``: the first
    cell creates it, ``--harness-keep-cluster always``: the run deletes it after the version's last
    cell). ``3to4`` passes ``--harness-helm-from 3`` and keeps only the ``from-helm3`` tests (``-k``).
    The options are pytest's namespaced names (harness/core/flags.py), so pytest-kind may be installed.
    """
    scenarios_dir = scenarios_dir or SCENARIOS_DIR
    argv = [python or sys.executable, "-m", "pytest", *(str(scenarios_dir / s) for s in scenarios), "-q", "-rfEs",
            "--harness-kubernetes-version", cell.kubernetes_version, "--harness-cluster-name", cell.cluster_name,
            "--harness-reuse-cluster", "--harness-keep-cluster", "always", "--harness-helm", helm_binary,
            "--harness-artifacts-dir", str(artifacts)]
    if cell.helm == "3to4":
        argv += ["--harness-helm-from", "3", "-k", "from-helm3"]
    return argv + list(extra)


def cluster_tests_argv(version: str, tests: Path, *, junit: Path, python: str | None = None) -> list[str]:
    """The pytest line of a version's cluster basics, against the cluster its cells share."""
    name = MatrixCell(version, "4").cluster_name
    return [python or sys.executable, "-m", "pytest", str(tests), "-q", "-rfEs", "-p", "no:cacheprovider",
            "--harness-kubernetes-version", version, "--harness-cluster-name", name, "--harness-reuse-cluster",
            "--harness-keep-cluster", "always",
            f"--junitxml={junit}"]


def cluster_row(version: str, junit: Path, exit_code: int) -> MatrixRow:
    """One ``cluster-basics`` row from pytest's JUnit XML: PASS when every test passed (skips count
    as not passed: a version's cluster must do all of it), else FAIL naming the tests and their first line."""
    row = dict(kubernetes=version, helm="-", scenario=CLUSTER_ROW, chart="-", control="-", cell=f"k8s-{version}-cluster")
    try:
        root = ET.parse(junit).getroot()
    except (OSError, ET.ParseError):
        return MatrixRow(**row, outcome="ERROR", reason=f"no JUnit report: pytest exited {exit_code} ({junit})")
    cases = list(root.iter("testcase"))
    bad = []
    for case in cases:
        for tag in ("failure", "error", "skipped"):
            el = case.find(tag)
            if el is not None:
                first = (el.get("message") or el.text or tag).strip().splitlines()[0][:120]
                bad.append(f"{case.get('name')} {tag}: {first}")
    passed = len(cases) - len(bad)
    figures = {"tests_passed": passed, "tests": len(cases)}
    if bad or not cases or exit_code:
        return MatrixRow(**row, outcome="FAIL", figures=figures,
                         reason="; ".join(bad) or f"pytest exited {exit_code} with {len(cases)} tests")
    return MatrixRow(**row, outcome="PASS", figures=figures, reason=f"{passed} cluster tests passed")


def helm_tool(cell: MatrixCell) -> str:
    """The pinned helm binary of the cell (``helm3`` for ``3``) for its Kubernetes version.

    Raises:
        EnvironmentNotReady: not built (images/build-tools.sh <version> builds it).
    """
    return binaries.tool_path("helm3" if cell.helm == "3" else "helm", cell.kubernetes_version)


# --------------------------------------------------------------------------- rows and rendering


def rows_for(run: CellRun, records: Sequence[ScenarioResult]) -> list[MatrixRow]:
    """One row per record of the cell (outcome as the gate counts it); an ERROR row when it left none."""
    if not records:
        return [MatrixRow(run.cell.kubernetes_version, f"helm{run.cell.helm}", "-", "-", "-", "ERROR",
                          f"no scenario records: pytest exited {run.exit_code} (see {run.artifacts})",
                          cell=run.cell.name)]
    out = []
    for r in records:
        figs = {k: r.figures[k].value for k in KEY_FIGURES if k in r.figures and r.figures[k].value not in (None, "")}
        out.append(MatrixRow(
            kubernetes=r.cell.kubernetes_version or run.cell.kubernetes_version,
            helm=r.cell.helm_version or f"helm{run.cell.helm}", scenario=r.scenario,
            chart=r.target + (f" ({r.key})" if r.key else ""), control=f"broken:{r.control}" if r.control else "positive",
            outcome=gate_status(r), reason=r.reason, figures=figs, cell=run.cell.name))
    return out


def _md(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def render_markdown(rows: Sequence[MatrixRow], runs: Sequence[CellRun] = ()) -> str:
    """The table: Kubernetes, helm, scenario, chart, control, outcome, key figures, reason (Markdown)."""
    passed = sum(r.outcome == "PASS" for r in rows)
    skipped = sum(r.outcome == "SKIP" for r in rows)
    lines = [f"# Matrix: {passed}/{len(rows)} rows passed" + (f", {skipped} skipped" if skipped else ""), ""]
    if runs:
        lines.append("Cells: " + ", ".join(f"{r.cell.name} (exit {r.exit_code}, {duration(r.seconds)})" for r in runs))
        lines.append("")
    lines += ["| Kubernetes | helm | scenario | chart | control | outcome | figures | reason |",
              "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        figs = ", ".join(f"{k}={format_figure_value(k, v)}" for k, v in r.figures.items())
        lines.append("| " + " | ".join(_md(x) for x in (r.kubernetes, r.helm, r.scenario, r.chart, r.control,
                                                          r.outcome, figs, r.reason[:200])) + " |")
    return "\n".join(lines) + "\n"


def format_figure_value(name: str, value: Any) -> str:
    """A figure's value with its unit (harness.report.figures.format_figure)."""
    return format_figure(Figure(value, unit_for(name)))


def write_report(rows: Sequence[MatrixRow], runs: Sequence[CellRun], report_dir: Path) -> tuple[Path, Path]:
    """``report/matrix.md`` and ``report/matrix.json`` (``{"cells": [...], "rows": [...]}``)."""
    report_dir.mkdir(parents=True, exist_ok=True)
    md = report_dir / "matrix.md"
    md.write_text(render_markdown(rows, runs))
    js = report_dir / "matrix.json"
    js.write_text(json.dumps({
        "cells": [{"kubernetes": r.cell.kubernetes_version, "helm": r.cell.helm, "cluster": r.cell.cluster_name,
                   "exit_code": r.exit_code, "seconds": round(r.seconds, 1), "artifacts": str(r.artifacts)}
                  for r in runs],
        "rows": [asdict(r) for r in rows]}, indent=2, default=str) + "\n")
    return md, js


# --------------------------------------------------------------------------- running


Runner = Callable[[Sequence[str]], int]
"""``argv -> exit code``, output to this terminal (tests pass a fake)."""


def run_streaming(argv: Sequence[str]) -> int:
    """Run ``argv`` from the project root with its output going straight to this terminal (like
    the gate's pytest, harness/gate/run.py); returns its exit code."""
    return subprocess.Popen(list(argv), cwd=ROOT).wait()


def run_matrix(cells: Sequence[MatrixCell], scenarios: Sequence[str], *, artifacts_root: Path, report_dir: Path,
               runner: Runner = run_streaming, clusters: Any = None, extra: Sequence[str] = (),
               cluster_tests: Path | None = None,
               say: Callable[[str], None] = print) -> tuple[int, list[MatrixRow]]:
    """Run the cells version by version and write the report.

    Args:
        cells: from :func:`plan_cells` (grouped by version). scenarios: folders of scenarios/.
        artifacts_root: each cell's artifacts go to ``<artifacts_root>/<cell.name>``.
        report_dir: where matrix.md / matrix.json go.
        runner: runs the build scripts and pytest. clusters: ``existing() -> set[str]`` and
            ``delete(name)`` (default: kind through harness.env.cluster); a cluster that existed
            before its version's first cell is reused and left as it was.
        extra: further pytest arguments for every cell.
        cluster_tests: a pytest file each version's cluster passes before its cells (one
            ``cluster-basics`` row per version); None skips it.

    Returns:
        ``(exit code, rows)``: 0 when every row passed, else 1.
    """
    if ROOT is None:
        raise UsageError("matrix: it builds each version's tools and images with the harness repository's "
                         "images/*.sh; run it from a checkout of the repository (an installed package has none)")
    clusters = clusters or KindClusters()
    runs: list[CellRun] = []
    rows: list[MatrixRow] = []
    by_version: dict[str, list[MatrixCell]] = {}
    for c in cells:
        by_version.setdefault(c.kubernetes_version, []).append(c)
    for version, group in by_version.items():
        name = group[0].cluster_name
        existed = name in clusters.existing()
        say(f"==> matrix: Kubernetes {version} on cluster {name}"
            + (" (exists: reused, kept)" if existed else "") + f": helm {', '.join(c.helm for c in group)}")
        setup = 0
        for script in ("build-tools.sh", "build-images.sh"):
            setup = setup or runner(["bash", str(ROOT / "images" / script), version])
        try:
            if cluster_tests is not None and not setup:
                junit = artifacts_root / f"k8s-{version}-cluster" / "junit.xml"
                junit.parent.mkdir(parents=True, exist_ok=True)
                junit.unlink(missing_ok=True)
                argv = cluster_tests_argv(version, cluster_tests, junit=junit)
                say(f"==> matrix: cluster basics on {version}: {' '.join(argv)}")
                rows.append(cluster_row(version, junit, runner(argv)))
            for cell in group:
                art = artifacts_root / cell.name
                (art / RESULTS_FILE).unlink(missing_ok=True)  # an earlier run's records are not this cell's
                start = time.monotonic()
                if setup:
                    rc = setup
                else:
                    try:
                        argv = pytest_argv(cell, scenarios, artifacts=art, helm_binary=helm_tool(cell), extra=extra)
                    except HarnessError as exc:  # a missing tool: this cell's ERROR row, the others still run
                        say(f"matrix: {cell.name}: {exc}")
                        rc = exc.exit_code
                    else:
                        say(f"==> matrix: {cell.name}: {' '.join(argv)}")
                        rc = runner(argv)
                run = CellRun(cell, rc, time.monotonic() - start, art)
                runs.append(run)
                try:
                    records = read_results(art / RESULTS_FILE) if not setup else []
                except ValueError as exc:
                    say(f"matrix: {cell.name}: {exc}")
                    records = []
                rows.extend(rows_for(run, records))
        finally:
            if not existed and name in clusters.existing():
                say(f"==> matrix: deleting cluster {name}")
                clusters.delete(name)
    md, js = write_report(rows, runs, report_dir)
    # a skipped row (a variant this machine cannot reach, said in its reason) is not a failure
    failed = [r for r in rows if r.outcome not in ("PASS", "SKIP")]
    passed = sum(r.outcome == "PASS" for r in rows)
    say(f"==> matrix: {passed}/{len(rows)} rows passed, {len(rows) - passed - len(failed)} skipped, "
        f"{len(failed)} failed or errored; {md}, {js}")
    return (1 if failed else 0), rows


class KindClusters:
    """The kind clusters of this machine (harness.env.cluster): which exist, delete one."""

    def existing(self) -> set[str]:
        return set(Kind().get_clusters())

    def delete(self, name: str) -> None:
        """Delete the kind cluster and the PostgreSQL containers that served it (the cells keep their
        cluster, so their PostgreSQL containers outlive them): :func:`harness.env.cluster.delete_cluster`."""
        cluster_mod.delete_cluster(cluster_mod.Cluster(name, cluster_mod.kubeconfig_path(name), f"kind-{name}", True))

