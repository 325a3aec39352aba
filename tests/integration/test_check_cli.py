"""`python -m harness check` and the same check under pytest, on the repository's charts (clean) and on
broken copies in tmp_path: each problem is one line, exit 2 (check) / 4 (pytest); ``--collect-only``
counts only the tests that will run."""
from __future__ import annotations

import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from support import harness_env

ROOT = Path(__file__).resolve().parents[2]
CHARTS = ROOT / "charts-under-test"


def env() -> dict[str, str]:
    return harness_env(ROOT)


def check(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "harness", "check", "--no-lint", *args], capture_output=True,
                          text=True, cwd=cwd, env=env(), timeout=300, check=False)


def problem_lines(r: subprocess.CompletedProcess) -> list[str]:
    return [ln for ln in r.stderr.splitlines() if ln.startswith("harness: check: ")]


@pytest.fixture
def copy(tmp_path: Path, helm_bin: str) -> Path:
    """charts-under-test/realtime with its released repository and broken overlays, in tmp_path."""
    root = tmp_path / "charts-under-test"
    root.mkdir()
    for name in ("realtime", "repo", "broken"):
        shutil.copytree(CHARTS / name, root / name)
    return root / "realtime"


def edit(chart: Path, old: str, new: str) -> None:
    contract = chart / "harness-contract.yaml"
    text = contract.read_text()
    assert old in text
    contract.write_text(text.replace(old, new, 1))


def test_the_repositorys_charts_are_clean(helm_bin):
    r = subprocess.run([sys.executable, "-m", "harness", "check"], capture_output=True, text=True, cwd=ROOT,
                       env=env(), timeout=300, check=False)
    assert r.returncode == 0, r.stdout + r.stderr
    checked = [ln for ln in r.stdout.splitlines() if ln.startswith("checked ")]
    assert [ln.split(":", 1)[0] for ln in checked] == ["checked ha-service", "checked realtime", "checked static-site"]
    assert "broken pdb-blocks-drain" in checked[0] and "released 1.0.0 (default)" in checked[0]
    assert "helm lint, helm template; Ingress host realtime.test (class nginx); probes; 2 contract images" in checked[1]
    assert r.stdout.splitlines()[-1].startswith("check: 3 charts clean")


def test_missing_host_from_the_command_line_set(copy):
    r = check("--chart", str(copy), "--set", "ingress.enabled=false")
    assert r.returncode == 2
    lines = problem_lines(r)
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith("harness: check: realtime default, hpa-tls, released 1.0.0 (default), released "
                               "1.0.0 (hpa-tls), broken no-sse-heartbeat, broken sse-proxy-buffering: no Ingress has host realtime.test "
                               "(Ingresses: none rendered)")


def test_pull_policy_always_under_a_local_build_is_one_line_in_seconds(copy):
    """issue 17's fault: a chart image the harness loads with kind load, asked for with
    imagePullPolicy Always, would wait in ImagePullBackOff; found before any cluster exists."""
    start = time.monotonic()
    r = check("--chart", str(copy), "--set", "image.pullPolicy=Always", "--image-source", "local")
    assert time.monotonic() - start < 30
    assert r.returncode == 2, r.stderr
    lines = problem_lines(r)
    assert len(lines) == 2, r.stderr  # one per image: the candidate's 1.1.0, the released chart's 1.0.0
    assert "released 1.0.0 (default)" in lines[1] and "image harness/demo-service:1.0.0 would be pulled" in lines[1]
    assert re.match(r"harness: check: realtime default, .*: container \S+ of Deployment \S+: image "
                    r"harness/demo-service:1\.1\.0 would be pulled from docker\.io \(imagePullPolicy Always\), but "
                    r"image-source local loads it", lines[0]), lines[0]
    # the same chart on the pull path: the nodes pull it, Always is fine
    assert check("--chart", str(copy), "--set", "image.pullPolicy=Always", "--image-source", "pull").returncode == 0


def test_tls_secret_differing_from_the_certificates_is_one_line(copy):
    """issue 12's bad input: the chart renders its own Certificate, writing another Secret than the
    one its TLS Ingress reads; only the TLS variant renders them."""
    (copy / "templates" / "certificate.yaml").write_text(
        "{{- if .Values.ingress.tls.enabled }}\n"
        "apiVersion: cert-manager.io/v1\nkind: Certificate\nmetadata:\n  name: realtime-cert\n"
        "spec:\n  secretName: realtime-cert-tls\n  dnsNames: [realtime.test]\n"
        "  issuerRef: {name: harness-ca, kind: ClusterIssuer}\n{{- end }}\n")
    r = check("--chart", str(copy))
    assert r.returncode == 2, r.stderr
    lines = problem_lines(r)
    assert len(lines) == 1, r.stderr
    assert re.match(r"harness: check: realtime hpa-tls: Ingress \S+: TLS for realtime\.test reads Secret \S+, but "
                    r"Certificate realtime-cert writes Secret realtime-cert-tls \(spec\.secretName\)", lines[0]), lines[0]


def test_contract_values_flow_into_every_variant(copy):
    (copy / "ci" / "harness-values.yaml").write_text("ingress:\n  className: traefik\n")
    edit(copy, "images:", "values: [ci/harness-values.yaml]\nimages:")
    r = check("--chart", str(copy))
    assert r.returncode == 2
    lines = problem_lines(r)
    assert len(lines) == 1, r.stderr
    assert re.search(r"realtime default, .*broken sse-proxy-buffering: Ingress realtime-check for host realtime\.test "
                     r"has class 'traefik'; the harness's edge serves class nginx", lines[0]), lines[0]
    # the user's --set wins over the contract's values
    assert check("--chart", str(copy), "--set", "ingress.className=nginx").returncode == 0


def test_wrong_class_only_in_the_candidate(copy):
    (copy / "values.yaml").write_text((copy / "values.yaml").read_text().replace("className: nginx", "className: alb"))
    r = check("--chart", str(copy))
    assert r.returncode == 2
    lines = problem_lines(r)
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith("harness: check: realtime default, hpa-tls, broken no-sse-heartbeat, broken sse-proxy-buffering: Ingress "
                               "realtime-check for host realtime.test has class 'alb'")


def test_template_error(copy):
    (copy / "templates" / "zz-broken.yaml").write_text("kind: ConfigMap\nmetadata:\n  name: {{ .Values.nope.deeper }}\n")
    r = check("--chart", str(copy))
    assert r.returncode == 2
    lines = problem_lines(r)
    assert len(lines) == 1, r.stderr
    assert "realtime default, hpa-tls, broken no-sse-heartbeat, broken sse-proxy-buffering: " in lines[0]
    assert "helm template realtime-check failed" in lines[0] and "templates/zz-broken.yaml:3" in lines[0]


def test_image_mismatch_is_one_line_each_way(copy):
    edit(copy, "  - harness/demo-service:1.1.0", "  - harness/demo-service:9.9.9")
    r = check("--chart", str(copy))
    assert r.returncode == 2
    assert problem_lines(r) == [
        "harness: check: realtime: image harness/demo-service:1.1.0 (rendered by default, hpa-tls, broken "
        "no-sse-heartbeat, broken sse-proxy-buffering) is not in the contract's images, so it is not loaded into the cluster's nodes",
        "harness: check: realtime: contract image harness/demo-service:9.9.9 is run by no rendered manifest "
        "(released or candidate)",
    ]


def test_contract_error_is_the_loaders_lines(copy):
    edit(copy, "release: realtime", "releas: realtime")
    r = check("--chart", str(copy))
    assert r.returncode == 2
    assert r.stderr.splitlines()[1:] == ["  releas: unknown key; did you mean 'release'?", "  release: is required"]


# --------------------------------------------------------------------------- the same check under pytest


def pytest_run(*args: str, tmp_path: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", f"--artifacts-dir={tmp_path / 'art'}",
                           *args], capture_output=True, text=True, cwd=ROOT, env=env(), timeout=300, check=False)


@pytest.mark.parametrize("what", ["contract", "template", "host"])
def test_pytest_exits_4_with_the_problem_on_one_line(copy, tmp_path, what):
    if what == "contract":
        edit(copy, "scenarios: [upgrade, drain, sse]", "scenarios: [upgrade, drian, sse]")
        needle = "scenarios: 'drian' is not one of"
    elif what == "template":
        (copy / "templates" / "zz-broken.yaml").write_text("kind: ConfigMap\nmetadata:\n  name: {{ .Values.x.y }}\n")
        needle = "zz-broken.yaml"
    else:
        edit(copy, "host: realtime.test", "host: elsewhere.test")
        needle = "no Ingress has host elsewhere.test"
    r = pytest_run("scenarios/upgrade", "--chart", str(copy), tmp_path=tmp_path)
    out = r.stdout + r.stderr
    assert r.returncode == 4, out
    assert len([ln for ln in out.splitlines() if needle in ln]) == 1, out
    assert "no tests ran" not in out and "Traceback" not in out


def test_collect_only_counts_only_the_tests_that_will_run(helm_bin, tmp_path):
    r = pytest_run("scenarios", "--collect-only", "-q", "--chart", str(CHARTS / "realtime"), tmp_path=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    ids = [ln for ln in r.stdout.splitlines() if ln.startswith("scenarios/")]
    assert ids and not any("not-generated" in i for i in ids)
    # realtime lists upgrade, drain and sse: nothing of rollback or db_outage is counted
    assert not any(i.startswith(("scenarios/rollback", "scenarios/db_outage")) for i in ids)
    assert re.search(rf"^{len(ids)} tests? collected", r.stdout, re.M), r.stdout
