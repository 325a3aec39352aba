"""What produced a gate report (harness/gate/provenance.py and the gate's header): versions from the
records' cells or the pins, where each image came from for each image-source setting, the contracts'
sha256."""
from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path
from types import SimpleNamespace as NS

import pytest

from harness.__main__ import build_parser
from harness.core.pins import pinned
from harness.gate import header, provenance
from harness.gate.plan import make_plan
from harness.scenario.result import Cell, ScenarioResult

ROOT = Path(__file__).resolve().parents[2]
REALTIME = ROOT / "charts-under-test" / "realtime"
PINS = pinned()
ALL = ("traefik", "cert-manager", "postgres")


@pytest.fixture(autouse=True)
def _no_harness_env(monkeypatch):
    for name in list(os.environ):
        if name.startswith("HARNESS_"):
            monkeypatch.delenv(name)


def cfg(**kw):
    base = {"image_source": "auto", "registry_mirror": None, "addons": ALL, "external_cluster": False,
            "node_image": None, "kubernetes_version": None, "helm": None}
    return NS(**{**base, **kw})


def test_auto_follows_the_node_image_like_the_addons_do():
    assert provenance.effective_source("auto", "harness/kind-node:v1.37.2-abc") == "local"
    assert provenance.effective_source("auto", PINS["NODE_PULL_1_37"]) == "pull"
    assert provenance.effective_source("local", PINS["NODE_PULL_1_37"]) == "local"
    assert provenance.effective_source("pull", "harness/kind-node:v1.37.2-abc") == "pull"


def test_pulled_images_are_the_upstream_ones_the_pins_name():
    text, rows = provenance.image_sources(cfg(), PINS["NODE_PULL_1_37"], PINS)
    assert text == "auto (pull here)"
    by_use = {(r["use"], r["image"]): r["source"] for r in rows}
    assert by_use[("kind node", PINS["NODE_PULL_1_37"])] == "pulled by digest"
    assert by_use[("traefik", PINS["TRAEFIK_PULL_IMAGE"])] == "pulled by the nodes"
    assert by_use[("traefik smoke check", PINS["TOOLBOX_PULL_IMAGE"])] == "pulled by the nodes"
    assert by_use[("postgres", PINS["POSTGRES_PULL_IMAGE"])] == "pulled by the host's Docker"
    cm = [r for r in rows if r["use"] == "cert-manager"]
    assert [r["image"] for r in cm] == [f"quay.io/jetstack/cert-manager-{c}:{PINS['CERT_MANAGER_VERSION']}"
                                        for c in ("controller", "webhook", "cainjector")]
    assert all(r["source"] == "pulled by the nodes" for r in cm)


def test_local_images_are_built_here():
    node = f"harness/kind-node:{PINS['KUBERNETES_VERSION']}-abc"
    text, rows = provenance.image_sources(cfg(), node, PINS)
    assert text == "auto (local here)"
    assert rows[0] == {"image": node, "use": "kind node", "source": "built here (images/build-node-image.sh)"}
    images = {r["image"]: r["source"] for r in rows[1:]}
    assert images[f"harness/traefik:{PINS['TRAEFIK_VERSION']}"] == provenance.BUILT_HERE
    assert images[PINS["POSTGRES_IMAGE"]] == provenance.BUILT_HERE
    assert set(images.values()) == {provenance.BUILT_HERE}
    # ingress-nginx's controller cannot be built here: from the local store, said so
    _, rows = provenance.image_sources(cfg(addons=("ingress-nginx",), image_source="local"), node, PINS)
    assert rows[1]["source"] == provenance.LOCAL_STORE and "ingress-nginx/controller" in rows[1]["image"]


def test_a_mirror_given_node_image_and_external_cluster_are_said():
    _, rows = provenance.image_sources(cfg(image_source="pull", registry_mirror="127.0.0.1:5000",
                                           node_image="my/node:1"), "my/node:1", PINS)
    assert rows[0]["source"] == "given (node-image)"
    assert rows[1]["source"] == "pulled by the nodes through 127.0.0.1:5000"
    text, rows = provenance.image_sources(cfg(external_cluster=True, image_source="pull"), "external", PINS)
    assert text == "pull" and all(r["use"] != "kind node" for r in rows)


def test_versions_come_from_the_cells_else_the_pins():
    cells = [Cell("v1.36.3", "v3.22.0", "traefik-nginx"), Cell("v1.36.3", "v3.22.0", "traefik-gateway")]
    v = provenance.tool_versions(cfg(), cells, PINS)
    row = PINS["K8S_1_36"].split()
    assert v == {"helm": "v3.22.0", "kind": row[1].split("=")[1], "kubectl": "v1.36.3", "kubernetes": "v1.36.3"}
    v = provenance.tool_versions(cfg(), [], PINS)
    assert v["helm"] == f"{PINS['HELM_VERSION']} (pinned; no test ran)"
    assert v["kubernetes"] == v["kubectl"] == PINS["KUBERNETES_VERSION"] and v["kind"] == PINS["KIND_VERSION"]
    assert provenance.tool_versions(cfg(helm="/x/helm3"), [], PINS)["helm"] == "/x/helm3 (no test ran)"
    ext = provenance.tool_versions(cfg(external_cluster=True), [], PINS)
    assert ext["kind"] == "not used (external cluster)"


def test_contract_digest_is_the_files_sha256(tmp_path):
    f = tmp_path / "harness-contract.yaml"
    f.write_text("release: x\n")
    got = provenance.contract_digests([NS(name="x", contract=NS(path=f)), NS(name="y", contract=None),
                                       NS(name="z", contract=NS(path=tmp_path / "gone.yaml"))])
    assert got[0]["sha256"] == hashlib.sha256(b"release: x\n").hexdigest() and got[0]["chart"] == "x"
    assert got[1]["chart"] == "z" and got[1]["sha256"].startswith("unreadable: ")


def test_the_gate_header_carries_the_provenance(monkeypatch):
    monkeypatch.setattr(header, "node_image", lambda c: PINS["NODE_PULL_1_37"])  # no docker here
    plan = make_plan(build_parser().parse_args(["gate", "--chart", str(REALTIME), "--shard", "2/2",
                                                "--edge", "traefik-nginx,traefik-gateway"]))
    rec = ScenarioResult("upgrade", "realtime", "default", None, "PASS", "ok",
                         cell=Cell("v1.37.2", "v4.3.2", "traefik-nginx"))
    info = header.gate_info(plan, started=time.time(), exit_code_=0, why="ok", results=[rec])
    assert info.harness_version and info.versions["helm"] == "v4.3.2" and info.versions["kubernetes"] == "v1.37.2"
    assert info.edges == ["traefik-nginx", "traefik-gateway"] and info.shard == "2/2"
    assert info.contracts[0]["sha256"] == hashlib.sha256((REALTIME / "harness-contract.yaml").read_bytes()).hexdigest()
    assert info.image_source == "auto (pull here)" and info.images[0]["use"] == "kind node"
