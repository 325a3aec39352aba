"""Named steps: a scenario as a short sequence of things a reader can name, each timed and recorded.

In the spirit of kubernetes-sigs/e2e-framework's Setup/Assess/Teardown, a scenario procedure
wraps each phase in ``with steps.step("helm upgrade to the candidate"):``. A step

* is timed and kept as a :class:`harness.scenario.result.StepRecord` (start offset, seconds,
  outcome, ``"<ExceptionType>: message"`` when it failed), in the order the steps ran;
* is a :mod:`harness.core.timings` phase (progress lines while it runs, the session's timing table);
* is marked, by its name, on every timeline attached at the time (the prober and the SSE streams
  of :func:`harness.scenario.probing.probe_while`), so the steps appear in the timeline plots;
* when its block raises, raises :class:`StepFailed` naming the step, with the original exception
  as ``cause`` (and ``__cause__``), so an error always says where in the scenario it happened.

:meth:`Steps.attempt` is the variant for a step whose failure is a finding, not an error (a
``helm upgrade`` that fails is what the rollback scenario needs, and an upgrade verdict input): it
records the step as failed and hands the error to the caller instead of raising.

Nothing here knows pytest. A :class:`harness.core.errors.ScenarioSkipped` raised inside a step
passes through unchanged (the step is recorded as failed with that reason), and so does any
``BaseException`` that is not an ``Exception`` (KeyboardInterrupt).
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import Protocol

from harness.core import timings
from harness.core.errors import HarnessError, ScenarioSkipped
from harness.scenario.result import StepRecord


class Timeline(Protocol):
    """Anything with ``mark(label)``: :class:`harness.measure.prober.Prober`, an SSE client or group."""

    def mark(self, label: str) -> object: ...


def describe(exc: BaseException, limit: int = 300) -> str:
    """``"<ExceptionType>: first line of the message"`` (at most ``limit`` characters of message).

    A :class:`StepFailed` is described by its cause, so the type of the original error survives.
    """
    if isinstance(exc, StepFailed):
        exc = exc.cause
    text = str(exc).strip()
    line = text.splitlines()[0] if text else ""
    if len(line) > limit:
        line = line[: limit - 3] + "..."
    return f"{type(exc).__name__}: {line}" if line else type(exc).__name__


def explain(exc: BaseException) -> str:
    """One line for a record's reason: ``"step '<name>' failed: <Type>: message"`` for a
    :class:`StepFailed`, else :func:`describe`."""
    if isinstance(exc, StepFailed):
        return f"step {exc.step!r} failed: {describe(exc.cause)}"
    return describe(exc)


class StepFailed(HarnessError):
    """A named step raised.

    Attributes:
        step: the step's name.
        cause: the exception the step's block raised (also ``__cause__``).
    """

    def __init__(self, step: str, cause: BaseException):
        self.step = step
        self.cause = cause
        super().__init__(f"step {step!r} failed: {describe(cause)}")


@dataclass
class Attempt:
    """What :meth:`Steps.attempt` saw: ``error`` is None when the block finished, else the exception's
    message (``str(exc)``, as the verdict functions read helm's errors) and ``exception`` the exception."""

    name: str
    error: str | None = None
    exception: BaseException | None = None

    @property
    def failed(self) -> bool:
        return self.exception is not None


class Steps:
    """The steps of one scenario run (thread-safe: a shared run's threads may record into it).

    Args:
        label: prefix of the :mod:`harness.core.timings` phase names (``"upgrade ha-service-default"``);
            empty: no timings phase and no progress lines.
        clock: monotonic seconds (tests pass a fake); step start offsets count from construction.
    """

    def __init__(self, label: str = "", clock: Callable[[], float] = time.monotonic):
        self.label = label
        self.clock = clock
        self.origin = clock()
        self.records: list[StepRecord] = []
        self._timelines: list[Timeline] = []
        self._lock = threading.Lock()

    # -- timelines

    def attach(self, *timelines: Timeline) -> None:
        """Mark later steps on ``timelines`` too (until :meth:`detach`)."""
        with self._lock:
            self._timelines.extend(timelines)

    def detach(self, *timelines: Timeline) -> None:
        with self._lock:
            self._timelines = [t for t in self._timelines if not any(t is x for x in timelines)]

    def mark(self, label: str) -> None:
        """Put ``label`` on every attached timeline now (a mark is a vertical line in the plots)."""
        with self._lock:
            targets = list(self._timelines)
        for t in targets:
            t.mark(label)

    # -- steps

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        """Run the block as the step ``name``; see the module docstring.

        Raises:
            StepFailed: the block raised an ``Exception`` (not a skip): the step's name and the cause.
            ScenarioSkipped: passed through from the block.
        """
        with self._recording(name):
            yield

    @contextmanager
    def attempt(self, name: str) -> Iterator[Attempt]:
        """Run the block as the step ``name``, capturing its failure in the yielded :class:`Attempt`
        instead of raising (``ScenarioSkipped`` and non-``Exception`` errors still propagate)."""
        outcome = Attempt(name)
        try:
            with self._recording(name, attempt=True):
                yield outcome
        except StepFailed as exc:
            outcome.exception = exc.cause
            outcome.error = str(exc.cause)

    @contextmanager
    def _recording(self, name: str, done: list[StepRecord] | None = None, *, attempt: bool = False) -> Iterator[None]:
        start = self.clock()
        index = self._add(StepRecord(name, round(start - self.origin, 3), 0.0))  # in the order steps start
        error: str | None = None
        try:
            self.mark(name)
            with ExitStack() as stack:
                if self.label:
                    stack.enter_context(timings.phase(f"{self.label}: {name}", attempt=attempt))
                yield
        except (StepFailed, ScenarioSkipped) as exc:  # an inner step's failure, or a skip: passed on as is
            error = describe(exc)
            raise
        except Exception as exc:
            error = describe(exc)
            raise StepFailed(name, exc) from exc
        except BaseException as exc:
            error = describe(exc)
            raise
        finally:
            rec = StepRecord(name, round(start - self.origin, 3), round(self.clock() - start, 3),
                             "failed" if error is not None else "ok", error)
            with self._lock:
                self.records[index] = rec
            if done is not None:
                done.append(rec)

    def _add(self, record: StepRecord) -> int:
        with self._lock:
            self.records.append(record)
            return len(self.records) - 1

    def snapshot(self) -> tuple[StepRecord, ...]:
        """The steps recorded so far, in the order they started (a running step has ``seconds`` 0)."""
        with self._lock:
            return tuple(self.records)


@contextmanager
def together(all_steps: Iterable[Steps], name: str) -> Iterator[None]:
    """One step run once on behalf of several scenario runs (a shared run's long phase): timed once,
    marked on each run's timelines, and recorded in each run's :class:`Steps` with its own start offset.

    Raises:
        StepFailed: as :meth:`Steps.step`.
    """
    runs = list(all_steps)
    if not runs:
        with Steps().step(name):
            yield
        return
    lead, rest = runs[0], runs[1:]
    others = [(s, s.clock(), s._add(StepRecord(name, round(s.clock() - s.origin, 3), 0.0))) for s in rest]
    for s in rest:
        s.mark(name)
    done: list[StepRecord] = []
    try:
        with lead._recording(name, done):
            yield
    finally:
        rec = done[0] if done else StepRecord(name, 0.0, 0.0, "failed", "the step did not start")
        for s, t0, index in others:
            with s._lock:
                s.records[index] = StepRecord(name, round(t0 - s.origin, 3), rec.seconds, rec.outcome, rec.error)
