"""Targets: one chart under test in one values variant, or with one broken overlay (a negative control)."""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.core.contract import Broken, ChartUnderTest


@dataclass(frozen=True)
class Target:
    """One chart in one configuration.

    Attributes:
        chart: the ChartUnderTest. variant: ``default`` / ``tls`` / ... (from ``ci/<variant>-values.yaml``).
        values: the variant's values files. broken: the broken overlay of a negative control.
    """

    chart: ChartUnderTest
    variant: str
    values: tuple[Path, ...] = ()
    broken: Broken | None = None

    @property
    def id(self) -> str:
        base = f"{self.chart.name}-{self.variant}"
        return f"{self.chart.name}-broken-{self.broken.name}" if self.broken else base

    @property
    def contract(self) -> Any:
        return self.chart.contract

    def __str__(self) -> str:
        return self.id


def variants(chart: ChartUnderTest) -> list[tuple[str, tuple[Path, ...]]]:
    """``[(name, values files)]``: one per ``ci/*-values.yaml`` (name without ``-values``) of a local
    chart directory, or, for a chart given otherwise (.tgz, repo/name, oci://), of its contract's
    directory (the unpacked .tgz for a packaged contract); else ``[("default", ())]``."""
    if chart.ref.kind == "dir":
        where: Path | None = Path(chart.ref.ref)
    else:
        where = chart.contract.chart_dir if chart.contract is not None else None
    files = sorted((where / "ci").glob("*-values.yaml")) if where is not None else []
    if files:
        return [(f.name[: -len("-values.yaml")], (f,)) for f in files]
    return [("default", ())]


def targets_for(scenario: str, charts: Iterable[ChartUnderTest], *, negative: bool) -> list[Target]:
    """The positive targets (every variant of every chart whose contract lists ``scenario``) or the
    negative ones (each broken overlay for ``scenario``, on the default variant, as lint-charts.sh
    renders them). Charts without a contract get no scenarios (the contract says where to probe)."""
    out: list[Target] = []
    for chart in charts:
        c = chart.contract
        if c is None or not c.supports(scenario):
            continue
        vs = variants(chart)
        if not negative:
            out += [Target(chart, name, files) for name, files in vs]
            continue
        default = next((v for v in vs if v[0] == "default"), vs[0])
        out += [Target(chart, default[0], default[1], b) for b in c.broken_for(scenario)]
    return out


def values_files(target: Target, *, candidate: bool) -> list[Path]:
    """The values files of one install or upgrade of ``target``, in helm's order (a later file wins,
    https://helm.sh/docs/helm/helm_install/ "the last (right-most) file specified will take
    precedence"): the contract's ``values``; for the released chart its ``released.values``; the
    variant's ``ci/*-values.yaml``; for the candidate of a negative control the broken overlay;
    last the user's ``--values`` (the command line wins).

    Args:
        candidate: True for the chart under test, False for the contract's released chart.
    """
    c = target.contract
    out: list[Path] = [*(c.values if c is not None else ())]
    if not candidate and c is not None and c.released is not None:
        out += c.released.values
    out += target.values
    if candidate and target.broken is not None:
        out += target.broken.values
    return [*out, *target.chart.values]


def set_pairs(target: Target, *, candidate: bool) -> list[str]:
    """The ``--set`` pairs of one install or upgrade of ``target``, in the order of
    :func:`values_files` (helm applies ``--set`` after every values file; a later pair of the same
    key wins): the contract's ``set``, ``released.set`` (released chart), the broken overlay's
    ``set`` (candidate of a negative control), the user's ``--set``."""
    c = target.contract
    out: list[str] = [*(c.sets if c is not None else ())]
    if not candidate and c is not None and c.released is not None:
        out += c.released.sets
    if candidate and target.broken is not None:
        out += target.broken.sets
    return [*out, *target.chart.sets]
