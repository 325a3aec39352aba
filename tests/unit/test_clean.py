"""`python -m harness clean` (harness/env/clean.py) over fakes: what it lists, removes and keeps, one line each.
No docker, kind or kubectl runs (a fake runner answers their listings and removals)."""
from __future__ import annotations

import functools
import json
import os
from dataclasses import dataclass, field

import pytest

from harness import __main__ as cli
from harness.core import runs
from harness.env import clean as clean_mod
from harness.env import cluster as cluster_mod
from harness.env.cluster import ClusterSpec, ensure_cluster
from harness.tools.exec import Result

DEAD = 999_999_999  # beyond any pid_max: os.kill says ESRCH
LIVE = os.getpid()


@dataclass
class FakeKind:
    existing: list[str] = field(default_factory=list)
    calls: list[str] = field(default_factory=list)

    def get_clusters(self):
        return list(self.existing)

    def delete(self, name, *, timeout=180):
        self.calls.append(f"delete {name}")
        self.existing.remove(name)

    def create(self, name, *, config, image, kubeconfig, timeout):
        self.calls.append(f"create {name}")
        self.existing.append(name)
        kubeconfig.write_text("apiVersion: v1\n")

    def get_kubeconfig(self, name):
        return "apiVersion: v1\n"


def fake_docker(containers: dict[str, str], argv: list[str]) -> Result | None:
    """`docker ps -a --filter F --format T` over ``containers`` (name -> ``k=v,k=v`` labels) and
    `docker rm -f -v NAMES` (removes them); None for any other command."""
    if argv[:2] == ["docker", "ps"]:
        key, _, want = argv[argv.index("--filter") + 1].partition("=")
        label, eq, value = want.partition("=")

        def matches(name: str, labels: str) -> bool:
            if key == "name":
                return name == want.removeprefix("^").removesuffix("$")
            have = clean_mod.parse_docker_labels(labels)
            return label in have and (not eq or have[label] == value)

        with_labels = "{{.Labels}}" in argv[argv.index("--format") + 1]
        rows = [f"{n}\t{labels}" if with_labels else n for n, labels in containers.items() if matches(n, labels)]
        return Result(list(argv), 0, "".join(f"{r}\n" for r in rows), "")
    if argv[:2] == ["docker", "rm"]:
        for name in argv[4:]:
            containers.pop(name, None)
        return Result(list(argv), 0, "", "")
    return None


def owner(run_id, pid, kept=False):
    return runs.Owner(run_id=run_id, pid=pid, host=runs.this_host(), started=1.0, kept=kept)


@pytest.fixture
def world(tmp_path, monkeypatch):
    """A cache with: cluster `dead` (a killed run), `live` (a running one), `kept` (keep-cluster),
    `harness` (no record); containers of the dead and the live run; run dirs of both."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("HARNESS_CACHE", str(cache))
    monkeypatch.setattr(clean_mod.docker, "require_engine", lambda: None)
    monkeypatch.setattr(clean_mod.binaries, "tool_path", lambda name, version=None: name)
    runs.write_owner(runs.cluster_owner_path("dead", cache), owner("r-dead", DEAD))
    runs.write_owner(runs.cluster_owner_path("live", cache), owner("r-live", LIVE))
    runs.write_owner(runs.cluster_owner_path("kept", cache), owner("r-kept", DEAD, kept=True))
    (cache / "clusters" / "live" / "kubeconfig").write_text("apiVersion: v1\n")
    runs.write_owner(runs.run_dir("r-dead", cache) / "owner.json", owner("r-dead", DEAD))
    runs.write_owner(runs.run_dir("r-live", cache) / "owner.json", owner("r-live", LIVE))
    runs.write_owner(runs.run_dir("r-kept", cache) / "owner.json", owner("r-kept", DEAD, kept=True))
    calls: list[list[str]] = []
    containers = {
        "harness-pg-dead-1": f"io.helm-e2e-harness.addon=postgres,io.helm-e2e-harness.run-id=r-dead,"
                             f"io.helm-e2e-harness.pid={DEAD},io.helm-e2e-harness.host={runs.this_host()}",
        "harness-pg-live-1": f"io.helm-e2e-harness.addon=postgres,io.helm-e2e-harness.run-id=r-live,"
                             f"io.helm-e2e-harness.pid={LIVE},io.helm-e2e-harness.host={runs.this_host()}",
        "harness-pg-old": "io.helm-e2e-harness.addon=postgres,io.helm-e2e-harness.run-id=r-old",
        # kept by a keep-cluster run on a cluster since deleted by hand: it serves nothing
        "harness-pg-gone-1": "io.helm-e2e-harness.addon=postgres,io.helm-e2e-harness.run-id=r-kept,"
                             f"io.helm-e2e-harness.env.cluster=gone,io.helm-e2e-harness.pid={DEAD},"
                             f"io.helm-e2e-harness.host={runs.this_host()}",
        "harness-pg-kept-1": "io.helm-e2e-harness.addon=postgres,io.helm-e2e-harness.run-id=r-kept,"
                             f"io.helm-e2e-harness.env.cluster=kept,io.helm-e2e-harness.pid={DEAD},"
                             f"io.helm-e2e-harness.host={runs.this_host()}",
        # dockerd made it after `kind delete cluster` had listed the nodes (FakeKind.delete leaves it)
        "dead-control-plane": "io.x-k8s.kind.cluster=dead",
        "live-control-plane": "io.x-k8s.kind.cluster=live"}
    namespaces = {"items": [
        {"metadata": {"name": "up-dead", "labels": {"helm-e2e-harness/run-id": "r-dead"}}},
        {"metadata": {"name": "up-live", "labels": {"helm-e2e-harness/run-id": "r-live"}}}]}

    def runner(argv, **kw):
        calls.append(list(argv))
        answer = fake_docker(containers, list(argv))
        if answer is not None:
            return answer
        if "get" in argv and "namespaces" in argv:
            return Result(list(argv), 0, json.dumps(namespaces), "")
        return Result(list(argv), 0, "", "")

    kind = FakeKind(existing=["dead", "live", "kept", "harness"])
    return cache, kind, runner, calls


def test_clean_removes_only_what_dead_runs_left(world):
    cache, kind, runner, calls = world
    lines: list[str] = []
    assert clean_mod.clean(kind=kind, runner=runner, cache=cache, say=lines.append) == 0
    assert kind.calls == ["delete dead"]
    assert ["docker", "rm", "-f", "-v", "harness-pg-dead-1"] in calls
    assert ["docker", "rm", "-f", "-v", "dead-control-plane"] in calls  # the node kind's delete missed
    assert not any("live-control-plane" in c for c in calls if c[:2] == ["docker", "rm"])
    assert ["docker", "rm", "-f", "-v", "harness-pg-gone-1"] in calls  # kept for a cluster that is gone
    assert not any("harness-pg-kept-1" in c for c in calls if c[:2] == ["docker", "rm"])
    assert not any("harness-pg-live-1" in c for c in calls if c[:2] == ["docker", "rm"])
    assert not any("harness-pg-old" in c for c in calls if c[:2] == ["docker", "rm"])
    deleted_ns = [c for c in calls if "delete" in c and "namespace" in c]
    assert len(deleted_ns) == 1 and "up-dead" in deleted_ns[0]
    assert not (cache / "runs" / "r-dead").exists() and (cache / "runs" / "r-live").is_dir()
    assert not (cache / "clusters" / "dead").exists() and (cache / "clusters" / "kept").is_dir()
    text = "\n".join(lines)
    assert "removed cluster dead: run r-dead is over" in text
    assert "kept cluster live: run r-live" in text and "still running" in text
    assert "kept cluster kept: kept on purpose" in text and "--include-kept" in text
    assert "kept cluster harness: no owner record" in text
    assert "removed namespace up-dead in cluster live" in text
    assert "removed container harness-pg-gone-1 of cluster gone: kept by run r-kept for a cluster that is gone" in text
    assert "kept container harness-pg-kept-1 of cluster kept: kept on purpose" in text
    assert "kept run-dir r-kept: kept on purpose" in text  # its cluster and one server stay
    assert len(lines) == 4 + 5 + 2 + 3  # clusters, containers, namespaces, run dirs: one line each


def test_dry_run_removes_nothing(world):
    cache, kind, runner, calls = world
    lines: list[str] = []
    clean_mod.clean(dry_run=True, kind=kind, runner=runner, cache=cache, say=lines.append)
    assert kind.calls == [] and not any(c[:2] == ["docker", "rm"] for c in calls)
    assert (cache / "runs" / "r-dead").is_dir()
    assert "would remove cluster dead: run r-dead is over" in "\n".join(lines)


def test_include_kept_removes_a_kept_cluster_of_a_dead_run(world):
    cache, kind, runner, _ = world
    clean_mod.clean(include_kept=True, kind=kind, runner=runner, cache=cache, say=lambda line: None)
    assert sorted(kind.calls) == ["delete dead", "delete kept"]


def test_the_cli_subcommand(world, monkeypatch, capsys):
    cache, kind, runner, _ = world
    monkeypatch.setattr(cli.clean_mod, "clean", functools.partial(clean_mod.clean, kind=kind, runner=runner, cache=cache))
    assert cli.main(["clean", "--dry-run"]) == 0
    assert "would remove cluster dead" in capsys.readouterr().out


def test_docker_labels_parse():
    assert clean_mod.parse_docker_labels("a=1,b=x=y, c=\n") == {"a": "1", "b": "x=y", "c": ""}


# ---- the next run after a killed one: the cluster the dead run left is made again ----


@pytest.fixture
def offline(monkeypatch, tmp_path):
    monkeypatch.setenv("HARNESS_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(cluster_mod.docker, "require_engine", lambda: None)
    monkeypatch.setattr(cluster_mod.docker, "images_matching", lambda repo: [])
    monkeypatch.setattr(cluster_mod, "check_ports_free", lambda ports: None)
    monkeypatch.setattr(cluster_mod, "wait_ready", lambda c, timeout: None)
    monkeypatch.setattr(cluster_mod.containers, "remove_until_gone", lambda docker_filter, **kw: [])
    return tmp_path / "cache"


def test_a_cluster_a_dead_run_left_is_deleted_and_made_again(offline):
    runs.write_owner(runs.cluster_owner_path("t1"), owner("r-dead", DEAD))
    kind = FakeKind(existing=["t1"])
    me = runs.owner_now("r-me")
    made = ensure_cluster(ClusterSpec(name="t1"), kind=kind, owner=me)
    assert made.created and kind.calls == ["delete t1", "create t1"]
    assert runs.read_owner(runs.cluster_owner_path("t1")) == me


@pytest.mark.parametrize("recorded", [None, owner("r-live", LIVE), owner("r-kept", DEAD, kept=True)],
                         ids=["no-record", "live-owner", "kept"])
def test_a_cluster_that_is_not_a_dead_runs_leftover_is_refused(offline, recorded):
    if recorded is not None:
        runs.write_owner(runs.cluster_owner_path("t2"), recorded)
    kind = FakeKind(existing=["t2"])
    with pytest.raises(cluster_mod.UsageError, match="already exists"):
        ensure_cluster(ClusterSpec(name="t2"), kind=kind, owner=runs.owner_now("r-me"))
    assert kind.calls == []


def test_a_cluster_another_worker_of_this_run_made_is_reused_not_created(offline):
    """pytest-xdist: the second worker finds the cluster the first made under the lock; its owner
    record names this run, so it is used as it is and ``created`` stays False (only the controller
    deletes it)."""
    controller = owner("r-par", LIVE)
    runs.write_owner(runs.cluster_owner_path("t4"), controller)
    kind = FakeKind(existing=["t4"])
    got = ensure_cluster(ClusterSpec(name="t4"), kind=kind, owner=owner("r-par", LIVE))
    assert got.name == "t4" and not got.created and kind.calls == []
    assert runs.read_owner(runs.cluster_owner_path("t4")) == controller


def test_an_interrupted_create_deletes_the_half_made_cluster_and_keeps_its_record(offline):
    """A node container the interrupted `kind create` still had on its way may appear after the
    delete: the owner record stays, so `clean` can tell it is a dead run's and remove it."""
    class Interrupting(FakeKind):
        def create(self, name, **kw):
            self.existing.append(name)
            raise KeyboardInterrupt

    kind = Interrupting()
    with pytest.raises(KeyboardInterrupt):
        ensure_cluster(ClusterSpec(name="t3"), kind=kind, owner=runs.owner_now("r-me"))
    assert kind.calls == ["delete t3"] and runs.read_owner(runs.cluster_owner_path("t3")).run_id == "r-me"


def test_clean_removes_a_dead_runs_registry_with_its_storage_directory(tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    monkeypatch.setattr(clean_mod.docker, "require_engine", lambda: None)
    storage = tmp_path / "harness-registry-abc"
    (storage / "data").mkdir(parents=True)
    name = "harness-registry-r-dead-00ff"
    labels = (f"io.helm-e2e-harness.addon=registry,io.helm-e2e-harness.run-id=r-dead,"
              f"io.helm-e2e-harness.pid={DEAD},io.helm-e2e-harness.host={runs.this_host()}")
    mounts = [{"Source": str(storage / "data"), "Destination": "/var/lib/registry"},
              {"Source": str(storage / "config.yml"), "Destination": "/etc/distribution/config.yml"}]
    calls: list[list[str]] = []
    containers = {name: labels}

    def runner(argv, **kw):
        calls.append(list(argv))
        answer = fake_docker(containers, list(argv))
        if answer is not None:
            return answer
        if argv[:2] == ["docker", "inspect"]:
            return Result(list(argv), 0, json.dumps(mounts) + "\t" + json.dumps({"io.helm-e2e-harness.run-id": "r-dead"}),
                          "")
        return Result(list(argv), 0, "", "")

    lines: list[str] = []
    assert clean_mod.clean(kind=FakeKind(), runner=runner, cache=cache, say=lines.append) == 0
    assert ["docker", "rm", "-f", "-v", name] in calls
    assert not storage.exists()
    assert any(f"container {name}" in line for line in lines)
