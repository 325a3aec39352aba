"""The gate through several edges: ``--edge traefik-nginx,traefik-gateway``.

The same scenarios run once per edge, one pytest run after another on one cluster (the first run
creates it, the others reuse it: the Traefik add-on serves both edges from one install, upgrading
itself to switch its Gateway provider on, harness/env/addons/traefik.py). Each run writes its own
artifacts directory, ``<artifacts>/edge-<edge>/``, so the records of one edge never overwrite
another's; the report joins them (rows grouped by edge) and adds the migration diff
(harness/report/migration.py).

The cluster outlives the runs through ``--harness-reuse-cluster --harness-keep-cluster always``;
after the last run the gate applies the user's keep-cluster itself to a cluster it created
(:func:`delete_after`), as ``make matrix`` does for its cells.
"""
from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from harness.core.flags import namespaced
from harness.gate.plan import Plan
from harness.report.merge import worst_code
from harness.scenario.result import ScenarioResult

STOP_CODES = (130, 2, 3)
"""Gate exit codes after which no further edge runs: interrupted, a usage error, a broken environment
(the next edge would meet the same). A failed scenario (1) does not stop the others: comparing the
edges is the point."""


@dataclass(frozen=True)
class EdgeRun:
    """One edge's pytest run.

    Attributes:
        edge: the edge (harness/core/edges.py). artifacts: its artifacts directory.
        extra: pytest options appended after the plan's (the last of a repeated option wins, argparse's
            rule for ``store`` options).
    """

    edge: str
    artifacts: Path
    extra: tuple[str, ...]

    @property
    def junit(self) -> Path:
        return self.artifacts / "junit.xml"


def edge_runs(plan: Plan) -> list[EdgeRun]:
    """One :class:`EdgeRun` per edge of ``plan.edges``, in order.

    On a kind cluster every run reuses the cluster and keeps it (the gate decides at the end); on an
    external cluster (``--kubeconfig``) nothing is created or deleted, so only the edge and the
    artifacts directory change.
    """
    out = []
    for edge in plan.edges:
        art = plan.cfg.artifacts_dir / f"edge-{edge}"
        extra = [f"{namespaced('edge')}={edge}", f"{namespaced('artifacts-dir')}={art}", f"--junitxml={art / 'junit.xml'}"]
        if not plan.cfg.external_cluster:
            extra += [namespaced("reuse-cluster"), f"{namespaced('keep-cluster')}=always"]
        out.append(EdgeRun(edge, art, tuple(extra)))
    return out


def combined_code(codes: Sequence[int]) -> int:
    """The gate's exit code over its edge runs: the first of 130, 2, 3, 1 that any run gave, else 0
    (:func:`harness.report.merge.worst_code`, the rule ``report merge`` applies to several jobs)."""
    return worst_code(codes)


def rebased(results: Sequence[ScenarioResult], run: EdgeRun, artifacts_root: Path) -> list[ScenarioResult]:
    """The run's records with their artifact paths relative to ``artifacts_root`` (the report's
    artifacts directory) instead of the run's own directory."""
    prefix = os.path.relpath(run.artifacts, artifacts_root)
    return [replace(r, artifacts=tuple(a if os.path.isabs(a) else f"{prefix}/{a}" for a in r.artifacts))
            for r in results]


def delete_after(keep_cluster: str, code: int, *, existed: bool) -> bool:
    """Whether the gate deletes the kind cluster after its last edge run.

    Args:
        keep_cluster: the user's ``never`` | ``on-failure`` | ``always``. code: the combined exit code.
        existed: the cluster existed before the first run (then it is the user's: left as it was).
    """
    if existed or keep_cluster == "always":
        return False
    return keep_cluster == "never" or code == 0


__all__ = ["EdgeRun", "STOP_CODES", "combined_code", "delete_after", "edge_runs", "rebased"]
