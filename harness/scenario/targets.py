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
