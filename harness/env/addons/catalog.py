"""The known add-ons by name, resolving a requested list of names (duplicates, conflicts), and
installing them: independent ones concurrently (:func:`install_addons`)."""
from __future__ import annotations

import contextvars
import difflib
import logging
import threading
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import FIRST_COMPLETED, Executor, Future, wait
from typing import Any

from harness.core import progress, timings
from harness.core.errors import UsageError
from harness.core.fmt import duration
from harness.env.addons.certmanager import CertManager
from harness.env.addons.engine import (
    Addon,
    AddonContext,
    AddonResult,
    check_images,
    ensure_addon,
)
from harness.env.addons.ingress_nginx import IngressNginx
from harness.env.addons.postgres import Postgres
from harness.env.addons.traefik import Traefik

# Every add-on the harness knows, by name. None of them names another in ``after``: each is its own
# helm release in its own namespace (traefik's Gateway API CRDs are installed by traefik itself,
# before its chart) or a Docker container (postgres), and no smoke check uses another add-on
# (docs/addons.md, "Order and concurrency").
_REGISTRY: dict[str, type[Addon]] = {cls.name: cls for cls in (Traefik, IngressNginx, CertManager, Postgres)}
log = logging.getLogger(__name__)

MAX_PARALLEL = 3
"""At most this many add-ons install at once: the default set (traefik, cert-manager, postgres) all
together. Each waits mostly on the cluster or Docker (pods starting, helm --wait), so more would
only add CPU pressure on the small machines this runs on."""
_POLL = 0.5  # seconds between checks for Ctrl-C while add-ons run (see run_concurrently)


def names() -> list[str]:
    """The known add-on names, sorted."""
    return sorted(_REGISTRY)


def get(name: str) -> Addon:
    """A fresh instance of the add-on called ``name``.

    Raises:
        UsageError: unknown name (with the closest known name, or the list of known ones).
    """
    cls = _REGISTRY.get(name)
    if cls is None:
        close = difflib.get_close_matches(name, names(), n=1)
        hint = f"did you mean {close[0]!r}?" if close else f"known add-ons: {', '.join(names())}"
        raise UsageError(f"addons: unknown add-on {name!r}; {hint}")
    return cls()


def resolve(requested: Iterable[str]) -> list[Addon]:
    """The add-ons for ``requested`` names, in order, checked for duplicates and conflicts.

    Raises:
        UsageError: unknown name, a name given twice, two add-ons that conflict (e.g. two ingress
            controllers: both want the ingress node's ports 80/443 and IngressClass ``nginx``).
    """
    wanted = [n.strip() for n in requested if n and n.strip()]
    if wanted == ["none"]:
        return []
    seen: set[str] = set()
    addons: list[Addon] = []
    for n in wanted:
        if n in seen:
            raise UsageError(f"addons: {n!r} is listed twice")
        seen.add(n)
        addons.append(get(n))
    ingress = [a.name for a in addons if a.ingress]
    if len(ingress) > 1:
        raise UsageError(f"addons: {' and '.join(ingress)} are both ingress controllers (each takes the "
                         "ingress node's ports 80/443 and IngressClass nginx); choose one")
    for a in addons:
        for other in a.conflicts:
            if other in seen:
                raise UsageError(f"addons: {a.name} cannot be installed together with {other}")
    dependencies(addons)  # a cycle is reported here, before anything is checked or installed
    return addons


def dependencies(addons: Sequence[Addon]) -> dict[str, tuple[str, ...]]:
    """What each of ``addons`` waits for: its :attr:`Addon.after` names that are among ``addons``.

    Returns:
        add-on name -> the names it must wait for, in ``addons`` order.

    Raises:
        UsageError: the ``after`` declarations form a cycle (a programming error in an add-on).
    """
    requested = [a.name for a in addons]
    deps = {a.name: tuple(n for n in requested if n in a.after and n != a.name) for a in addons}
    done: set[str] = set()
    while len(done) < len(deps):
        free = [n for n, d in deps.items() if n not in done and set(d) <= done]
        if not free:
            stuck = [n for n in requested if n not in done]
            raise UsageError(f"addons: {', '.join(stuck)} wait for each other (their 'after' declarations form "
                             "a cycle)")
        done.update(free)
    return deps


def install_addons(requested: Iterable[str], ctx: AddonContext, *, smoke: bool = True) -> dict[str, float]:
    """Install the requested add-ons, independent ones concurrently; the session's entry point.

    Every add-on is resolved and preflight-checked, and every image made available, before the first
    one is installed (one thread, in the requested order). Then each add-on is installed
    (:func:`ensure_addon`) on a worker thread of its own, at most :data:`MAX_PARALLEL` at once, as soon
    as the add-ons it names in :attr:`Addon.after` (among the requested ones) are done. Each install
    is recorded as timing phase ``add-on <name>`` (nested under the caller's open phase) with its
    ``add-on <name>: started`` / ``done in`` progress lines.

    Failure: once one add-on fails nothing new starts (add-ons waiting for it never do); the ones
    already running are awaited, then the failure of the earliest *requested* add-on that failed is
    raised unchanged (its type and one-line message), the others are logged. Ctrl-C: the
    KeyboardInterrupt reaches this (main) thread, which stops waiting and re-raises it at once; the
    workers are daemon threads, so they never hold the interrupted process open (an
    :class:`concurrent.futures.ThreadPoolExecutor` would: its workers are joined at interpreter exit).

    Args:
        requested: add-on names (configuration key ``addons``); ``["none"]`` or empty for none.
        ctx: the :class:`AddonContext`.
        smoke: run each add-on's smoke check.

    Returns:
        add-on name -> seconds its step took, in the requested order (also in ``ctx.results``, in the
        requested order, with the action taken).

    Raises:
        UsageError, EnvironmentNotReady: from the checks, before anything is installed.
        HarnessError (WaitTimeout, HelmError ...): an install, readiness or smoke check failed.
    """
    addons = resolve(requested)
    if not addons:
        return {}
    with timings.phase("add-ons preflight", announce=False):
        for a in addons:
            a.preflight(ctx)
        images = check_images(ctx, addons)

    def install(a: Addon) -> AddonResult:
        with timings.phase(f"add-on {a.name}"):
            result = ensure_addon(a, ctx, images=images[a.name], smoke=smoke)
        progress.say(f"add-on {a.name}: {result.action} in {duration(result.seconds)}")
        return result

    first = len(ctx.results)
    try:
        results = run_concurrently(addons, install, limit=MAX_PARALLEL)
    except Exception:  # every worker has ended (a KeyboardInterrupt leaves them running: not this)
        _in_requested_order(ctx, addons, first)
        raise
    _in_requested_order(ctx, addons, first)
    return {a.name: results[a.name].seconds for a in addons}


def _in_requested_order(ctx: AddonContext, addons: Sequence[Addon], first: int) -> None:
    """Put the results this call appended (``ctx.results[first:]``, in completion order) in the
    requested order: the session, its report and teardown_addons read them in that order."""
    order = {a.name: i for i, a in enumerate(addons)}
    ctx.results[first:] = sorted(ctx.results[first:], key=lambda r: order.get(r.name, len(order)))


def run_concurrently(addons: Sequence[Addon], work: Callable[[Addon], AddonResult], *,
                     limit: int = MAX_PARALLEL) -> dict[str, AddonResult]:
    """Run ``work(addon)`` for each of ``addons``, at most ``limit`` at once, each after the add-ons it
    waits for (:func:`dependencies`) are done; ready ones start in ``addons`` order.

    Each runs on a daemon thread in a copy of the caller's context (:class:`_DaemonThreads`), so
    timing phases and progress trackers opened in ``work`` nest under the caller's open ones.

    Returns:
        add-on name -> what ``work`` returned.

    Raises:
        the exception of the earliest add-on in ``addons`` whose ``work`` raised, once every started
        one has ended (nothing new starts after a failure); KeyboardInterrupt at once, without
        waiting for the running ones.
    """
    deps = dependencies(addons)
    waiting = list(addons)
    running: dict[Future[AddonResult], Addon] = {}
    done: dict[str, AddonResult] = {}
    failed: dict[str, BaseException] = {}
    pool = _DaemonThreads()
    while waiting or running:
        if not failed:
            for a in [a for a in waiting if set(deps[a.name]) <= done.keys()]:
                if len(running) >= limit:
                    break
                waiting.remove(a)
                running[pool.submit(work, a)] = a
        if not running:
            break  # after a failure: what still waits never starts
        # A KeyboardInterrupt raised here leaves the loop (and this function) at once. The timeout
        # is what makes that prompt: a SIGINT that lands just before this thread blocks on the
        # futures' lock interrupts nothing, and its handler would run only once an add-on ends.
        finished, _ = wait(list(running), timeout=_POLL, return_when=FIRST_COMPLETED)
        for fut in finished:
            a = running.pop(fut)
            exc = fut.exception()
            if exc is None:
                done[a.name] = fut.result()
            else:
                failed[a.name] = exc
    pool.shutdown(wait=True)  # every worker has set its result: this only reaps the threads
    if failed:
        failures = [a.name for a in addons if a.name in failed]
        for n in failures[1:]:
            log.warning("add-on %s failed as well: %s", n, failed[n])
        skipped = [a.name for a in waiting]
        if skipped:
            log.warning("add-ons not installed after the failure of %s: %s", failures[0], ", ".join(skipped))
        raise failed[failures[0]]
    return done


class _DaemonThreads(Executor):
    """An executor that runs each submitted call on a new daemon thread, in a copy of the submitter's
    :mod:`contextvars` context (timings depth, progress tracker), unbounded (the caller bounds it).

    Not :class:`concurrent.futures.ThreadPoolExecutor`: its workers are joined at interpreter exit
    (concurrent.futures.thread registers that with ``threading._register_atexit``), so a Ctrl-C'd
    session would wait for an in-flight ``helm upgrade --wait``; every harness thread is a daemon
    (tests/unit/test_interrupt_exit.py).
    """

    def __init__(self) -> None:
        self._threads: list[threading.Thread] = []

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        fut: Future[Any] = Future()
        context = contextvars.copy_context()

        def call() -> None:
            if not fut.set_running_or_notify_cancel():
                return
            try:
                result = context.run(fn, *args, **kwargs)
            except BaseException as exc:  # noqa: BLE001 - handed to the waiting thread, which re-raises it
                fut.set_exception(exc)
            else:
                fut.set_result(result)

        name = getattr(args[0], "name", "") if args else ""
        thread = threading.Thread(target=call, name=f"add-on {name}".strip(), daemon=True)
        self._threads.append(thread)
        thread.start()
        return fut

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        if wait:
            for thread in self._threads:
                thread.join()


def teardown_addons(ctx: AddonContext, *, keep: bool = False) -> None:
    """Release what the session's add-ons hold (e.g. remove the PostgreSQL container unless ``keep``).

    Never raises for one add-on's failure before the others are done; the first error is re-raised.
    """
    first: BaseException | None = None
    for r in reversed(ctx.results):
        try:
            get(r.name).teardown(ctx, keep=keep)
        except Exception as exc:  # noqa: BLE001 - finish the others first
            log.warning("teardown of add-on %s failed: %s", r.name, exc)
            first = first or exc
    if first is not None:
        raise first
