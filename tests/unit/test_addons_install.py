"""install_addons: everything is checked before anything is installed; present add-ons are left
alone; images and host ports are checked with one clear line (fakes instead of a cluster)."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import ClassVar

import pytest

from harness.core.errors import EnvironmentNotReady, UsageError
from harness.env.addons import catalog
from harness.env.addons.catalog import install_addons
from harness.env.addons.engine import Addon, AddonContext, check_host_ports
from harness.tools.exec import Result


@dataclass(frozen=True)
class FakeCluster:
    name: str = "harness"
    kubeconfig: Path = Path("/nonexistent/kubeconfig")
    context: str = "kind-harness"
    created: bool = True
    node_image: str = "harness/kind-node:v1.33.1-abc"


class Recorder:
    def __init__(self):
        self.calls: list[str] = []


REC = Recorder()


class FakeBase(Addon):
    images_: ClassVar[list[str]] = []
    fail_preflight: ClassVar[bool] = False
    present: ClassVar[bool] = False

    def images(self, ctx):
        return list(self.images_)

    def preflight(self, ctx):
        REC.calls.append(f"preflight {self.name}")
        if self.fail_preflight:
            raise UsageError(f"{self.name}: bad")

    def decide(self, ctx):
        return "present" if self.present else "install"

    def install(self, ctx):
        REC.calls.append(f"install {self.name}")

    def ready(self, ctx):
        REC.calls.append(f"ready {self.name}")

    def smoke(self, ctx):
        REC.calls.append(f"smoke {self.name}")


class FakeA(FakeBase):
    name = "fake-a"
    images_ = ["harness/a:1"]


class FakeB(FakeBase):
    name = "fake-b"


class FakeHost(FakeBase):
    name = "fake-host"

    def host_images(self, ctx):
        return ["harness/host:1"]


class FakeBroken(FakeBase):
    name = "fake-broken"
    fail_preflight = True


class FakePresent(FakeBase):
    name = "fake-present"
    present = True


@pytest.fixture
def registry(monkeypatch):
    REC.calls.clear()
    for cls in (FakeA, FakeB, FakeBroken, FakePresent, FakeHost):
        monkeypatch.setitem(catalog._REGISTRY, cls.name, cls)
    loaded: list[list[str]] = []
    monkeypatch.setattr("harness.env.cluster.load_images", lambda cluster, images: loaded.append(list(images)) or [])
    monkeypatch.setattr("harness.tools.docker.image_exists", lambda ref: True)
    from harness.core import progress, timings

    monkeypatch.setattr(timings, "RECORDER", timings.Timings())  # keep the run's own timings table clean
    monkeypatch.setattr(progress, "_sink", lambda line: None)     # and its terminal quiet
    return loaded


def ctx(**kw) -> AddonContext:
    return AddonContext(cluster=FakeCluster(), run_id="r1", **kw)


def test_checks_all_then_installs_each_and_returns_seconds_in_order(registry):
    """Independent add-ons install concurrently (tests/unit/test_addons_concurrent.py): each one's own
    steps keep their order, results and seconds come in the requested order."""
    c = ctx()
    seconds = install_addons(["fake-a", "fake-b"], c)
    assert list(seconds) == ["fake-a", "fake-b"]
    assert all(isinstance(s, float) and s >= 0 for s in seconds.values())
    assert REC.calls[:2] == ["preflight fake-a", "preflight fake-b"]
    for name in ("fake-a", "fake-b"):
        assert [x for x in REC.calls[2:] if x.endswith(f" {name}")] == [
            f"install {name}", f"ready {name}", f"smoke {name}"]
    assert len(REC.calls) == 8
    assert [(r.name, r.action) for r in c.results] == [("fake-a", "install"), ("fake-b", "install")]
    assert registry == [["harness/a:1"]], "only add-ons with images load any"


def test_a_failed_preflight_stops_before_any_install(registry):
    with pytest.raises(UsageError, match="fake-broken: bad"):
        install_addons(["fake-a", "fake-broken"], ctx())
    assert not [c for c in REC.calls if c.startswith("install")]


def test_unknown_name_stops_before_any_install(registry):
    with pytest.raises(UsageError, match="unknown add-on 'fake-c'"):
        install_addons(["fake-a", "fake-c"], ctx())
    assert REC.calls == []


def test_present_addon_is_not_reinstalled_but_checked(registry):
    c = ctx()
    install_addons(["fake-present"], c)
    assert "install fake-present" not in REC.calls
    assert "ready fake-present" in REC.calls
    assert c.results[0].action == "present"


def test_smoke_can_be_skipped(registry):
    c = ctx()
    install_addons(["fake-a"], c, smoke=False)
    assert "smoke fake-a" not in REC.calls
    assert c.results[0].smoke is False


def test_none_installs_nothing(registry):
    assert install_addons(["none"], ctx()) == {}


def test_missing_image_on_a_registry_less_machine_is_one_line(registry, monkeypatch):
    monkeypatch.setattr("harness.tools.docker.image_exists", lambda ref: False)
    with pytest.raises(EnvironmentNotReady) as info:
        install_addons(["fake-b", "fake-a"], ctx(image_source="local"))
    msg = str(info.value)
    assert msg.startswith("fake-a: image harness/a:1 not in the local Docker store and image-source is local")
    assert "\n" not in msg
    assert not [c for c in REC.calls if c.startswith("install")]


def test_host_images_are_checked_but_not_loaded_into_nodes(registry, monkeypatch):
    install_addons(["fake-host"], ctx(image_source="local"))
    assert registry == [], "a host-only image must not be loaded into the nodes"
    monkeypatch.setattr("harness.tools.docker.image_exists", lambda ref: ref != "harness/host:1")
    with pytest.raises(EnvironmentNotReady, match="fake-host: image harness/host:1 not in the local Docker store"):
        install_addons(["fake-host"], ctx(image_source="local"))


def test_pull_mode_asks_the_registry_and_loads_nothing(registry, monkeypatch):
    """Pull mode: the nodes pull; each image is asked of its registry first (through the mirror)."""
    asked, loaded = [], []
    monkeypatch.setattr("harness.env.addons.engine.require_images",
                        lambda images, **kw: asked.append((list(images), kw)))
    monkeypatch.setattr("harness.env.cluster.load_images", lambda cluster, images, **kw: loaded.append(images) or [])
    install_addons(["fake-a"], ctx(image_source="pull", registry_mirror="127.0.0.1:5999"))
    assert asked and asked[0][0] == ["harness/a:1"]
    assert asked[0][1]["mirror"] == "127.0.0.1:5999" and "docker.io" in asked[0][1]["mirrored"]
    assert loaded == []


def test_a_missing_image_in_pull_mode_is_one_line(registry, monkeypatch):
    def refuse(images, **kw):
        raise EnvironmentNotReady("image harness/a:1: tag 1 not found in docker.io/harness/a")

    monkeypatch.setattr("harness.env.addons.engine.require_images", refuse)
    with pytest.raises(EnvironmentNotReady, match=r"^image harness/a:1: tag 1 not found"):
        install_addons(["fake-a"], ctx(image_source="pull"))


def test_host_pull_name_goes_through_the_mirror():
    assert ctx().host_pull_name("postgres:16") == "postgres:16"
    assert (ctx(registry_mirror="127.0.0.1:5999").host_pull_name("postgres:16")
            == "127.0.0.1:5999/library/postgres:16")


@pytest.mark.parametrize("source,node_image,want", [
    ("local", "", "local"), ("pull", "harness/kind-node:x", "pull"),
    ("auto", "harness/kind-node:v1.33.1-abc", "local"), ("auto", "kindest/node:v1.33.1", "pull"),
])
def test_effective_image_source(source, node_image, want):
    c = AddonContext(cluster=FakeCluster(node_image=node_image), image_source=source, run_id="r")
    assert c.effective_image_source() == want


def test_bad_image_source_is_a_usage_error():
    with pytest.raises(UsageError, match="image-source must be auto, pull or local, not 'sometimes'"):
        AddonContext(cluster=FakeCluster(), image_source="sometimes", run_id="r").effective_image_source()


def test_from_config_reads_what_the_config_has():
    class Cfg:
        image_source = "local"
        artifacts_dir = Path("/tmp/a")

        class timeouts:  # noqa: N801
            install = 111.0
            wait = 22.0

        postgres_image = "postgres:16"
        addon_values = {"traefik": {"logLevel": "DEBUG"}}

    c = AddonContext.from_config(Cfg(), FakeCluster(), run_id="r")
    assert (c.image_source, c.timeout, c.wait_timeout, c.http_port) == ("local", 111.0, 22.0, 18080)
    assert c.setting("postgres", "image") == "postgres:16"
    assert c.setting("traefik", "values") == {"logLevel": "DEBUG"}


def test_addon_state_of_an_addon_not_installed_is_a_usage_error():
    with pytest.raises(UsageError, match="add-on 'postgres' is not installed in this session"):
        ctx().addon_state("postgres")


# --------------------------------------------------------------------------- host ports


class FakeKubectl:
    def __init__(self, objects):
        self.objects = objects

    def get_json(self, *args, **kw):
        return self.objects.get(args[0])


def _pod(ns, name, host_port, instance="other"):
    return {"metadata": {"namespace": ns, "name": name, "labels": {"app.kubernetes.io/instance": instance}},
            "status": {"phase": "Running"},
            "spec": {"containers": [{"ports": [{"containerPort": 80, "hostPort": host_port}]}]}}


NODES = {"items": [{"metadata": {"name": "harness-control-plane"}}]}


def _port_runner(published):
    def runner(argv, **kw):
        assert argv[:2] == ["docker", "port"]
        return Result(list(argv), 0, published.get(argv[3], ""), "")
    return runner


def test_host_port_taken_by_another_controller_is_a_usage_error():
    k = FakeKubectl({"nodes": NODES, "pods": {"items": [_pod("ingress-nginx", "ingress-nginx-controller-x", 80)]}})
    c = AddonContext(cluster=FakeCluster(), run_id="r", kubectl=k, runner=_port_runner({}))
    with pytest.raises(UsageError, match="host port 80 on node harness-control-plane is taken by pod "
                                         "ingress-nginx/ingress-nginx-controller-x"):
        check_host_ports(c, owner_namespace="harness-traefik", owner_release="traefik")


def test_own_release_may_hold_the_host_ports():
    k = FakeKubectl({"nodes": NODES, "pods": {"items": [_pod("harness-traefik", "traefik-x", 80, "traefik")]}})
    runner = _port_runner({"80/tcp": "127.0.0.1:18080\n", "443/tcp": "127.0.0.1:18443\n"})
    c = AddonContext(cluster=FakeCluster(), run_id="r", kubectl=k, runner=runner)
    assert check_host_ports(c, owner_namespace="harness-traefik", owner_release="traefik") == "harness-control-plane"


def test_node_port_not_published_on_loopback_is_environment_not_ready():
    k = FakeKubectl({"nodes": NODES, "pods": {"items": []}})
    runner = _port_runner({"80/tcp": "0.0.0.0:80\n"})
    c = AddonContext(cluster=FakeCluster(), run_id="r", kubectl=k, runner=runner)
    with pytest.raises(EnvironmentNotReady, match=r"does not publish port 80 on 127.0.0.1 \(docker port says "
                                                  r"0.0.0.0:80\); the kind config needs extraPortMappings"):
        check_host_ports(c, owner_namespace="harness-traefik", owner_release="traefik")


def test_ports_published_by_a_custom_kind_config_are_adopted():
    k = FakeKubectl({"nodes": NODES, "pods": {"items": []}})
    runner = _port_runner({"80/tcp": "127.0.0.1:28080\n", "443/tcp": "127.0.0.1:28443\n"})
    c = AddonContext(cluster=FakeCluster(), run_id="r", kubectl=k, runner=runner)
    check_host_ports(c, owner_namespace="harness-traefik", owner_release="traefik")
    assert (c.http_port, c.https_port) == (28080, 28443)


def test_no_ingress_ready_node_is_environment_not_ready():
    c = AddonContext(cluster=FakeCluster(), run_id="r", kubectl=FakeKubectl({"nodes": {"items": []}}))
    with pytest.raises(EnvironmentNotReady, match="no node is labelled ingress-ready=true"):
        check_host_ports(c, owner_namespace="x", owner_release="y")


def test_teardown_runs_every_addon_and_reraises_the_first_error(registry, monkeypatch):
    seen = []

    def boom(self, ctx, *, keep):
        seen.append((self.name, keep))
        raise RuntimeError(f"{self.name} broke")

    monkeypatch.setattr(FakeA, "teardown", boom)
    monkeypatch.setattr(FakeB, "teardown", lambda self, ctx, *, keep: seen.append((self.name, keep)))
    c = ctx()
    install_addons(["fake-a", "fake-b"], c)
    with pytest.raises(RuntimeError, match="fake-a broke"):
        catalog.teardown_addons(c, keep=True)
    assert seen == [("fake-b", True), ("fake-a", True)]
    json.dumps([r.__dict__ for r in c.results])  # results are plain data


@pytest.mark.parametrize("built,want", [("harness/kind-node:v1.37.2-abc", "local"), (None, "pull")])
def test_auto_on_a_reused_cluster_asks_for_its_versions_node_image(monkeypatch, built, want):
    asked: list[str] = []
    monkeypatch.setattr("harness.env.cluster.local_node_image", lambda version: asked.append(version) or built)
    # a reused cluster does not say which node image it runs, only its Kubernetes version
    reused = SimpleNamespace(**{**vars(FakeCluster()), "node_image": "", "kubernetes_version": "v1.36.3"})
    c = AddonContext(cluster=reused, image_source="auto", run_id="r")
    assert c.effective_image_source() == want and asked == ["v1.36.3"]
