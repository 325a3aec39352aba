"""harness/tools/postrender.py as helm's post-renderer, run by the pinned helm on a real chart."""
from __future__ import annotations

import sys
from pathlib import Path

import yaml

from harness.tools.exec import run

ROOT = Path(__file__).resolve().parents[2]


SCRIPT = ROOT / "harness" / "tools" / "postrender.py"


def _template(helm_bin: str, *ops: str) -> list[dict]:
    argv = [helm_bin, "template", "r", str(ROOT / "charts-under-test" / "ha-service"), "--set",
            "database.existingSecret=x", "--set", "ingress.tls.enabled=true", "--post-renderer", sys.executable]
    for a in (str(SCRIPT), *ops):
        argv += ["--post-renderer-args", a]
    return [d for d in yaml.safe_load_all(run(argv, timeout=120).stdout) if d]


def test_host_rename_and_never_ready_through_helm(helm_bin):
    docs = _template(helm_bin, "host:ha-service.test=r.ha-service.test", "never-ready")
    ing = next(d for d in docs if d["kind"] == "Ingress")
    assert [r["host"] for r in ing["spec"]["rules"]] == ["r.ha-service.test"]
    assert ing["spec"]["tls"][0]["hosts"] == ["r.ha-service.test"]
    dep = next(d for d in docs if d["kind"] == "Deployment")
    c = dep["spec"]["template"]["spec"]["containers"][0]
    assert c["readinessProbe"]["exec"]["command"] == ["/helm-e2e-harness-never-ready"]
    assert c["livenessProbe"]["httpGet"]["path"] == "/healthz"  # untouched
    assert dep["spec"]["template"]["metadata"]["annotations"]["helm-e2e-harness/fault"] == "never-ready"
    job = next(d for d in docs if d["kind"] == "Job")
    assert "readinessProbe" not in job["spec"]["template"]["spec"]["containers"][0]


def test_only_the_host_changes_without_never_ready(helm_bin):
    plain = _template(helm_bin, "host:nothing=else")
    renamed = _template(helm_bin, "host:ha-service.test=x.ha-service.test")
    for a, b in zip(plain, renamed, strict=True):
        if a["kind"] != "Ingress":
            assert a == b
