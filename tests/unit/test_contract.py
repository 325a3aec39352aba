"""harness-contract.yaml loading and validation."""
from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from harness.core.config import load_config
from harness.core.contract import discover, load, resolve_charts_under_test
from harness.core.errors import UsageError

VALID = textwrap.dedent("""\
    release: realtime
    released: {chart: harness-charts/realtime, version: 1.0.0, repository: ../repo}
    images: [harness/demo-service:1.0.0, harness/demo-service:1.1.0]
    ingress: {host: realtime.test, probePath: /, readyPath: /ready}
    sse: {path: /events}
    postgres:
      {secretValue: database.existingSecret, secretKeyValue: database.existingSecretKey, secretKey: dsn,
       migrationJob: true}
    scenarios: [upgrade, rollback, drain, sse, db_outage]
    availability: {maxFailedRequests: 0}
    broken:
      - {name: no-sse-heartbeat, values: ../broken/no-sse-heartbeat.yaml, scenario: sse,
         reason: "no heartbeat: nginx cuts the stream at 60 s"}
    """)


@pytest.fixture
def layout(tmp_path) -> Path:
    """charts-under-test/{realtime/, repo/index.yaml, broken/no-sse-heartbeat.yaml}."""
    root = tmp_path / "charts-under-test"
    chart = root / "realtime"
    chart.mkdir(parents=True)
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: realtime\nversion: 1.1.0\n")
    (root / "repo").mkdir()
    (root / "repo" / "index.yaml").write_text("apiVersion: v1\nentries: {}\n")
    (root / "broken").mkdir()
    (root / "broken" / "no-sse-heartbeat.yaml").write_text("sse: {heartbeatSeconds: 0}\n")
    return chart


def write(chart: Path, text: str) -> Path:
    p = chart / "harness-contract.yaml"
    p.write_text(text)
    return p


def test_valid_contract_resolves_paths_against_the_file(layout):
    write(layout, VALID)
    c = load(layout)
    root = layout.parent
    assert c.release == "realtime" and c.chart_dir == layout
    assert c.released.chart == "harness-charts/realtime" and c.released.version == "1.0.0"
    assert c.released.repository == root / "repo" and c.released.repo_name == "harness-charts"
    assert c.images == ("harness/demo-service:1.0.0", "harness/demo-service:1.1.0")
    assert (c.ingress.host, c.ingress.probe_path, c.ingress.ready_path) == ("realtime.test", "/", "/ready")
    assert c.sse.path == "/events"
    assert c.postgres.secret_value == "database.existingSecret" and c.postgres.migration_job is True
    assert c.scenarios == ("upgrade", "rollback", "drain", "sse", "db_outage")
    assert c.max_failed_requests == 0
    assert c.broken_for("sse")[0].values == (root / "broken" / "no-sse-heartbeat.yaml",)
    assert c.supports("drain") and not c.broken_for("drain")


def test_every_mistake_is_one_line(layout):
    write(layout, textwrap.dedent("""\
        release: Realtime_App
        released: {chart: harness-charts/realtime, version: 1.0, repository: ../nowhere}
        images: [harness/demo-service]
        ingress: {host: realtime.test, probePath: ready}
        scenarios: [upgrade, sse, chaos]
        availability: {maxFailedRequests: -1}
        broken: [{name: x, values: ../broken/missing.yaml, scenario: sse, reason: r}]
        extra: 1
        """))
    with pytest.raises(UsageError) as err:
        load(layout)
    lines = str(err.value).splitlines()
    assert lines[0].endswith("harness-contract.yaml has 10 problems:")
    body = [ln.strip() for ln in lines[1:]]
    expected = [
        "extra: unknown key",
        "release: 'Realtime_App' must be lowercase letters, digits and '-'",
        "scenarios: 'chaos' is not one of upgrade, rollback, drain, sse, db_outage",
        "released.version: want a string, got the number 1.0; quote it",
        "released.repository: ../nowhere has no index.yaml",
        "images[0]: 'harness/demo-service' is not an image reference with a tag",
        "ingress.probePath: 'ready' must start with '/'",
        "sse: is required because scenarios lists sse",
        "availability.maxFailedRequests: want an integer >= 0, got -1",
        "broken[0].values: ../broken/missing.yaml does not exist",
    ]
    assert len(body) == len(expected)
    for want in expected:
        assert any(line.startswith(want) for line in body), (want, body)


def test_scenario_requirements(layout):
    write(layout, "release: r\ningress: {host: r.test}\nscenarios: [upgrade, db_outage]\n")
    with pytest.raises(UsageError) as err:
        load(layout)
    text = str(err.value)
    assert "released: is required because scenarios lists upgrade" in text
    assert "postgres: is required because scenarios lists db_outage" in text


def test_minimal_contract_and_defaults(layout):
    write(layout, "release: r\ningress: {host: r.test}\nscenarios: [drain]\n")
    c = load(layout)
    assert c.released is None and c.sse is None and c.postgres is None and c.broken == ()
    assert c.ingress.probe_path == "/" and c.ingress.ready_path == "/"  # readyPath omitted: the probe path


def test_missing_and_invalid_files(tmp_path):
    with pytest.raises(UsageError, match="every chart under test needs a harness-contract.yaml"):
        load(tmp_path)
    (tmp_path / "harness-contract.yaml").write_text("release: [\n")
    with pytest.raises(UsageError, match="is not valid YAML"):
        load(tmp_path)


def test_discover_and_resolve_charts_under_test(layout):
    write(layout, VALID)
    rootdir = layout.parent.parent
    assert [c.release for c in discover(layout.parent)] == ["realtime"]
    cfg = load_config({}, env={}, rootdir=rootdir, cwd=rootdir)
    charts = resolve_charts_under_test(cfg)
    assert [(c.name, c.release_prefix, c.needs_repo) for c in charts] == [("realtime", "realtime", True)]
    empty = rootdir / "empty"
    empty.mkdir()
    with pytest.raises(UsageError, match="no charts under test"):
        resolve_charts_under_test(load_config({}, env={}, rootdir=empty, cwd=empty))
