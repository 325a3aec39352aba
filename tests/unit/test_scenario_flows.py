"""The scenario procedures' wiring without a cluster: the cluster-facing methods of a context are
replaced by fakes, the ingress is a local server, and the procedure's named steps, its verdict and
its evidence are checked (the verdict functions themselves are tested in test_verdicts.py)."""
from __future__ import annotations

import dataclasses
import re
import time
from types import SimpleNamespace

import pytest
from scenario_fakes import charts, local_server, make_ctx, target
from test_attribution_match import iso
from test_attribution_parse import traefik_line

from harness.core.errors import CommandError, ScenarioSkipped
from harness.k8s.logs import LogCapture
from harness.k8s.watch import PodState
from harness.measure import plots
from harness.scenario import drain, rollback, upgrade
from harness.scenario.edge_log import EdgeLog
from harness.scenario.settings import Settings
from harness.scenario.targets import targets_for
from harness.scenario.verdicts import (
    EXPECTED_FAILURE,
    PodsFacts,
    ReleaseFacts,
)

# the settle step leaves requests in the judged window; a short baseline keeps the tests quick
FAST = Settings(probe_rate=20.0, probe_concurrency=2, settle=0.5, probe_baseline=0.3)
MANIFEST = [{"kind": "Deployment", "metadata": {"name": "web"}, "spec": {"template": {"spec": {
    "containers": [{"name": "app", "image": "app:2"}]}}}}]
OLD_MANIFEST = [{"kind": "Deployment", "metadata": {"name": "web"}, "spec": {"template": {"spec": {
    "containers": [{"name": "app", "image": "app:1"}]}}}}]


@pytest.fixture(autouse=True)
def no_plots(monkeypatch):
    """Plots are drawn in test_probing.py; here they would only cost a second each."""
    monkeypatch.setattr(plots, "probe_timeline", lambda *a, **kw: None)
    monkeypatch.setattr(plots, "sse_timeline", lambda *a, **kw: None)


class FakeWatch:
    def __init__(self, *_args):
        self.stopped = False

    def start(self):
        return self

    def stop(self):
        self.stopped = True

    def snapshot(self):
        return {}, {}

    def pod_history(self):
        return []


def _fake_release(ctx, *, images=("app:2",), upgrade_error=None):
    ctx.install_released = lambda: SimpleNamespace(app_version="1.0.0")
    ctx.wait_rolled_out = lambda **kw: None
    ctx.wait_serving = lambda *a, **kw: None
    ctx.wait_no_terminating = lambda **kw: None

    def upgrade_to_candidate(**kw):
        if upgrade_error:
            raise CommandError(["helm", "upgrade"], 1, stderr=f"Error: {upgrade_error}")

    ctx.upgrade_to_candidate = upgrade_to_candidate
    ctx.pods_facts = lambda versions=(): PodsFacts({"web-1": list(images)}, 1, 1, list(versions))


def test_upgrade_reads_as_its_named_steps_and_passes_a_good_upgrade(tmp_path, monkeypatch):
    monkeypatch.setattr(upgrade, "NamespaceWatch", FakeWatch)
    monkeypatch.setattr(upgrade, "migration_facts", lambda *a: None)
    monkeypatch.setattr(upgrade, "release_facts", lambda ctx, rev: ReleaseFacts("deployed", 2, rev))
    applied = {1: "", 2: "csa"}  # a release Helm 3 installed (no apply_method), upgraded by Helm 4
    ctx = make_ctx(tmp_path, settings=FAST)
    ctx.observer.store.get = lambda revision=None: type("Rev", (), {"apply_method": applied[revision]})()
    with local_server(version=ctx.candidate_version) as server:
        ctx._base = (server.url, True, None)
        _fake_release(ctx)
        ctx.manifest = lambda revision=None: MANIFEST
        verdict = upgrade.run_upgrade(ctx)
    assert verdict.passed, verdict.reason
    assert verdict.figures["data_integrity"] == "2 of 2 records intact"
    assert [s.name for s in ctx.steps.snapshot()] == [
        "rolled out", "serving", "write data", "baseline", "helm upgrade to the candidate",
        "rollout and old pods gone", "settle", "judge"]
    assert verdict.figures["requests"] > 0 and verdict.figures["baseline_requests"] > 0
    assert verdict.figures["released_apply_method"] == "unset" and verdict.figures["upgraded_apply_method"] == "csa"
    assert {p.name for p in ctx.artifact_paths} == {"probe.csv"}
    marks = (ctx.artifacts / "probe.csv").read_text()
    assert "upgrade started" in marks and "helm upgrade to the candidate" in marks and "rollout complete" in marks


class FakeFollower:
    """The Traefik log of the local server's requests: one access-log line per X-Harness-Probe it
    received, sent to ``addr`` (what harness.k8s.logs.PodLogFollower would have followed)."""

    def __init__(self, server, probe_id, addr):
        self.server, self.probe_id, self.addr = server, probe_id, addr

    def lines(self):
        return [traefik_line(value.rsplit("-", 1)[1], pid=self.probe_id, start=iso(at), addr=self.addr)
                for value, at in list(self.server.probes) if value.startswith(self.probe_id)]

    def wait_until(self, done, timeout):
        return done(self.lines())

    def stop(self):
        self.stopped = True
        return LogCapture(self.lines(), ["traefik-x"])


class HistoryWatch(FakeWatch):
    """An old pod (10.0.0.1, app:1) that terminated before the probe, a new one (10.0.0.2, app:2) running."""

    def pod_history(self):
        now = time.time()
        return [PodState("web-old", "u1", ("app:1",), "ReplicaSet", now - 300, ips=("10.0.0.1",), ip_seen=now - 300,
                         owner="web-1a", revision="1a", deletion_deadline=now - 100, finished_at=now - 120,
                         gone_at=now - 100),
                PodState("web-new", "u2", ("app:2",), "ReplicaSet", now - 200, ips=("10.0.0.2",), ip_seen=now - 200,
                         owner="web-2b", revision="2b")]


def _upgrade_behind_a_logging_edge(tmp_path, monkeypatch, addr):
    monkeypatch.setattr(upgrade, "NamespaceWatch", HistoryWatch)
    monkeypatch.setattr(upgrade, "migration_facts", lambda *a: None)
    monkeypatch.setattr(upgrade, "release_facts", lambda ctx, rev: ReleaseFacts("deployed", 2, rev))
    monkeypatch.setattr(upgrade, "apply_method_figures", lambda ctx: {})
    drawn = []
    monkeypatch.setattr(plots, "probe_timeline", lambda *a, **kw: drawn.append(kw))
    # settle longer than the attribution's tolerance, so requests follow the rollout's mark by more
    ctx = make_ctx(tmp_path, settings=dataclasses.replace(FAST, settle=1.6))
    with local_server(version=ctx.candidate_version) as server:
        monkeypatch.setattr(upgrade, "follow_edge", lambda c, pid: EdgeLog(pid, FakeFollower(server, pid, addr)))
        ctx._base = (server.url, True, None)
        _fake_release(ctx)
        ctx.manifest = lambda revision=None: MANIFEST
        verdict = upgrade.run_upgrade(ctx)
    return ctx, verdict, drawn


def test_upgrade_attributes_every_request_from_the_edge_log(tmp_path, monkeypatch):
    ctx, verdict, drawn = _upgrade_behind_a_logging_edge(tmp_path, monkeypatch, "10.0.0.2:8080")
    assert verdict.passed, verdict.reason
    f = verdict.figures
    assert f["attribution"] == "traefik access log" and f["attributed_requests"] == f["requests"] > 0
    assert (f["served_by_old_requests"], f["unattributed_requests"]) == (0, 0)
    assert {"attribution.csv", "served.csv", "edge-log.jsonl"} <= {p.name for p in ctx.artifact_paths}
    rows = (ctx.artifacts / "attribution.csv").read_text().splitlines()
    assert rows[0].startswith("seq,t,edge_start,upstream,pod,revision,images,side") and ",web-new,ReplicaSet/web-2b@2b,app:2,new," in rows[1]
    assert (ctx.artifacts / "served.csv").read_text().startswith("t,old,new,unattributed,new_share")
    assert "rolled out" in (ctx.artifacts / "probe.csv").read_text()
    assert drawn[-1]["served"] and sum(b.new for b in drawn[-1]["served"]) >= f["requests"]  # baseline included
    # one lane per pod the watch saw, the first seen on top: the old pod gone long before the prober started
    lanes = drawn[-1]["pods"]
    assert [lane.name for lane in lanes] == ["web-old", "web-new"]
    assert lanes[0].gone is not None and lanes[0].gone < -90 and lanes[1].gone is None


def test_upgrade_fails_when_an_old_pod_keeps_answering(tmp_path, monkeypatch):
    ctx, verdict, _ = _upgrade_behind_a_logging_edge(tmp_path, monkeypatch, "10.0.0.1:8080")
    assert not verdict.passed
    assert set(verdict.failed) == {"served by candidate after rollout", "old pods drained before termination"}
    assert "served by old pods after the rollout completed" in verdict.reason
    assert "sent to old pods after they terminated: web-old" in verdict.reason


def test_an_edge_log_that_breaks_leaves_attribution_unavailable_not_the_run_errored(tmp_path, monkeypatch):
    def broken(self):
        raise OSError("stream reset")

    monkeypatch.setattr(FakeFollower, "stop", broken)
    _, verdict, _ = _upgrade_behind_a_logging_edge(tmp_path, monkeypatch, "10.0.0.1:8080")
    assert verdict.passed, verdict.reason
    assert verdict.figures["attribution"] == "unavailable: attribution failed: OSError: stream reset"


def test_the_edge_log_stops_being_followed_when_judging_fails(tmp_path, monkeypatch):
    followers = []
    real = FakeFollower.__init__

    def remember(self, *a):
        real(self, *a)
        followers.append(self)

    monkeypatch.setattr(FakeFollower, "__init__", remember)
    monkeypatch.setattr(upgrade, "workload_images", lambda objs: (_ for _ in ()).throw(RuntimeError("no manifest")))
    with pytest.raises(Exception, match="no manifest"):
        _upgrade_behind_a_logging_edge(tmp_path, monkeypatch, "10.0.0.2:8080")
    assert followers and followers[0].stopped


def test_a_failed_helm_upgrade_is_a_verdict_not_an_error(tmp_path, monkeypatch):
    monkeypatch.setattr(upgrade, "NamespaceWatch", FakeWatch)
    monkeypatch.setattr(upgrade, "migration_facts", lambda *a: None)
    monkeypatch.setattr(upgrade, "release_facts", lambda ctx, rev: ReleaseFacts("failed", 2, rev))
    monkeypatch.setattr(upgrade, "apply_method_figures", lambda ctx: {})
    ctx = make_ctx(tmp_path, settings=FAST)
    with local_server(version=ctx.candidate_version) as server:
        ctx._base = (server.url, True, None)
        _fake_release(ctx, upgrade_error="UPGRADE FAILED: timed out waiting for the condition")
        ctx.manifest = lambda revision=None: MANIFEST
        verdict = upgrade.run_upgrade(ctx)
    assert not verdict.passed and "helm upgrade failed: `helm upgrade` exited 1" in verdict.reason
    step = next(s for s in ctx.steps.snapshot() if s.name == "helm upgrade to the candidate")
    assert step.outcome == "failed" and step.error.startswith("CommandError: `helm upgrade` exited 1")


def test_rollback_judges_the_failed_upgrade_the_rollback_and_the_data(tmp_path):
    ctx = make_ctx(tmp_path, settings=FAST)
    history = [{"revision": 1, "status": "superseded", "description": "Install complete"},
               {"revision": 2, "status": "failed", "description": "Upgrade failed: context deadline exceeded"},
               {"revision": 3, "status": "deployed", "description": "Rollback to 1"}]
    rolled: list[int] = []
    with local_server(version="1.0.0") as server:
        ctx._base = (server.url, True, None)
        _fake_release(ctx, images=("app:1",), upgrade_error="UPGRADE FAILED: context deadline exceeded")
        ctx.manifest = lambda revision=None: OLD_MANIFEST
        ctx.helm = SimpleNamespace(rollback=lambda release, rev, **kw: rolled.append(rev))
        ctx.observer.history = lambda: history  # read from helm's storage Secrets on a cluster
        verdict = rollback.run_rollback(ctx)  # the contract's data check runs against the local server
        stored = dict(server.items)
    assert verdict.passed, verdict.reason
    assert rolled == [1] and verdict.figures["failed_upgrade"] == "readiness"
    assert verdict.figures["data_integrity"] == "2 of 2 records intact" and ctx.figures["items_written"] == 2
    assert len(stored) == 3 and all(v.startswith(f"{ctx.scenario}-") for v in stored.values())  # 2 before, 1 after
    assert [s.name for s in ctx.steps.snapshot()] == [
        "rolled out", "serving", "write data", "baseline", "upgrade to a candidate that cannot become Ready",
        "helm rollback to revision 1", "rollout after the rollback", "settle", "judge"]


def test_rollback_that_loses_the_data_fails_naming_the_read_step(tmp_path):
    ctx = make_ctx(tmp_path, target("rollback"), scenario="rollback", settings=FAST)
    history = [{"revision": 1, "status": "superseded"}, {"revision": 2, "status": "failed"},
               {"revision": 3, "status": "deployed", "description": "Rollback to 1"}]
    with local_server(version="1.0.0") as server:
        ctx._base = (server.url, True, None)
        _fake_release(ctx, images=("app:1",), upgrade_error="UPGRADE FAILED: context deadline exceeded")
        ctx.manifest = lambda revision=None: OLD_MANIFEST
        ctx.helm = SimpleNamespace(rollback=lambda *a, **kw: server.items.clear())  # the rollback loses the rows
        ctx.observer.history = lambda: history
        verdict = rollback.run_rollback(ctx)
    assert not verdict.passed and verdict.failed == ("data",)
    assert re.search(r"^data written before is not intact \(2 of 2 records\): rollback-[0-9a-f]{12}: "
                     r"data\.read GET /items/1: HTTP 404 \(want 200\)", verdict.reason), verdict.reason
    assert re.search(EXPECTED_FAILURE["rollback"], verdict.reason)
    assert verdict.figures["data_integrity"] == "0 of 2 records intact"


def test_a_chart_without_a_data_check_writes_nothing_and_reports_it(tmp_path, monkeypatch):
    monkeypatch.setattr(upgrade, "NamespaceWatch", FakeWatch)
    monkeypatch.setattr(upgrade, "release_facts", lambda ctx, rev: ReleaseFacts("deployed", 2, rev))
    monkeypatch.setattr(upgrade, "apply_method_figures", lambda ctx: {})
    tgt = next(t for t in targets_for("upgrade", charts(), negative=False) if t.contract.data is None)  # realtime: no database
    ctx = make_ctx(tmp_path, tgt, settings=FAST)
    with local_server(version=ctx.candidate_version) as server:
        ctx._base = (server.url, True, None)
        _fake_release(ctx)
        ctx.manifest = lambda revision=None: MANIFEST
        verdict = upgrade.run_upgrade(ctx)
        assert server.items == {}
    assert verdict.passed, verdict.reason
    assert verdict.figures["data_integrity"] == "not declared" and "write data" not in [
        s.name for s in ctx.steps.snapshot()]


def test_rollback_of_a_candidate_whose_hook_fails_is_the_controls_failure(tmp_path):
    ctx = make_ctx(tmp_path, target("rollback", negative=True), scenario="rollback", settings=FAST)
    with local_server(version="1.0.0") as server:
        ctx._base = (server.url, True, None)
        _fake_release(ctx, images=("app:1",), upgrade_error="UPGRADE FAILED: pre-upgrade hooks failed: job failed")
        ctx.manifest = lambda revision=None: OLD_MANIFEST
        ctx.helm = SimpleNamespace(rollback=lambda *a, **kw: None)
        ctx.observer.history = lambda: []
        verdict = rollback.run_rollback(ctx)
    assert not verdict.passed


    assert re.search(EXPECTED_FAILURE["rollback"], verdict.reason)
    assert "failed in a pre-upgrade hook" in verdict.reason


def test_drain_skips_without_two_workers_before_installing(tmp_path, monkeypatch):
    ctx = make_ctx(tmp_path, target("drain"), scenario="drain", settings=FAST)
    installed: list[bool] = []
    ctx.install_candidate = lambda: installed.append(True)
    monkeypatch.setattr(drain, "schedulable_workers", lambda api: ["w1"])
    with pytest.raises(ScenarioSkipped, match="needs 2 schedulable workers, the cluster has 1"):
        drain.run_drain(ctx)
    assert installed == []


def test_busiest_worker_picks_the_node_with_most_replicas():
    def pod(node):
        return SimpleNamespace(spec=SimpleNamespace(node_name=node))

    assert drain.busiest_worker([pod("w1"), pod("w2"), pod("w2"), pod("cp")], ["w1", "w2"]) == ("w2", 2)
    with pytest.raises(Exception, match=r"no replica runs on a worker \(\['cp'\]\)"):
        drain.busiest_worker([pod("cp")], ["w1", "w2"])


# --------------------------------------------------------------------------- db_outage, shared


class World:
    """The database and what each release's pods do about it."""

    def __init__(self, server, fail_first_start: bool = False):
        self.server = server
        self.db_up = True
        self.fail_first_start = fail_first_start
        self.calls: list[str] = []

    def stop(self):
        self.calls.append("stop")
        self.db_up = False
        self.server.status = 503

    def start(self):
        self.calls.append("start")
        if self.fail_first_start:
            self.fail_first_start = False
            raise ConnectionError("docker start timed out")
        self.db_up = True
        self.server.status = 200


def _outage_ctx(tmp_path, tgt, world, server, *, stays_ready: bool):
    from harness.scenario.db_outage import Prepared

    ctx = make_ctx(tmp_path, tgt, scenario="db_outage", base_url=server.url, settings=FAST)
    ctx.env.addons.addon_state = lambda name: world
    ctx.pods = lambda **kw: [SimpleNamespace(metadata=SimpleNamespace(name=f"{tgt.id}-1"))]
    ctx.restart_counts = lambda: {}
    ctx.ready_now = lambda: stays_ready or world.db_up  # read by the fake observer
    written = ctx.write_data(1)  # the contract's declared check, against the local server's /items
    return ctx, Prepared(written, ["web"], not_ready_bound=0.3, recovery_bound=2.0, outage_needed=1.2)


@pytest.fixture
def outage_fakes(monkeypatch):
    from harness.scenario import db_outage

    class FakeObserver(db_outage.Observer):
        def _loop(self):  # samples the fake world instead of the API
            import time

            while not self._stop.is_set():
                ready = self.ctx.ready_now()
                self.obs.samples.append((time.time(), {f"{self.ctx.target.id}-1": ready}, 2 if ready else 0))
                self._stop.wait(0.05)

    monkeypatch.setattr(db_outage, "Observer", FakeObserver)
    monkeypatch.setattr(db_outage, "all_ready", lambda ctx: (True, "all Ready"))
    monkeypatch.setattr(db_outage, "INGRESS_SETTLE", 0.2)
    return db_outage


def test_one_outage_judges_every_release_and_each_gets_its_record(tmp_path, outage_fakes):
    from harness.scenario.shared import SharedRun

    good, control = target("db_outage"), target("db_outage", negative=True)
    with local_server() as server:
        world = World(server)
        made = {good.id: _outage_ctx(tmp_path, good, world, server, stays_ready=False),
                control.id: _outage_ctx(tmp_path, control, world, server, stays_ready=True)}
        run = SharedRun("db_outage", [(good, "stop"), (control, "stop")], lambda t: made[t.id][0],
                        lambda ctx: made[ctx.target.id][1], outage_fakes.run_outage)
        ok, bad = run.outcome(good, "stop"), run.outcome(control, "stop")
    assert world.calls == ["stop", "start"] and world.db_up
    assert ok.verdict.passed, ok.verdict.reason
    assert ok.result.figures["ingress_503"].value > 0 and ok.result.figures["restarts"].value == 0
    assert ok.result.figures["data_integrity"].value == "1 of 1 records intact"
    assert bad.result.outcome == "FAIL" and re.search(EXPECTED_FAILURE["db_outage"], bad.result.reason)
    assert "stayed Ready" in bad.result.reason
    assert [s.name for s in ok.result.steps] == [
        "all pods Ready before the stop outage", "PostgreSQL stop for 1 s (2 releases)", "PostgreSQL start",
        "pods Ready again", "judge"]
    assert [a.rsplit("/", 1)[-1] for a in ok.result.artifacts] == [
        "probe-stop.csv", "observed-stop.csv", "verdict-stop.txt", "verdict-stop.json"]


def test_the_database_is_given_back_when_restoring_it_fails(tmp_path, outage_fakes):
    from harness.scenario.steps import StepFailed

    tgt = target("db_outage")
    with local_server() as server:
        world = World(server, fail_first_start=True)
        ctx, prep = _outage_ctx(tmp_path, tgt, world, server, stays_ready=False)
        with pytest.raises(StepFailed, match="step 'PostgreSQL start' failed: ConnectionError: docker start timed out"):
            outage_fakes.run_outage([(ctx, prep)], "stop")
    assert world.calls == ["stop", "start", "start"] and world.db_up
    assert (ctx.artifacts / "probe-stop.csv").is_file()  # the evidence is kept for the error too


# --------------------------------------------------------------------------- sse, shared


def sse_ctx_factory(tmp_path, server, settings):
    """``target -> ScenarioContext`` for a shared sse run against ``server``: the waits and the
    candidate install are no-ops, the release renders nothing."""
    def make(tgt):
        ctx = make_ctx(tmp_path, tgt, scenario="sse", base_url=server.url, settings=settings)
        ctx.install_candidate = lambda: None
        ctx.wait_rolled_out = lambda **kw: None
        ctx.wait_serving = lambda *a, **kw: None
        ctx.wait_no_terminating = lambda **kw: None
        ctx.manifest = lambda revision=None: []
        return ctx
    return make


def test_sse_holds_every_charts_streams_once_then_rolls_each(tmp_path, monkeypatch):
    from harness.scenario import sse
    from harness.scenario.shared import SharedRun

    restarted: list[str] = []
    monkeypatch.setattr(sse, "rolling_restart", lambda ctx: restarted.append(ctx.target.id))
    settings = Settings(probe_rate=20.0, probe_concurrency=2, settle=0.2, sse_streams=2, sse_hold=1.0,
                        sse_reconnect_bound=1.0)
    a, b = target("sse", index=0), target("sse", index=1)
    with local_server() as server:
        make = sse_ctx_factory(tmp_path, server, settings)
        run = SharedRun("sse", [(a, None), (b, None)], make, sse.prepare, sse.run_shared, release=sse.release)
        first, second = run.outcome(a), run.outcome(b)
        assert run.close() == []
    assert restarted == [a.id, b.id]
    assert first.verdict.passed, first.verdict.reason
    assert second.result.outcome == "PASS" and second.result.figures["streams"].value == 2
    steps = [s.name for s in first.result.steps]
    assert steps == ["rolled out", "serving", "open the streams", "hold 4 streams for 1 s",
                     "rolling restart with the streams open", "reconnect and settle", "judge"]
    assert [x.rsplit("/", 1)[-1] for x in first.result.artifacts] == ["sse.json", "verdict.json"]


def test_sse_holds_a_buffered_stream_and_judges_it_proxy_buffering(tmp_path, monkeypatch):
    """Streams that get no answer are held, not an error; released in one burst at the rollout."""
    import threading

    from harness.measure import cuts
    from harness.scenario import sse
    from harness.scenario.shared import SharedRun

    monkeypatch.setattr(sse, "CONNECT_SECONDS", 0.5)
    monkeypatch.setattr(cuts, "HELD_SECONDS", 1.0)
    settings = Settings(probe_rate=20.0, probe_concurrency=2, settle=0.2, sse_streams=2, sse_hold=1.0,
                        sse_reconnect_bound=1.0)
    a = target("sse", index=0)
    with local_server() as server:
        server.held = threading.Event()
        monkeypatch.setattr(sse, "rolling_restart", lambda ctx: server.held.set())  # the backend's responses end

        make = sse_ctx_factory(tmp_path, server, settings)
        run = SharedRun("sse", [(a, None)], make, sse.prepare, sse.run_shared, release=sse.release)
        out = run.outcome(a)
        assert run.close() == []
    assert out.result.outcome == "FAIL" and out.verdict.failed[0] == "not buffered"
    assert re.search(r"responses held back: stream-1, stream-2: no byte for \d+\.\d s after the request, then 4 "
                     r"records at once \(EOF\)(?: \(\d times, [0-9. -]+s\))?: proxy buffering \(edge floor; Ingress "
                     r"proxy-buffering not set, the edge does not buffer by default: held by the backend or another "
                     r"proxy\)", out.verdict.reason), out.verdict.reason
    assert re.search(EXPECTED_FAILURE["sse"], out.verdict.reason)
