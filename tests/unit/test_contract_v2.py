"""Contract v2 (values, set, released.values/set, probe, versionFrom, broken lists and set), its JSON
Schema agreeing with the loader on every sample, and the values order of one install."""
from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
import yaml

from harness.core.contract import (
    SCHEMA_PATH,
    ChartUnderTest,
    VersionFrom,
    load,
    schema,
    schema_problems,
)
from harness.core.errors import UsageError
from harness.core.values import ChartRef
from harness.scenario.targets import Target, set_pairs, values_files

ROOT = Path(__file__).resolve().parents[2]

V2 = textwrap.dedent("""\
    apiVersion: harness/v2
    release: web
    values: [ci/harness-values.yaml]
    set: ["ingress.enabled=true", "ingress.className=nginx"]
    released:
      chart: ../web-1.0.0.tgz
      values: [released-values.yaml]
      set: ["image.tag=1.0.0"]
    images: [nginx:1.27]
    probe: {host: web.test, via: ingress, path: /index.html, readyPath: /healthz}
    versionFrom: {regex: 'v(\\d+\\.\\d+\\.\\d+)'}
    scenarios: [upgrade, drain]
    broken:
      - {name: pdb-all, values: [broken-a.yaml, broken-b.yaml], set: ["pdb.enabled=true"], scenario: drain,
         reason: "minAvailable = replicas"}
      - {name: one-file, values: broken-a.yaml, scenario: upgrade, reason: "one file as a string"}
      - {name: set-only, set: ["strategy.maxSurge=0"], scenario: upgrade, reason: "no file at all"}
    """)


@pytest.fixture
def chart(tmp_path) -> Path:
    d = tmp_path / "web"
    (d / "ci").mkdir(parents=True)
    (d / "Chart.yaml").write_text("apiVersion: v2\nname: web\nversion: 1.1.0\nappVersion: v1.1.0\n")
    for f in ("ci/harness-values.yaml", "released-values.yaml", "broken-a.yaml", "broken-b.yaml"):
        (d / f).write_text("{}\n")
    (tmp_path / "web-1.0.0.tgz").write_bytes(b"")
    return d


def write(chart: Path, text: str) -> Path:
    (chart / "harness-contract.yaml").write_text(text)
    return chart


def problems(chart: Path) -> list[str]:
    with pytest.raises(UsageError) as err:
        load(chart)
    return [ln.strip() for ln in str(err.value).splitlines()[1:]]


def test_v2_keys_load(chart):
    c = load(write(chart, V2))
    assert c.api_version == "harness/v2"
    assert c.values == (chart / "ci" / "harness-values.yaml",)
    assert c.sets == ("ingress.enabled=true", "ingress.className=nginx")
    assert c.released.kind == "tgz" and c.released.values == (chart / "released-values.yaml",)
    assert c.released.sets == ("image.tag=1.0.0",)
    assert (c.probe.host, c.probe.via, c.probe.path, c.probe.ready_path) == ("web.test", "ingress", "/index.html",
                                                                             "/healthz")
    assert c.ingress is c.probe  # the v1 name still reads
    assert c.version_from == VersionFrom("regex", r"v(\d+\.\d+\.\d+)")
    a, b = chart / "broken-a.yaml", chart / "broken-b.yaml"
    assert [(x.name, x.values, x.sets) for x in c.broken] == [
        ("pdb-all", (a, b), ("pdb.enabled=true",)), ("one-file", (a,), ()), ("set-only", (), ("strategy.maxSurge=0",))]


def test_v1_file_is_read_as_v1_and_v2_keys_make_v2(chart):
    c = load(write(chart, "release: web\ningress: {host: web.test, probePath: /x}\nscenarios: [drain]\n"))
    assert c.api_version == "harness/v1" and c.probe.via == "ingress"
    assert (c.probe.probe_path, c.probe.ready_path) == ("/x", "/x")  # readyPath omitted: the probe path
    assert c.values == () and c.sets == () and c.version_from is None
    c = load(write(chart, "release: web\nprobe: {host: web.test, via: httproute}\nscenarios: [drain]\n"))
    assert c.api_version == "harness/v2" and c.probe.via == "httproute" and c.probe.path == "/"


@pytest.mark.parametrize("text, want", [
    ("versionFrom: {json: version}", ("json", "version")),
    ("versionFrom: {header: X-App-Version}", ("header", "X-App-Version")),
    ("versionFrom: {regex: 'build (\\S+)'}", ("regex", r"build (\S+)")),
])
def test_version_sources(chart, text, want):
    c = load(write(chart, f"release: web\nprobe: {{host: web.test}}\nscenarios: [drain]\n{text}\n"))
    assert (c.version_from.source, c.version_from.expr) == want


def test_v2_mistakes_are_one_line_each(chart):
    write(chart, textwrap.dedent("""\
        apiVersion: harness/v3
        release: web
        values: [missing.yaml]
        set: [novalue, 3]
        released: {chart: ../web-1.0.0.tgz, valuse: []}
        probe: {host: Web.Test, via: gateway, path: index.html, readyPth: /x}
        versionFrom: {json: version, header: X-Version}
        scenarios: [upgrade, drian]
        broken:
          - {name: b, scenario: upgrade, reason: r}
        """))
    lines = problems(chart)
    expected = [
        "apiVersion: 'harness/v3' is not one of harness/v1, harness/v2",
        "scenarios: 'drian' is not one of upgrade, rollback, drain, sse, db_outage; did you mean 'drain'?",
        "values[0]: missing.yaml does not exist",
        "set[0]: 'novalue' is not key=value",
        "set[1]: 3 is not key=value",
        "released.valuse: unknown key; did you mean 'values'?",
        "probe.readyPth: unknown key; did you mean 'readyPath'?",
        "probe.host: 'Web.Test' is not a lowercase DNS name",
        "probe.via: 'gateway' is not one of ingress, httproute",
        "probe.path: 'index.html' must start with '/'",
        "versionFrom: want exactly one of json, header, regex (got json, header)",
        "broken[0].values: is required (a values file or a list of them; or set)",
    ]
    for want in expected:
        assert any(line.startswith(want) for line in lines), (want, lines)
    assert len(lines) == len(expected), lines


@pytest.mark.parametrize("text, want", [
    ("probe: {host: web.test}\ningress: {host: web.test}", "probe: give probe (v2) or ingress (v1), not both"),
    ("", "probe: is required"),
    ("probe: {host: web.test}\nversionFrom: {regex: '(a)(b)'}", "versionFrom.regex: '(a)(b)' has 2 groups"),
    ("probe: {host: web.test}\nversionFrom: {regex: '(a'}", "versionFrom.regex: '(a' is not a regular expression"),
    ("probe: {host: web.test}\nversionFrom: {header: 'X Version'}", "versionFrom.header: 'X Version' is not an HTTP"),
    ("probe: {host: web.test}\nversionFrom: {json: a..b}", "versionFrom.json: 'a..b' is not a key"),
    ("probe: {host: web.test}\nversionFrom: {xpath: /v}", "versionFrom.xpath: unknown key"),
])
def test_probe_and_version_mistakes(chart, text, want):
    write(chart, f"release: web\nscenarios: [drain]\n{text}\n")
    lines = problems(chart)
    assert any(line.startswith(want) for line in lines), lines


def test_version_from_extracts_and_expects():
    body = b'{"version": "1.1.0", "build": {"id": 7}}'
    assert VersionFrom("json", "version").extract({}, body) == "1.1.0"
    assert VersionFrom("json", "build.id").extract({}, body) == "7"
    assert VersionFrom("json", "build").extract({}, body) is None  # an object is no version
    assert VersionFrom("json", "version").extract({}, b"<html>1.1.0</html>") is None
    assert VersionFrom("header", "X-App-Version").extract({"X-App-Version": " 2.0 "}, b"") == "2.0"
    assert VersionFrom("header", "X-App-Version").extract({}, b"") is None
    rx = VersionFrom("regex", r"v(\d+\.\d+\.\d+)")
    assert rx.extract({}, b"<footer>static v1.2.3</footer>") == "1.2.3"
    assert rx.extract({}, b"<footer>no version</footer>") is None
    assert VersionFrom("regex", r"\d+\.\d+").extract({}, b"x 4.5 y") == "4.5"  # no group: the match
    # the expected version: the group found in the appVersion, else the appVersion itself
    assert rx.expected("v1.2.3") == "1.2.3" and rx.expected("1.2.3") == "1.2.3"
    assert VersionFrom("json", "version").expected("v1.2.3") == "v1.2.3"
    assert rx.expected(None) is None


# --------------------------------------------------------------------------- the JSON Schema


def sample_contracts() -> list[Path]:
    """Every harness-contract.yaml in the repository (the demo charts, test fixtures on disk)."""
    return sorted(p for p in ROOT.rglob("harness-contract.yaml") if ".venv" not in p.parts and "artifacts" not in p.parts)


def test_schema_is_published_as_package_data():
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert '"harness.core" = ["contract.schema.json", "datacheck.schema.json"]' in pyproject
    s = schema()
    assert SCHEMA_PATH.name == "contract.schema.json" and s["$schema"].endswith("2020-12/schema")
    for key in ("values", "set", "probe", "versionFrom", "released", "broken", "ingress"):
        assert key in s["properties"]


def test_schema_and_loader_agree_on_every_sample_contract():
    samples = sample_contracts()
    assert len(samples) >= 2
    for path in samples:
        data = yaml.safe_load(path.read_text())
        assert schema_problems(data) == [], path
        load(path)  # raises on a problem


def test_schema_and_loader_agree_on_v2_sample(chart):
    write(chart, V2)
    assert schema_problems(yaml.safe_load(V2)) == []
    load(chart)


@pytest.mark.parametrize("text", [
    "release: web\nscenarios: [drain]\n",                                               # no probe
    "release: web\nprobe: {host: web.test}\ningress: {host: web.test}\nscenarios: [drain]\n",
    "release: web\nprobe: {host: web.test, via: gateway}\nscenarios: [drain]\n",
    "release: web\nprobe: {host: web.test}\nscenarios: [drain]\nversionFrom: {}\n",
    "release: web\nprobe: {host: web.test}\nscenarios: [drain]\nversionFrom: {json: a, regex: b}\n",
    "release: web\nprobe: {host: web.test}\nscenarios: [upgrade]\n",                   # released required
    "release: web\nprobe: {host: web.test}\nscenarios: [sse]\n",                       # sse required
    "release: web\nprobe: {host: web.test}\nscenarios: [db_outage]\n",                 # postgres required
    "release: Web\nprobe: {host: web.test}\nscenarios: [drain]\n",
    "release: web\nprobe: {host: web.test}\nscenarios: [drain]\nset: [novalue]\n",
    "release: web\nprobe: {host: web.test}\nscenarios: [drain]\nbroken: [{name: b, scenario: drain, reason: r}]\n",
    "release: web\nprobe: {host: web.test}\nscenarios: [drain]\nbroken: [{name: b, values: [], scenario: drain, reason: r}]\n",
    "release: web\nprobe: {host: web.test, path: x}\nscenarios: [drain]\n",
    "release: web\nprobe: {host: web.test}\nscenarios: [drain]\navailability: {maxFailedRequests: -1}\n",
    "release: web\nprobe: {host: web.test}\nscenarios: [drain]\nextra: 1\n",
])
def test_schema_and_loader_agree_on_bad_samples(chart, text):
    assert schema_problems(yaml.safe_load(text)), text
    with pytest.raises(UsageError):
        load(write(chart, text))


def test_a_schema_finding_the_loader_misses_is_one_more_line(chart, monkeypatch):
    import harness.core.contract as contract

    strict = schema()
    strict["properties"]["release"]["maxLength"] = 2
    monkeypatch.setattr(contract, "schema", lambda: strict)
    lines = problems(write(chart, "release: web\nprobe: {host: web.test}\nscenarios: [drain]\n"))
    assert lines == ["release: 'web' is too long"]


def test_docs_name_the_schema_for_editors():
    for path in (ROOT / "charts-under-test" / "realtime" / "harness-contract.yaml",
                 ROOT / "charts-under-test" / "ha-service" / "harness-contract.yaml"):
        first = path.read_text().splitlines()[0]
        assert first == "# yaml-language-server: $schema=../../harness/core/contract.schema.json"
        assert (path.parent / first.split("=", 1)[1]).resolve() == SCHEMA_PATH
    assert "yaml-language-server: $schema=" in (ROOT / "docs" / "charts-under-test.md").read_text()


# --------------------------------------------------------------------------- values order


def test_values_order_contract_released_variant_overlay_cli(chart):
    c = load(write(chart, V2))
    cli = chart / "cli.yaml"
    cli.write_text("{}\n")
    cut = ChartUnderTest(ChartRef(str(chart), "dir"), c, (cli,), ("replicaCount=5",))
    variant = chart / "ci" / "default-values.yaml"
    plain = Target(cut, "default", (variant,))
    top, rel = chart / "ci" / "harness-values.yaml", chart / "released-values.yaml"
    assert values_files(plain, candidate=True) == [top, variant, cli]
    assert values_files(plain, candidate=False) == [top, rel, variant, cli]
    assert set_pairs(plain, candidate=True) == ["ingress.enabled=true", "ingress.className=nginx", "replicaCount=5"]
    assert set_pairs(plain, candidate=False) == ["ingress.enabled=true", "ingress.className=nginx", "image.tag=1.0.0",
                                                 "replicaCount=5"]
    control = Target(cut, "default", (variant,), c.broken[0])
    a, b = chart / "broken-a.yaml", chart / "broken-b.yaml"
    assert values_files(control, candidate=True) == [top, variant, a, b, cli]
    assert values_files(control, candidate=False) == [top, rel, variant, cli]  # the released chart: no overlay
    assert set_pairs(control, candidate=True)[-2:] == ["pdb.enabled=true", "replicaCount=5"]
