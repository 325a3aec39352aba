"""install_addons runs independent add-ons concurrently (bounded), in dependency order, with a
timing phase and whole progress lines each, the first requested failure raised once the others
ended, and Ctrl-C reaching the main thread at once. Fake add-ons; overlap is proven with
barriers and events (a sequential install would break the barrier), never with sleeps."""
from __future__ import annotations

import itertools
import signal
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import pytest

from harness.core import progress, timings
from harness.core.errors import EnvironmentNotReady, UsageError, WaitTimeout
from harness.env.addons import catalog
from harness.env.addons.catalog import install_addons
from harness.env.addons.engine import Addon, AddonContext

TIMEOUT = 5.0  # every wait on another thread is bounded; a broken schedule fails, never hangs


@dataclass(frozen=True)
class FakeCluster:
    name: str = "harness"
    kubeconfig: Path = Path("/nonexistent/kubeconfig")
    context: str = "kind-harness"
    created: bool = True
    node_image: str = "harness/kind-node:v1.33.1-abc"


class Hooks:
    """What the fakes do and record; reset per test."""

    def __init__(self):
        self.lock = threading.Lock()
        self.events: list[str] = []
        self.install: dict[str, object] = {}  # name -> callable(addon) run inside install()

    def log(self, what: str) -> None:
        with self.lock:
            self.events.append(what)


H = Hooks()


class Fake(Addon):
    images_: ClassVar[list[str]] = []

    def images(self, ctx):
        return list(self.images_)

    def preflight(self, ctx):
        H.log(f"preflight {self.name}")

    def decide(self, ctx):
        return "install"

    def install(self, ctx):
        H.log(f"install {self.name}")
        hook = H.install.get(self.name)
        if hook is not None:
            hook(self)
        H.log(f"installed {self.name}")

    def ready(self, ctx):
        H.log(f"ready {self.name}")

    def smoke(self, ctx):
        H.log(f"smoke {self.name}")


def fake(name: str, *, after: tuple[str, ...] = (), images: tuple[str, ...] = ()) -> type[Addon]:
    return type(f"Fake_{name}", (Fake,), {"name": name, "after": after, "images_": list(images)})


@pytest.fixture
def env(monkeypatch):
    """Registers fakes on demand; a fresh timings recorder; progress lines collected."""
    global H
    H = Hooks()
    lines: list[str] = []
    monkeypatch.setattr(timings, "RECORDER", timings.Timings())
    monkeypatch.setattr(progress, "_sink", lines.append)
    monkeypatch.setattr("harness.tools.docker.image_exists", lambda ref: True)
    monkeypatch.setattr("harness.env.cluster.load_images", lambda cluster, images: [])

    def register(*classes):
        for cls in classes:
            monkeypatch.setitem(catalog._REGISTRY, cls.name, cls)

    return register, lines


def ctx(**kw) -> AddonContext:
    return AddonContext(cluster=FakeCluster(), run_id="r1", image_source="local", **kw)


def addon_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("add-on ")]


def test_independent_addons_overlap_each_in_its_own_phase_nested_under_the_callers(env):
    register, lines = env
    register(fake("a"), fake("b"))
    ticks = itertools.count()  # a clock that tells the order of events, not their (rounded) time
    timings.RECORDER = timings.Timings(clock=lambda: float(next(ticks)))  # the fixture restores it
    both_in = threading.Barrier(2, timeout=TIMEOUT)  # broken (test fails) unless a and b run at once
    seen: dict[str, tuple[str, str, int]] = {}

    def meet(addon):
        both_in.wait()
        tracker = progress._current.get()
        seen[addon.name] = (tracker.what, tracker.parent.what, tracker.parent.children)
        both_in.wait()  # neither phase has ended while the other read its tracker

    H.install = {"a": meet, "b": meet}
    c = ctx()
    with timings.phase("add-ons"):
        seconds = install_addons(["b", "a"], c)
    assert list(seconds) == ["b", "a"], "the requested order, whatever finished first"
    assert [r.name for r in c.results] == ["b", "a"]
    assert seen == {"a": ("add-on a", "add-ons", 2), "b": ("add-on b", "add-ons", 2)}
    phases = {p.name: p for p in timings.RECORDER.phases}
    assert {n: (p.depth, p.outcome) for n, p in phases.items()} == {
        "add-ons preflight": (1, "ok"), "add-on a": (1, "ok"), "add-on b": (1, "ok"), "add-ons": (0, "ok")}
    a, b = phases["add-on a"], phases["add-on b"]
    assert a.start < b.start + b.duration and b.start < a.start + a.duration, "the two phases overlap"
    for name in ("a", "b"):
        mine = [ln for ln in lines if ln.startswith(f"[harness] add-on {name}:")]
        assert mine[0] == f"[harness] add-on {name}: started"
        assert mine[1].startswith(f"[harness] add-on {name}: done in ")
        assert mine[2].startswith(f"[harness] add-on {name}: install in ")
        assert len(mine) == 3
    assert H.events[:2] == ["preflight b", "preflight a"], "every check before any install"
    assert addon_threads() == []


def test_at_most_max_parallel_run_at_once(env, monkeypatch):
    names = [f"n{i}" for i in range(5)]
    env[0](*(fake(n) for n in names))
    state = {"active": 0, "peak": 0}
    full = threading.Event()  # set by the third to enter: the first three are all in at that moment
    lock = threading.Lock()

    def count(addon):
        with lock:
            state["active"] += 1
            state["peak"] = max(state["peak"], state["active"])
            if state["active"] == catalog.MAX_PARALLEL:
                full.set()
        assert full.wait(TIMEOUT), f"{addon.name}: fewer than {catalog.MAX_PARALLEL} ever ran at once"
        with lock:
            state["active"] -= 1

    waited_on: list[int] = []
    real_wait = catalog.wait

    def spy(fs, **kw):
        waited_on.append(len(fs))  # the scheduler's running set each time it waits
        return real_wait(fs, **kw)

    monkeypatch.setattr(catalog, "wait", spy)
    H.install = {n: count for n in names}
    c = ctx()
    install_addons(names, c)
    assert catalog.MAX_PARALLEL == 3
    assert state["peak"] == 3
    assert waited_on[0] == 3 and max(waited_on) == 3
    assert [r.name for r in c.results] == names


def test_an_addon_starts_after_the_ones_it_names_and_only_those(env):
    env[0](fake("a"), fake("c"), fake("late", after=("a", "absent")))
    a_and_c = threading.Barrier(2, timeout=TIMEOUT)
    H.install = {"a": lambda _: a_and_c.wait(), "c": lambda _: a_and_c.wait()}
    c = ctx()
    install_addons(["late", "a", "c"], c)
    ev = H.events
    assert ev.index("smoke a") < ev.index("install late"), "late waits until a is installed, ready, smoke-checked"
    assert [r.name for r in c.results] == ["late", "a", "c"]
    assert catalog.dependencies([catalog.get(n) for n in ("late", "a", "c")]) == {
        "late": ("a",), "a": (), "c": ()}, "a name not requested is not waited for"


def test_an_addon_alone_does_not_wait_for_what_is_not_requested(env):
    env[0](fake("late", after=("a",)))
    c = ctx()
    install_addons(["late"], c)
    assert [r.name for r in c.results] == ["late"]


def test_a_cycle_is_one_line_before_anything_is_checked(env):
    env[0](fake("x", after=("y",)), fake("y", after=("x",)))
    with pytest.raises(UsageError, match=r"^addons: x, y wait for each other"):
        install_addons(["x", "y"], ctx())
    assert H.events == []


def test_builtin_addons_are_independent():
    """traefik, ingress-nginx, cert-manager and postgres name no other add-on (docs/addons.md)."""
    assert {n: catalog.get(n).after for n in catalog.names()} == {n: () for n in catalog.names()}
    assert catalog.dependencies(catalog.resolve(["traefik", "cert-manager", "postgres"])) == {
        "traefik": (), "cert-manager": (), "postgres": ()}


def test_a_failure_lets_the_running_ones_finish_starts_nothing_more_and_is_raised_unchanged(env):
    env[0](fake("a"), fake("b"), fake("after-a", after=("a",)))
    a_failing = threading.Event()
    broke = EnvironmentNotReady("a: the chart is broken")

    def fail(addon):
        a_failing.set()
        raise broke

    def finish_after_a(addon):
        assert a_failing.wait(TIMEOUT)  # still running when a fails: must be awaited, not orphaned

    H.install = {"a": fail, "b": finish_after_a}
    c = ctx()
    with pytest.raises(EnvironmentNotReady) as info:
        install_addons(["a", "b", "after-a"], c)
    assert info.value is broke and str(info.value) == "a: the chart is broken"
    assert "smoke b" in H.events and "install after-a" not in H.events
    assert [r.name for r in c.results] == ["b"]
    assert {p.name: p.outcome for p in timings.RECORDER.phases if p.name.startswith("add-on ")} == {
        "add-on a": "failed: EnvironmentNotReady", "add-on b": "ok"}
    lines = env[1]
    assert any(ln.startswith("[harness] add-on a: failed after ") for ln in lines)
    assert addon_threads() == [], "every worker ended before the failure was raised"


def test_of_two_failures_the_earlier_requested_one_is_raised(env):
    env[0](fake("a"), fake("b"))
    b_failed = threading.Event()

    def fail_a(addon):
        assert b_failed.wait(TIMEOUT)  # a fails second in time
        raise WaitTimeout("a ready", 1.0)

    def fail_b(addon):
        b_failed.set()
        raise EnvironmentNotReady("b: broken")

    H.install = {"a": fail_a, "b": fail_b}
    with pytest.raises(WaitTimeout, match=r"a ready"):
        install_addons(["a", "b"], ctx())


class NotifyingResults(list):
    """ctx.results that says when an add-on's result arrived (ensure_addon appends it last)."""

    def __init__(self):
        super().__init__()
        self.arrived: dict[str, threading.Event] = {}

    def event(self, name: str) -> threading.Event:
        return self.arrived.setdefault(name, threading.Event())

    def append(self, result):
        super().append(result)
        self.event(result.name).set()


def test_results_come_in_the_requested_order_whatever_finished_first(env):
    env[0](fake("a"), fake("b"))
    results = NotifyingResults()
    H.install = {"b": lambda _: results.event("a").wait(TIMEOUT) or pytest.fail("a never finished")}
    c = ctx(results=results)
    assert list(install_addons(["b", "a"], c)) == ["b", "a"]
    assert [r.name for r in c.results] == ["b", "a"]


def test_after_a_failure_the_results_are_in_the_requested_order_too(env):
    env[0](fake("a"), fake("b"), fake("x"))
    results = NotifyingResults()

    def x_fails_after_a(_):
        assert results.event("a").wait(TIMEOUT)
        raise EnvironmentNotReady("x: broken")

    H.install = {"b": lambda _: results.event("a").wait(TIMEOUT) or pytest.fail("a never finished"),
                 "x": x_fails_after_a}
    c = ctx(results=results)
    with pytest.raises(EnvironmentNotReady, match="^x: broken$"):
        install_addons(["b", "x", "a"], c)
    assert [r.name for r in c.results] == ["b", "a"], "teardown_addons reads them in reverse"


def test_images_load_into_the_nodes_one_addon_at_a_time(env, monkeypatch):
    env[0](fake("a", images=("harness/a:1",)), fake("b", images=("harness/b:1",)))
    c = ctx()
    held: list[tuple[list[str], bool]] = []

    def load(cluster, images):
        held.append((list(images), c.load_lock.locked()))
        return []

    monkeypatch.setattr("harness.env.cluster.load_images", load)
    install_addons(["a", "b"], c)
    assert sorted(held) == [(["harness/a:1"], True), (["harness/b:1"], True)]


@pytest.fixture
def default_sigint():
    """Python's own SIGINT handler for the test: a process started in the background by a
    non-interactive shell (``cmd &``) inherits SIGINT ignored, and Python then installs none."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


def test_ctrl_c_reaches_the_main_thread_which_stops_waiting_at_once(env, default_sigint):
    if threading.current_thread() is not threading.main_thread():
        pytest.skip("SIGINT is delivered to the main thread")
    env[0](fake("slow"))
    started, release = threading.Event(), threading.Event()

    def block(addon):
        started.set()
        release.wait(30)  # a helm --wait that outlives the interrupt (bounded for the test)

    H.install = {"slow": block}
    main = threading.main_thread().ident

    def interrupt():
        if started.wait(TIMEOUT):
            signal.pthread_kill(main, signal.SIGINT)

    sender = threading.Thread(target=interrupt, daemon=True)
    sender.start()
    t0 = time.monotonic()
    try:
        with pytest.raises(KeyboardInterrupt):
            install_addons(["slow"], ctx())
        assert time.monotonic() - t0 < TIMEOUT
        workers = addon_threads()
        assert [t.name for t in workers] == ["add-on slow"] and workers[0].daemon, \
            "the main thread did not wait for the worker, which cannot hold the process open"
        assert not release.is_set()
    finally:
        release.set()
        sender.join(TIMEOUT)
        for t in addon_threads():
            t.join(TIMEOUT)
    assert addon_threads() == []
