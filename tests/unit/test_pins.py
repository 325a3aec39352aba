"""harness/data/versions.env (images/versions.env is a symlink to it): the per-Kubernetes-version table, read by
harness/core/pins.py and images/lib.sh."""
from __future__ import annotations

from pathlib import Path

import pytest

from harness.core.errors import UsageError
from harness.core.pins import (
    VERSIONS_FILE,
    kubernetes_pins,
    kubernetes_table,
    parse_row,
    parse_versions,
    pinned,
    supported_kubernetes,
)
from harness.tools.binaries import tool_path, tools_key

IMAGES = Path(__file__).resolve().parents[2] / "images"
TEXT = """\
# comment
KUBERNETES_VERSION=v1.37.2
HELM_VERSION=v4.3.2
HELM3_VERSION=v3.22.0
K8S_1_36="v1.36.3 kind=v0.33.0 etcd=3.6.8-0 coredns=v1.14.2 pause=3.10.2 containerd=v2.3.7 runc=v1.4.4"
K8S_1_37="v1.37.2 kind=v0.33.0 etcd=3.7.0-0 coredns=v1.14.6 pause=3.10.2 containerd=v2.3.7 runc=v1.4.4 digest=sha256:ab"
"""


def test_rows_parse_with_quotes_removed():
    values = parse_versions(TEXT)
    assert values["KUBERNETES_VERSION"] == "v1.37.2"
    table = kubernetes_table(values)
    assert list(table) == ["v1.36.3", "v1.37.2"]
    row = table["v1.37.2"]
    assert (row.etcd, row.coredns, row.pause, row.containerd, row.kind) == ("3.7.0-0", "v1.14.6", "3.10.2", "v2.3.7", "v0.33.0")
    assert row.digest == "sha256:ab" and row.commit == ""
    assert row.minor == "1.37" and row.pause_image == "registry.k8s.io/pause:3.10.2"


def test_default_and_explicit_version_selection():
    values = parse_versions(TEXT)
    assert kubernetes_pins(None, values).version == "v1.37.2"
    assert kubernetes_pins("1.36.3", values).version == "v1.36.3"


def test_unsupported_version_is_one_line_listing_the_supported_ones():
    with pytest.raises(UsageError) as e:
        kubernetes_pins("v1.34.0", parse_versions(TEXT))
    msg = str(e.value)
    assert "\n" not in msg and "v1.34.0" in msg and "v1.36.3, v1.37.2" in msg
    # a patch release that is not the pinned one is not silently taken for it
    with pytest.raises(UsageError):
        kubernetes_pins("v1.37.1", parse_versions(TEXT))


@pytest.mark.parametrize("key,value,problem", [
    ("K8S_1_37", "v1.36.3 kind=v0.33.0 etcd=1 coredns=1 pause=1 containerd=1 runc=1", "does not belong"),
    ("K8S_1_37", "v1.37.2 kind=v0.33.0 etcd=1 coredns=1 pause=1 containerd=1", "missing runc"),
    ("K8S_1_37", "v1.37.2 kind=v0.33.0 etcd=1 coredns=1 pause=1 containerd=1 runc=1 colour=blue", "unknown entry"),
])
def test_bad_rows_are_named(key, value, problem):
    with pytest.raises(ValueError, match=problem):
        parse_row(key, value)


def test_the_real_file_pins_every_supported_version_with_kubeadms_images():
    table = kubernetes_table()
    assert pinned()["KUBERNETES_VERSION"] in table
    # read from cmd/kubeadm/app/constants/constants.go of each tag (DefaultEtcdVersion, CoreDNSVersion, PauseVersion)
    want = {"v1.35.4": ("3.6.6-0", "v1.13.1", "3.10.1"), "v1.36.3": ("3.6.8-0", "v1.14.2", "3.10.2"),
            "v1.37.2": ("3.7.0-0", "v1.14.6", "3.10.2")}
    for version, images in want.items():
        row = table[version]
        assert (row.etcd, row.coredns, row.pause) == images
        # kubeadm 1.37 rejects kubeadm.k8s.io/v1beta3, which kind < v0.32 writes
        assert tuple(int(x) for x in row.kind.lstrip("v").split(".")[:2]) >= (0, 32)
        # containerd's support table has no 1.6 (Debian's) for 1.35+
        assert row.containerd.startswith("v2.")
        # an etcd wrapper module exists for the etcd tag kubeadm wants
        assert (IMAGES / "build" / "etcd" / f"v{row.etcd.rsplit('-', 1)[0]}" / "go.mod").is_file()
        assert (IMAGES / "build" / "kubernetes" / version / "go.mod").is_file()


def test_tools_key_follows_the_kubernetes_version():
    v = pinned()
    for version in supported_kubernetes():
        key = tools_key(version)
        assert key.endswith(f"-kubectl-{version}") and f"-helm3-{v['HELM3_VERSION']}-" in key
        assert key.startswith(f"kind-{kubernetes_pins(version).kind}-helm-{v['HELM_VERSION']}-")


def test_tool_path_for_another_version_never_falls_back_to_path(tmp_path, monkeypatch):
    monkeypatch.setenv("HARNESS_CACHE", str(tmp_path))
    other = [x for x in supported_kubernetes() if x != pinned()["KUBERNETES_VERSION"]][0]
    with pytest.raises(Exception) as e:
        tool_path("kubectl", other)
    assert f"images/build-tools.sh {other}" in str(e.value)
    d = tmp_path / "tools" / tools_key(other)
    d.mkdir(parents=True)
    (d / "kubectl").write_text("")
    assert tool_path("kubectl", other) == str(d / "kubectl")


def test_versions_file_is_key_value_lines_only():
    for line in VERSIONS_FILE.read_text().splitlines():
        assert not line.strip() or line.startswith("#") or "=" in line


def test_kind_version_is_the_default_rows_kind():
    assert pinned()["KIND_VERSION"] == kubernetes_pins().kind


def test_the_pins_ship_in_the_package_and_the_build_scripts_read_the_same_file():
    from harness.core.packaged import package_path

    assert VERSIONS_FILE == package_path("data", "versions.env") and VERSIONS_FILE.is_file()
    link = IMAGES / "versions.env"
    assert link.is_symlink(), "images/versions.env must stay a symlink (build-node-image.sh keys images by its path)"
    assert link.resolve() == VERSIONS_FILE.resolve()
