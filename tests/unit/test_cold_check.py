"""ci/cold_check.py's pure parts: which images a cold build deletes, the step lines, the environment,
the table. (Its dry run as a command, with a stand-in docker, is tests/integration/test_cold_check_plan.py.)"""
from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("cold_check", ROOT / "ci/cold_check.py")
cc = importlib.util.module_from_spec(_spec)
sys.modules["cold_check"] = cc  # dataclasses look their module up there
_spec.loader.exec_module(cc)

SUPPORTED = ["v1.35.4", "v1.36.3", "v1.37.2"]
DOCKER_IMAGES = """\
harness/kind-node:v1.37.2-0123456789ab aaaaaaaaaaa1
harness/kind-node:v1.35.4-ba9876543210 aaaaaaaaaaa2
harness/debian-node-base:bookworm-1234567890 aaaaaaaaaaa3
harness/podnet:v1.37.2 aaaaaaaaaaa4
harness/podnet:v1.36.3 aaaaaaaaaaa5
registry.k8s.io/kube-apiserver:v1.37.2 aaaaaaaaaaa6
registry.k8s.io/kube-apiserver:v1.36.3 aaaaaaaaaaa7
registry.k8s.io/pause:3.10.2 aaaaaaaaaaa8
registry.k8s.io/pause:3.9 bbbbbbbbbbb1
harness/traefik:v3.7.12 aaaaaaaaaaa9
harness/traefik:v3.7.12.building aaaaaaaaaab0
harness/postgres:15 aaaaaaaaaab1
harness/toolbox:latest aaaaaaaaaab2
harness/demo-service:1.0.0 aaaaaaaaaab3
harness/privileged-probe:1 bbbbbbbbbbb2
harness/static-site:1.0.0 bbbbbbbbbbb3
kindest/node:v1.37.0 bbbbbbbbbbb4
quay.io/jetstack/cert-manager-controller:v1.20.3 aaaaaaaaaab4
quay.io/jetstack/cert-manager-webhook:v1.20.3 bbbbbbbbbbb6
<none>:<none> bbbbbbbbbbb5
"""
LABELLED = {"aaaaaaaaaaa6", "aaaaaaaaaaa7", "aaaaaaaaaaa8", "aaaaaaaaaab4"}


def test_the_repositories_come_from_what_the_scripts_tag():
    built = cc.built_repositories()
    for repo in ("harness/kind-node", "harness/debian-*", "harness/podnet", "harness/local-path-provisioner",
                 "harness/local-path-helper", "harness/toolbox", "harness/traefik", "harness/postgres",
                 "harness/demo-service", "harness/static-site"):
        assert repo in built, repo
    assert "harness/privileged-probe" not in built  # provisioning (ci/), not the image build
    assert built["harness/traefik"] == "images/build-addons.sh"


def test_a_cold_build_deletes_this_versions_images_and_keeps_the_rest():
    images = cc.parse_docker_images(DOCKER_IMAGES, LABELLED)
    doomed = {i.ref for i in cc.images_to_delete(images, "v1.37.2", SUPPORTED)}
    assert doomed == {
        "harness/kind-node:v1.37.2-0123456789ab", "harness/debian-node-base:bookworm-1234567890",
        "harness/podnet:v1.37.2", "registry.k8s.io/kube-apiserver:v1.37.2", "registry.k8s.io/pause:3.10.2",
        "harness/traefik:v3.7.12", "harness/traefik:v3.7.12.building", "harness/postgres:15",
        "harness/toolbox:latest", "harness/demo-service:1.0.0", "harness/static-site:1.0.0",
        # built here under its upstream name (labelled); the unlabelled one was pulled from quay.io
        "quay.io/jetstack/cert-manager-controller:v1.20.3",
    }


def test_another_version_deletes_its_own_node_image():
    images = cc.parse_docker_images(DOCKER_IMAGES, LABELLED)
    doomed = {i.ref for i in cc.images_to_delete(images, "v1.35.4", SUPPORTED)}
    assert "harness/kind-node:v1.35.4-ba9876543210" in doomed
    assert "harness/kind-node:v1.37.2-0123456789ab" not in doomed
    assert "registry.k8s.io/pause:3.9" not in doomed  # not labelled: pulled, not built here


def test_step_lines_are_parsed():
    lines = ["==> [0s] go-build-traefik ... (log: /x/go-build-traefik.log)",
             "    [412s] go-build-traefik done in 412s",
             "    [430s] docker-build-traefik done in 18s",
             "    harness/traefik:v3.7.12: 52.1 MB",
             "error: step 'x' failed after 3s; last lines of /x.log:"]
    assert [(s.step, s.seconds) for s in cc.parse_steps("images", lines)] == [
        ("go-build-traefik", 412), ("docker-build-traefik", 18)]


def test_the_cold_env_empties_the_caches_and_drops_the_harness_tool_dirs(tmp_path):
    home = tmp_path / "home"
    base = {"PATH": f"{ROOT}/.tools/bin:{home}/.cache/helm-e2e-harness/tools/kind-x:/usr/bin",
            "HARNESS_KUBERNETES_VERSION": "v1.35.4", "GOCACHE": "/warm"}
    env = cc.cold_env(base, tmp_path / "w", home=home)
    assert env["PATH"] == "/usr/bin"
    assert env["HARNESS_CACHE"] == str(tmp_path / "w/harness-cache")
    assert env["GOCACHE"] == str(tmp_path / "w/go-build") and env["GOMODCACHE"] == str(tmp_path / "w/go-mod")
    assert env["HARNESS_IMAGE_SOURCE"] == "local" and "HARNESS_KUBERNETES_VERSION" not in env
    shown = cc.shown_env(env, base)
    assert shown["HARNESS_KUBERNETES_VERSION"] == "(unset)" and "GOCACHE" in shown


def test_the_report_table_and_totals():
    report = cc.Report("v1.37.2", "2026-11-30 09:00:00 UTC", {}, ["harness/traefik:v3.7.12"],
                       scripts={"tools": 100.0, "images": 1000.0},
                       steps=[cc.Step("tools", "tool-kind-v0.33.0", 60), cc.Step("images", "go-build-traefik", 412)],
                       total_seconds=1100.4)
    md = cc.render_markdown(report)
    assert "| images | go-build-traefik | 412 |" in md
    assert "| tools | 100 | 60 | 40 |" in md and "| images | 1000 | 412 | 588 |" in md
    assert "**Total: 1100 s** (18.3 min)" in md
    assert json.loads(json.dumps(cc.asdict(report)))["steps"][1] == {"script": "images", "step": "go-build-traefik",
                                                                     "seconds": 412}


def test_a_failed_script_is_said_in_the_report():
    md = cc.render_markdown(cc.Report("v1.37.2", "t", {}, [], exit_code=1, failed="images/build-images.sh (exit 1)"))
    assert "**Failed** in images/build-images.sh (exit 1)" in md
