"""The run's Gantt chart: one lane per test (and one for the harness's own setup), one bar per step,
from the phases the harness already writes to ``<artifacts>/timings.json`` (:mod:`harness.core.timings`).

Each named step of a scenario is recorded there as the phase ``"<scenario> <target id>: <step>"``
(:class:`harness.scenario.steps.Steps` prefixes its label), so the lane is the part before the
first ``": "``; a phase without that prefix (``cluster harness ready``, ``add-on traefik``,
``load 4 images``) belongs to the :data:`SETUP_LANE`. In a concurrent run's record
(:func:`harness.core.timings.merge_records`) each phase names the worker that ran it, which a test's
lane shows (``upgrade ha-service-default [gw1]``). Bars keep their nesting depth: a step inside
a step is drawn thinner over its parent. The chart answers "where did the wall time go", and with
tests run concurrently, which ran beside which.
"""
from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger("harness.report.gantt")

GANTT_NAME = "run-gantt.png"
"""The chart's file name in the report directory (index.html embeds it, summary.md names it)."""

SETUP_LANE = "harness"
"""The lane of phases that belong to no test: the cluster, add-ons, images, chart checks."""

MAX_LANES = 60
"""At most this many lanes (in order of their first start): a taller chart is no longer read."""


@dataclass(frozen=True)
class GanttBar:
    """One phase as a bar.

    Attributes:
        lane: the test's label (``"upgrade ha-service-default"``) or :data:`SETUP_LANE`.
        label: the step (``"helm upgrade to the candidate"``) or the harness phase's name.
        start: seconds since the run's recorder started. seconds: its duration.
        ok: the phase's outcome was ``ok``. depth: its nesting level (0: top level).
        attempt: it failed as an attempt (a finding the verdict judges, not an error of the run:
            :class:`harness.core.timings.Phase`'s ``attempt failed`` outcome).
    """

    lane: str
    label: str
    start: float
    seconds: float
    ok: bool = True
    depth: int = 0
    attempt: bool = False


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def gantt_bars(record: Mapping[str, Any]) -> list[GanttBar]:
    """The bars of a ``timings.json`` record (``{"phases": [{name, start, duration, outcome, depth}]}``),
    in start order. A phase without a name, a numeric start or a duration is left out.

    Raises:
        ValueError: ``record`` has no ``phases`` list.
    """
    phases = record.get("phases") if isinstance(record, Mapping) else None
    if not isinstance(phases, list):
        raise ValueError("not a timings record: no 'phases' list")
    bars = []
    for p in phases:
        if not isinstance(p, Mapping):
            continue
        name, start, seconds = p.get("name"), _number(p.get("start")), _number(p.get("duration"))
        if not isinstance(name, str) or not name or start is None or seconds is None:
            continue
        lane, sep, step = name.partition(": ")
        if not sep or not step:
            lane, step = SETUP_LANE, name
        process = p.get("process")
        if isinstance(process, str) and process and not lane.startswith(SETUP_LANE):
            lane = f"{lane} [{process}]"  # a concurrent run's record (timings.merge_records): which worker ran it
        depth = p.get("depth", 0)
        outcome = p.get("outcome", "ok")
        bars.append(GanttBar(lane, step, start, max(0.0, seconds), outcome == "ok",
                             depth if isinstance(depth, int) and not isinstance(depth, bool) else 0,
                             attempt=isinstance(outcome, str) and outcome.startswith("attempt failed")))
    return sorted(bars, key=lambda b: (b.start, b.depth))


def lanes(bars: Sequence[GanttBar], limit: int = MAX_LANES) -> list[str]:
    """The lanes top to bottom: in order of their first bar's start, at most ``limit``."""
    first: dict[str, float] = {}
    for b in bars:
        first[b.lane] = min(b.start, first.get(b.lane, b.start))
    return sorted(first, key=lambda lane: (first[lane], lane))[:limit]


def span(bars: Sequence[GanttBar]) -> float:
    """Seconds from the first bar's start to the last bar's end (0 without bars): the run's wall time
    as far as its phases cover it."""
    if not bars:
        return 0.0
    return round(max(b.start + b.seconds for b in bars) - min(b.start for b in bars), 3)


def write_gantt(timings_json: Path, dest: Path) -> Path | None:
    """Draw the Gantt chart of ``timings_json`` to ``dest`` (PNG).

    Returns:
        ``dest``, or None when the file is not a timings record, has no phases, or matplotlib is
        missing (the chart is evidence; it never fails a report).
    """
    try:
        bars = gantt_bars(json.loads(Path(timings_json).read_text()))
    except (OSError, ValueError):
        return None
    if not bars:
        return None
    shown = lanes(bars)
    keep = set(shown)
    drawn = [b for b in bars if b.lane in keep]
    title = (f"where the time went: {len(shown)} lanes, {len(drawn)} phases over {span(bars):.0f} s"
             + (f" ({len(lanes(bars, limit=10**6)) - len(shown)} lanes left out)" if len(bars) > len(drawn) else ""))
    return run_gantt(drawn, shown, dest, title=title)


_GANTT_OK = ("#1f77b4", "#6baed6", "#c6dbef")  # by nesting depth: a step inside a step is lighter
_GANTT_FAILED = "#d62728"
_GANTT_ATTEMPT = "#ff7f0e"  # failed as an attempt: what the scenario provoked, for the verdict to judge


def bar_color(bar: Any) -> str:
    """A bar's color: blue by nesting depth when ok, orange for a failed attempt, red when failed."""
    if bar.ok:
        return _GANTT_OK[min(bar.depth, len(_GANTT_OK) - 1)]
    return _GANTT_ATTEMPT if getattr(bar, "attempt", False) else _GANTT_FAILED


def fit_label(text: str, seconds: float, width: float, *, char_share: float = 0.0055) -> str:
    """``text`` as it fits in a bar ``seconds`` long on an axis ``width`` seconds wide (one character
    takes about ``char_share`` of the axis at the chart's font size): whole, cut with an ellipsis,
    or "" when fewer than 5 characters fit."""
    fits = int(seconds / max(width * char_share, 1e-9))
    if fits >= len(text):
        return text
    return text[:fits - 1] + "…" if fits >= 5 else ""


def run_gantt(bars: Sequence[Any], lane_order: Sequence[str], path: Path | str, *, title: str = "") -> Path | None:
    """Plot a run's phases as a Gantt chart to ``path`` (PNG): one row per lane (``lane_order``, top
    to bottom), one bar per phase, failed phases red (orange: a failed attempt, which the scenario
    provoked for its verdict), nested phases thinner and lighter.

    Args:
        bars: :class:`GanttBar`; bars of lanes not in ``lane_order`` are not drawn.
        lane_order: the lanes top to bottom.
    """
    if not bars or not lane_order:
        return None
    try:  # matplotlib is heavy: loaded only when a chart is drawn
        import matplotlib

        matplotlib.use("Agg", force=True)
        import matplotlib.pyplot as plt
    except ImportError:  # pragma: no cover - matplotlib is a dependency
        log.warning("matplotlib is not installed; no Gantt chart")
        return None
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    row = {lane: i for i, lane in enumerate(lane_order)}
    drawn = [b for b in bars if b.lane in row]
    lo = min(b.start for b in drawn)
    hi = max(b.start + b.seconds for b in drawn)
    width = max(hi - lo, 1e-3)
    fig, ax = plt.subplots(figsize=(12, 1.3 + 0.32 * len(lane_order)))
    for b in sorted(drawn, key=lambda b: b.depth):  # parents first, nested steps over them
        height = 0.72 * (0.6 ** min(b.depth, 3))
        color = bar_color(b)
        # a zero-length phase still shows as a sliver
        ax.broken_barh([(b.start, max(b.seconds, width / 2000))], (row[b.lane] - height / 2, height), color=color,
                       edgecolor="white", linewidth=0.5)
        text = fit_label(b.label, b.seconds, width) if b.depth == 0 else ""
        if text:
            ax.text(b.start + b.seconds / 2, row[b.lane], text, ha="center", va="center", fontsize=5.5,
                    color="white", clip_on=True)
    ax.set_yticks(range(len(lane_order)), list(lane_order), fontsize=7)
    ax.set_ylim(len(lane_order) - 0.5, -0.5)  # the first lane on top
    ax.set_xlim(lo - width * 0.01, hi + width * 0.01)
    ax.set_xlabel("seconds since the run started")
    ax.grid(axis="x", color="#dddddd", linewidth=0.6)
    ax.set_axisbelow(True)
    ax.scatter([], [], marker="s", color=_GANTT_OK[0], label="step (ok)")
    ax.scatter([], [], marker="s", color=_GANTT_FAILED, label="failed")
    if any(bar_color(b) == _GANTT_ATTEMPT for b in drawn):
        ax.scatter([], [], marker="s", color=_GANTT_ATTEMPT, label="attempt failed (a finding the verdict judges)")
    ax.legend(loc="lower left", fontsize=7, ncol=3, bbox_to_anchor=(0, 1.0), borderaxespad=0.2, frameon=False)
    ax.set_title(title, fontsize=9, loc="right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
