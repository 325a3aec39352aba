"""Run ownership and the clean decision (harness/core/runs.py): pure, pass and fail."""
from __future__ import annotations

import os

from harness.core import runs
from harness.core.runs import Owner, Resource, decide

HOST = "box"


def owner(pid: int = 100, *, host: str = HOST, kept: bool = False, run_id: str = "r1") -> Owner:
    return Owner(run_id=run_id, pid=pid, host=host, started=1.0, kept=kept)


def one(resource: Resource, *, live=(), include_kept=False):
    (d,) = decide([resource], live_pids=live, host=HOST, include_kept=include_kept)
    return d


def test_a_dead_runs_cluster_is_removed():
    d = one(Resource("cluster", "harness-x", owner(100)), live=[200])
    assert d.remove and "pid 100 is gone" in d.why and "r1" in d.why


def test_a_live_runs_cluster_is_kept():
    d = one(Resource("cluster", "harness-x", owner(100)), live=[100])
    assert not d.remove and "still running" in d.why


def test_no_owner_record_is_kept():
    d = one(Resource("cluster", "harness", None))
    assert not d.remove and "no owner record" in d.why


def test_kept_on_purpose_needs_include_kept():
    r = Resource("cluster", "harness-k", owner(100, kept=True))
    kept = one(r)
    assert not kept.remove and "--include-kept" in kept.why
    assert one(r, include_kept=True).remove


def test_a_live_run_is_kept_even_with_include_kept():
    assert not one(Resource("namespace", "ns-1", owner(100, kept=True), cluster="harness"), live=[100],
                   include_kept=True).remove


def test_another_hosts_record_counts_as_dead_even_with_the_same_pid():
    d = one(Resource("container", "harness-pg-x", owner(100, host="other")), live=[100])
    assert d.remove and "host other" in d.why


def test_decisions_keep_the_order_given():
    rs = [Resource("run-dir", f"r{i}", owner(i)) for i in range(1, 4)]
    ds = decide(rs, live_pids=[2], host=HOST)
    assert [d.resource.name for d in ds] == ["r1", "r2", "r3"]
    assert [d.remove for d in ds] == [True, False, True]


def test_format_decision_says_what_and_why():
    r = Resource("namespace", "up-1", owner(5), cluster="harness")
    d = one(r)
    assert runs.format_decision(d) == f"removed namespace up-1 in cluster harness: {d.why}"
    assert runs.format_decision(d, dry_run=True).startswith("would remove namespace up-1")
    assert runs.format_decision(one(r, live=[5])).startswith("kept namespace up-1")


def test_owner_records_round_trip_and_mark_kept(tmp_path):
    path = tmp_path / "c" / "owner.json"
    o = runs.owner_now("r9")
    runs.write_owner(path, o)
    assert runs.read_owner(path) == o and o.pid == os.getpid()
    runs.mark_kept(path)
    assert runs.read_owner(path).kept
    path.write_text("{not json")
    assert runs.read_owner(path) is None
    assert runs.read_owner(tmp_path / "missing.json") is None


def test_pid_alive():
    assert runs.pid_alive(os.getpid())
    assert not runs.pid_alive(0) and not runs.pid_alive(-1)


def test_run_dir_is_private(tmp_path):
    d = runs.run_dir("r1", tmp_path)
    assert d == tmp_path / "runs" / "r1" and (d.stat().st_mode & 0o777) == 0o700


def test_cluster_owner_path(tmp_path):
    assert runs.cluster_owner_path("harness-x", tmp_path) == tmp_path / "clusters" / "harness-x" / "owner.json"


def test_a_kept_runs_directory_goes_once_nothing_it_kept_is_left():
    kept_dir = Resource("run-dir", "r1", owner(100, kept=True))
    alone = runs.drop_spent_run_dirs(decide([kept_dir], live_pids=[], host=HOST))
    assert alone[0].remove and "nothing it kept is left" in alone[0].why
    with_ns = decide([Resource("namespace", "up-1", owner(100, kept=True), cluster="harness"), kept_dir],
                     live_pids=[], host=HOST)
    assert [d.remove for d in runs.drop_spent_run_dirs(with_ns)] == [False, False]
    live = decide([Resource("run-dir", "r2", owner(7, run_id="r2"))], live_pids=[7], host=HOST)
    assert runs.drop_spent_run_dirs(live)[0].remove is False



def test_two_threads_writing_the_owner_record_at_once_both_succeed(tmp_path, monkeypatch):
    """Concurrent add-on installs may both write the run's record: each writer needs its own
    temporary file (with one per process, the second's replace would find the first's gone)."""
    import threading

    path = tmp_path / "run" / runs.OWNER_FILE
    real_replace = os.replace
    interleaved: list[str] = []
    errors: list[BaseException] = []

    def second_writer() -> None:
        try:
            runs.write_owner(path, Owner("r2", 2, "h", 0.0))
        except BaseException as exc:  # noqa: BLE001 - reported by the assert below
            errors.append(exc)

    def replace(src, dst):
        if not interleaved:  # the first writer: a second thread writes completely between its write and replace
            interleaved.append(str(src))
            t = threading.Thread(target=second_writer, daemon=True)
            t.start()
            t.join(5)
        real_replace(src, dst)

    monkeypatch.setattr(runs.os, "replace", replace)
    runs.write_owner(path, Owner("r1", 1, "h", 0.0))
    assert errors == []
    assert runs.read_owner(path).run_id == "r1"
    assert [p.name for p in path.parent.iterdir()] == [runs.OWNER_FILE], "no temporary file left"


def test_a_container_kept_for_a_cluster_that_is_gone_is_removed():
    pg = Resource("container", "harness-pg-x", owner(100, kept=True), cluster="harness")
    (gone,) = decide([pg], live_pids=[], host=HOST, clusters=["other"])
    assert gone.remove and "kept by run r1 for a cluster that is gone" in gone.why
    (stays,) = decide([pg], live_pids=[], host=HOST, clusters=["harness"])
    assert not stays.remove and "--include-kept" in stays.why
    (unknown,) = decide([pg], live_pids=[], host=HOST)  # clusters not listed: nothing is known to be gone
    assert not unknown.remove
    (live,) = decide([pg], live_pids=[100], host=HOST, clusters=[])
    assert not live.remove and "still running" in live.why
