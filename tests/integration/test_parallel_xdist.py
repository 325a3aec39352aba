"""Harness tests under pytest-xdist (harness/plugin/parallel.py), driven through pytester in
subprocesses with ``-n 2``, and no cluster anywhere:

* the lock tests mark their tests ``harness`` and ask for no fixture, so the plugin's cluster fixture
  is never reached; only the plugin's own parts run (activation, declarations, the locks);
* the cluster test replaces ``harness.env.cluster`` with :data:`FAKE_CLUSTER_BOUNDARY`, a fake that
  models "a kind cluster exists" by a file and logs each call, to show who creates, reuses and
  deletes it.

Each test writes wall-clock timestamps to files; the assertions compare them. Two tests that
declare ``node`` run on different workers and never overlap; two tests with no declaration meet
(each waits, bounded, for the other to have started: it would time out if they were serialized).
"""
from __future__ import annotations

import json
import os
import textwrap
import threading
import time
from importlib.metadata import entry_points
from pathlib import Path

import pytest
from test_exit_codes import FAILING_KIND

from harness.core import locks
from harness.scenario.result import read_results

pytest.importorskip("xdist")

ROOT = Path(__file__).resolve().parents[2]
INSTALLED = any(ep.value == "harness.plugin" for ep in entry_points(group="pytest11"))
PLUGIN = [] if INSTALLED else ["-p", "harness.plugin"]

COMMON = textwrap.dedent("""\
    import json, os, time
    from pathlib import Path

    import pytest

    OUT = Path(os.environ["XDIST_OUT"])
    HOLD = 1.5  # seconds a `node` test keeps the resource: the window another would overlap it in without the lock

    def stamp(name, what):
        (OUT / f"{name}.{what}").write_text(json.dumps({"t": time.time(), "worker": os.environ.get("PYTEST_XDIST_WORKER", "")}))

    def seen(name, what, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:  # bounded: the other test's file, or False at the deadline
            if (OUT / f"{name}.{what}").exists():
                return True
            time.sleep(0.02)
        return False

    def hold(seconds):
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            time.sleep(0.02)
    """)

# worker 1 gets this module (--dist loadscope: one module per worker), worker 2 the next
MODULE_1 = COMMON + textwrap.dedent("""\

    @pytest.mark.harness
    @pytest.mark.harness_exclusive("node")
    def test_drain_a():
        stamp("a", "start"); hold(HOLD); stamp("a", "end")

    @pytest.mark.harness
    def test_free_c():
        stamp("c", "start"); met = seen("d", "start", 60); stamp("c", "end")
        assert met, "test_free_d never ran beside test_free_c"
    """)

MODULE_2 = COMMON + textwrap.dedent("""\

    @pytest.mark.harness
    @pytest.mark.harness_exclusive("node")
    def test_drain_b():
        stamp("b", "start"); hold(HOLD); stamp("b", "end")

    @pytest.mark.harness
    def test_free_d():
        stamp("d", "start"); met = seen("c", "start", 60); stamp("d", "end")
        assert met, "test_free_c never ran beside test_free_d"
    """)


@pytest.fixture
def xrun(pytester, monkeypatch, tmp_path):
    """Run pytest with the plugin in a subprocess in the pytester dir, a private harness cache and
    no HARNESS_* from outside; returns (result, stamps dir)."""
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    for name in list(os.environ):
        if name.startswith("HARNESS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("HARNESS_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "stamps"
    out.mkdir()
    monkeypatch.setenv("XDIST_OUT", str(out))

    def _run(*args: str):
        return pytester.runpytest_subprocess(*PLUGIN, "-p", "no:cacheprovider", "--harness-cluster-name",
                                             "xdist-lock-test", *args, timeout=240), out

    return _run


def read(out: Path, name: str) -> dict:
    return json.loads((out / name).read_text())


def test_a_declared_resource_serializes_and_undeclared_tests_overlap(pytester, xrun):
    pytester.makepyfile(test_one=MODULE_1, test_two=MODULE_2)
    result, out = xrun("-n", "2", "--dist", "loadscope", "-q")
    assert result.ret == 0, result.stdout.str() + result.stderr.str()
    result.stdout.fnmatch_lines(["*4 passed*"])
    a, b = (read(out, f"{n}.start") | {"end": read(out, f"{n}.end")["t"]} for n in "ab")
    # on two workers (else the serial order would prove nothing), and one after the other
    assert a["worker"] and b["worker"] and a["worker"] != b["worker"]
    first, second = sorted((a, b), key=lambda x: x["t"])
    assert second["t"] >= first["end"], (a, b)
    # the free tests met: each started before the other ended
    c, d = (read(out, f"{n}.start") | {"end": read(out, f"{n}.end")["t"]} for n in "cd")
    assert c["worker"] != d["worker"]
    assert c["t"] < d["end"] and d["t"] < c["end"], (c, d)
    # who held a lock is recorded only while it is held
    assert list(Path(os.environ["HARNESS_CACHE"]).rglob("node")) and not list(
        Path(os.environ["HARNESS_CACHE"]).rglob("*.holder.json"))


def test_without_the_declaration_the_same_tests_overlap(pytester, xrun):
    """The control: the same two tests without ``harness_exclusive`` run at the same time."""
    one = MODULE_1.replace('@pytest.mark.harness_exclusive("node")\n', "").replace(
        'hold(HOLD); stamp("a", "end")', 'met = seen("b", "start", 60); stamp("a", "end"); assert met')
    two = MODULE_2.replace('@pytest.mark.harness_exclusive("node")\n', "").replace(
        'hold(HOLD); stamp("b", "end")', 'met = seen("a", "start", 60); stamp("b", "end"); assert met')
    pytester.makepyfile(test_one=one, test_two=two)
    result, out = xrun("-n", "2", "--dist", "loadscope", "-q")
    assert result.ret == 0, result.stdout.str() + result.stderr.str()
    a, b = (read(out, f"{n}.start") | {"end": read(out, f"{n}.end")["t"]} for n in "ab")
    assert a["t"] < b["end"] and b["t"] < a["end"], (a, b)


def test_a_lock_wait_that_runs_out_names_the_holder(pytester, xrun, monkeypatch):
    """A resource held by someone else for longer than the bound: the test's set-up fails in one
    line naming the holder (the bound is shortened through the plugin's constant in a conftest)."""
    pytester.makeconftest("import harness.plugin.workers as w\nw.LOCK_WAIT = 0.5\n")
    pytester.makepyfile(test_one=COMMON + textwrap.dedent("""\

        @pytest.mark.harness
        @pytest.mark.harness_exclusive("postgres")
        def test_outage():
            pass
        """))
    # someone else holds postgres: this process, through the library, for the whole run
    cache = Path(os.environ["HARNESS_CACHE"])
    lock = locks.lock_dir("xdist-lock-test", cache) / "postgres"
    with locks.exclusive(lock, locks.Holder("scenarios/db_outage/test_db_outage.py::test_db_outage[x]", "gw7"),
                         timeout=5):
        result, _ = xrun("-n", "2", "-q")
    out = result.stdout.str()
    assert result.ret == 1, out + result.stderr.str()
    assert "1 error" in out
    line = next(ln for ln in out.splitlines() if "harness: lock postgres not free after" in ln)
    assert "held by gw7 (pid " in line and "test_db_outage[x]" in line, out
    assert "Traceback" not in out and "LockTimeout" not in out


def test_a_wait_for_a_lock_is_a_phase_of_the_merged_timings_and_the_table(pytester, xrun):
    """Someone else holds postgres until the test is seen waiting for it (the conftest notes the
    "waiting for postgres" line), then a while longer: the wait is a phase in the worker's lane of
    timings.json and a row of the table the controller prints, which has the workers' phases."""
    pytester.makeconftest(textwrap.dedent("""\
        import os, pathlib
        import harness.plugin.parallel as p

        _say = p.progress.say

        def say(line, *args, **kwargs):
            if "waiting for postgres" in line:
                pathlib.Path(os.environ["XDIST_OUT"], "waiting").write_text(line)
            return _say(line, *args, **kwargs)

        p.progress.say = say
        """))
    pytester.makepyfile(test_one=COMMON + textwrap.dedent("""\

        @pytest.mark.harness
        @pytest.mark.harness_exclusive("postgres")
        def test_outage():
            pass
        """))
    lock = locks.lock_dir("xdist-lock-test", Path(os.environ["HARNESS_CACHE"])) / "postgres"
    waiting = Path(os.environ["XDIST_OUT"]) / "waiting"
    seen = []

    def hold():
        with locks.exclusive(lock, locks.Holder("someone else", "gw7"), timeout=5):
            deadline = time.monotonic() + 120
            while not waiting.exists() and time.monotonic() < deadline:  # bounded
                time.sleep(0.05)
            seen.append(waiting.exists())
            time.sleep(1.0)  # the wait to measure: held this much longer

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        result, _ = xrun("-n", "2", "-q")
    finally:
        holder.join(150)
    assert seen == [True], "the test never waited for postgres"
    assert result.ret == 0, result.stdout.str() + result.stderr.str()
    phases = json.loads((pytester.path / "artifacts" / "timings.json").read_text())["phases"]
    [wait] = [p for p in phases if p["name"].endswith(": test_outage waited for lock postgres")]
    assert wait["name"] == f"harness {wait['process']}: test_outage waited for lock postgres"
    assert wait["duration"] >= 1.0 and wait["outcome"] == "ok"
    result.stdout.fnmatch_lines(["*harness timings*", f"harness {wait['process']}: test_outage waited for lock postgres *ok",
                                 "wall time (first start to last end) *"])


def test_an_unknown_resource_is_a_usage_error(pytester, xrun):
    pytester.makepyfile(test_one=COMMON + textwrap.dedent("""\

        @pytest.mark.harness
        @pytest.mark.harness_exclusive("nodes")
        def test_x():
            pass
        """))
    result, _ = xrun("-n", "2", "-q")
    err = result.stderr.str()
    assert result.ret == 4, result.stdout.str() + err
    assert "unknown shared resource 'nodes'; known: node, postgres, edge" in err


def test_the_refusal_stays_only_where_workers_cannot_share_a_cluster(pytester, xrun):
    pytester.makepyfile(test_one="import pytest\n\n@pytest.mark.harness\ndef test_h():\n    pass\n\n"
                                 "def test_plain():\n    pass\n")
    result, _ = xrun("-n", "2", "--dist", "each", "-q")
    text = result.stdout.str() + "\n" + result.stderr.str()
    assert result.ret == 4, text
    lines = [ln for ln in text.splitlines() if "harness:" in ln]
    assert lines == ["ERROR: harness: pytest-xdist cannot run harness tests this way: --dist each runs every test "
                     "on every worker: each scenario would run once per worker on one cluster; run them with -n on "
                     "this host (docs/parallel.md) or without -n"], text
    # the same tests with -n alone are supported now
    result, _ = xrun("-n", "2", "-q")
    assert result.ret == 0, result.stdout.str() + result.stderr.str()
    result.stdout.fnmatch_lines(["*2 passed*"])


FAKE_CLUSTER_BOUNDARY = textwrap.dedent("""\
    # A FAKE BOUNDARY: harness.env.cluster replaced (no kind, no Docker). "A cluster exists" is a file
    # beside this conftest; every call is one line of cluster-calls.jsonl with its process and time.
    import json, os, sys, time, types
    from dataclasses import dataclass
    from pathlib import Path

    import harness.env
    from harness.core import runs

    HERE = Path(__file__).parent
    LOG = HERE / "cluster-calls.jsonl"

    def record(**kw):
        kw.update(pid=os.getpid(), worker=os.environ.get("PYTEST_XDIST_WORKER", "main"), t=time.time())
        with LOG.open("a") as f:
            f.write(json.dumps(kw) + "\\n")

    @dataclass(frozen=True)
    class Cluster:
        name: str
        kubeconfig: Path
        context: str
        created: bool
        node_image: str = ""
        kubernetes_version: str = ""

    def ensure_cluster(cfg, owner=None):
        exists = HERE / ("exists-" + cfg.cluster_name)
        kc = HERE / "kubeconfig"
        if exists.exists():
            recorded = runs.read_owner(runs.cluster_owner_path(cfg.cluster_name))
            record(call="reuse", name=cfg.cluster_name, ours=recorded is not None and recorded.run_id == owner.run_id)
            return Cluster(cfg.cluster_name, kc, "kind-" + cfg.cluster_name, created=False)
        runs.write_owner(runs.cluster_owner_path(cfg.cluster_name), owner)
        time.sleep(0.5)  # creation takes a while: a second worker arriving now must wait for the lock
        kc.write_text("apiVersion: v1\\n")
        exists.write_text("")
        record(call="create", name=cfg.cluster_name, owner_pid=owner.pid, run_id=owner.run_id)
        return Cluster(cfg.cluster_name, kc, "kind-" + cfg.cluster_name, created=True)

    def delete_cluster(cluster):
        record(call="delete", name=cluster.name)
        (HERE / ("exists-" + cluster.name)).unlink()

    def export_logs(cluster, dest):
        record(call="export", name=cluster.name)

    def effective_image_source(image_source, node_image, kubernetes_version):
        return "local"

    fake = types.ModuleType("harness.env.cluster")
    fake.__dict__.update(Cluster=Cluster, ensure_cluster=ensure_cluster, delete_cluster=delete_cluster,
                         export_logs=export_logs, effective_image_source=effective_image_source)
    sys.modules["harness.env.cluster"] = fake
    harness.env.cluster = fake
    import harness.plugin.session as s
    s.cluster_mod = fake
    """)


def test_one_cluster_made_by_one_worker_reused_by_the_other_deleted_after_both(pytester, xrun):
    pytester.makeconftest(FAKE_CLUSTER_BOUNDARY)
    body = "import os, time\n\ndef test_{n}(cluster, harness_run_id):\n" \
           "    open(os.environ['XDIST_OUT'] + '/{n}', 'w').write(repr((time.time(), harness_run_id)))\n"
    pytester.makepyfile(test_one=body.format(n="one"), test_two=body.format(n="two"))
    result, out = xrun("-n", "2", "--dist", "loadscope", "-q", "--harness-keep-cluster", "never")
    assert result.ret == 0, result.stdout.str() + result.stderr.str()
    calls = [json.loads(line) for line in (pytester.path / "cluster-calls.jsonl").read_text().splitlines()]
    kinds = [c["call"] for c in calls]
    assert sorted(kinds) == ["create", "delete", "reuse"], calls
    create, reuse, delete = (next(c for c in calls if c["call"] == k) for k in ("create", "reuse", "delete"))
    assert create["worker"] != reuse["worker"] and reuse["ours"] is True
    # the controller deletes it, after both tests ran; the run (its id, its owner pid) is the controller's
    assert delete["worker"] == "main" and delete["pid"] == create["owner_pid"]
    ends = [eval((out / n).read_text()) for n in ("one", "two")]  # noqa: S307 - our own repr of (float, str)
    assert all(t < delete["t"] for t, _ in ends)
    assert ends[0][1] == ends[1][1] == create["run_id"]


CONTROLLER_AS_A_SCENARIO_RUN = textwrap.dedent("""\
    # A FAKE BOUNDARY: the controller is activated here as harness/plugin/scenarios.py activates it
    # for a run that collects scenario modules (which need contracts and charts this test does not have).
    import harness.plugin.session as s

    def pytest_sessionstart(session):
        if not hasattr(session.config, "workerinput"):
            s.activate(session.config, junit=False)
    """)


def test_a_shared_run_module_goes_to_one_worker_whole(pytester, xrun):
    pytester.makeconftest(CONTROLLER_AS_A_SCENARIO_RUN)
    test = ("import os, pytest\n\n@pytest.mark.harness\n@pytest.mark.parametrize('i', range({n}))\n"
            "def test_{name}(i):\n"
            "    open(os.path.join(os.environ['XDIST_OUT'], '{name}-%d' % i), 'w').write(os.environ['PYTEST_XDIST_WORKER'])\n")
    pytester.makepyfile(test_sse=test.format(name="sse", n=4), test_upgrade=test.format(name="upgrade", n=6))
    result, out = xrun("-n", "2", "-q")  # --dist load, xdist's default: the harness's scheduler
    assert result.ret == 0, result.stdout.str() + result.stderr.str()
    result.stdout.fnmatch_lines(["*10 passed*"])
    sse = {(out / f"sse-{i}").read_text() for i in range(4)}
    upgrade = {(out / f"upgrade-{i}").read_text() for i in range(6)}
    assert len(sse) == 1, sse  # under xdist's own load scheduler these four are dealt to both workers
    assert upgrade <= {"gw0", "gw1"}


def test_each_worker_writes_its_records_apart_and_the_controller_merges_them(pytester, xrun):
    body = textwrap.dedent("""\
        import pytest
        from harness.plugin.results import record_result
        from harness.scenario.result import ScenarioResult

        @pytest.mark.harness
        def test_{n}(request):
            record_result(request.node, ScenarioResult("upgrade", "{n}", "default", None, "PASS", "ok"))
        """)
    pytester.makepyfile(test_one=body.format(n="one"), test_two=body.format(n="two"))
    result, _ = xrun("-n", "2", "--dist", "loadscope", "-q")
    assert result.ret == 0, result.stdout.str() + result.stderr.str()
    per_worker = sorted(p.parent.name for p in (pytester.path / "artifacts" / "workers").glob("*/scenarios.json"))
    assert per_worker == ["gw0", "gw1"]
    merged = read_results(pytester.path / "artifacts" / "scenarios.json")
    assert sorted((r.chart, r.test_id) for r in merged) == [("one", "test_one.py::test_one"),
                                                            ("two", "test_two.py::test_two")]
    # and the controller prints them in the harness's table, as a serial run does
    result.stdout.fnmatch_lines(["*harness scenarios*"])
    table = result.stdout.str().split("harness scenarios", 1)[1]
    assert "one" in table and "two" in table


def test_a_session_fixture_error_on_a_worker_is_one_line_and_the_runs_exit_code(pytester, xrun):
    """``pytest.exit`` in a worker would be a crash (INTERNALERROR) on the controller: the worker
    fails the tests in one line instead and the controller exits with the error's code (3 here)."""
    pytester.makeconftest(FAILING_KIND)  # the kind whose `create` fails, from the serial test
    pytester.makepyfile("".join(f"def test_{n}(cluster): pass\n" for n in "abcdefgh"))
    result, _ = xrun("-n", "2", "-q")
    out = result.stdout.str() + "\n" + result.stderr.str()
    assert result.ret == 3, out
    assert "INTERNALERROR" not in out and "Traceback" not in out and "During handling" not in out
    assert "[harness] cluster: kind cluster 'xdist-lock-test' could not be created" in out
    # each worker fails the test it was running and takes no other: not one error line per test
    assert 1 <= out.count("ERROR test_") <= 2, out
    assert "interrupted: run" not in out  # xdist ending the run is not the user's Ctrl-C
