"""Waiting, like e2e-framework's ``klient/wait``: one loop, separate conditions (harness.k8s.conditions).

A *condition* is a callable returning ``(done, state)``: ``done`` ends the wait, ``state`` is a
short human description of what it saw (kept as "last seen" for the timeout message). A
condition raises :class:`~harness.core.errors.WaitFailed` when its target can no longer succeed
(CrashLoopBackOff, a failed Job), so the wait stops at once instead of running out its budget.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Protocol

from kubernetes import watch
from kubernetes.client.exceptions import ApiException

from harness.core import progress
from harness.core.errors import WaitFailed, WaitTimeout
from harness.k8s.client import REQUEST_TIMEOUT, is_transient


class Condition(Protocol):
    """``() -> (done, state)``; may carry a ``what`` attribute describing the target."""

    def __call__(self) -> tuple[bool, str]: ...


class Named:
    """A condition with a description: ``Named(fn, "deployment ns/web rolled out")``."""

    def __init__(self, fn: Callable[[], tuple[bool, str]], what: str):
        self.fn = fn
        self.what = what

    def __call__(self) -> tuple[bool, str]:
        return self.fn()

    def __repr__(self) -> str:
        return f"<condition {self.what}>"


def all_of(*conditions: Condition, what: str | None = None) -> Named:
    """A condition that is done when every one of ``conditions`` is; state lists those not done."""

    def check() -> tuple[bool, str]:
        pending = []
        for c in conditions:
            done, state = c()
            if not done:
                pending.append(f"{getattr(c, 'what', c)}: {state}")
        return (not pending, "; ".join(pending) or "all done")

    return Named(check, what or " and ".join(str(getattr(c, "what", c)) for c in conditions))


def wait_for(
    condition: Condition,
    *,
    timeout: float,
    interval: float = 2.0,
    what: str | None = None,
    hint: str = "",
    immediate: bool = True,
    transient: Callable[[BaseException], bool] = is_transient,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> str:
    """Poll ``condition`` until it is done.

    Args:
        condition: ``() -> (done, state)``; see the module docstring.
        timeout: budget in seconds.
        interval: seconds between checks.
        what: what is awaited, for messages (default: ``condition.what``).
        hint: appended to the timeout message (what the user can check).
        immediate: check once before the first sleep (e2e-framework's ``WithImmediate``).
        transient: errors for which the check counts as "not done yet" instead of failing the
            wait (default: API server 429/5xx and connection errors).
        clock, sleep: injectable for tests.

    Returns:
        the final state string.

    Raises:
        WaitTimeout: the budget ran out; says what, the budget in seconds and the last state seen.
        WaitFailed: the condition gave up (prefixed with what was awaited).
    """
    what = what or getattr(condition, "what", None) or repr(condition)
    deadline = clock() + timeout
    last = "nothing observed yet"
    with progress.tracking(what, announce=False):
        if not immediate:
            sleep(min(interval, max(0.0, deadline - clock())))
        while True:
            try:
                done, state = condition()
            except WaitFailed as exc:
                raise WaitFailed(f"gave up waiting for {what}: {exc}") from exc
            except Exception as exc:  # noqa: BLE001 - classified just below
                if not transient(exc):
                    raise
                done, state = False, f"transient error: {_short(exc)}"
            last = state or last
            if done:
                return state
            remaining = deadline - clock()
            if remaining <= 0:
                raise WaitTimeout(what, timeout, last, hint)
            sleep(min(interval, remaining))


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"[:200]


# --------------------------------------------------------------------------- watches


def watch_until(
    list_fn: Callable[..., Any],
    predicate: Callable[[Mapping[str, Any]], tuple[bool, str]],
    *,
    timeout: float,
    what: str,
    hint: str = "",
    watch_factory: Callable[[], Any] | None = None,
    clock: Callable[[], float] = time.monotonic,
    **list_kwargs: Any,
) -> str:
    """Wait for a state of a set of objects by watching instead of polling.

    Lists the objects (``list_fn(**list_kwargs)``), checks ``predicate`` on ``{name: object}``,
    then follows a watch from the list's resourceVersion, re-checking after every event; a watch
    that expires or answers 410 Gone is re-listed
    (https://kubernetes.io/docs/reference/using-api/api-concepts/#efficient-detection-of-changes).

    Args:
        list_fn: a client list method, e.g. ``CoreV1Api(api).list_namespace``.
        predicate: ``{name: object} -> (done, state)``; may raise WaitFailed.
        timeout: budget in seconds.
        what, hint: for messages, as in :func:`wait_for`.
        watch_factory: returns a ``kubernetes.watch.Watch``-like object (tests pass a fake).
        list_kwargs: e.g. ``label_selector=...``, ``field_selector=...``.

    Returns:
        the final state string.

    Raises:
        WaitTimeout, WaitFailed.
    """

    if watch_factory is None:

        watch_factory = watch.Watch
    deadline = clock() + timeout
    last = "nothing observed yet"
    with progress.tracking(what, announce=False):
        while True:
            try:
                listed = list_fn(**list_kwargs, _request_timeout=REQUEST_TIMEOUT)
            except Exception as exc:  # noqa: BLE001
                if not is_transient(exc):
                    raise
                listed, last = None, f"transient error: {_short(exc)}"
            if listed is not None:
                objects = {o.metadata.name: o for o in (listed.items or [])}
                done, last = _check(predicate, objects, what)
                if done:
                    return last
                rv = listed.metadata.resource_version
            remaining = deadline - clock()
            if remaining <= 0:
                raise WaitTimeout(what, timeout, last, hint)
            if listed is None:
                time.sleep(min(2.0, remaining))
                continue
            w = watch_factory()
            try:
                for event in w.stream(list_fn, **list_kwargs, resource_version=rv,
                                      timeout_seconds=max(1, int(min(remaining, 60)))):
                    obj = event["object"]
                    if event["type"] == "ERROR":
                        break
                    name = obj.metadata.name
                    if event["type"] == "DELETED":
                        objects.pop(name, None)
                    else:
                        objects[name] = obj
                    done, last = _check(predicate, objects, what)
                    if done:
                        return last
                    if clock() >= deadline:
                        break
            except ApiException as exc:
                if exc.status != 410 and not is_transient(exc):
                    raise
            finally:
                w.stop()
            if clock() >= deadline:
                raise WaitTimeout(what, timeout, last, hint)


def _check(predicate: Callable[[Mapping[str, Any]], tuple[bool, str]], objects: Mapping[str, Any],
           what: str) -> tuple[bool, str]:
    try:
        return predicate(objects)
    except WaitFailed as exc:
        raise WaitFailed(f"gave up waiting for {what}: {exc}") from exc


def gone(names: Iterable[str]) -> Callable[[Mapping[str, Any]], tuple[bool, str]]:
    """A :func:`watch_until` predicate: done when none of ``names`` is present any more."""
    wanted = set(names)

    def check(objects: Mapping[str, Any]) -> tuple[bool, str]:
        left = sorted(wanted & set(objects))
        if not left:
            return True, "all deleted"
        phases = [f"{n} ({getattr(getattr(objects[n], 'status', None), 'phase', None) or 'present'})" for n in left]
        return False, "still present: " + ", ".join(phases)

    return check
