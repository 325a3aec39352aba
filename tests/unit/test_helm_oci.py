"""Helm.push / Helm.pull argv with a fake runner (no process): --plain-http for loopback registries
only, and the ChartRef a push returns. With real helm and the real registry:
tests/integration/test_registry_charts.py."""
from __future__ import annotations

import pytest
from support import make_chart_tgz

from harness.core.errors import UsageError
from harness.core.values import ChartRef
from harness.tools import helm as helm_mod
from harness.tools.exec import Result
from harness.tools.helm import Helm


class Runner:
    def __init__(self, on_pull=None):
        self.calls = []
        self.on_pull = on_pull

    def __call__(self, argv, *, timeout=300.0, check=True, input=None, env=None, hint=""):
        argv = [str(a) for a in argv]
        if argv[1:3] == ["version", "--short"]:
            return Result(argv, 0, "v4.3.2\n", "")
        self.calls.append(argv)
        if argv[1] == "pull" and self.on_pull:
            self.on_pull(argv)
        return Result(argv, 0, "", "")


@pytest.fixture(autouse=True)
def _fresh_version_cache(monkeypatch):
    monkeypatch.setattr(helm_mod, "_VERSION_CACHE", {})


def test_push_to_loopback_uses_plain_http_and_returns_the_ref(tmp_path):
    run = Runner()
    helm = Helm(None, home=tmp_path / "h", binary="helm", runner=run)
    tgz = make_chart_tgz(tmp_path / "web-1.2.3.tgz", "web", "1.2.3")
    ref = helm.push(tgz, "oci://127.0.0.1:5001/charts/")
    assert run.calls[-1][:5] == ["helm", "push", str(tgz), "oci://127.0.0.1:5001/charts", "--plain-http"]
    assert ref == ChartRef("oci://127.0.0.1:5001/charts/web", "oci", "1.2.3")


def test_push_elsewhere_speaks_https(tmp_path):
    run = Runner()
    helm = Helm(None, home=tmp_path / "h", binary="helm", runner=run)
    tgz = make_chart_tgz(tmp_path / "web-1.0.0.tgz", "web", "1.0.0")
    helm.push(tgz, "oci://ghcr.io/org/charts")
    assert "--plain-http" not in run.calls[-1]


def test_push_refuses_what_is_not_oci_or_not_packaged(tmp_path):
    helm = Helm(None, home=tmp_path / "h", binary="helm", runner=Runner())
    tgz = make_chart_tgz(tmp_path / "web-1.0.0.tgz", "web", "1.0.0")
    with pytest.raises(UsageError, match="not an OCI registry location"):
        helm.push(tgz, "https://example.com/charts")
    (tmp_path / "dir").mkdir()
    (tmp_path / "dir" / "Chart.yaml").write_text("apiVersion: v2\nname: dir\nversion: 1.0.0\n")
    with pytest.raises(UsageError, match="not a packaged chart"):
        helm.push(tmp_path / "dir", "oci://127.0.0.1:5001/charts")


def test_pull_passes_version_and_plain_http_and_returns_the_archive(tmp_path):
    dest = tmp_path / "out"

    def write(argv):
        make_chart_tgz(dest / "web-1.2.3.tgz", "web", "1.2.3")

    run = Runner(on_pull=write)
    helm = Helm(None, home=tmp_path / "h", binary="helm", runner=run)
    got = helm.pull(ChartRef("oci://127.0.0.1:5001/charts/web", "oci", "1.2.3"), dest)
    assert got == dest / "web-1.2.3.tgz"
    assert run.calls[-1][:8] == ["helm", "pull", "oci://127.0.0.1:5001/charts/web", "--version", "1.2.3",
                                 "--plain-http", "--destination", str(dest)]


def test_template_and_show_of_a_loopback_oci_chart_carry_plain_http(tmp_path):
    run = Runner()
    helm = Helm(None, home=tmp_path / "h", binary="helm", runner=run)
    ref = ChartRef("oci://localhost:5000/charts/web", "oci", "1.0.0")
    helm.template("r", ref)
    assert run.calls[-1][2:7] == ["r", "oci://localhost:5000/charts/web", "--version", "1.0.0", "--plain-http"]
    run.calls.clear()
    assert helm.show_chart(ref) == {}
    assert run.calls[-1][1:3] == ["show", "chart"] and "--plain-http" in run.calls[-1]


def test_json_after_the_oci_pull_lines_is_parsed():
    """helm install/upgrade of an oci:// chart prints "Pulled:"/"Digest:" before its -o json document
    (measured on the e2e-pull run); anything else that is not JSON is still one error naming the action."""
    import pytest

    from harness.tools.helm import parse_json

    out = ('Pulled: 127.0.0.1:32833/charts/static-site:0.1.0\nDigest: sha256:caaa\n'
           '{"name": "static-site-ab", "version": 1, "info": {"status": "deployed"}}\n')
    assert parse_json("install", out)["info"]["status"] == "deployed"
    assert parse_json("get values", "null") is None
    with pytest.raises(ValueError, match=r"^helm install printed no JSON: 'Error: boom'"):
        parse_json("install", "Error: boom")
