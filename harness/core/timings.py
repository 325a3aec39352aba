"""How long each phase of a run took: ``with timings.phase("cluster create"): ...``.

Every phase is recorded (name, start offset, duration, outcome) in the default :class:`Timings`
recorder. The pytest plugin prints :func:`table` in the terminal summary and writes
``<artifacts>/timings.json`` at session end. A phase also prints progress lines (start, end, and a
"still waiting" line at most every 15 s; see harness.core.progress).

Each process keeps its own recorder; under pytest-xdist the controller joins the workers' records
into one (:func:`merge_records`) on the wall clock each record carries (``origin_epoch``), so one
Gantt chart shows which test ran beside which.

Phases may run concurrently (harness.env.addons.catalog installs independent add-ons on worker
threads). A phase's depth is the number of phases open around it in its *context*
(:mod:`contextvars`): a worker started with a copy of the current context
(``contextvars.copy_context().run``) records its phases one level below the phase open where it
was started, and concurrent siblings never count each other as parents; a plain thread starts at
depth 0.
"""
from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from harness.core import progress


@dataclass(frozen=True)
class Phase:
    """One recorded phase.

    Attributes:
        name: e.g. ``"cluster create"``, ``"helm upgrade realtime-x1y2"``.
        start: seconds since the recorder was created (or reset).
        duration: seconds.
        outcome: ``"ok"``, ``"failed: <ExceptionName>"``, or ``"attempt failed: <ExceptionName>"`` for a
            step whose failure is a finding the verdict judges, not an error of the run (a scenario's
            :meth:`harness.scenario.steps.Steps.attempt`, e.g. the rollback scenario's upgrade to a
            candidate that cannot become Ready).
        depth: nesting level (0 = top level).
    """

    name: str
    start: float
    duration: float
    outcome: str
    depth: int = 0


class Timings:
    """A thread-safe list of phases (nesting depth tracked per context, see the module docstring).

    Args:
        clock: monotonic clock in seconds (tests pass a fake).
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self.clock = clock
        self.origin = clock()
        self.origin_epoch = time.time()  # the wall clock at origin: how records of other processes line up
        self.phases: list[Phase] = []
        self._lock = threading.Lock()
        # per context, not per thread: a worker running in a copied context inherits its parent's depth
        self._depth: ContextVar[int] = ContextVar(f"harness_timings_depth_{id(self)}", default=0)

    def reset(self) -> None:
        with self._lock:
            self.phases.clear()
            self.origin = self.clock()
            self.origin_epoch = time.time()

    @contextmanager
    def phase(self, name: str, *, announce: bool = True, attempt: bool = False) -> Iterator[None]:
        """Record the enclosed block as phase ``name``; exceptions propagate and mark it failed.

        Args:
            name: what the phase does, read in the table.
            announce: print progress lines (start/end and "still waiting" every 15 s).
            attempt: its failure is a finding, not an error: recorded as ``attempt failed: ...``.
        """
        depth = self._depth.get()
        token = self._depth.set(depth + 1)
        start = self.clock()
        outcome = "ok"
        try:
            if announce:
                with progress.tracking(name):
                    yield
            else:
                yield
        except BaseException as exc:
            outcome = f"{'attempt failed' if attempt else 'failed'}: {type(exc).__name__}"
            raise
        finally:
            self._depth.reset(token)
            end = self.clock()
            with self._lock:
                self.phases.append(Phase(name, round(start - self.origin, 3), round(end - start, 3), outcome, depth))

    def record(self, name: str, duration: float, outcome: str = "ok") -> None:
        """Add a phase measured elsewhere (``duration`` seconds, ending now)."""
        with self._lock:
            now = self.clock()
            self.phases.append(Phase(name, round(now - duration - self.origin, 3), round(duration, 3), outcome, 0))

    def ordered(self) -> list[Phase]:
        """Phases in start order (a parent before its children)."""
        with self._lock:
            return sorted(self.phases, key=lambda p: (p.start, p.depth))

    def table(self) -> str:
        """A plain-text table: phase (indented by depth), seconds, outcome; total of top-level phases last."""
        return format_table(self.to_json())

    def to_json(self) -> dict:
        """``{"origin_epoch": <epoch seconds at start 0>, "phases": [{name, start, duration, outcome, depth}]}``."""
        return {"origin_epoch": round(self.origin_epoch, 3), "phases": [asdict(p) for p in self.ordered()]}

    def write_json(self, path: Path) -> Path:
        """Write :meth:`to_json` to ``path`` (:func:`write_record`)."""
        return write_record(path, self.to_json())


def write_record(path: Path, record: Mapping[str, Any]) -> Path:
    """Write a timings record (:meth:`Timings.to_json`, :func:`merge_records`) to ``path`` as JSON
    (dirs created); returns the path. Raises OSError."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record, indent=2) + "\n")
    return path


def format_table(record: Mapping[str, Any]) -> str:
    """A timings record (:meth:`Timings.to_json`, :func:`merge_records`) as a plain-text table: phase
    (indented by depth), seconds, outcome, in start order; the total of the top-level phases last.
    A merged record's test phases name their process (``[gw1]``), and since its processes ran side
    by side, the total is followed by the wall time from the first start to the last end. Pure.
    """
    rows = [p for p in record.get("phases") or [] if isinstance(p, Mapping)]
    if not rows:
        return "(no phases recorded)"

    def name(p: Mapping[str, Any]) -> str:
        label = str(p.get("name", ""))
        process = p.get("process")
        if process and not label.startswith("harness "):
            label += f" [{process}]"  # a setup phase's name already says its process (merge_records)
        return "  " * int(p.get("depth", 0) or 0) + label

    names = [name(p) for p in rows]
    merged = any(p.get("process") for p in rows)
    total_label = "total (top-level phases, side by side)" if merged else "total (top-level phases)"
    width = max(len(total_label), *(len(n) for n in names))
    lines = [f"{'phase':<{width}}  {'seconds':>8}  outcome", f"{'-' * width}  {'-' * 8}  -------"]
    for n, p in zip(names, rows, strict=True):
        lines.append(f"{n:<{width}}  {float(p.get('duration', 0.0)):>8.1f}  {p.get('outcome', '')}")
    total = sum(float(p.get("duration", 0.0)) for p in rows if not p.get("depth"))
    lines.append(f"{total_label:<{width}}  {total:>8.1f}")
    if merged:
        wall = (max(float(p["start"]) + float(p.get("duration", 0.0)) for p in rows)
                - min(float(p["start"]) for p in rows))
        lines.append(f"{'wall time (first start to last end)':<{width}}  {wall:>8.1f}")
    return "\n".join(lines)


def merge_records(records: Mapping[str, Mapping[str, Any]]) -> dict:
    """Join the timings records of several processes (an xdist run's workers and controller) into one.

    Args:
        records: process name (``gw0``, ``controller``) -> its :meth:`Timings.to_json` record.

    Returns:
        ``{"origin_epoch", "phases", "processes"}``: every phase shifted onto the earliest
        ``origin_epoch`` (a record without one is taken as starting there), in start order. A phase
        of no test (its name has no ``"<test>: "`` prefix, harness.report.gantt) is renamed
        ``"harness <process>: <name>"``, so each process's own setup is one lane of the chart; each
        phase names its ``process``; ``processes`` maps each name to its offset in seconds. Pure.
    """
    epochs = {name: r.get("origin_epoch") for name, r in records.items()}
    known = [e for e in epochs.values() if isinstance(e, int | float) and not isinstance(e, bool)]
    zero = min(known) if known else 0.0
    phases, offsets = [], {}
    for name in sorted(records):
        e = epochs[name]
        offset = round(float(e) - zero, 3) if isinstance(e, int | float) and not isinstance(e, bool) else 0.0
        offsets[name] = offset
        for p in records[name].get("phases") or []:
            if not isinstance(p, Mapping) or not isinstance(p.get("start"), int | float):
                continue
            label = str(p.get("name", ""))
            if ": " not in label:
                label = f"harness {name}: {label}"
            phases.append({**p, "name": label, "start": round(float(p["start"]) + offset, 3), "process": name})
    phases.sort(key=lambda p: (p["start"], p.get("depth", 0)))
    return {"origin_epoch": zero, "phases": phases, "processes": offsets}


RECORDER = Timings()
"""The run-wide recorder the module-level functions use."""


def phase(name: str, *, announce: bool = True, attempt: bool = False):
    """``with timings.phase("cluster create"):`` on the run-wide recorder; see :meth:`Timings.phase`."""
    return RECORDER.phase(name, announce=announce, attempt=attempt)


def table() -> str:
    """The run-wide recorder's table."""
    return RECORDER.table()
