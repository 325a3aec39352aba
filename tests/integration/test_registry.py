"""The loopback registry for real (harness/env/registry.py): the distribution registry's container
started, an image pushed under its upstream name and pulled back with docker, the request log read,
labels that `python -m harness clean` finds, everything removed at the end; and the registry faults
(harness/env/imagecheck.py) against it: 404, 401 and unreachable, each one line in under 30 s.
Needs Docker and the registry image (images/build-registry.sh); no kind cluster."""
from __future__ import annotations

import json
import os
import subprocess
import time
import urllib.request

import pytest
from support import free_port

from harness.core.errors import EnvironmentNotReady, HarnessError
from harness.env import registry as reg_mod
from harness.env.addons.postgres import LABEL_ADDON, LABEL_PID, LABEL_RUN
from harness.env.clean import list_containers
from harness.env.imagecheck import require_images
from harness.tools import docker

TOOLBOX = "harness/toolbox:latest"


def _docker(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["docker", *args], capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def registry_ready() -> None:
    """Skip (with the reason) when Docker or the registry image is not there."""
    try:
        docker.require_engine()
    except HarnessError as exc:
        pytest.skip(str(exc))
    image = reg_mod.default_image()
    if _docker("image", "inspect", image).returncode != 0:
        pytest.skip(f"{image} is not built; run images/build-registry.sh")


@pytest.fixture(scope="module")
def reg(registry_ready):
    r = reg_mod.start(0)
    yield r
    reg_mod.stop(r)


def test_push_then_docker_pull_back_through_the_registry(reg):
    if _docker("image", "inspect", TOOLBOX).returncode != 0:
        pytest.skip(f"{TOOLBOX} is not built; run images/build-toolbox.sh")
    pushed = reg_mod.push(reg, TOOLBOX, "docker.io/harness/toolbox:regtest")
    assert str(pushed).startswith(f"{reg.address}/harness/toolbox:regtest@sha256:")
    # push removed its extra tag, so this pull has to fetch from the registry
    assert _docker("image", "inspect", pushed.pushed_name()).returncode != 0
    pulled = _docker("pull", str(pushed))
    assert pulled.returncode == 0, pulled.stderr
    try:
        want = _docker("image", "inspect", "-f", "{{.Id}}", TOOLBOX).stdout.strip()
        got = _docker("image", "inspect", "-f", "{{.Id}}", str(pushed)).stdout.strip()
        assert got == want
        # the registry's "response completed" line for docker's HEAD can reach its log seconds after
        # `docker pull` returned (seen: not there after 1 s, there after 6 s), so wait for it, bounded
        deadline = time.monotonic() + 30
        while ("harness/toolbox", pushed.digest) not in (pulls := reg_mod.manifest_pulls(reg, agent="docker")):
            assert time.monotonic() < deadline, f"no manifest pull by docker in the registry log after 30 s: {pulls}"
            time.sleep(0.5)
        assert all(r.status in (200, 201, 202, 307, 404) for r in reg_mod.requests(reg)), reg_mod.requests(reg)
    finally:
        _docker("rmi", str(pushed), pushed.pushed_name())


def test_labels_let_clean_find_it_as_a_live_runs_container(reg, tmp_path):
    labels = json.loads(_docker("inspect", "-f", "{{json .Config.Labels}}", reg.name).stdout)
    assert labels[LABEL_ADDON] == "registry" and labels[LABEL_RUN] == reg.run_id
    assert labels[LABEL_PID] == str(os.getpid())
    found = {r.name: r for r in list_containers(tmp_path)}
    assert found[reg.name].owner.pid == os.getpid()
    assert reg_mod.find() and reg.name in [n for n, _ in reg_mod.find()]
    assert (reg.name, reg.port) in reg_mod.find()


def test_missing_tag_is_one_line_in_under_30_s(reg):
    image = f"{reg.address}/harness/toolbox:no-such-tag"
    start = time.monotonic()
    with pytest.raises(EnvironmentNotReady) as err:
        require_images([image])
    assert time.monotonic() - start < 30
    assert str(err.value) == (f"image {image}: tag no-such-tag not found in registry {reg.address} (HTTP 404 for "
                              "HEAD /v2/harness/toolbox/manifests/no-such-tag); check the image name and tag in "
                              "the chart's values, or push the image")
    assert err.value.exit_code == 3


def test_mirrored_upstream_name_is_asked_of_the_registry(reg):
    start = time.monotonic()
    with pytest.raises(EnvironmentNotReady, match=rf"registry {reg.address} \(standing in for quay.io\)"):
        require_images(["quay.io/nobody/nothing:1.0"], mirror=reg.address, mirrored=reg_mod.UPSTREAM_REGISTRIES)
    assert time.monotonic() - start < 30


def test_unreachable_registry_is_one_line_in_under_30_s(registry_ready):
    port = free_port()
    image = f"127.0.0.1:{port}/library/postgres:16"
    start = time.monotonic()
    with pytest.raises(EnvironmentNotReady) as err:
        require_images([image], timeout=10)
    assert time.monotonic() - start < 30
    assert str(err.value).startswith(f"image {image}: registry 127.0.0.1:{port} is unreachable (")
    assert "\n" not in str(err.value)


def test_registry_with_auth_answers_401_as_one_line_in_under_30_s(registry_ready):
    locked = reg_mod.start(0, auth=True)
    try:
        image = f"{locked.address}/library/postgres:16"
        start = time.monotonic()
        with pytest.raises(EnvironmentNotReady) as err:
            require_images([image])
        assert time.monotonic() - start < 30
        assert str(err.value).startswith(f"image {image}: registry {locked.address} refused access (HTTP 401")
        assert f"docker login {locked.address}" in str(err.value)
    finally:
        reg_mod.stop(locked)
    assert _docker("inspect", locked.name).returncode != 0
    assert not locked.storage.exists()


def test_stop_removes_container_and_storage(registry_ready):
    r = reg_mod.start(0)
    assert (r.storage / "config.yml").is_file()
    reg_mod.stop(r)
    assert _docker("inspect", r.name).returncode != 0
    assert not r.storage.exists()
    reg_mod.stop(r)  # twice is fine


def test_a_pull_reaches_a_registry_whose_address_an_earlier_one_left_references_under(registry_ready):
    """Docker gives out ports in the same order after each daemon restart, so a registry can get the
    address of an earlier one whose pulls are still in the host's store; kind then skipped pulling
    the node image (a red CI run: "no pull by the host's Docker in the registry log")."""
    if _docker("image", "inspect", TOOLBOX).returncode != 0:
        pytest.skip(f"{TOOLBOX} is not built; run images/build-toolbox.sh")
    port = free_port()
    leftover = f"127.0.0.1:{port}/harness/toolbox:leftover"
    assert _docker("tag", TOOLBOX, leftover).returncode == 0
    r = None
    try:
        r = reg_mod.start(port)
        assert _docker("image", "inspect", leftover).returncode != 0, "the earlier registry's reference is still there"
        pushed = reg_mod.push(r, TOOLBOX, "docker.io/harness/toolbox:leftover")
        assert _docker("pull", str(pushed)).returncode == 0
        deadline = time.monotonic() + 30
        while ("harness/toolbox", pushed.digest) not in (pulls := reg_mod.manifest_pulls(r, agent="docker")):
            assert time.monotonic() < deadline, f"no manifest pull by docker in the registry log after 30 s: {pulls}"
            time.sleep(0.5)
    finally:
        _docker("rmi", leftover)
        if r is not None:
            reg_mod.stop(r)
    assert not [line for line in _docker("images", "--format", "{{.Repository}}").stdout.splitlines()
                if line.startswith(f"127.0.0.1:{port}/")]


def test_a_stamped_push_is_pulled_through_the_registry_though_its_image_was_pulled_before(reg):
    """dockerd (20.10 and later) takes a manifest it already holds by digest from its own content store
    and an image config it already has: pulled again through the same address, the registry sees only
    ``GET /v2/`` (20.10.24 here). A red CI run of ci/e2e_pull.py found no pull of the node image by the
    host's Docker after the pre-check had pulled the same digest through a registry on the same port.
    A stamped push has the same layers and a new config, so a new digest, and its pull has to reach
    the registry."""
    if _docker("image", "inspect", TOOLBOX).returncode != 0:
        pytest.skip(f"{TOOLBOX} is not built; run images/build-toolbox.sh")
    plain = reg_mod.push(reg, TOOLBOX, "docker.io/harness/toolbox:plain")
    assert _docker("pull", str(plain)).returncode == 0  # now this host holds its manifest
    _docker("rmi", str(plain))
    stamped = reg_mod.push(reg, TOOLBOX, "docker.io/harness/toolbox:stamped", stamp=reg.run_id)
    try:
        assert stamped.digest != plain.digest
        assert _docker("image", "inspect", stamped.pushed_name()).returncode != 0, "the stamped copy is still local"
        pulled = _docker("pull", str(stamped))
        assert pulled.returncode == 0, pulled.stderr
        deadline = time.monotonic() + 30
        while ("harness/toolbox", stamped.digest) not in (pulls := reg_mod.manifest_pulls(reg, agent="docker")):
            assert time.monotonic() < deadline, f"no manifest pull by docker in the registry log after 30 s: {pulls}"
            time.sleep(0.5)
        fmt = "{{json .RootFS.Layers}} {{json .Config.Labels}}"
        layers, labels = _docker("image", "inspect", "-f", fmt, str(stamped)).stdout.split(" ", 1)
        assert layers == _docker("image", "inspect", "-f", "{{json .RootFS.Layers}}", TOOLBOX).stdout.strip()
        assert json.loads(labels)[reg_mod.LABEL_STAMP] == reg.run_id
    finally:
        _docker("rmi", str(stamped))


def test_a_registry_started_before_the_kind_network_keeps_its_address_when_it_joins(registry_ready):
    """On a fresh machine the pull path starts the registry before any kind cluster made the `kind`
    network and joins it afterwards; dockerd 20.10 gave a port it had chosen a new number on that
    join (seen: 32781 -> 32782), and everything naming the old address was refused."""
    network = f"harness-test-join-{os.getpid()}"
    r = reg_mod.start(0, network=network)  # not there yet
    try:
        assert r.networks == []
        address = r.address
        # like the network kind makes: IPv6 on (a plain IPv4 network did not move the port)
        made = _docker("network", "create", "--ipv6", "--subnet", "fd00:5e7:a11:1::/64", network)
        assert made.returncode == 0, made.stderr
        reg_mod.attach(r, network)
        assert _docker("port", r.name, "5000/tcp").stdout.strip() == address
        assert urllib.request.urlopen(f"http://{address}/v2/", timeout=10).status == 200
    finally:
        reg_mod.stop(r)
        _docker("network", "rm", network)


def test_taken_port_is_one_line(reg):
    with pytest.raises(EnvironmentNotReady, match=rf"host port 127.0.0.1:{reg.port} is already in use"):
        reg_mod.start(reg.port)


def test_cli_up_prints_the_address_and_down_removes_it_only(reg, tmp_path):
    import sys

    env = {**os.environ, "HARNESS_CACHE": str(tmp_path / "cache")}
    up = subprocess.run([sys.executable, "-m", "harness", "registry", "up"], capture_output=True, text=True,
                        timeout=120, env=env)
    assert up.returncode == 0, up.stderr
    first = up.stdout.splitlines()[0]
    assert first.startswith("registry harness/registry:") and " at 127.0.0.1:" in first
    name = first.split("(container ", 1)[1].split(",", 1)[0]
    port = int(first.split(" at 127.0.0.1:", 1)[1].split()[0])
    try:
        assert (name, port) in reg_mod.find(by_hand=True)
        assert reg.name not in [n for n, _ in reg_mod.find(by_hand=True)]
        assert any((tmp_path / "cache" / "runs").iterdir())  # the kept run record
    finally:
        down = subprocess.run([sys.executable, "-m", "harness", "registry", "down"], capture_output=True, text=True,
                              timeout=120, env=env)
    assert down.returncode == 0 and f"removed registry {name} (127.0.0.1:{port})" in down.stdout
    assert _docker("inspect", name).returncode != 0
    assert not any((tmp_path / "cache" / "runs").iterdir())
    assert _docker("inspect", reg.name).returncode == 0, "down removed a test run's registry"


def test_a_container_on_the_kind_network_reaches_it_by_name_not_by_loopback(reg):
    """What a kind node's containerd sees: the registry answers at ``<name>:5000`` on the kind
    network, while 127.0.0.1:<port> inside that container is the container's own loopback."""
    if reg_mod.KIND_NETWORK not in reg.networks:
        pytest.skip("no kind network on this machine (no kind cluster yet)")
    if _docker("image", "inspect", TOOLBOX).returncode != 0:
        pytest.skip(f"{TOOLBOX} is not built; run images/build-toolbox.sh")
    # no `wget -T`: this static busybox segfaults with it; both connects end at once here anyway
    probe = ("wget -q -O - http://{by_name}/v2/ && echo BY-NAME-OK; "
             "wget -q -O - http://127.0.0.1:{port}/v2/ && echo LOOPBACK-OK; true")
    res = _docker("run", "--rm", "--network", reg_mod.KIND_NETWORK, TOOLBOX, "timeout", "60", "sh", "-c",
                  probe.format(by_name=reg.in_network, port=reg.port))
    assert res.returncode == 0, res.stderr
    assert "BY-NAME-OK" in res.stdout and "LOOPBACK-OK" not in res.stdout
