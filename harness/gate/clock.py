"""The gate's own progress lines: ``[gate M:SS] message`` on stderr, timed from the gate's start."""
from __future__ import annotations

import sys
import time
from typing import Any

from harness.core.fmt import duration


class Clock:
    """Lines ``[gate M:SS] message`` on stderr, timed from ``started`` (epoch seconds).

    Args:
        started: epoch seconds the gate started (default: now).
        stream: where the lines go (default: ``sys.stderr`` at the time of each line).
    """

    def __init__(self, started: float | None = None, stream: Any = None):
        self.started = time.time() if started is None else started
        self.stream = stream

    def elapsed(self) -> float:
        """Seconds since :attr:`started`."""
        return time.time() - self.started

    def say(self, message: str) -> None:
        stream = self.stream or sys.stderr
        stream.write(f"[gate {duration(self.elapsed(), 'clock')}] {message}\n")
        stream.flush()
