"""The contracts the documentation shows load with the harness's loader (issue 11, Docs): the
complete example for a chart from outside this repository in docs/charts-under-test.md (with and
without its optional extras) and the README's quick start contract, each written with the files it
names into a chart directory generated in tmp_path, laid out as ``helm create`` scaffolds one. The
values files they name render what the contract probes: an Ingress of class nginx on the probe host.
The blocks are found by their markers (tests/docblocks.py)."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from docblocks import blocks, files, merge_yaml, of_kind
from support import make_chart_tgz

from harness.core.contract import load
from harness.core.datacheck import HttpStep
from harness.core.errors import UsageError

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "charts-under-test.md"
README = ROOT / "README.md"

SCAFFOLD_VALUES = """\
replicaCount: 1
image: {repository: nginx, pullPolicy: IfNotPresent, tag: ""}
service: {type: ClusterIP, port: 80}
ingress:
  enabled: false
  className: ""
  hosts: [{host: chart-example.local, paths: [{path: /, pathType: ImplementationSpecific}]}]
readinessProbe: {httpGet: {path: /, port: http}}
"""


def scaffold(root: Path, name: str, version: str, app_version: str) -> Path:
    """A chart directory as ``helm create`` lays it out (the files the loader reads), under ``root/charts``."""
    chart = root / "charts" / name
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text(f"apiVersion: v2\nname: {name}\nversion: {version}\nappVersion: \"{app_version}\"\n")
    (chart / "values.yaml").write_text(SCAFFOLD_VALUES)
    return chart


def written(root: Path, found) -> dict[str, Path]:
    out = {}
    for rel, text in files(found).items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
        out[rel] = p
    return out


def assert_values_serve_the_probe(contract) -> None:
    """The contract's values files turn on an Ingress of class nginx on its probe host and path."""
    merged: dict = {}
    for f in contract.values:
        merged.update(yaml.safe_load(f.read_text()))
    ingress = merged["ingress"]
    assert ingress["enabled"] is True and ingress["className"] == "nginx"
    hosts = {h["host"]: [p["path"] for p in h["paths"]] for h in ingress["hosts"]}
    assert contract.probe.path in hosts[contract.probe.host]


def test_the_outside_chart_example_loads(tmp_path):
    found = blocks(DOC, "contract-example")
    assert set(files(found)) == {"charts/webapp/ci/harness-values.yaml", "charts/webapp/harness-contract.yaml"}
    scaffold(tmp_path, "webapp", "1.5.0", "2.4.0")
    paths = written(tmp_path, found)
    c = load(paths["charts/webapp/harness-contract.yaml"])
    assert c.api_version == "harness/v2" and c.release == "webapp"
    assert c.chart_dir == tmp_path / "charts" / "webapp"
    assert [p.resolve() for p in c.values] == [paths["charts/webapp/ci/harness-values.yaml"].resolve()]
    assert c.sets == ("service.port=8080",)
    assert (c.released.kind, c.released.chart, c.released.version, c.released.repository) == (
        "repo", "example/webapp", "1.4.0", "https://charts.example.org")
    assert c.images == ("ghcr.io/example/webapp:2.3.0", "ghcr.io/example/webapp:2.4.0")
    # the candidate's image is its appVersion's tag (the scaffold's image.tag defaults to it)
    assert f"ghcr.io/example/webapp:{yaml.safe_load((c.chart_dir / 'Chart.yaml').read_text())['appVersion']}" in c.images
    assert (c.probe.host, c.probe.via, c.probe.path, c.probe.ready_path) == ("webapp.test", "ingress", "/", "/")
    assert c.scenarios == ("upgrade", "rollback") and c.max_failed_requests == 0
    # nothing from the application: no version source, no data checks, no database, no stream
    assert (c.version_from, c.data, c.postgres, c.sse, c.broken) == (None, None, None, None, ())
    assert_values_serve_the_probe(c)


def test_the_outside_chart_examples_optional_extras_load(tmp_path):
    found = blocks(DOC, "contract-example")
    [extras] = of_kind(found, "extras")
    scaffold(tmp_path, "webapp", "1.5.0", "2.4.0")
    paths = written(tmp_path, found)
    target = tmp_path / extras.arg
    target.write_text(merge_yaml(target.read_text(), extras.text))
    c = load(paths["charts/webapp/harness-contract.yaml"])
    assert c.version_from is not None and c.version_from.describe()
    assert c.data is not None and c.data.declared
    assert isinstance(c.data.write, HttpStep) and (c.data.write.method, c.data.write.path) == ("POST", "/api/notes")
    assert isinstance(c.data.read, HttpStep) and c.data.read.path == "/api/notes/{id}"


def test_the_examples_mistakes_would_be_caught(tmp_path):
    """The loader is what the test above relies on: the same example with a typo is refused."""
    found = blocks(DOC, "contract-example")
    scaffold(tmp_path, "webapp", "1.5.0", "2.4.0")
    paths = written(tmp_path, found)
    contract = paths["charts/webapp/harness-contract.yaml"]
    contract.write_text(contract.read_text().replace("probe:", "probes:"))
    with pytest.raises(UsageError, match="probe"):
        load(contract)


def test_the_readme_quick_start_contract_loads(tmp_path):
    found = blocks(README, "quickstart")
    scaffold(tmp_path, "mychart", "0.1.0", "1.16.0")
    (tmp_path / "released").mkdir()  # where the README's download step puts the released chart
    make_chart_tgz(tmp_path / "released" / "mychart-0.1.0.tgz", name="mychart", version="0.1.0")
    paths = written(tmp_path, found)
    c = load(paths["charts/mychart/harness-contract.yaml"])
    assert (c.released.kind, c.released.version) == ("tgz", "0.1.0")
    assert c.images == ("nginx:1.16.0",)  # the scaffold's image: repository nginx, tag its appVersion
    assert_values_serve_the_probe(c)
    [own] = of_kind(found, "own-image")
    target = tmp_path / own.arg
    target.write_text(merge_yaml(target.read_text(), own.text))
    c = load(target)
    assert c.images == ("harness/static-site:1.0.0", "harness/static-site:1.1.0")
    assert "image.tag=1.1.0" in c.sets and c.released.sets == ("image.tag=1.0.0",)
