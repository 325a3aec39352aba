"""A cluster that cannot be created is the environment's fault: EnvironmentNotReady (exit 3) in one
line, the half-made cluster deleted (harness/env/cluster.py ensure_cluster). Fakes only: no kind, no Docker."""
from __future__ import annotations

import socket
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from harness import __main__ as cli
from harness.core.config import OPTIONS_BY_KEY
from harness.core.errors import (
    CommandError,
    CommandTimeout,
    EnvironmentNotReady,
    UsageError,
)
from harness.env import cluster
from harness.env.cluster import ClusterSpec, ensure_cluster

KIND_ERROR = ("Creating cluster \"harness\" ...\n ✗ Starting control-plane 🕹️\n"
              "ERROR: failed to create cluster: failed to init node with kubeadm: command \"docker exec\" failed\n"
              "Stack Trace:\ngoroutine 1 [running]:\n")


@dataclass
class FakeKind:
    """Records calls; ``create`` raises ``error`` (if set)."""

    error: BaseException | None = None
    existing: list[str] = field(default_factory=list)
    calls: list[str] = field(default_factory=list)

    def get_clusters(self) -> list[str]:
        return list(self.existing)

    def create(self, name: str, *, config: Path, image: str, kubeconfig: Path, timeout: float) -> None:
        self.calls.append(f"create {name}")
        if self.error is not None:
            raise self.error
        kubeconfig.write_text("apiVersion: v1\n")

    def delete(self, name: str, *, timeout: float = 180) -> None:
        self.calls.append(f"delete {name}")

    def get_kubeconfig(self, name: str) -> str:
        return "apiVersion: v1\n"


@pytest.fixture
def offline(monkeypatch, tmp_path):
    """ensure_cluster's surroundings without Docker: engine up, no local node image, cache in tmp."""
    monkeypatch.setenv("HARNESS_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(cluster.docker, "require_engine", lambda: None)
    monkeypatch.setattr(cluster.docker, "images_matching", lambda repo: [])
    monkeypatch.setattr(cluster, "check_ports_free", lambda ports: None)
    monkeypatch.setattr(cluster.containers, "remove_until_gone", lambda docker_filter, **kw: [])
    return tmp_path


def test_a_failed_kind_create_is_environment_not_ready_in_one_line(offline):
    kind = FakeKind(error=CommandError(["kind", "create", "cluster", "--name", "t1"], 1, stderr=KIND_ERROR))
    with pytest.raises(EnvironmentNotReady) as info:
        ensure_cluster(ClusterSpec(name="t1"), kind=kind)
    msg = str(info.value)
    assert info.value.exit_code == 3
    assert "\n" not in msg
    assert msg.startswith("kind cluster 't1' could not be created: ")
    assert "ERROR: failed to create cluster: failed to init node with kubeadm" in msg
    assert kind.calls == ["create t1", "delete t1"]


def test_a_kind_create_timeout_is_environment_not_ready(offline):
    kind = FakeKind(error=CommandTimeout(["kind", "create", "cluster"], 600))
    with pytest.raises(EnvironmentNotReady, match="killed after 600 s"):
        ensure_cluster(ClusterSpec(name="t2"), kind=kind)
    assert kind.calls == ["create t2", "delete t2"]


def test_a_cluster_that_never_gets_ready_is_environment_not_ready(offline, monkeypatch):
    def never_ready(c, timeout):
        raise CommandError(["kubectl", "wait", "nodes"], 1, stderr="error: timed out waiting for the condition")
    monkeypatch.setattr(cluster, "wait_ready", never_ready)
    kind = FakeKind()
    with pytest.raises(EnvironmentNotReady, match="timed out waiting for the condition"):
        ensure_cluster(ClusterSpec(name="t3"), kind=kind)
    assert kind.calls == ["create t3", "delete t3"]


def test_ctrl_c_during_create_is_not_turned_into_an_environment_error(offline):
    kind = FakeKind(error=KeyboardInterrupt())
    with pytest.raises(KeyboardInterrupt):
        ensure_cluster(ClusterSpec(name="t4"), kind=kind)
    assert kind.calls == ["create t4", "delete t4"]


def test_a_created_cluster_is_returned(offline, monkeypatch):
    monkeypatch.setattr(cluster, "wait_ready", lambda c, timeout: None)
    made = ensure_cluster(ClusterSpec(name="t5"), kind=FakeKind())
    assert made.created and made.name == "t5" and made.context == "kind-t5"


def test_cluster_up_exits_3_with_one_line(offline, monkeypatch, capsys):
    def fail(spec, **kw):
        raise cluster.creation_failed("harness", CommandError(["kind", "create", "cluster"], 1, stderr=KIND_ERROR))
    monkeypatch.setattr(cli.cluster_mod, "ensure_cluster", fail)
    monkeypatch.setattr(cli.cluster_mod, "resolve_node_image", lambda spec: "harness/kind-node:test")
    assert cli.main(["cluster", "up", "--cluster-name", "harness"]) == 3
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("harness: error: kind cluster 'harness' could not be created: ")


def test_cluster_down_without_docker_exits_3(monkeypatch, capsys):
    def no_engine():
        raise EnvironmentNotReady("Docker is not answering (`docker info` failed); start the Docker engine and retry")
    monkeypatch.setattr(cli.docker, "require_engine", no_engine)
    assert cli.main(["cluster", "down", "--cluster-name", "harness"]) == 3
    assert capsys.readouterr().err.startswith("harness: error: Docker is not answering")


def test_the_port_in_use_hint_names_an_option_that_exists():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        busy = s.getsockname()[1]
        with pytest.raises(UsageError) as info:
            cluster.check_ports_free([busy])
    msg = str(info.value)
    assert msg.startswith(f"host port 127.0.0.1:{busy} is already in use; free it")
    assert "--kind-config" in msg and "kind-config" in OPTIONS_BY_KEY
    assert "HARNESS_INGRESS" not in msg and "\n" not in msg
