"""The report's header for a gate run: the charts (name, version, path, the version it upgrades
from), what was applied, where it ran, how it ended (:class:`harness.report.render.GateInfo`)."""
from __future__ import annotations

import os
import shlex
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from harness.core.pins import harness_version, pinned
from harness.core.redact import redact_argv, redact_set
from harness.gate import provenance
from harness.gate.plan import Plan
from harness.report.render import GateInfo
from harness.scenario.result import ScenarioResult


def chart_info(chart: Any) -> dict[str, str]:
    """``{"name", "path", "version", "app_version", "from"}`` of a chart directory under test (Chart.yaml, contract)."""
    meta: dict[str, Any] = {}
    try:
        meta = yaml.safe_load((Path(chart.ref.ref) / "Chart.yaml").read_text()) or {}
    except (OSError, ValueError):
        pass
    rel = chart.contract.released if chart.contract else None
    try:
        path = os.path.relpath(chart.ref.ref)
    except ValueError:
        path = str(chart.ref.ref)
    return {"name": str(meta.get("name") or chart.name), "path": path, "version": str(meta.get("version") or ""),
            "app_version": str(meta.get("appVersion") or ""),
            "from": f"{rel.chart} {rel.version or ''}".strip() if rel else ""}


def node_image(cfg: Any) -> str:
    """The node image the run uses (resolved like the cluster does), or the external cluster's kubeconfig."""
    if cfg.external_cluster:
        return f"external cluster ({cfg.kubeconfig})"
    if cfg.node_image:
        return cfg.node_image
    try:
        # imported here: only the header needs the cluster layer, and only for a kind cluster
        from harness.env.cluster import resolve_node_image, spec_from_config

        return resolve_node_image(spec_from_config(cfg))
    except Exception:  # noqa: BLE001 - only the report's header; the run reports real problems
        return f"kindest/node:{cfg.kubernetes_version}"


def gate_info(plan: Plan | None, *, started: float, exit_code_: int, why: str, errors: Sequence[str] = (),
              results: Sequence[ScenarioResult] = ()) -> GateInfo:
    """The report's header for ``plan`` (None: the options could not be resolved), ended with
    ``exit_code_``: what ran and how it ended, and what produced it (harness/gate/provenance.py:
    versions, from ``results``' cells when tests ran; image sources; the contracts' digests)."""
    prog = ["python", "-m", "harness"] if sys.argv[0].endswith("__main__.py") else [Path(sys.argv[0]).name]
    info = GateInfo(started=started, duration=time.time() - started, exit_code=exit_code_, why=why,
                    errors=list(errors), command=shlex.join([*prog, *redact_argv(sys.argv[1:])]),
                    harness_version=harness_version())
    if plan is not None:
        cfg = plan.cfg
        info.charts = [chart_info(c) for c in plan.charts]
        info.scenarios = list(plan.scenarios)
        info.controls = plan.controls
        info.values = [os.path.relpath(v) for v in plan.values]
        info.sets = [redact_set(s) for s in cfg.sets]  # the report is uploaded: no --set password
        overlay = ([*(os.path.relpath(v) for v in plan.broken.values), *(redact_set(s) for s in plan.broken.sets)]
                   if plan.broken else [])
        info.broken = (f"{plan.broken.name} ({', '.join(overlay)}): must fail {plan.broken.scenario}"
                       if plan.broken else "")
        info.node_image = node_image(cfg)
        info.cluster = "" if cfg.external_cluster else cfg.cluster_name
        info.addons = list(cfg.addons)
        pins = pinned()
        info.versions = provenance.tool_versions(cfg, [r.cell for r in results], pins)
        info.edges = list(plan.edges)
        info.image_source, info.images = provenance.image_sources(cfg, info.node_image, pins)
        info.contracts = provenance.contract_digests(plan.charts)
        info.shard = str(plan.shard) if plan.shard is not None else ""
    return info
