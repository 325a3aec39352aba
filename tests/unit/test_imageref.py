"""harness.core.imageref: references normalised as Docker and containerd read them; ChartRef's
--plain-http for OCI charts on loopback (harness.core.values)."""
from __future__ import annotations

import pytest

from harness.core.errors import UsageError
from harness.core.imageref import ImageRef, is_loopback, parse_image
from harness.core.values import ChartRef


@pytest.mark.parametrize("text, registry, path, tag, digest", [
    ("postgres:16", "docker.io", "library/postgres", "16", ""),
    ("postgres", "docker.io", "library/postgres", "latest", ""),
    ("kindest/node:v1.37.0@sha256:" + "a" * 64, "docker.io", "kindest/node", "v1.37.0", "sha256:" + "a" * 64),
    ("quay.io/jetstack/cert-manager-controller:v1.21.2", "quay.io", "jetstack/cert-manager-controller", "v1.21.2", ""),
    ("registry.k8s.io/ingress-nginx/controller:v1.15.1", "registry.k8s.io", "ingress-nginx/controller", "v1.15.1", ""),
    ("127.0.0.1:5001/library/postgres:16", "127.0.0.1:5001", "library/postgres", "16", ""),
    ("localhost/app", "localhost", "app", "latest", ""),
    ("harness/toolbox@sha256:" + "b" * 64, "docker.io", "harness/toolbox", "", "sha256:" + "b" * 64),
])
def test_parse_normalises_like_docker(text, registry, path, tag, digest):
    ref = parse_image(text)
    assert (ref.registry, ref.path, ref.tag, ref.digest) == (registry, path, tag, digest)
    assert ref.reference == (digest or tag)


def test_docker_hub_api_host_and_loopback():
    assert parse_image("postgres:16").api_host == "registry-1.docker.io"
    assert parse_image("quay.io/a/b:1").api_host == "quay.io"
    assert parse_image("127.0.0.1:5001/a:1").loopback
    assert not parse_image("ghcr.io/a/b:1").loopback
    assert is_loopback("localhost:5000") and is_loopback("[::1]:5000") and not is_loopback("10.0.0.1:5000")


def test_on_mirror_keeps_path_tag_and_digest():
    ref = parse_image("kindest/node:v1.37.0@sha256:" + "c" * 64).on("127.0.0.1:5001")
    assert str(ref) == "127.0.0.1:5001/kindest/node:v1.37.0@sha256:" + "c" * 64
    assert ref.pushed_name() == "127.0.0.1:5001/kindest/node:v1.37.0"
    assert ImageRef("127.0.0.1:5001", "library/postgres", "16").pushed_name() == "127.0.0.1:5001/library/postgres:16"


@pytest.mark.parametrize("bad, said", [
    ("", "empty image reference"),
    ("Postgres:16", "not a valid repository path"),
    ("postgres:bad tag", "not a valid tag"),
    ("postgres@sha256:xyz", "is not a digest"),
])
def test_invalid_references_are_one_line(bad, said):
    with pytest.raises(UsageError, match=said):
        parse_image(bad)


def test_oci_chart_on_loopback_gets_plain_http():
    ref = ChartRef.parse("oci://127.0.0.1:5001/charts/demo", version="1.0.0")
    assert ref.plain_http and ref.oci_registry == "127.0.0.1:5001"
    assert ref.argv() == ["oci://127.0.0.1:5001/charts/demo", "--version", "1.0.0", "--plain-http"]
    assert ChartRef.parse("oci://localhost:5000/c/demo", version="1").plain_http


def test_oci_chart_elsewhere_and_other_kinds_do_not():
    remote = ChartRef.parse("oci://ghcr.io/org/charts/demo", version="1.0.0")
    assert not remote.plain_http and remote.argv() == ["oci://ghcr.io/org/charts/demo", "--version", "1.0.0"]
    assert not ChartRef("harness-charts/demo", "repo", "1.0.0").plain_http
    assert ChartRef("harness-charts/demo", "repo", "1.0.0").oci_registry == ""
