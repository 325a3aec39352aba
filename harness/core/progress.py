"""Progress lines for long phases: one line when a phase starts and ends, and at most every 15 s a
``still waiting for X (Ns)`` line while it runs.

Lines go to a *sink*. Outside pytest the sink writes to ``sys.__stderr__``. The pytest plugin
installs a sink that reaches the terminal even while pytest captures output (see
harness.plugin), because a silent two-minute ``kind create cluster`` looks like a hang.

Only the innermost running tracker ticks, so a wait inside a phase does not double the lines:
a tracker is silent while a tracker opened inside it runs. "Inside" follows the context
(:mod:`contextvars`), not one process-wide stack: a thread started with a copy of the current
context (``contextvars.copy_context().run``, as harness.env.addons.catalog runs concurrent add-ons)
nests its trackers under the one open where it was started, so two concurrent phases each tick and
their common parent stays silent; a plain thread starts with no parent. Lines are written whole,
one at a time (a lock around the sink), so concurrent phases never interleave mid-line.
"""
from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from harness.core.fmt import duration

TICK_EVERY = 15.0
PREFIX = "[harness] "

Sink = Callable[[str], None]


def _stderr_sink(line: str) -> None:
    stream = sys.__stderr__
    if stream is not None:
        stream.write(line + "\n")
        stream.flush()


_sink: Sink = _stderr_sink
_lock = threading.Lock()  # guards Tracker.children
_say_lock = threading.RLock()  # one line at a time through the sink (RLock: a sink may say() itself)
_current: ContextVar[Tracker | None] = ContextVar("harness_progress_tracker", default=None)


def set_sink(sink: Sink | None) -> Sink:
    """Send progress lines to ``sink`` (None restores stderr). Returns the previous sink."""
    global _sink
    previous = _sink
    _sink = sink or _stderr_sink
    return previous


def say(message: str) -> None:
    """Write one progress line (prefixed ``[harness]``); never raises. Thread-safe: the sink is
    called by one thread at a time, so lines from concurrent phases never mix."""
    try:
        with _say_lock:
            _sink(PREFIX + message)
    except Exception:  # noqa: BLE001 - progress output must never break a run
        pass



class Tracker:
    """The state of one tracked activity; :meth:`tick` decides whether a "still waiting" line is due.

    Args:
        what: what is awaited, e.g. ``"kind create cluster harness"``.
        every: seconds between "still waiting" lines (at least 15 s by default).
        clock: monotonic clock (tests pass a fake).
    """

    def __init__(self, what: str, *, every: float = TICK_EVERY, clock: Callable[[], float] = time.monotonic):
        self.what = what
        self.every = every
        self.clock = clock
        self.started = clock()
        self.last_line = self.started
        self.parent: Tracker | None = None
        self.children = 0  # trackers opened inside this one and still running (under _lock)

    def elapsed(self) -> float:
        return self.clock() - self.started

    def tick(self) -> str | None:
        """Return the "still waiting" line when one is due (and this is the innermost tracker), else None."""
        now = self.clock()
        if now - self.last_line < self.every:
            return None
        with _lock:
            innermost = self.children == 0
        if not innermost:
            return None
        self.last_line = now
        return f"still waiting for {self.what} ({duration(now - self.started)})"


@contextmanager
def tracking(what: str, *, announce: bool = True, every: float = TICK_EVERY) -> Iterator[Tracker]:
    """Track a long activity.

    Args:
        what: description used in every line.
        announce: print ``<what>: started`` and ``<what>: done in N s`` / ``failed after N s``.
            Waits use ``announce=False`` (only the "still waiting" lines).
        every: seconds between "still waiting" lines.

    Yields:
        the Tracker (``elapsed()`` for the caller's own messages).
    """
    tracker = Tracker(what, every=every)
    tracker.parent = _current.get()
    with _lock:
        if tracker.parent is not None:
            tracker.parent.children += 1
    token = _current.set(tracker)
    stop = threading.Event()

    def ticker() -> None:
        while not stop.wait(min(1.0, every)):
            line = tracker.tick()
            if line:
                say(line)

    thread = threading.Thread(target=ticker, name=f"progress: {what}", daemon=True)
    if announce:
        say(f"{what}: started")
    thread.start()
    ok = False
    try:
        yield tracker
        ok = True
    finally:
        stop.set()
        thread.join(timeout=2)
        _current.reset(token)
        with _lock:
            if tracker.parent is not None:
                tracker.parent.children -= 1
        if announce:
            took = duration(tracker.elapsed())
            say(f"{what}: done in {took}" if ok else f"{what}: failed after {took}")
