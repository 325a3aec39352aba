"""Inter-process locks for runs that share one cluster (pytest-xdist workers): held while a test
runs, waited for with a bound, and saying who holds them.

Two kinds, both files under :func:`lock_dir` (``<cache>/locks/<cluster name>/``):

* :func:`exclusive`: one holder at a time (``filelock.FileLock``: ``fcntl.flock`` on Linux, released
  by the kernel when the holding process dies, so a killed worker never leaves a lock behind).
  Used for creating the cluster and installing the add-ons, and for a declared resource
  (``node``, ``postgres``: harness/core/parallel.py).
* :func:`shared_or_exclusive`: many shared holders or one exclusive holder (``fcntl.flock``
  ``LOCK_SH``/``LOCK_EX``, which filelock's lock does not offer). Every test takes the ``edge``
  shared; a test that restarts the edge takes it exclusive and so runs alone. A waiting exclusive
  holder first takes an exclusive *turnstile* (:func:`exclusive`) that a shared holder passes
  through on its way in, so tests arriving later queue behind it instead of starving it.

Who holds a lock is written next to it, ``<name>.holder.json`` (:class:`Holder`), after it is
taken and removed when it is let go; a wait that runs out raises :class:`LockTimeout` naming the
holder. The record is advice for the message only: the lock itself is the kernel's.

Relied on: flock(2) (Linux man-pages): locks belong to the open file description, are released
when it is closed or the process exits, and ``LOCK_SH`` locks coexist while ``LOCK_EX`` excludes
all; filelock's ``FileLock(path).acquire(timeout=...)`` raises ``filelock.Timeout`` when the time
runs out (https://py-filelock.readthedocs.io/en/latest/api.html).
"""
from __future__ import annotations

import fcntl
import json
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

from filelock import FileLock, Timeout

from harness.core.errors import HarnessError
from harness.core.pins import cache_dir
from harness.core.runs import pid_alive

POLL = 0.05
"""Seconds between two tries of a shared/exclusive lock (flock has no timeout of its own)."""


class LockTimeout(HarnessError):
    """A lock was not free within its bound; the message names the holder when it is known."""


@dataclass(frozen=True)
class Holder:
    """Who holds (or waits for) a lock.

    Attributes:
        who: what holds it, e.g. a test id or ``cluster create``.
        worker: the xdist worker id (``gw0``), ``main`` outside xdist.
        pid: the holding process.
        since: when it was taken, seconds since the epoch.
    """

    who: str
    worker: str = "main"
    pid: int = 0
    since: float = 0.0

    def line(self, now: float | None = None) -> str:
        """``gw1 (pid 123): scenarios/drain/...::test_drain[x], for 40 s``."""
        held = f", for {max(0.0, (now or time.time()) - self.since):.0f} s" if self.since else ""
        return f"{self.worker} (pid {self.pid}): {self.who}{held}"


def lock_dir(scope: str, cache: Path | None = None) -> Path:
    """``<cache>/locks/<scope>`` (created): the locks of one shared cluster (``scope`` = its name).

    Raises:
        ValueError: ``scope`` is empty or not a single path component.
    """
    if not scope or "/" in scope or scope in (".", ".."):
        raise ValueError(f"lock scope must be one path component, got {scope!r}")
    d = (cache or cache_dir()) / "locks" / scope
    d.mkdir(parents=True, exist_ok=True)
    return d


def holder_path(lock: Path) -> Path:
    """``<lock>.holder.json`` beside the lock file."""
    return lock.with_name(lock.name + ".holder.json")


def read_holder(lock: Path) -> Holder | None:
    """The holder record of ``lock``; None when there is none, it is unreadable, or its process is
    gone (a holder killed with SIGKILL leaves its record; the kernel has let its lock go)."""
    try:
        data = json.loads(holder_path(lock).read_text())
        held = Holder(who=str(data["who"]), worker=str(data.get("worker", "main")), pid=int(data.get("pid", 0)),
                      since=float(data.get("since", 0.0)))
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return held if pid_alive(held.pid) else None


def _write_holder(lock: Path, holder: Holder) -> None:
    path = holder_path(lock)
    tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(asdict(holder)) + "\n")
    os.replace(tmp, path)


def _clear_holder(lock: Path, holder: Holder) -> None:
    # only our own record: a shared lock has many holders, the last writer's record stays until it leaves
    if read_holder(lock) == holder:
        holder_path(lock).unlink(missing_ok=True)


def _timeout(lock: Path, what: str, waited: float, unknown: str = "its holder left no record") -> LockTimeout:
    current = read_holder(lock)
    who = f"held by {current.line()}" if current is not None else unknown
    return LockTimeout(f"{what} {lock.name} not free after {waited:.0f} s: {who}")


@contextmanager
def exclusive(lock: Path, holder: Holder, *, timeout: float,
              on_wait: Callable[[Holder | None], None] | None = None) -> Iterator[Holder]:
    """Hold ``lock`` alone for the ``with`` block.

    Args:
        lock: the lock file (its directory must exist; :func:`lock_dir`).
        holder: who takes it (``since`` is set when it is taken); written beside the lock.
        timeout: seconds to wait at most.
        on_wait: called once with the current holder (None when unknown) when the lock is not free at once.

    Yields:
        the holder record as written.

    Raises:
        LockTimeout: not free within ``timeout`` seconds (the message names the holder).
    """
    flock = FileLock(str(lock))
    start = time.monotonic()
    try:
        flock.acquire(timeout=0)
    except Timeout:
        if on_wait is not None:
            on_wait(read_holder(lock))
        try:
            flock.acquire(timeout=max(0.0, timeout - (time.monotonic() - start)))
        except Timeout:
            raise _timeout(lock, "lock", time.monotonic() - start) from None
    held = Holder(holder.who, holder.worker, holder.pid or os.getpid(), time.time())
    try:
        _write_holder(lock, held)
        yield held
    finally:
        _clear_holder(lock, held)
        flock.release()


@contextmanager
def shared_or_exclusive(lock: Path, holder: Holder, *, exclusive_mode: bool, timeout: float,
                        on_wait: Callable[[Holder | None], None] | None = None) -> Iterator[Holder]:
    """Hold ``lock`` shared (with any number of other shared holders) or exclusive (alone).

    Both modes first pass the turnstile ``<lock>.turnstile`` (:func:`exclusive`): a shared holder
    only on its way in, an exclusive one until it holds the lock, so shared holders that arrive
    while it waits queue behind it.

    Args:
        lock: the lock file (its directory must exist).
        holder: who takes it; an exclusive holder is written beside the lock.
        exclusive_mode: True for exclusive, False for shared.
        timeout: seconds to wait at most, turnstile included.
        on_wait: called once with the holder on record when the lock is not free at once.

    Raises:
        LockTimeout: not free within ``timeout`` seconds.
    """
    start = time.monotonic()
    mode = fcntl.LOCK_EX if exclusive_mode else fcntl.LOCK_SH
    turnstile = lock.with_name(lock.name + ".turnstile")
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        with exclusive(turnstile, holder, timeout=timeout, on_wait=on_wait):
            told = False
            while True:
                try:
                    fcntl.flock(fd, mode | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if not told and on_wait is not None:
                        on_wait(read_holder(lock))
                    told = True
                    if time.monotonic() - start >= timeout:
                        raise _timeout(lock, "exclusive lock" if exclusive_mode else "shared lock",
                                       time.monotonic() - start,
                                       unknown="held shared by the tests running now") from None
                    time.sleep(POLL)  # flock has no timed wait: poll within the bound
        held = Holder(holder.who, holder.worker, holder.pid or os.getpid(), time.time())
        if exclusive_mode:
            _write_holder(lock, held)
        try:
            yield held
        finally:
            if exclusive_mode:
                _clear_holder(lock, held)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
