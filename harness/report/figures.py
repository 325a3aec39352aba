"""A figure of a scenario record as text, with its unit (``12 s``, ``48 ms``, ``99.44 %``, ``236 requests``)."""
from __future__ import annotations

from harness.core.fmt import MISSING, duration
from harness.scenario.result import Cell, Figure

# Units printed as a word after the number; "count" is left out (``3``, not ``3 count``).
_SILENT_UNITS = ("", "count")


def number(value: object) -> float | None:
    """A figure's value as a float when it is a number (bools and text are not), else None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def format_figure(fig: Figure) -> str:
    """The figure's value in its unit: seconds as :func:`harness.core.fmt.duration`, milliseconds as
    latencies, a ratio as a percentage, other units as ``<value> <unit>``; None is ``–``."""
    value = fig.value
    if value is None:
        return MISSING
    v = number(value)
    if v is None:  # text or a bool: printed as it is
        return str(value)
    if fig.unit == "s":
        return duration(v)
    if fig.unit == "ms":
        return duration(v / 1000, "latency")
    if fig.unit == "ratio":
        return f"{v * 100:.2f} %".replace("100.00 %", "100 %")
    text = f"{value:g}" if isinstance(value, float) else str(value)
    return text if fig.unit in _SILENT_UNITS else f"{text} {fig.unit}"


def format_cell(cell: Cell) -> str:
    """``Kubernetes v1.33.1 · helm v3.18.6 · traefik-nginx``; parts not known are left out ("" for none)."""
    parts = [f"Kubernetes {cell.kubernetes_version}" if cell.kubernetes_version else "",
             f"helm {cell.helm_version}" if cell.helm_version else "", cell.edge]
    return " · ".join(p for p in parts if p)
