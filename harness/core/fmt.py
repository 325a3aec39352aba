"""The one duration formatter of the harness: progress lines, the terminal summary, the gate's
clock stamps and the report all print time with :func:`duration`."""
from __future__ import annotations

from typing import Literal

Style = Literal["short", "latency", "clock"]
MISSING = "–"
"""What :func:`duration` prints for a missing value (None)."""


def duration(seconds: float | int | None, style: Style = "short") -> str:
    """A duration for people.

    Args:
        seconds: the duration in seconds; None (not measured) prints :data:`MISSING`.
        style: ``"short"``: ``7.2 s``, ``95 s``, ``2m05s`` (a step, a scenario, a run);
            ``"latency"``: ``3.1 ms``, ``250 ms``, ``1.50 s`` (request latencies, below a second
            in milliseconds); ``"clock"``: ``0:07``, ``12:34``, ``1:02:03`` (elapsed-time stamps,
            whole seconds, truncated).

    Returns:
        the text; negative durations print as 0 in the clock style and as they are otherwise.
    """
    if seconds is None or isinstance(seconds, bool):
        return MISSING
    s = float(seconds)
    if style == "clock":
        whole = int(max(0.0, s))
        h, rest = divmod(whole, 3600)
        m, sec = divmod(rest, 60)
        return f"{h}:{m:02d}:{sec:02d}" if h else f"{m}:{sec:02d}"
    if style == "latency":
        ms = s * 1000
        if ms < 10:
            return f"{ms:.1f} ms"
        if ms < 1000:
            return f"{ms:.0f} ms"
        return f"{s:.2f} s"
    if s < 10:
        return f"{s:.1f} s"
    if s < 120:
        return f"{s:.0f} s"
    m, sec = divmod(int(round(s)), 60)
    return f"{m}m{sec:02d}s"
