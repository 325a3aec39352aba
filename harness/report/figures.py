"""A figure of a scenario record as text, with its unit (``12 s``, ``48 ms``, ``99.44 %``, ``236 requests``)."""
from __future__ import annotations

from collections.abc import Mapping

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


def attribution_summary(figures: Mapping[str, Figure]) -> str:
    """One line on who served the probed requests, from the attribution figures of the upgrade
    (:data:`harness.scenario.verdicts.ATTRIBUTION_FIGURES`): ``served (edge log): old 0.0-10.8 s,
    new 4.6-15.0 s · 120 to old pods, 180 to new · 2 not attributed (answered by the edge x2) ·
    closest old pod: last request 4.1 s before it terminated``; ``served (edge log): unavailable: <why>``;
    "" for a record without them."""
    source = figures.get("attribution")
    if source is None or source.value in (None, ""):
        return ""
    text = str(source.value)
    if text.startswith("unavailable"):
        return f"served (edge log): {text}"

    def value(name: str) -> object:
        fig = figures.get(name)
        return None if fig is None else fig.value

    parts = [str(value("served_spans") or "no request attributed")]
    parts.append(f"{value('served_by_old_requests') or 0} to old pods, {value('served_by_new_requests') or 0} to new")
    missing = number(value("unattributed_requests")) or 0
    if missing:
        parts.append(f"{int(missing)} not attributed ({value('unattributed_reasons')})")
    after = number(value("old_after_rollout_requests")) or 0
    if after:
        parts.append(f"{int(after)} to old pods after the rollout completed")
    margin = number(value("old_pod_last_request_margin_s"))
    if margin is not None:
        parts.append(f"closest old pod: last request {duration(abs(margin))} "
                     + ("before" if margin >= 0 else "after") + " it terminated")
    return "served (edge log): " + " · ".join(parts)
