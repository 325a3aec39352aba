"""The gate's plan: the command-line options resolved, before anything runs, into what one gate
run does (charts and their contracts, scenarios, controls, broken overlay, report directory, the
options forwarded to pytest)."""
from __future__ import annotations

import argparse
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from harness.core.config import OPTIONS, cli_values, load_config
from harness.core.contract import CONTRACT_FILE, SCENARIOS, resolve_charts_under_test
from harness.core.edges import EDGES
from harness.core.errors import UsageError
from harness.core.flags import namespaced
from harness.core.packaged import checkout_root
from harness.gate.shard import Shard

ROOT = checkout_root()
"""The harness repository checkout this package runs from, or None for an installed package."""
REPORT_DIR_ENV = "HARNESS_REPORT_DIR"
DEFAULT_REPORT_DIR = "report"


@dataclass
class Plan:
    """What one gate run does (resolved from the options before anything runs).

    Attributes:
        cfg: the resolved HarnessConfig. charts: the ChartUnderTest list (contracts loaded,
            ``from-version`` applied). scenarios: the selected scenarios, in the contract order.
        controls: negative controls included. broken: the contract's broken entry applied as an
            overlay (``--broken``), else None. report_dir: where the report goes.
        forwarded: the harness options passed on to pytest. pytest_args: extra pytest arguments.
        junit: where pytest writes its JUnit XML. edges: the edges, one pytest run each.
        shard: the slice of the tests this run takes (``--shard``, harness/gate/shard.py), or None.
    """

    cfg: Any
    charts: list[Any]
    scenarios: tuple[str, ...]
    controls: bool
    broken: Any
    report_dir: Path
    forwarded: list[str]
    pytest_args: list[str] = field(default_factory=list)
    junit: Path | None = None
    edges: tuple[str, ...] = ()
    shard: Shard | None = None

    @property
    def edge_matrix(self) -> bool:
        """More than one edge: one pytest run per edge on one cluster (harness/gate/edges.py)."""
        return len(self.edges) > 1

    @property
    def values(self) -> tuple[Path, ...]:
        return tuple(self.charts[0].values) if self.charts else ()


def _split_names(raw: Sequence[str] | None) -> list[str]:
    return [n.strip() for item in (raw or []) for n in item.split(",") if n.strip()]


def make_plan(args: argparse.Namespace, *, cwd: Path | None = None, env: Mapping[str, str] | None = None) -> Plan:
    """Resolve the options into a :class:`Plan`.

    Raises:
        UsageError: no or a missing chart, a chart without a contract (``--contract`` gives one to a
            .tgz, repo/name or oci:// chart), an invalid contract or option value, an unknown scenario or broken entry, nothing selected.
    """
    env = os.environ if env is None else env
    cwd = Path(cwd or Path.cwd()).resolve()
    raw_charts = list(getattr(args, "harness_chart", None) or [])
    for raw in raw_charts:
        if raw.startswith(("oci://", "http://", "https://")):
            continue
        p = Path(raw).expanduser()
        p = p if p.is_absolute() else cwd / p
        archive = raw.endswith((".tgz", ".tar.gz"))
        path_like = (raw.startswith((".", "/", "~")) or raw.count("/") != 1 or archive
                     or (cwd / raw.split("/", 1)[0]).is_dir())  # else repo/name (harness.core.values.ChartRef)
        if path_like and not p.exists():
            raise UsageError(f"gate: chart {'archive' if archive else 'directory'} {raw} does not exist "
                             f"(resolved to {p})")
    edges = _edges(args)
    if len(edges) > 1:  # the configuration holds one edge: the first; the gate runs each in turn
        args = argparse.Namespace(**{**vars(args), "harness_edge": edges[0]})
    cfg = load_config(cli_values(args), config_file=args.harness_config_file, rootdir=args.rootdir or ROOT or cwd,
                      cwd=cwd, env=env)
    if not cfg.charts:
        raise UsageError("gate: no chart to gate; pass --chart PATH (a chart directory with a "
                         f"{CONTRACT_FILE})")
    charts = resolve_charts_under_test(cfg)  # loads (validates) each contract, applies from-version
    for c in charts:
        if c.contract is None:
            where = "packaged in the .tgz" if c.ref.kind == "tgz" else "beside a repo/name or oci:// chart"
            raise UsageError(f"gate: chart {c.ref} has no {CONTRACT_FILE} (none {where}); pass --contract PATH")

    requested = _split_names(args.scenarios)
    for name in requested:
        if name not in SCENARIOS:
            raise UsageError(f"gate: --scenarios: {name!r} is not one of {', '.join(SCENARIOS)}")
    enabled = [s for s in SCENARIOS if any(c.contract.supports(s) for c in charts)]
    for name in requested:
        if name not in enabled:
            raise UsageError(f"gate: --scenarios: {name} is not enabled by the contract of "
                             f"{', '.join(c.name for c in charts)} (enabled: {', '.join(enabled) or 'none'})")
    selected = [s for s in enabled if not requested or s in requested]

    broken = None
    values = list(cfg.values)
    sets = list(cfg.sets)
    if args.broken:
        entries = {b.name: b for c in charts for b in c.contract.broken}
        broken = entries.get(args.broken)
        if broken is None:
            raise UsageError(f"gate: --broken: the contract has no broken entry {args.broken!r} "
                             f"(known: {', '.join(sorted(entries)) or 'none'})")
        if requested and broken.scenario not in requested:
            raise UsageError(f"gate: --broken {broken.name} must fail {broken.scenario}, which --scenarios "
                             f"({', '.join(requested)}) leaves out")
        selected = [broken.scenario]
        # the overlay as the user's own --values/--set (last, so it wins like any command-line value)
        values.extend(broken.values)
        sets.extend(broken.sets)
        charts = [replace(c, values=tuple(values), sets=tuple(sets)) for c in charts]
    if not selected:
        raise UsageError(f"gate: the contract of {', '.join(c.name for c in charts)} enables no scenario")

    report_raw = args.report_dir or env.get(REPORT_DIR_ENV)
    report_dir = (cwd / Path(report_raw).expanduser()).resolve() if report_raw else (cfg.rootdir / DEFAULT_REPORT_DIR)

    forwarded: list[str] = []
    if args.harness_config_file:
        forwarded.append(f"--harness-config={args.harness_config_file}")
    if args.rootdir:
        forwarded.append(f"--rootdir={args.rootdir}")
    for o in OPTIONS:
        if o.key == "chart":
            forwarded += [f"{namespaced('chart')}={c.ref.ref}" for c in charts]
            continue
        if o.key == "contract":
            if cfg.contract is not None:
                forwarded.append(f"{namespaced('contract')}={cfg.contract}")
            continue
        if o.key == "values":
            if getattr(args, o.dest, None) is not None or broken is not None:
                forwarded += [f"{namespaced('values')}={v}" for v in values]
            continue
        if o.key == "set" and broken is not None and broken.sets:
            forwarded += [f"{namespaced('set')}={v}" for v in sets]
            continue
        if o.key == "artifacts-dir":
            forwarded.append(f"{namespaced('artifacts-dir')}={cfg.artifacts_dir}")
            continue
        v = getattr(args, o.dest, None)
        if v is None:
            continue
        flag = namespaced(o.key)  # pytest's name of the option (pytest-kind has some of the short ones)
        if o.kind == "bool":
            forwarded.append(flag)
        elif isinstance(v, list | tuple):
            forwarded += [f"{flag}={item}" for item in v]
        else:
            forwarded.append(f"{flag}={v}")
    pytest_args = list(getattr(args, "pytest_args", None) or [])
    if getattr(args, "harness_workers", None) is not None and not _has_numprocesses(pytest_args):
        # the gate's --workers runs its tests on pytest-xdist workers sharing the cluster (docs/parallel.md);
        # -n auto takes the workers setting (harness/plugin/parallel.py)
        pytest_args = ["-n", "auto", *pytest_args]
    junit = cfg.artifacts_dir / "junit.xml"
    for i, a in enumerate(pytest_args):
        if a.startswith(("--junitxml=", "--junit-xml=")):
            junit = (cwd / a.split("=", 1)[1]).resolve()
        elif a in ("--junitxml", "--junit-xml") and i + 1 < len(pytest_args):
            junit = (cwd / pytest_args[i + 1]).resolve()
    return Plan(cfg, charts, tuple(selected), bool(args.controls) and broken is None, broken, report_dir,
                forwarded, pytest_args, junit, tuple(edges) or (cfg.edge,), getattr(args, "shard", None))


def _has_numprocesses(pytest_args: list[str]) -> bool:
    """True when the pytest arguments choose xdist's worker count themselves (``-n 3``, ``-n3``, ``--numprocesses``)."""
    return any(a == "-n" or (a.startswith("-n") and a[2:].isalnum()) or a.startswith("--numprocesses")
               for a in pytest_args)


def _edges(args: argparse.Namespace) -> list[str]:
    """``--edge a,b`` (comma-separated or repeated): the edges in the order given, each once.

    Raises:
        UsageError: an edge that is not one of :data:`harness.core.edges.EDGES`.
    """
    raw = getattr(args, "harness_edge", None)
    names = list(dict.fromkeys(_split_names([raw] if isinstance(raw, str) else raw)))
    for n in names:
        if n not in EDGES:
            raise UsageError(f"gate: --edge: {n!r} is not one of {', '.join(EDGES)} "
                             "(several, comma-separated, run the scenarios through each: --edge "
                             f"{','.join(EDGES)})")
    return names
