"""harness.env.registry, pure parts: the registry's config, containerd's hosts.toml and config patch,
the mirrored kind config, the request log and docker push's digest (no container; the real
registry: tests/integration/test_registry.py)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from harness.core.errors import UsageError
from harness.env import registry as reg_mod
from harness.env.cluster import ClusterSpec, render_kind_config
from harness.env.registry import (
    CERTS_DIR,
    Registry,
    Request,
    config_yaml,
    containerd_config_version,
    containerd_patch,
    hosts_toml,
    local_refs_under,
    mirrored_kind_config,
    parse_requests,
    pulls_of,
    pushed_digest,
)


def test_config_logs_json_and_stores_in_the_volume():
    cfg = yaml.safe_load(config_yaml())
    assert cfg["log"]["formatter"] == "json" and cfg["log"]["level"] == "info"
    assert cfg["storage"]["filesystem"]["rootdirectory"] == reg_mod.STORAGE_IN_CONTAINER
    assert cfg["http"]["addr"] == ":5000"
    assert "auth" not in cfg


def test_config_with_auth_uses_htpasswd():
    cfg = yaml.safe_load(config_yaml(auth=True))
    assert cfg["auth"]["htpasswd"]["path"] == reg_mod.HTPASSWD_IN_CONTAINER


def test_hosts_toml_puts_the_mirror_before_the_upstream():
    text = hosts_toml("docker.io", "harness-registry-x:5000")
    assert text.startswith('server = "https://registry-1.docker.io"')
    assert '[host."http://harness-registry-x:5000"]' in text and '"pull", "resolve"' in text
    assert hosts_toml("quay.io", "m:5000").startswith('server = "https://quay.io"')


def test_containerd_patch_follows_the_config_version():
    assert 'plugins."io.containerd.cri.v1.images".registry' in containerd_patch(3)
    assert 'plugins."io.containerd.grpc.v1.cri".registry' in containerd_patch(2)
    assert f'config_path = "{CERTS_DIR}"' in containerd_patch(2)
    with pytest.raises(UsageError, match="version 1"):
        containerd_patch(1)


@pytest.mark.parametrize("text, version", [
    ("# comment\nversion = 3\n[plugins]\n", 3),
    ("version = 2 # v2 format\n", 2),
    ("[plugins]\n", 1),
])
def test_containerd_config_version(text, version):
    assert containerd_config_version(text) == version


def test_mirrored_kind_config_mounts_hosts_into_every_node(tmp_path):
    base = render_kind_config(ClusterSpec(workers=2), cgroup_v1=True)
    out = yaml.safe_load(mirrored_kind_config(base, tmp_path / "certs.d", 3))
    assert len(out["nodes"]) == 3
    for node in out["nodes"]:
        assert {"hostPath": str(tmp_path / "certs.d"), "containerPath": CERTS_DIR, "readOnly": True} \
            in node["extraMounts"]
    assert out["containerdConfigPatches"] == [containerd_patch(3)]
    # what was there stays: the cgroup v1 kubelet patch, the ingress node's labels and port mappings
    assert "failCgroupV1: false" in out["kubeadmConfigPatches"][0]
    assert out["nodes"][0]["labels"] == {"ingress-ready": "true"}
    assert out["nodes"][0]["extraPortMappings"]
    assert out["networking"]["apiServerAddress"] == "127.0.0.1"


def test_mirrored_kind_config_is_idempotent_on_the_mount_and_keeps_patches(tmp_path):
    base = yaml.safe_dump({"kind": "Cluster", "apiVersion": "kind.x-k8s.io/v1alpha4",
                           "containerdConfigPatches": ["[x]\n"]})
    once = mirrored_kind_config(base, tmp_path, 2)
    twice = yaml.safe_load(mirrored_kind_config(once, tmp_path, 2))
    assert twice["nodes"] == [{"role": "control-plane", "extraMounts": [
        {"hostPath": str(tmp_path), "containerPath": CERTS_DIR, "readOnly": True}]}]
    assert twice["containerdConfigPatches"][0] == "[x]\n"


def test_mirrored_kind_config_refuses_other_documents(tmp_path):
    with pytest.raises(UsageError, match="not a kind Cluster"):
        mirrored_kind_config("kind: Pod\n", tmp_path, 3)


LOG = "\n".join([
    'time="2026-11-30T12:00:00Z" level=info msg="listening on [::]:5000"',
    json.dumps({"msg": "response completed", "http.request.method": "GET", "http.request.uri": "/v2/",
                "http.response.status": 200, "http.request.useragent": "docker/20.10.24"}),
    json.dumps({"msg": "response completed", "http.request.method": "HEAD",
                "http.request.uri": "/v2/library/postgres/manifests/16?ns=docker.io", "http.response.status": 200,
                "http.request.useragent": "containerd/v2.3.7", "http.request.remoteaddr": "172.18.0.3:40000"}),
    json.dumps({"msg": "response completed", "http.request.method": "GET",
                "http.request.uri": "/v2/library/postgres/manifests/sha256:abc?ns=docker.io",
                "http.response.status": 200, "http.request.useragent": "containerd/v2.3.7"}),
    json.dumps({"msg": "response completed", "http.request.method": "GET",
                "http.request.uri": "/v2/harness/toolbox/manifests/latest", "http.response.status": 200,
                "http.request.useragent": "docker/20.10.24 go/go1.19"}),
    json.dumps({"msg": "response completed", "http.request.method": "GET",
                "http.request.uri": "/v2/nope/manifests/1", "http.response.status": 404}),
    json.dumps({"msg": "authorized request", "http.request.method": "GET", "http.request.uri": "/v2/"}),
    "{not json",
])


def test_parse_requests_reads_response_completed_entries_only():
    reqs = parse_requests(LOG)
    assert len(reqs) == 5
    assert reqs[1] == Request("HEAD", "/v2/library/postgres/manifests/16?ns=docker.io", 200,
                              "containerd/v2.3.7", "172.18.0.3:40000")
    assert reqs[1].manifest == ("library/postgres", "16") and reqs[0].manifest is None


def test_pulls_are_manifest_requests_answered_200_by_agent():
    reqs = parse_requests(LOG)
    assert pulls_of(reqs) == [("library/postgres", "16"), ("library/postgres", "sha256:abc"),
                              ("harness/toolbox", "latest")]
    assert pulls_of(reqs, agent="containerd") == [("library/postgres", "16"), ("library/postgres", "sha256:abc")]
    assert pulls_of(reqs, agent="helm") == []


def test_pushed_digest_is_the_last_digest_line():
    out = "The push refers to repository [127.0.0.1:5001/harness/toolbox]\n5f70bf18a086: Pushed\n" \
          "latest: digest: sha256:" + "d" * 64 + " size: 527\n"
    assert pushed_digest(out) == "sha256:" + "d" * 64
    assert pushed_digest("nothing") == ""


def test_local_refs_under_the_address_only():
    table = ("127.0.0.1:5001/library/postgres\t16\tsha256:aa\n"
             "127.0.0.1:5001/kindest/node\t<none>\tsha256:bb\n"
             "127.0.0.1:50011/library/postgres\t16\tsha256:cc\n"
             "harness/postgres\t15\t<none>\n"
             "127.0.0.1:5001/broken\t<none>\t<none>\n")
    assert local_refs_under("127.0.0.1:5001", table) == ["127.0.0.1:5001/library/postgres:16",
                                                         "127.0.0.1:5001/kindest/node@sha256:bb"]
    assert local_refs_under("127.0.0.1:5001", "") == []


def test_registry_names(tmp_path):
    reg = Registry("harness-registry-r-ab12", 5001, Path(tmp_path), "harness/registry:v3.1.2")
    assert reg.address == "127.0.0.1:5001" and reg.in_network == "harness-registry-r-ab12:5000"
    assert reg.ref("postgres:16") == "127.0.0.1:5001/library/postgres:16"
    assert reg.chart_url() == "oci://127.0.0.1:5001/charts"


def test_write_hosts_dir_covers_each_upstream(tmp_path):
    reg = Registry("harness-registry-r-ab12", 5001, Path(tmp_path), "img")
    root = reg_mod.write_hosts_dir(reg)
    assert sorted(p.name for p in root.iterdir()) == sorted(reg_mod.UPSTREAM_REGISTRIES)
    assert "http://harness-registry-r-ab12:5000" in (root / "registry.k8s.io" / "hosts.toml").read_text()
