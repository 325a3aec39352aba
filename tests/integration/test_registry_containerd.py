"""The nodes' containerd, routed by the harness's hosts.toml (harness/env/registry.py): the pinned
containerd (the default Kubernetes row's, from the image cache) run as a private daemon (its own
root, state and socket in a temporary directory; the CRI plugins off), and ``ctr content fetch
--hosts-dir`` asked for upstream names. It must fetch them from the loopback registry, and the
registry's log must show containerd's requests. The hosts.toml here names the registry's
127.0.0.1 port (this daemon runs on the host); in a node it names ``<container>:5000`` on the kind
network (tests/integration/test_registry.py checks that name answers there). The CRI plugin's
``config_path`` patch itself needs a kind cluster (the lead's cluster run)."""
from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from harness.core.errors import HarnessError
from harness.core.pins import cache_dir, kubernetes_pins
from harness.env import registry as reg_mod
from harness.tools import docker

TOOLBOX = "harness/toolbox:latest"


@pytest.fixture(scope="module")
def containerd_bin() -> Path:
    version = kubernetes_pins().containerd
    d = cache_dir() / "bin" / f"containerd-{version}"
    if not (d / "containerd").is_file() or not (d / "ctr").is_file():
        pytest.skip(f"containerd {version} is not built here (images/build-runtime.sh)")
    return d


@pytest.fixture(scope="module")
def reg():
    try:
        docker.require_engine()
    except HarnessError as exc:
        pytest.skip(str(exc))
    for image in (reg_mod.default_image(), TOOLBOX):
        if subprocess.run(["docker", "image", "inspect", image], capture_output=True).returncode != 0:
            pytest.skip(f"{image} is not built (make images)")
    r = reg_mod.start(0)
    yield r
    reg_mod.stop(r)


@pytest.fixture
def daemon(containerd_bin):
    """A private containerd: ``(ctr argv prefix, its work directory)``; ended at teardown."""
    # short path: the socket's path must fit a sockaddr_un (108 bytes)
    work = Path(tempfile.mkdtemp(prefix="ctrd-", dir="/tmp"))
    (work / "config.toml").write_text(
        'version = 3\ndisabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.cri.v1.runtime", '
        '"io.containerd.cri.v1.images"]\n')
    sock = work / "c.sock"
    log = (work / "log").open("w")
    proc = subprocess.Popen([str(containerd_bin / "containerd"), "--config", str(work / "config.toml"),
                             "--root", str(work / "root"), "--state", str(work / "state"), "--address", str(sock)],
                            stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while not sock.exists():
            assert proc.poll() is None, (work / "log").read_text()[-500:]
            assert time.monotonic() < deadline, "containerd did not open its socket within 30 s"
            time.sleep(0.1)
        yield [str(containerd_bin / "ctr"), "--address", str(sock)], work
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=20)
        log.close()
        shutil.rmtree(work, ignore_errors=True)


@pytest.mark.parametrize("upstream", ["docker.io/harness/toolbox:ctrtest", "quay.io/harness/toolbox:ctrtest",
                                      "registry.k8s.io/harness/toolbox:ctrtest"])
def test_containerd_fetches_upstream_names_from_the_loopback_registry(reg, daemon, upstream):
    ctr, work = daemon
    pushed = reg_mod.push(reg, TOOLBOX, upstream)
    hosts = work / "certs.d"
    for name in reg_mod.UPSTREAM_REGISTRIES:
        (hosts / name).mkdir(parents=True, exist_ok=True)
        (hosts / name / "hosts.toml").write_text(reg_mod.hosts_toml(name, reg.address))
    before = len(reg_mod.requests(reg))
    res = subprocess.run([*ctr, "content", "fetch", "--hosts-dir", str(hosts), upstream], capture_output=True,
                         text=True, timeout=120)
    assert res.returncode == 0, res.stderr[-500:]
    seen = reg_mod.requests(reg)[before:]
    ns = upstream.split("/", 1)[0]
    manifest = [r for r in seen if r.manifest and r.method in ("GET", "HEAD") and r.status == 200]
    assert manifest and all("containerd/" in r.user_agent for r in manifest)
    assert any(r.uri.endswith(f"?ns={ns}") for r in manifest)
    assert ("harness/toolbox", pushed.digest) in reg_mod.pulls_of(seen, agent="containerd") or \
        ("harness/toolbox", "ctrtest") in reg_mod.pulls_of(seen, agent="containerd")


NODE_CONFIG_V3 = Path(__file__).resolve().parents[2] / "images" / "node" / "containerd" / "config-v3.toml"


@pytest.mark.parametrize("version", [3, 2])
def test_config_patch_sets_the_cri_images_registry_config_path(containerd_bin, tmp_path, version):
    """``containerd config dump`` (the effective config, version 2 migrated to 3) of a node config
    plus :func:`containerd_patch`: this project's node config (version 3) and a kind-style version 2
    one. The patch's table is new in both, so appending it is what kind's merge of
    ``containerdConfigPatches`` gives."""
    if version == 3:
        base = NODE_CONFIG_V3.read_text().replace("@PAUSE_IMAGE@", "registry.k8s.io/pause:3.10.2")
    else:
        base = ('version = 2\n[plugins."io.containerd.grpc.v1.cri"]\n  sandbox_image = "registry.k8s.io/pause:3.10"\n'
                '[plugins."io.containerd.grpc.v1.cri".containerd]\n  snapshotter = "overlayfs"\n')
    cfg = tmp_path / "config.toml"
    cfg.write_text(base + "\n" + reg_mod.containerd_patch(version))
    res = subprocess.run([str(containerd_bin / "containerd"), "--config", str(cfg), "config", "dump"],
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr[-500:]
    section = res.stdout.split("[plugins.'io.containerd.cri.v1.images'.registry]", 1)
    assert len(section) == 2, "no CRI images registry section in the effective config"
    assert section[1].lstrip().startswith(f"config_path = '{reg_mod.CERTS_DIR}'")
