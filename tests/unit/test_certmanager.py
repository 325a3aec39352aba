"""cert-manager built here (issue 12, item 4): the pin, the chart vendored from the release module
(images/vendor-cert-manager-chart.sh) agreeing with it, the entry-point module
(images/cert-manager) requiring it, the add-on's images, default values and webhook retry.
Pure: reads files (and the Go module cache when it holds the release), starts nothing. The chart
rendered by helm and the build itself run on a cluster (docs/addons.md, "cert-manager")."""
from __future__ import annotations

import json
import os
import re
from pathlib import Path

import jsonschema
import pytest
import yaml
from scripts import early_readers

from harness.core.errors import CommandError
from harness.core.pins import pinned
from harness.env.addons import catalog, certmanager

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "harness" / "env" / "addons" / "charts" / "cert-manager"
ENTRY = ROOT / "images" / "cert-manager"
MODULE = "github.com/cert-manager/cert-manager"


class _Ctx:
    def setting(self, *_a, **_k):
        return None


def _pin() -> str:
    return pinned()["CERT_MANAGER_VERSION"]


def _gomodcache() -> Path:
    return Path(os.environ.get("GOMODCACHE") or Path(os.environ.get("GOPATH") or Path.home() / "go") / "pkg/mod")


def test_the_pin_is_a_release():
    assert re.fullmatch(r"v\d+\.\d+\.\d+", _pin())
    assert "CERT_MANAGER_CHART_VERSION" not in pinned(), "one pin for module, chart and images"


def test_vendored_chart_matches_the_pin():
    meta = yaml.safe_load((CHART / "Chart.yaml").read_text())
    assert meta["name"] == "cert-manager"
    assert meta["version"] == meta["appVersion"] == _pin()
    assert meta["annotations"]["io.helm-e2e-harness/source"].startswith(f"{MODULE}@{_pin()} h1:")
    assert meta["annotations"]["artifacthub.io/prerelease"] == "false"
    assert certmanager.CertManager.chart.version == _pin() and certmanager.CertManager.chart.kind == "dir"


def test_no_release_time_placeholder_is_left():
    left = [str(p.relative_to(CHART)) for p in CHART.rglob("*") if p.is_file()
            and (re.search(r"\{\{[A-Z_]+\}\}", p.read_text()) or re.search(r"^(app)?[vV]ersion: v0\.0\.0$", p.read_text(), re.M))]
    assert left == []


def test_the_chart_carries_the_crds():
    kinds = {}
    for p in sorted((CHART / "templates").glob("crd-*.yaml")):
        text = p.read_text()
        kind = re.search(r"^    kind: (\w+)$", text, re.M)
        group = re.search(r"^  group: ([\w.-]+)$", text, re.M)
        assert kind and group, p.name
        kinds[kind.group(1)] = group.group(1)
    assert kinds == {"Certificate": "cert-manager.io", "CertificateRequest": "cert-manager.io",
                     "Issuer": "cert-manager.io", "ClusterIssuer": "cert-manager.io",
                     "Order": "acme.cert-manager.io", "Challenge": "acme.cert-manager.io"}


def test_vendored_files_are_the_modules_when_it_is_in_the_cache():
    src = _gomodcache() / f"{MODULE}@{_pin()}" / "deploy" / "charts" / "cert-manager"
    if not src.is_dir():
        pytest.skip(f"{MODULE}@{_pin()} not in the Go module cache; run images/vendor-cert-manager-chart.sh")
    ours = sorted(p.relative_to(CHART / "templates").as_posix() for p in (CHART / "templates").iterdir())
    theirs = sorted(p.relative_to(src / "templates").as_posix() for p in (src / "templates").iterdir())
    assert ours == theirs
    for rel in [f"templates/{n}" for n in ours] + ["values.yaml", "values.schema.json"]:
        assert (CHART / rel).read_bytes() == (src / rel).read_bytes(), rel


def test_the_entry_point_module_requires_the_pin_under_the_release_path():
    gomod = (ENTRY / "go.mod").read_text()
    path = re.search(r"^module (\S+)$", gomod, re.M)
    # Go's internal rule: internal/ of the release is importable only from paths under its prefix
    assert path and path.group(1).startswith(MODULE + "/")
    assert re.search(rf"^\s*(require\s+)?{re.escape(MODULE)} {re.escape(_pin())}$", gomod, re.M)
    assert {p.parent.name for p in (ENTRY / "cmd").glob("*/main.go")} == set(certmanager.COMPONENTS)


def test_images_are_the_charts_at_the_pin():
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    prefix = f"{values['imageRegistry']}/{values['imageNamespace']}"
    names = [values["image"]["name"], values["webhook"]["image"]["name"], values["cainjector"]["image"]["name"]]
    want = [f"{prefix}/{n}:{_pin()}" for n in names]
    assert certmanager.images() == want
    assert catalog.get("cert-manager").images(_Ctx()) == want


def test_default_values_turn_startupapicheck_off_and_fit_the_charts_schema():
    a = catalog.get("cert-manager")
    vals = a.values(_Ctx())
    assert vals["startupapicheck"]["enabled"] is False   # its image is not built here
    assert vals["crds"]["enabled"] is True
    assert "harnessChartDigest" not in vals
    schema = json.loads((CHART / "values.schema.json").read_text())
    jsonschema.validate(vals, schema)
    with pytest.raises(jsonschema.ValidationError):   # why the digest is left out
        jsonschema.validate({**vals, "harnessChartDigest": "x"}, schema)


def test_offline_hint_names_the_build():
    hint = catalog.get("cert-manager").offline_hint()
    assert "images/build-cert-manager.sh" in hint and "cannot" not in hint


@pytest.mark.parametrize("stderr, retried", [
    ('Error from server (InternalError): Internal error occurred: failed calling webhook "webhook.cert-manager.io": '
     'failed to call webhook: Post "https://cert-manager-webhook.cert-manager.svc:443/validate?timeout=30s": '
     "tls: failed to verify certificate: x509: certificate signed by unknown authority", True),
    ('Error from server (InternalError): failed calling webhook "webhook.cert-manager.io": no endpoints available '
     'for service "cert-manager-webhook"', True),
    ('Error from server (BadRequest): error when creating "STDIN": ClusterIssuer in version "v1" cannot be handled', False),
    ('error: resource mapping not found for name: "harness-ca": no matches for kind "ClusterIssuer"', False),
])
def test_webhook_not_ready_retries_only_the_webhook(stderr, retried):
    exc = CommandError(["kubectl", "apply"], 1, stderr=stderr)
    assert certmanager.webhook_not_ready(exc) is retried


def test_the_build_scripts_have_no_early_readers():
    for name in ("build-cert-manager.sh", "vendor-cert-manager-chart.sh"):
        text = (ROOT / "images" / name).read_text()
        assert "set -euo pipefail" in text
        assert early_readers(text, Path(name)) == []
