"""harness.env.pullpath with a fake docker (no process): what is pushed under which name, the node
image resolved by the pull path's own code from the mirrored pin, the digest note, the kind config."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from harness.core.errors import EnvironmentNotReady
from harness.core.imageref import ImageRef
from harness.core.pins import kubernetes_pins
from harness.env import cluster as kind_cluster
from harness.env import pullpath
from harness.env.cluster import ClusterSpec
from harness.env.registry import CERTS_DIR, Registry
from harness.tools.exec import Result

DIGEST = "sha256:" + "1" * 64


class FakeDocker:
    def __init__(self, config_toml: str = "version = 3\n"):
        self.calls: list[list[str]] = []
        self.inputs: list[str] = []
        self.config_toml = config_toml

    def __call__(self, argv, *, timeout=60.0, check=True, input=None, env=None, hint=""):
        argv = [str(a) for a in argv]
        self.calls.append(argv)
        if input is not None:
            self.inputs.append(input)
        if argv[1] == "push":
            return Result(argv, 0, f"{argv[2].rsplit(':', 1)[1]}: digest: {DIGEST} size: 1\n", "")
        if argv[1] == "run":
            return Result(argv, 0, self.config_toml, "")
        return Result(argv, 0, "", "")


@pytest.fixture
def reg(tmp_path):
    return Registry("harness-registry-r-ab12", 5001, Path(tmp_path), "harness/registry:v3.1.2")


def test_prepare_pushes_resolves_and_routes(reg, monkeypatch):
    monkeypatch.setattr(kind_cluster, "local_node_image", lambda v: f"harness/kind-node:{v}-abc")
    docker = FakeDocker()
    spec = ClusterSpec(kubernetes_version="v1.37.2", workers=1)
    path = pullpath.prepare(reg, spec, images={"harness/postgres:15": "postgres:16"}, runner=docker)
    pins = kubernetes_pins("v1.37.2")
    tag = pins.pull.split("@")[0].split(":")[1]
    assert path.upstream_node_image == pins.pull
    assert path.node_image == f"127.0.0.1:5001/kindest/node:{tag}@{DIGEST}"
    assert path.pushed == {pins.pull: path.node_image, "postgres:16": f"127.0.0.1:5001/library/postgres:16@{DIGEST}"}
    tags = [c for c in docker.calls if c[1] == "tag"]
    assert tags == [["docker", "tag", "harness/kind-node:v1.37.2-abc", f"127.0.0.1:5001/kindest/node:{tag}"],
                    ["docker", "tag", "harness/postgres:15", "127.0.0.1:5001/library/postgres:16"]]
    assert path.digest_note.startswith(f"node image: the pin {pins.pull} cannot match a local build; pinned")
    cfg = yaml.safe_load(path.kind_config.read_text())
    assert len(cfg["nodes"]) == 2
    assert all(m["containerPath"] == CERTS_DIR for n in cfg["nodes"] for m in n["extraMounts"])
    assert "io.containerd.cri.v1.images" in cfg["containerdConfigPatches"][-1]
    assert (reg.storage / "certs.d" / "docker.io" / "hosts.toml").is_file()


def test_a_stamp_pushes_a_labelled_copy_of_the_node_image_only(reg, monkeypatch):
    """dockerd keeps manifests it pulled by digest and never asks the registry for them again: the
    stamped copy has a new config, so a digest no earlier run on this machine can have pulled."""
    monkeypatch.setattr(kind_cluster, "local_node_image", lambda v: f"harness/kind-node:{v}-abc")
    docker = FakeDocker()
    pullpath.prepare(reg, ClusterSpec(kubernetes_version="v1.37.2"), images={"harness/postgres:15": "postgres:16"},
                     stamp="20261201-070000-ab12", runner=docker)
    builds = [c for c in docker.calls if c[1] == "build"]
    assert len(builds) == 1 and builds[0][-1] == "-"
    target = builds[0][builds[0].index("-t") + 1]
    assert target.startswith("127.0.0.1:5001/kindest/node:")
    assert [c for c in docker.calls if c[1] == "tag"] == [
        ["docker", "tag", "harness/postgres:15", "127.0.0.1:5001/library/postgres:16"]]
    assert docker.inputs[0] == ("FROM harness/kind-node:v1.37.2-abc\n"
                                'LABEL io.helm-e2e-harness.pushed-for="20261201-070000-ab12"\n')
    # pushed, then its local name removed: nothing left for kind to find instead of pulling
    assert ["docker", "push", target] in docker.calls and ["docker", "rmi", target] in docker.calls


def test_prepare_follows_a_version_2_node_image(reg, monkeypatch):
    monkeypatch.setattr(kind_cluster, "local_node_image", lambda v: f"harness/kind-node:{v}-abc")
    path = pullpath.prepare(reg, ClusterSpec(kubernetes_version="v1.37.2"), runner=FakeDocker("version = 2\n"))
    cfg = yaml.safe_load(path.kind_config.read_text())
    assert "io.containerd.grpc.v1.cri" in cfg["containerdConfigPatches"][-1]


def test_prepare_without_a_local_node_image_is_one_line(reg, monkeypatch):
    monkeypatch.setattr(kind_cluster, "local_node_image", lambda v: None)
    with pytest.raises(EnvironmentNotReady, match=r"no local node image harness/kind-node:v1.37.2-\* to push"):
        pullpath.prepare(reg, ClusterSpec(kubernetes_version="v1.37.2"), runner=FakeDocker())


def test_digest_note_only_when_the_pin_differs():
    pushed = ImageRef("127.0.0.1:5001", "kindest/node", "v1.37.0", DIGEST)
    assert pullpath.digest_note("kindest/node:v1.37.0", pushed) == ""
    assert pullpath.digest_note(f"kindest/node:v1.37.0@{DIGEST}", pushed) == ""
    assert "cannot match a local build" in pullpath.digest_note("kindest/node:v1.37.0@sha256:" + "2" * 64, pushed)


def test_resolution_uses_the_mirrored_pin():
    pins = kubernetes_pins("v1.37.2")
    pushed = ImageRef("127.0.0.1:5001", "kindest/node", "v1.37.0", DIGEST)
    spec = ClusterSpec(kubernetes_version="v1.37.2", image_source="pull")
    assert kind_cluster.resolve_node_image(spec, pins=pullpath.mirrored_pins(pins, pushed)) == str(pushed)
    assert kind_cluster.resolve_node_image(spec) == pins.pull
