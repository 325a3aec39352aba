"""The terminal summary of a run's scenario records (printed by the pytest plugin at the end)."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from harness.core.fmt import duration
from harness.report.figures import format_figure
from harness.scenario.result import ScenarioResult

HEADLINE_FIGURES = ("failed_requests", "requests", "longest_failure_seconds", "drain_seconds",
                    "eviction_refusals_429", "hold_longest_silence_s", "rollout_max_reconnect_s",
                    "slowest_not_ready_s", "ready_after_recovery_s", "restarts")
"""The figures the table shows (when a record has them), in this order."""
COUNTS = ("requests", "count", "restarts")


def summary_table(results: Sequence[ScenarioResult]) -> str:
    """One line per record: scenario, target (with its key), control, outcome (the verdict, or
    ERROR/SKIP), seconds and the headline figures with units; the reason on a second line.

    Returns:
        the table's text; ``(no scenarios ran)`` for no records.
    """
    if not results:
        return "(no scenarios ran)"
    head = ["scenario", "target", "control", "outcome", "time"]
    lines = []
    for r in results:
        # the name already says what is counted ("failed_requests=0"); times keep their unit
        figs = ", ".join(f"{k}={format_figure(replace(r.figures[k], unit='') if r.figures[k].unit in COUNTS else r.figures[k])}" for k in HEADLINE_FIGURES
                         if k in r.figures and r.figures[k].value not in (None, ""))
        target = r.target + (f" ({r.key})" if r.key else "")
        control = f"broken:{r.control}" if r.control else "positive"
        lines.append(([r.scenario, target, control, r.outcome, duration(r.seconds)], figs, r.reason[:160]))
    widths = [max(len(head[i]), *(len(cols[i]) for cols, _, _ in lines)) for i in range(len(head))]
    out = ["  ".join(h.ljust(w) for h, w in zip(head, widths, strict=True)) + "  figures / reason"]
    for cols, figs, reason in lines:
        out.append("  ".join(v.ljust(w) for v, w in zip(cols, widths, strict=True)) + f"  {figs}")
        out.append(" " * (sum(widths) + 2 * len(widths)) + reason)
    return "\n".join(out)
