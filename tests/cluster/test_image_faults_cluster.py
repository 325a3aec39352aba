"""Registry faults that involve the nodes (issue 17): an image some nodes hold and others lack, on a
real kind cluster and against the real loopback registry (harness/env/registry.py).

- image-source ``local``: :func:`harness.env.cluster.load_images` finds the node that lacks an image
  the others hold, loads it there only and says so;
- image-source ``pull``: an image one node holds (a ``kind load --nodes`` by hand) that the registry
  does not have is one line naming the image, the registry and the nodes whose pods would wait in
  ImagePullBackOff, in under 30 s and before anything is installed (the check the session's
  ``chart_images`` runs, harness/plugin/session.py).
"""
from __future__ import annotations

import subprocess
import time

import pytest

from harness.core import progress
from harness.core.errors import EnvironmentNotReady, HarnessError
from harness.env import registry as reg_mod
from harness.env.cluster import image_holders, load_images, normalize_ref
from harness.env.imagecheck import partial_note, require_images
from harness.tools import docker
from harness.tools.kind import Kind

pytestmark = pytest.mark.cluster


def _docker(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["docker", *args], capture_output=True, text=True, timeout=300)


def _load_one_node(cluster, image: str, holder: str) -> None:
    Kind().load_image(cluster.name, image, nodes=[holder])


def _forget(cluster, image: str) -> None:
    for n in Kind().get_nodes(cluster.name):
        subprocess.run(["docker", "exec", n, "ctr", "--namespace=k8s.io", "images", "rm", normalize_ref(image)],
                       capture_output=True, timeout=60, check=False)


def _worker(cluster) -> tuple[str, list[str]]:
    nodes = Kind().get_nodes(cluster.name)
    workers = sorted(n for n in nodes if "worker" in n)
    if len(nodes) < 2 or not workers:
        pytest.skip(f"cluster {cluster.name} has no worker node to leave out ({nodes})")
    return workers[0], nodes


def test_local_build_loads_an_image_into_the_one_node_that_lacks_it(cluster, toolbox):
    holder, nodes = _worker(cluster)
    image = f"harness/fault-one-node:local-{int(time.time())}"
    assert _docker("tag", toolbox, image).returncode == 0
    try:
        _load_one_node(cluster, image, holder)
        _, before = image_holders(cluster, [image])
        assert before[image] == [holder]
        said: list[str] = []
        previous = progress.set_sink(said.append)
        try:
            assert load_images(cluster, [image]) == [image]
        finally:
            progress.set_sink(previous)
        _, after = image_holders(cluster, [image])
        assert sorted(after[image]) == sorted(nodes)
        lacking = ", ".join(n for n in nodes if n != holder)
        assert f"{progress.PREFIX}image {image} was missing on {lacking} only (held by {holder}); loaded it there" \
            in said, said
        assert load_images(cluster, [image]) == []  # every node holds it now: nothing to do
    finally:
        _forget(cluster, image)
        _docker("rmi", image)


@pytest.fixture
def registry():
    try:
        docker.require_engine()
    except HarnessError as exc:
        pytest.skip(str(exc))
    if _docker("image", "inspect", reg_mod.default_image()).returncode != 0:
        pytest.skip(f"{reg_mod.default_image()} is not built; run images/build-registry.sh")
    r = reg_mod.start(0)
    yield r
    reg_mod.stop(r)


def test_pull_path_image_on_one_node_only_is_one_line_naming_the_nodes(cluster, toolbox, registry):
    holder, nodes = _worker(cluster)
    # named on the registry, never pushed there: the holder has it from a kind load by hand
    image = f"{registry.address}/harness/fault-one-node:pull-{int(time.time())}"
    assert _docker("tag", toolbox, image).returncode == 0
    try:
        _load_one_node(cluster, image, holder)
        start = time.monotonic()
        all_nodes, holders = image_holders(cluster, [image])
        with pytest.raises(EnvironmentNotReady) as err:
            require_images([image], notes={i: partial_note(h, all_nodes) for i, h in holders.items()})
        assert time.monotonic() - start < 30
        line = str(err.value)
        lacking = ", ".join(n for n in nodes if n != holder)
        assert "\n" not in line
        assert line.startswith(f"image {image}: tag {image.rsplit(':', 1)[1]} not found in registry "
                               f"{registry.address} (HTTP 404"), line
        assert line.endswith(f"; only node {holder} holds it already, so pods scheduled on {lacking} would wait in "
                             "ImagePullBackOff"), line
        assert err.value.exit_code == 3
    finally:
        _forget(cluster, image)
        _docker("rmi", image)
