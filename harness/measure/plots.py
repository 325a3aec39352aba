"""Timeline pictures of a scenario's measurements, for reports (matplotlib, Agg backend: no display).

* :func:`probe_timeline` — one point per request (latency in milliseconds over time, the axis
  labelled with its values: :func:`latency_ticks`; failures in red on a band of their own,
  labelled by error class), the answering version as a coloured strip, phase markers as vertical
  lines; given the edge's attribution, a panel with the share of requests old and new pods served
  per second and each old pod's last request and termination; given the pods' history, one lane
  per pod: starting, Ready, not Ready, terminating, gone (:mod:`harness.measure.lanes`).
* :func:`sse_timeline` — one row per stream: events, heartbeats, disconnects and failed
  reconnects over time, with the same phase markers.

Each returns the written path, or None when matplotlib is missing (a plot never fails a scenario).
"""
from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from harness.measure import lanes as pod_lanes

log = logging.getLogger("harness.measure.plots")

_PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf"]


def _pyplot() -> Any:
    try:
        import matplotlib

        matplotlib.use("Agg", force=True)
        import matplotlib.pyplot as plt
    except ImportError:  # pragma: no cover - matplotlib is a dependency
        log.warning("matplotlib is not installed; no plots")
        return None
    return plt


def label_groups(marks: Sequence[tuple[float, str]], *, within: float) -> list[tuple[float, str]]:
    """Marks closer than ``within`` seconds to the previous one share one label (``"a · b"``) at the
    first one's time: a scenario's named steps often start the moment an earlier phase is marked,
    and rotated labels at the same x would be drawn over each other."""
    groups: list[tuple[float, list[str]]] = []
    last = None
    for t, text in sorted(marks, key=lambda m: m[0]):
        if groups and last is not None and t - last < within:
            groups[-1][1].append(text)
        else:
            groups.append((t, [text]))
        last = t
    return [(t, " · ".join(texts)) for t, texts in groups]


LATENCY_LINEAR_MS = 10.0
"""The latency axis is linear from 0 to this many milliseconds and logarithmic above (a symlog
scale): answers of a few ms and timeouts of seconds both stay readable on one axis."""


def latency_ticks(top_ms: float) -> list[float]:
    """The latency axis's labelled values in milliseconds: 0, then every power of ten from
    :data:`LATENCY_LINEAR_MS` up to ``top_ms`` (the highest point drawn), and the next one when it is
    less than 3 times ``top_ms`` (a tick stretches the axis to it: no more than that)."""
    ticks = [0.0, LATENCY_LINEAR_MS]
    while ticks[-1] < top_ms and ticks[-1] * 10 < top_ms * 3:
        ticks.append(ticks[-1] * 10)
    return ticks


def ms_label(value: float) -> str:
    """A tick's text: whole milliseconds with thin-space thousands (``"0"``, ``"100"``, ``"10 000"``)."""
    return f"{value:,.0f}".replace(",", "\u2009")


def latency_axis(ax: Any, top_ms: float) -> None:
    """Label ``ax`` as the latency axis: symlog scale, ticks :func:`latency_ticks` with their values
    in ms, and the unit in the axis label."""
    ax.set_yscale("symlog", linthresh=LATENCY_LINEAR_MS)
    ticks = latency_ticks(top_ms)
    ax.set_yticks(ticks, [ms_label(t) for t in ticks])
    ax.yaxis.set_minor_formatter(_null_formatter())
    ax.set_ylabel(f"latency (ms; log above {LATENCY_LINEAR_MS:g})", fontsize=8)


def _null_formatter() -> Any:
    from matplotlib.ticker import (
        NullFormatter,  # matplotlib is loaded by _pyplot before any axis exists
    )

    return NullFormatter()


def _marks(ax: Any, marks: Sequence[tuple[float, str]], *, label: bool) -> None:
    for t, _ in marks:
        ax.axvline(t, color="#555555", linestyle="--", linewidth=0.8)
    if not label or not marks:
        return
    lo, hi = ax.get_xlim()
    for t, text in label_groups(marks, within=max(0.5, (hi - lo) / 100)):
        # read from the top down and clipped to the axes: a label longer than the plot is tall
        # loses its end, never its start, and never runs over the axis labels (the CSV/JSON keep
        # every mark's full label)
        ax.annotate(text, xy=(t, 1.0), xycoords=("data", "axes fraction"), xytext=(2, -2),
                    textcoords="offset points", rotation=270, va="top", ha="left", fontsize=7, color="#333333",
                    clip_on=True)


def probe_timeline(result: Any, path: Path | str, *, title: str = "", served: Sequence[Any] | None = None,
                   old_pods: Sequence[tuple[str, float, float | None]] = (),
                   pods: Sequence[pod_lanes.PodLane] | None = None) -> Path | None:
    """Plot a :class:`harness.measure.prober.ProbeResult` to ``path`` (PNG).

    Args:
        served: :class:`harness.measure.attribution.ServedBucket` per second (None: no served panel).
        old_pods: ``(pod, last request, terminated or None)`` in seconds since the prober started.
        pods: one :class:`harness.measure.lanes.PodLane` per pod (None or empty: no pods panel).
    """
    plt = _pyplot()
    if plt is None:
        return None
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    sent = result.sent
    drawn, more = pod_lanes.shown(pods or ())
    ratios, height = [4.0, 1.0], 5.0
    if served is not None:
        ratios, height = ratios + [1.6], height + 1.5
    if drawn:
        lane_ratio = max(1.2, 0.32 * len(drawn))
        ratios, height = ratios + [lane_ratio], height + 0.3 + 0.22 * len(drawn)
    fig, axes = plt.subplots(len(ratios), 1, figsize=(11, height), sharex=True, gridspec_kw={"height_ratios": ratios})
    ax_lat, ax_ver = axes[0], axes[1]
    ok = [s for s in sent if s.ok]
    bad = [s for s in sent if not s.ok]
    ax_lat.scatter([s.t for s in ok], [s.latency * 1000 for s in ok], s=4, color="#2ca02c", label=f"ok ({len(ok)})")
    top = max([s.latency * 1000 for s in sent] + [1.0])
    if bad:
        kinds = sorted({s.error or "" for s in bad})
        for i, kind in enumerate(kinds):
            pts = [s for s in bad if s.error == kind]
            ax_lat.scatter([s.t for s in pts], [max(s.latency * 1000, top * 1.05) for s in pts], s=10, marker="x",
                           color=["#d62728", "#9467bd", "#8c564b", "#e377c2"][i % 4], label=f"{kind} ({len(pts)})")
    skipped = [s for s in result.samples if s.skipped]
    if skipped:
        ax_lat.scatter([s.t for s in skipped], [0] * len(skipped), s=6, marker="|", color="#999999",
                       label=f"skipped ({len(skipped)})")
    latency_axis(ax_lat, top * 1.05 if bad else top)
    ax_lat.legend(loc="upper left", fontsize=7, markerscale=2)
    _marks(ax_lat, [(m.t, m.label) for m in result.marks], label=True)
    run_n, run_s = result.longest_failure_run()
    ax_lat.set_title(title or (f"{result.url} (Host {result.host}): {result.total} requests, "
                               f"{result.failed_count} failed, longest failure run {run_n} ({run_s:.1f} s)"),
                     fontsize=9)

    versions = result.versions_seen()
    colors = {v: _PALETTE[i % len(_PALETTE)] for i, v in enumerate(versions)}
    for v in versions:
        pts = [s.t for s in sent if s.version == v]
        ax_ver.scatter(pts, [0] * len(pts), s=12, marker="|", color=colors[v], label=v)
    ax_ver.set_yticks([])
    if versions:
        ax_ver.legend(loc="upper left", fontsize=7, ncol=len(versions), title="version answering", title_fontsize=7)
    _marks(ax_ver, [(m.t, m.label) for m in result.marks], label=False)
    rest = list(axes[2:])
    if served is not None:
        ax_srv = rest.pop(0)
        _served(ax_srv, served, old_pods)
        _marks(ax_srv, [(m.t, m.label) for m in result.marks], label=False)
    if drawn:
        ax_pods = rest.pop(0)
        # the watch stopped with the prober: what the pods did later is not known
        end = result.duration or max([s.t + s.latency for s in sent], default=0.0)
        _pod_lanes(ax_pods, drawn, more, 0.0, end)
        _marks(ax_pods, [(m.t, m.label) for m in result.marks], label=False)
    bottom = axes[-1]
    bottom.set_xlabel("seconds since the prober started")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _served(ax: Any, served: Sequence[Any], old_pods: Sequence[tuple[str, float, float | None]]) -> None:
    """Stacked share per slot: old pods (blue, as the first version on the strip above), new pods (orange), not
    attributed (grey); each old pod's last request (|) and termination (x) above."""
    xs = [b.t for b in served]
    total = [max(1, b.old + b.new + b.unattributed) for b in served]
    old = [b.old / n for b, n in zip(served, total, strict=True)]
    new = [b.new / n for b, n in zip(served, total, strict=True)]
    none = [b.unattributed / n for b, n in zip(served, total, strict=True)]
    width = (xs[1] - xs[0]) if len(xs) > 1 else 1.0
    ax.bar(xs, old, width=width, align="edge", color="#1f77b4", label=f"old pods ({sum(b.old for b in served)})")
    ax.bar(xs, new, width=width, align="edge", bottom=old, color="#ff7f0e",
           label=f"new pods ({sum(b.new for b in served)})")
    ax.bar(xs, none, width=width, align="edge", bottom=[a + b for a, b in zip(old, new, strict=True)],
           color="#cccccc", label=f"not attributed ({sum(b.unattributed for b in served)})")
    for i, (_pod, last, ended) in enumerate(old_pods):
        ax.scatter([last], [1.08], marker="|", s=60, color="#333333", label="old pod's last request" if i == 0 else None)
        if ended is not None:
            ax.scatter([ended], [1.08], marker="x", s=24, color="#d62728", label="old pod terminated" if i == 0 else None)
    ax.set_ylim(0, 1.18)
    ax.set_yticks([0, 0.5, 1.0], ["0", "50 %", "100 %"])
    ax.set_ylabel("served by\n(edge log)", fontsize=7)
    ax.legend(loc="upper left", fontsize=6, ncol=5, bbox_to_anchor=(0, -0.35))


_LANE_COLORS = {pod_lanes.STARTING: "#c7c7c7", pod_lanes.READY: "#2ca02c", pod_lanes.NOT_READY: "#ff7f0e",
                pod_lanes.TERMINATING: "#d62728"}


def _pod_lanes(ax: Any, drawn: Sequence[pod_lanes.PodLane], more: int, start: float, end: float) -> None:
    """One lane per pod (the first seen on top): its states as coloured stretches, gone as a black x."""
    labelled: set[str] = set()
    n = len(drawn)
    for row, lane in enumerate(drawn):
        y = n - 1 - row
        for seg in pod_lanes.segments(lane, start, end):
            ax.broken_barh([(seg.start, seg.end - seg.start)], (y - 0.35, 0.7), color=_LANE_COLORS[seg.state],
                           label=None if seg.state in labelled else seg.state)
            labelled.add(seg.state)
        if lane.gone is not None and start <= lane.gone <= end:
            ax.scatter([lane.gone], [y], marker="x", s=28, color="#000000", zorder=3,
                       label=None if "gone" in labelled else "gone")
            labelled.add("gone")
    ax.set_yticks(range(n), [(f"{lane.name} (job)" if lane.job else lane.name) for lane in reversed(drawn)],
                  fontsize=6)
    ax.set_ylim(-0.6, n - 0.4)
    ax.set_ylabel("pods" + (f"\n(+{more} more)" if more else ""), fontsize=7)
    handles, names = ax.get_legend_handles_labels()
    order = [*pod_lanes.STATES, "gone"]  # the life's order, not the order first drawn
    pairs = sorted(zip(handles, names, strict=True), key=lambda hn: order.index(hn[1]) if hn[1] in order else len(order))
    ax.legend([h for h, _ in pairs], [n for _, n in pairs], loc="upper left", fontsize=6, bbox_to_anchor=(1.002, 1.0),
              borderaxespad=0)


def sse_timeline(results: Sequence[Any], path: Path | str, *, title: str = "",
                 marks: Sequence[tuple[float, str]] | None = None) -> Path | None:
    """Plot :class:`harness.measure.sse.SseResult` recordings (one row each) to ``path`` (PNG)."""
    plt = _pyplot()
    if plt is None or not results:
        return None
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # tall enough for the rotated step labels of the timeline marks even with one or two streams
    fig, ax = plt.subplots(figsize=(11, max(3.2, 1.2 + 0.6 * len(results))))
    styles = {"event": ("o", "#1f77b4", 14), "comment": ("|", "#aaaaaa", 30), "connect": ("^", "#2ca02c", 30),
              "disconnect": ("v", "#d62728", 40), "attempt-failed": ("x", "#ff7f0e", 30)}
    labelled: set[str] = set()
    for row, res in enumerate(results):
        for kind, (marker, color, size) in styles.items():
            pts = [r.t for r in res.records if r.kind == kind]
            if pts:
                ax.scatter(pts, [row] * len(pts), marker=marker, color=color, s=size,
                           label=None if kind in labelled else kind)
                labelled.add(kind)
    ax.set_yticks(range(len(results)), [r.name for r in results])
    ax.set_ylim(-0.7, len(results) - 0.3)
    ax.set_xlabel("seconds since the streams started")
    all_marks = list(marks if marks is not None else (results[0].marks if results else []))
    _marks(ax, all_marks, label=True)
    ax.legend(loc="upper left", fontsize=7, ncol=5, bbox_to_anchor=(0, -0.35 if len(results) < 3 else -0.2))
    ax.set_title(title or f"{results[0].url}: {len(results)} streams", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path

