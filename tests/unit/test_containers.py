"""harness/env/containers.py over a fake Docker whose `docker rm -f` misses a container still being created
(what dockerd does while it finishes the create a killed `docker run` asked for)."""
from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from harness.core.errors import WaitTimeout
from harness.env import containers
from harness.tools.exec import Result


@dataclass
class CreatingDocker:
    """`docker ps -a` lists ``name`` from the start; `docker rm -f` only removes it once ``creating`` more
    `docker rm` calls have gone by (before that: "No such container", exit 0, as Docker answers with -f)."""
    name: str
    creating: int
    listed: bool = True
    calls: list[list[str]] = field(default_factory=list)

    def __call__(self, argv, **kw):
        self.calls.append(list(argv))
        if argv[:2] == ["docker", "ps"]:
            return Result(list(argv), 0, f"{self.name}\n" if self.listed else "", "")
        if argv[:2] == ["docker", "rm"]:
            if self.creating > 0:
                self.creating -= 1
                return Result(list(argv), 0, "", f"Error response from daemon: No such container: {self.name}")
            self.listed = False
            return Result(list(argv), 0, f"{self.name}\n", "")
        raise AssertionError(f"unexpected command {argv}")

    def removals(self) -> int:
        return sum(c[:2] == ["docker", "rm"] for c in self.calls)


def test_a_container_still_being_created_is_removed_once_dockerd_has_made_it():
    docker = CreatingDocker("harness-kill-control-plane", creating=2)
    removed = containers.remove_until_gone("label=io.x-k8s.kind.cluster=harness-kill", interval=0.0, runner=docker)
    assert removed == ["harness-kill-control-plane"]
    assert docker.removals() == 3 and not docker.listed
    assert ["docker", "ps", "-a", "--filter", "label=io.x-k8s.kind.cluster=harness-kill", "--format", "{{.Names}}"] \
        in docker.calls


def test_one_rm_is_enough_when_the_container_is_made():
    docker = CreatingDocker("harness-pg-x", creating=0)
    assert containers.remove_until_gone("name=^harness-pg-x$", interval=0.0, runner=docker) == ["harness-pg-x"]
    assert docker.removals() == 1


def test_nothing_listed_removes_nothing():
    docker = CreatingDocker("x", creating=0, listed=False)
    assert containers.remove_until_gone("name=^x$", runner=docker) == []
    assert docker.removals() == 0


def test_a_container_that_never_goes_times_out_naming_it():
    docker = CreatingDocker("stuck", creating=10**6)
    with pytest.raises(WaitTimeout, match=r"no container matching name=\^stuck\$.*still listed after docker rm -f: stuck"):
        containers.remove_until_gone("name=^stuck$", timeout=0.2, interval=0.05, runner=docker)


def test_deleting_a_kind_cluster_removes_the_node_kind_missed():
    deleted = []

    class Kind:
        def delete(self, name):
            deleted.append(name)

    docker = CreatingDocker("harness-kill-control-plane", creating=1)
    assert containers.delete_kind_cluster(Kind(), "harness-kill", runner=docker) == ["harness-kill-control-plane"]
    assert deleted == ["harness-kill"] and not docker.listed


def test_the_postgres_of_a_cluster_are_found_by_add_on_and_cluster_labels():
    docker = CreatingDocker("harness-pg-harness-r1-ab12", creating=0)
    assert containers.remove_postgres_of("harness", runner=docker) == ["harness-pg-harness-r1-ab12"]
    ps = docker.calls[0]
    assert ps[:3] == ["docker", "ps", "-a"] and ps.count("--filter") == 2
    assert "label=io.helm-e2e-harness.addon=postgres" in ps and "label=io.helm-e2e-harness.env.cluster=harness" in ps


def test_the_registry_serving_the_mirror_joins_the_kind_network_once():
    calls = []

    def docker(argv, **kw):
        calls.append(list(argv))
        if argv[:2] == ["docker", "ps"]:
            return Result(list(argv), 0,
                          "harness-registry-a\t127.0.0.1:32774->5000/tcp\tbridge\n"
                          "harness-registry-b\t127.0.0.1:32775->5000/tcp\tbridge,kind\n"
                          "harness-registry-c\t127.0.0.1:32776->5000/tcp\tbridge\n", "")
        return Result(list(argv), 0, "", "")

    assert containers.join_registry_serving("127.0.0.1:32774", runner=docker) == ["harness-registry-a"]
    assert calls[-1] == ["docker", "network", "connect", "kind", "harness-registry-a"]
    # already on it, or not the mirror's (port 32776 is not 3277): nothing to do
    assert containers.join_registry_serving("127.0.0.1:32775", runner=docker) == []
    assert containers.join_registry_serving("127.0.0.1:3277", runner=docker) == []
    assert containers.join_registry_serving("localhost:5000", runner=docker) == []
