"""Scenarios in parallel on one cluster, the pure parts: the ``workers`` setting, declarations and
the lock plan (harness/core/parallel.py), the locks themselves between threads of this process
(harness/core/locks.py: flock excludes two open files of one process as it does two processes), a
worker's place in the run (harness/plugin/workers.py) and what the controller makes of the
workers' reports (harness/plugin/parallel.py)."""
from __future__ import annotations

import ast
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from harness.core import locks, runs
from harness.core import parallel as plan
from harness.core.config import load_config
from harness.core.errors import UsageError
from harness.plugin import parallel as plugin_parallel
from harness.plugin import workers
from harness.plugin.session import RunState

ROOT = Path(__file__).resolve().parents[2]


# --------------------------------------------------------------------------- workers setting


@pytest.mark.parametrize(("value", "cpus", "want"), [
    ("auto", 1, 2), ("auto", 2, 3), ("auto", 3, 4), ("auto", 64, 4), (None, 8, 4),
    ("1", 64, 1), (" 6 ", 2, 6), (3, 2, 3),
])
def test_workers_resolve(value, cpus, want):
    assert plan.resolve_workers(value, cpus=cpus) == want


@pytest.mark.parametrize(("value", "msg"), [
    ("0", "workers: '0' must be at least 1 (1 runs the tests one after another)"),
    ("-2", "workers: '-2' must be at least 1 (1 runs the tests one after another)"),
    ("many", "workers: 'many' is not 'auto' or a positive number"),
])
def test_workers_refused(value, msg):
    with pytest.raises(UsageError) as err:
        plan.resolve_workers(value, cpus=2)
    assert str(err.value) == msg


def test_workers_is_a_configuration_key_checked_at_load(tmp_path):
    assert load_config(rootdir=tmp_path, env={}).parallel_workers == "auto"
    assert load_config({"workers": "3"}, rootdir=tmp_path, env={}).parallel_workers == "3"
    with pytest.raises(UsageError) as err:
        load_config(rootdir=tmp_path, env={"HARNESS_WORKERS": "two"})
    assert str(err.value) == "workers (env HARNESS_WORKERS): 'two' is not 'auto' or a positive number"


def test_the_workers_setting_is_not_the_clusters_worker_nodes(tmp_path):
    """``spec_from_config`` copies every HarnessConfig field named like a ClusterSpec field: the
    setting's field must not be ``workers`` (kind's worker-node count)."""
    from harness.env.cluster import ClusterSpec, spec_from_config

    spec = spec_from_config(load_config({"workers": "3"}, rootdir=tmp_path, env={}))
    assert spec.workers == ClusterSpec().workers


def test_minus_n_auto_takes_the_workers_setting_only_when_one_is_given(tmp_path, monkeypatch):
    def config(option=None):
        return SimpleNamespace(option=SimpleNamespace(harness_workers=option, rootdir=str(tmp_path)),
                               inipath=None, rootpath=tmp_path, invocation_params=SimpleNamespace(dir=tmp_path))

    monkeypatch.delenv("HARNESS_WORKERS", raising=False)
    monkeypatch.delenv("HARNESS_CONFIG", raising=False)
    assert plugin_parallel.workers_setting(config(), env={}) is None  # xdist counts the cores itself
    assert plugin_parallel.workers_setting(config("3"), env={"HARNESS_WORKERS": "2"}) == ("3", "option")
    assert plugin_parallel.workers_setting(config(), env={"HARNESS_WORKERS": "2"}) == ("2", "env HARNESS_WORKERS")
    (tmp_path / "harness.yaml").write_text("workers: 5\n")
    assert plugin_parallel.workers_setting(config(), env={}) == ("5", f"file {tmp_path / 'harness.yaml'}")
    assert plugin_parallel.pytest_xdist_auto_num_workers(config()) == 5
    assert plugin_parallel.pytest_xdist_auto_num_workers(config("auto")) in (2, 3, 4)
    monkeypatch.setenv("HARNESS_WORKERS", "0")
    with pytest.raises(pytest.UsageError) as err:
        plugin_parallel.pytest_xdist_auto_num_workers(config())
    assert str(err.value) == ("harness: workers (env HARNESS_WORKERS): '0' must be at least 1 "
                              "(1 runs the tests one after another)")


# --------------------------------------------------------------------------- declarations and plan


def test_a_declaration_names_known_resources():
    assert plan.parse_declaration(("node", "postgres"), "here") == {"node", "postgres"}
    assert plan.parse_declaration("node", "here") == {"node"}  # EXCLUSIVE = "node" (a string, not a tuple)


@pytest.mark.parametrize(("names", "msg"), [
    (("nodes",), "m: unknown shared resource 'nodes'; known: node, postgres, edge"),
    ((3,), "m: unknown shared resource 3; known: node, postgres, edge"),
    ((), "m: harness_exclusive names no resource; known: node, postgres, edge"),
])
def test_a_bad_declaration_is_one_line(names, msg):
    with pytest.raises(UsageError) as err:
        plan.parse_declaration(names, "m")
    assert str(err.value) == msg


def test_every_test_holds_the_edge_shared_and_its_declared_resources_in_one_order():
    E = plan.EDGE
    assert plan.lock_plan([]) == [plan.Lock(E, exclusive=False)]
    assert plan.lock_plan(["postgres", "node"]) == [plan.Lock(E, exclusive=False), plan.Lock("node"),
                                                    plan.Lock("postgres")]
    assert plan.lock_plan([E, "node"]) == [plan.Lock(E, exclusive=True), plan.Lock("node")]
    assert plan.describe([]) == "nothing" and plan.describe(["postgres", "node"]) == "node, postgres"


def _module_declarations() -> dict[str, tuple[str, ...]]:
    """scenario -> its module's EXCLUSIVE, read from the source (no import of the scenario modules)."""
    out = {}
    for path in sorted((ROOT / "harness" / "scenarios").glob("*/test_*.py")):
        value: tuple[str, ...] = ()
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == plan.MODULE_ATTRIBUTE for t in node.targets):
                value = tuple(ast.literal_eval(node.value))
        out[path.parent.name] = value
    return out


def test_the_scenarios_declare_what_their_disruption_takes():
    declared = _module_declarations()
    assert declared == {"db_outage": ("postgres",), "drain": ("node",), "rollback": (), "sse": (), "upgrade": ()}
    for scenario, names in declared.items():
        if names:
            plan.parse_declaration(names, scenario)
    doc = (ROOT / "docs" / "parallel.md").read_text()
    for scenario, names in declared.items():  # docs/parallel.md's table says the same
        assert f"| {scenario} | {plan.describe(names)} |" in doc, scenario


def test_shared_run_modules_are_sent_to_one_worker_whole():
    shared = {p.parent.name for p in (ROOT / "harness" / "scenarios").glob("*/test_*.py") if "SharedRun(" in p.read_text()}
    assert shared == set(plan.TOGETHER)
    for prefix in ("scenarios", "harness/scenarios", "site-packages/harness/scenarios"):
        assert plan.schedule_scope(f"{prefix}/sse/test_sse.py::test_sse[a-b]") == f"{prefix}/sse/test_sse.py"
        assert plan.schedule_scope(f"{prefix}/db_outage/test_db_outage.py::test_db_outage_catches_broken[x-stop]") \
            == f"{prefix}/db_outage/test_db_outage.py"
        one = f"{prefix}/upgrade/test_upgrade.py::test_upgrade[web-default-same-helm]"
        assert plan.schedule_scope(one) == one
    assert plan.schedule_scope("tests/test_not_sse.py::test_x") == "tests/test_not_sse.py::test_x"


# --------------------------------------------------------------------------- locks


def test_an_exclusive_lock_records_its_holder_while_held(tmp_path):
    d = locks.lock_dir("c1", tmp_path)
    with locks.exclusive(d / "node", locks.Holder("t::a", "gw0"), timeout=1) as held:
        assert locks.read_holder(d / "node") == held and held.pid > 0 and held.since > 0
    assert locks.read_holder(d / "node") is None and not locks.holder_path(d / "node").exists()


def test_a_dead_holders_record_names_no_one(tmp_path):
    d = locks.lock_dir("c1", tmp_path)
    locks.holder_path(d / "node").write_text('{"who": "t::killed", "worker": "gw0", "pid": 999999999, "since": 1}')
    assert locks.read_holder(d / "node") is None
    with locks.exclusive(d / "node", locks.Holder("t::next", "gw1"), timeout=1) as held:  # the kernel let it go
        assert locks.read_holder(d / "node") == held


def test_a_held_lock_runs_out_naming_its_holder(tmp_path):
    d = locks.lock_dir("c1", tmp_path)
    told = []
    with locks.exclusive(d / "node", locks.Holder("scenarios/drain/test_drain.py::test_drain[w]", "gw0"), timeout=1):
        t0 = time.monotonic()
        with pytest.raises(locks.LockTimeout) as err:
            with locks.exclusive(d / "node", locks.Holder("t::b", "gw1"), timeout=0.3, on_wait=told.append):
                pass
        assert time.monotonic() - t0 >= 0.3
    msg = str(err.value)
    assert msg.startswith("lock node not free after 0 s: held by gw0 (pid ")
    assert "scenarios/drain/test_drain.py::test_drain[w], for 0 s" in msg
    assert [h.who for h in told] == ["scenarios/drain/test_drain.py::test_drain[w]"]


def test_the_second_taker_gets_the_lock_once_the_first_lets_go(tmp_path):
    d = locks.lock_dir("c1", tmp_path)
    events: list[tuple[str, float]] = []
    waiting = threading.Event()
    release = threading.Event()

    def second():
        with locks.exclusive(d / "node", locks.Holder("b", "gw1"), timeout=10, on_wait=lambda h: waiting.set()):
            events.append(("b in", time.time()))

    with locks.exclusive(d / "node", locks.Holder("a", "gw0"), timeout=1):
        t = threading.Thread(target=second)
        t.start()
        assert waiting.wait(10)  # it is waiting for us, not holding
        assert events == []
        events.append(("a out", time.time()))
        release.set()
    t.join(10)
    assert [e for e, _ in events] == ["a out", "b in"] and events[1][1] >= events[0][1]


def test_shared_holders_coexist_and_an_exclusive_one_waits_for_them(tmp_path):
    d = locks.lock_dir("c1", tmp_path)
    with locks.shared_or_exclusive(d / "edge", locks.Holder("a", "gw0"), exclusive_mode=False, timeout=1):
        with locks.shared_or_exclusive(d / "edge", locks.Holder("b", "gw1"), exclusive_mode=False, timeout=1):
            with pytest.raises(locks.LockTimeout) as err:
                with locks.shared_or_exclusive(d / "edge", locks.Holder("x", "gw2"), exclusive_mode=True,
                                               timeout=0.3):
                    pass
    assert str(err.value).startswith("exclusive lock edge not free after 0 s: held shared by the tests running now")
    with locks.shared_or_exclusive(d / "edge", locks.Holder("x", "gw2"), exclusive_mode=True, timeout=1) as held:
        assert locks.read_holder(d / "edge") == held  # an exclusive holder is on record
        with pytest.raises(locks.LockTimeout):
            with locks.shared_or_exclusive(d / "edge", locks.Holder("a", "gw0"), exclusive_mode=False, timeout=0.3):
                pass
    assert locks.read_holder(d / "edge") is None


def test_shared_holders_arriving_after_a_waiting_exclusive_one_queue_behind_it(tmp_path):
    """The turnstile: without it a stream of overlapping shared holders could keep the edge-restarting
    test waiting until its bound ran out."""
    d = locks.lock_dir("c1", tmp_path)
    order: list[str] = []
    x_waiting, late_waiting = threading.Event(), threading.Event()

    def take(name, exclusive, told):
        with locks.shared_or_exclusive(d / "edge", locks.Holder(name), exclusive_mode=exclusive, timeout=10,
                                       on_wait=lambda h: told.set()):
            order.append(name + " in")
            order.append(name + " out")

    with locks.shared_or_exclusive(d / "edge", locks.Holder("early"), exclusive_mode=False, timeout=1):
        x = threading.Thread(target=take, args=("x", True, x_waiting))
        x.start()
        assert x_waiting.wait(10)
        late = threading.Thread(target=take, args=("late", False, late_waiting))
        late.start()
        assert late_waiting.wait(10)  # queued at the turnstile x holds
        order.append("early out")
    x.join(10)
    late.join(10)
    assert order == ["early out", "x in", "x out", "late in", "late out"]


def test_a_lock_scope_is_one_path_component(tmp_path):
    assert locks.lock_dir("harness", tmp_path) == tmp_path / "locks" / "harness"
    for bad in ("", "a/b", ".."):
        with pytest.raises(ValueError):
            locks.lock_dir(bad, tmp_path)


# --------------------------------------------------------------------------- a worker's place


def _worker(wid="gw1", **inp):
    return SimpleNamespace(workerinput={"workerid": wid, **inp}, workeroutput={}, option=SimpleNamespace())


def _controller(n=2, dist="load", tx=()):
    return SimpleNamespace(option=SimpleNamespace(numprocesses=n, dist=dist, tx=list(tx)))


def test_where_a_process_stands():
    w = _worker(harness_run_id="20261130-200000-abcd", harness_owner_pid=4242)
    assert workers.is_worker(w) and not workers.is_controller(w) and workers.parallel(w)
    assert workers.worker_id(w) == "gw1" and workers.worker_name(w) == "gw1"
    assert workers.inherited_run_id(w) == "20261130-200000-abcd" and workers.owner_pid(w) == 4242
    c = _controller()
    assert workers.is_controller(c) and not workers.is_worker(c) and workers.worker_name(c) == "main"
    assert workers.inherited_run_id(c) is None and workers.owner_pid(c) > 0
    serial = _controller(n=None)
    assert not workers.parallel(serial)


def test_a_worker_writes_its_run_files_apart(tmp_path):
    assert workers.output_path(_worker("gw3"), tmp_path, "scenarios.json") == tmp_path / "workers/gw3/scenarios.json"
    assert workers.output_path(_controller(), tmp_path, "timings.json") == tmp_path / "timings.json"


@pytest.mark.parametrize(("dist", "tx", "refused"), [
    ("load", (), ""), ("loadscope", (), ""), ("loadfile", (), ""), ("worksteal", ("popen", "popen//python=python3"), ""),
    ("each", (), "--dist each runs every test on every worker"),
    ("load", ("ssh=ci-box//python=python3",), "--tx ssh=ci-box//python=python3 starts a worker on another host"),
])
def test_which_xdist_runs_can_share_a_cluster(dist, tx, refused):
    reason = workers.unsupported_reason(dist, tx)
    assert reason.startswith(refused) if refused else reason == ""
    assert workers.unsupported(_controller(dist=dist, tx=tx)) == reason
    # a worker takes the controller's verdict as it was handed down
    assert workers.unsupported(_worker(harness_unsupported=reason)) == reason


def test_a_serial_run_takes_no_shared_lock_and_a_worker_does(tmp_path, monkeypatch):
    monkeypatch.setenv("HARNESS_CACHE", str(tmp_path))
    cfg = SimpleNamespace(external_cluster=False, cluster_name="c9")
    with workers.shared_lock(_controller(n=None), cfg, "cluster", "cluster create"):
        assert not (tmp_path / "locks").exists()
    with workers.shared_lock(_worker("gw0"), cfg, "cluster", "cluster create"):
        held = locks.read_holder(tmp_path / "locks" / "c9" / "cluster")
        assert held is not None and (held.who, held.worker) == ("cluster create", "gw0")
    assert workers.lock_scope(SimpleNamespace(external_cluster=True, cluster_name="x")) == "external"


def test_a_worker_reports_plain_data_to_the_controller():
    w = _worker()
    workers.report(w, "kept", ["a"])
    workers.report(w, "cluster", workers.cluster_facts(SimpleNamespace(name="c", kubeconfig=Path("/k"), context="kind-c",
                                                                       created=True)))
    assert w.workeroutput == {"harness": {"kept": ["a"], "cluster": {
        "name": "c", "kubeconfig": "/k", "context": "kind-c", "created": True, "node_image": "",
        "kubernetes_version": ""}}}
    workers.report(_controller(), "kept", ["ignored"])  # no workeroutput: nothing, no error


# --------------------------------------------------------------------------- the controller


def test_the_controller_folds_the_workers_reports_into_its_run_state():
    state = RunState(run_id="r1")
    plugin_parallel.merge_reports(state, [
        {"kept": ["namespace a (t::a)"], "notes": ["n1"], "artifacts": [["t::a", "/art/a"]], "kept_on_purpose": True,
         "secrets": [b"s3cret"]},
        {"kept": [], "notes": ["n2"], "artifacts": [], "kept_on_purpose": False, "secrets": ["other"]},
    ])
    assert state.kept == ["namespace a (t::a)"] and state.notes == ["n1", "n2"]
    assert state.artifacts == [("t::a", Path("/art/a"))] and state.kept_on_purpose
    assert state.redactor.secrets == {b"s3cret", b"other"}


def test_the_controller_finishes_the_cluster_the_creating_worker_made():
    reused = {"name": "h", "kubeconfig": "/k", "context": "kind-h", "created": False}
    made = dict(reused, created=True, kubernetes_version="v1.37.2")
    c = plugin_parallel.controller_cluster([{"cluster": reused}, {"notes": []}, {"cluster": made}])
    assert (c.name, str(c.kubeconfig), c.context, c.created, c.kubernetes_version) == \
        ("h", "/k", "kind-h", True, "v1.37.2")
    assert plugin_parallel.controller_cluster([{"cluster": reused}]).created is False
    assert plugin_parallel.controller_cluster([{"notes": []}]) is None


def test_clean_leaves_a_parallel_runs_cluster_while_its_controller_lives():
    """Every worker records the controller's pid as the owner (harness/plugin/workers.py): a worker
    that is done (its pid gone) does not make the run's cluster look abandoned."""
    controller = runs.Owner(run_id="r1", pid=100, host=runs.this_host())
    decision = runs.decide([runs.Resource("cluster", "harness", controller)], live_pids=[100, 200],
                           host=runs.this_host())[0]
    assert not decision.remove and "still running" in decision.why


def test_the_controller_merges_the_timings_the_workers_handed_over():
    rec = {"origin_epoch": 10.0, "phases": [{"name": "upgrade a: x", "start": 1.0, "duration": 2.0}]}
    merged = plugin_parallel.merged_timings(
        [{"timings": {"worker": "gw0", "record": rec}}, {"notes": []},
         {"timings": {"worker": "gw1", "record": {"origin_epoch": 11.0, "phases": []}}}],
        {"origin_epoch": 9.0, "phases": [{"name": "cluster harness delete", "start": 30.0, "duration": 1.0}]})
    assert merged["processes"] == {"controller": 0.0, "gw0": 1.0}  # gw1 recorded nothing
    assert [p["name"] for p in merged["phases"]] == ["upgrade a: x", "harness controller: cluster harness delete"]
    assert plugin_parallel.merged_timings([{"notes": []}], {"phases": []}) is None


def test_a_wait_for_a_declared_lock_is_a_phase_of_the_run_and_a_free_lock_is_none(tmp_path, monkeypatch):
    """The Gantt chart shows what a test waited for instead of a gap (harness/plugin/parallel.py _take)."""
    from contextlib import ExitStack

    from harness.core import timings

    recorder = timings.Timings()
    monkeypatch.setattr(timings, "RECORDER", recorder)
    waiting = threading.Event()
    monkeypatch.setattr(plugin_parallel.progress, "say", lambda line: waiting.set())  # "waiting for node"
    d = locks.lock_dir("c1", tmp_path)
    item = SimpleNamespace(name="test_drain[x]", nodeid="scenarios/drain/test_drain.py::test_drain[x]")
    got = threading.Event()

    def second():
        with ExitStack() as stack:
            plugin_parallel._take(stack, item, plan.Lock("node"), d / "node", locks.Holder("b", "gw1"))
            got.set()

    with locks.exclusive(d / "node", locks.Holder("a", "gw0"), timeout=1):
        t = threading.Thread(target=second)
        t.start()
        assert waiting.wait(10)
        time.sleep(0.3)  # the wait to measure: the lock stays held this long while the other thread waits
        assert not got.is_set()
    t.join(10)
    assert got.is_set()
    [wait] = recorder.ordered()
    assert wait.name == "test_drain[x] waited for lock node" and wait.duration >= 0.3 and wait.outcome == "ok"

    with ExitStack() as stack:  # free at once: no phase
        plugin_parallel._take(stack, item, plan.Lock("node"), d / "node", locks.Holder("c", "gw2"))
    assert len(recorder.ordered()) == 1


def test_a_workers_reported_stop_is_read_by_one_function_for_the_plugin_and_the_gate():
    config = SimpleNamespace(workeroutput={})
    assert workers.reported_exit(config) is None and plan.worker_exit(None) is None
    workers.report_exit(config, "harness: cluster: Docker is not answering", 3)
    workers.report_exit(config, "a later stop", 1)  # the first one stands
    assert workers.reported_exit(config) == plan.worker_exit(config.workeroutput) == (
        "harness: cluster: Docker is not answering", 3)
