r"""The per-chart contract: ``harness-contract.yaml`` beside a chart under test's Chart.yaml.

It tells the scenarios what they cannot guess from the chart: the release name prefix, the
released version to upgrade from, the values every install needs, the images to preload, where to
probe (an Ingress host or an HTTPRoute hostname, the probe and readiness paths), where the
application reports its version (if it does), the optional SSE and PostgreSQL wiring, which
scenarios apply, the availability budget, and broken variants that a scenario must catch.

Two versions are read. ``harness/v1`` (no ``apiVersion``: every existing file) and ``harness/v2``
(``apiVersion: harness/v2``, optional: a file using a v2 key is read as v2 anyway); v2 only adds
keys. Schema (relative paths resolve against the contract file; the machine-readable form is
``harness/core/contract.schema.json``, :data:`SCHEMA_PATH`)::

    apiVersion: harness/v2             # optional
    release: realtime                  # release name prefix; the harness appends a random suffix
    values: [ci/harness-values.yaml]   # v2: values files for every install/upgrade (released and candidate)
    set: ["ingress.enabled=true"]      # v2: --set pairs, likewise
    released:                          # the last released chart, for upgrade/rollback
      chart: harness-charts/realtime   # repo/name | oci://... | path to a .tgz
      version: 1.0.0                   # required for repo/name and oci://
      repository: ../repo              # dir with index.yaml, or an http(s) URL (repo/name only)
      values: [released-values.yaml]   # v2: values/set for the released chart only (after the top-level ones)
      set: []
    images: [harness/demo-service:1.0.0, harness/demo-service:1.1.0]
    probe: {host: realtime.test, via: ingress, path: /, readyPath: /ready}   # v2
    ingress: {host: realtime.test, probePath: /, readyPath: /ready}          # v1: same as probe via ingress
    versionFrom: {json: version}       # v2, optional: or {header: X-App-Version} or {regex: 'v(\d+\.\d+\.\d+)'}
    sse: {path: /events}                                   # required by the sse scenario
    postgres: {secretValue: database.existingSecret, secretKeyValue: database.existingSecretKey,
               secretKey: dsn, migrationJob: true}        # required by the db_outage scenario
    scenarios: [upgrade, rollback, drain, sse, db_outage]
    availability: {maxFailedRequests: 0}
    broken: [{name: no-sse-heartbeat, values: ../broken/no-sse-heartbeat.yaml, set: [...],
              scenario: sse, reason: "..."}]              # v2: values may be a list, set is new
    sensitiveValues: [auth.oidc.clientSecret]  # optional (v1, v2): values paths never written to artifacts

Values precedence for one install (helm: later ``-f`` files win; ``--set`` beats every file):
the contract's ``values``/``set``, then ``released.values``/``released.set`` (released installs
only), then the variant's ``ci/*-values.yaml`` and the broken overlay (candidate only), then the
user's ``--values``/``--set``.

:func:`load` reports every mistake at once, one line each, in a single UsageError.
"""
from __future__ import annotations

import difflib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import yaml

from harness.core import datacheck
from harness.core.chartfiles import extract_packaged
from harness.core.edges import EDGES, TRAEFIK_GATEWAY, gateway_sets
from harness.core.errors import UsageError
from harness.core.values import ChartRef

CONTRACT_FILE = "harness-contract.yaml"
SCENARIOS = ("upgrade", "rollback", "drain", "sse", "db_outage")
API_VERSIONS = ("harness/v1", "harness/v2")
PROBE_VIA = ("ingress", "httproute")
VERSION_SOURCES = ("json", "header", "regex")
RELEASE_PREFIX_MAX = 40  # leaves room for "-<suffix>" within helm's 53-character release names
SCHEMA_PATH = Path(__file__).resolve().with_name("contract.schema.json")
"""The contract's JSON Schema (package data): editors complete and check contracts with it
(``# yaml-language-server: $schema=<this path>``); :func:`load` validates against it too."""

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_HOST = re.compile(r"^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_IMAGE = re.compile(r"^[a-z0-9][a-z0-9._/-]*(:[0-9]+)?[a-z0-9._/-]*:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
_VALUES_PATH = re.compile(r"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$")
_REPO_REF = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9][A-Za-z0-9_.-]*$")
_HEADER = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")  # an HTTP field name (RFC 9110 section 5.1 token)
_SET = re.compile(r"^[^=,\s][^=]*=")

_TOP_KEYS = ("apiVersion", "release", "values", "set", "released", "images", "probe", "ingress", "versionFrom",
             "sse", "postgres", "scenarios", "availability", "broken", "data", "sensitiveValues")
_V2_KEYS = ("values", "set", "probe", "versionFrom", "data")


@dataclass(frozen=True)
class Released:
    """The released chart to start upgrades from.

    Attributes:
        chart: ``repo/name``, ``oci://...`` or an absolute .tgz path.
        version: chart version (None only for a .tgz).
        repository: absolute directory with index.yaml, an http(s) URL, or None.
        kind: ``"repo"``, ``"oci"`` or ``"tgz"``.
        values: absolute values files for the released chart only (v2 ``released.values``).
        sets: ``--set`` pairs for the released chart only (v2 ``released.set``).
    """

    chart: str
    version: str | None
    repository: Path | str | None
    kind: str
    values: tuple[Path, ...] = ()
    sets: tuple[str, ...] = ()

    @property
    def repo_name(self) -> str | None:
        """``harness-charts`` for ``harness-charts/realtime``; None for oci/tgz."""
        return self.chart.split("/", 1)[0] if self.kind == "repo" else None

    @property
    def ref(self) -> Any:
        """The released chart as a :class:`harness.core.values.ChartRef`, ready for ``Helm.install``.

        A repo chart resolves only after its repository was added (the ``charts_under_test``
        fixture does that)."""

        return ChartRef(self.chart, self.kind, self.version)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Probe:
    """Where the scenarios reach the chart from outside the cluster.

    Attributes:
        host: the Ingress host (``via="ingress"``) or HTTPRoute hostname (``via="httproute"``),
            e.g. ``realtime.test``; the harness renames it per release.
        probe_path: what the availability prober requests (answers 2xx while serving).
        ready_path: what the "host answers" wait polls before any measurement (default: ``probe_path``).
        via: ``ingress`` or ``httproute``.
    """

    host: str
    probe_path: str = "/"
    ready_path: str | None = None
    via: str = "ingress"

    def __post_init__(self) -> None:
        if self.ready_path is None:
            object.__setattr__(self, "ready_path", self.probe_path)

    @property
    def path(self) -> str:
        """The probe path (v2 name of ``probe_path``)."""
        return self.probe_path


Ingress = Probe  # the v1 name, kept for readers written against it


@dataclass(frozen=True)
class VersionFrom:
    """Where the application reports its version in an answer.

    Attributes:
        source: ``json`` (a key of a JSON object body; dots walk nested objects), ``header`` (a
            response header, case-insensitive) or ``regex`` (a regular expression searched in the
            body; its first group, else the whole match).
        expr: the key, header name or pattern.
    """

    source: str
    expr: str

    def extract(self, headers: Mapping[str, str] | Any, body: bytes) -> str | None:
        """The version one answer reports, or None when it does not say.

        Args:
            headers: the response headers (a case-insensitive mapping such as requests' own).
            body: the response body (the first few KiB are enough).
        """
        if self.source == "header":
            v = headers.get(self.expr) if headers is not None else None
            return str(v).strip() or None if v is not None else None
        text = body.decode("utf-8", errors="replace")
        if self.source == "json":
            try:
                node: Any = json.loads(text)
            except ValueError:
                return None
            for part in self.expr.split("."):
                if not isinstance(node, Mapping) or part not in node:
                    return None
                node = node[part]
            return None if node is None or isinstance(node, Mapping | list) else str(node)
        return self.match(text)

    def match(self, text: str) -> str | None:
        """``regex`` only: the first group (else the whole match) found in ``text``; None without a match."""
        m = re.search(self.expr, text)
        if m is None:
            return None
        return m.group(1) if m.re.groups else m.group(0)

    def expected(self, app_version: str | None) -> str | None:
        r"""The version an answer of a chart with ``appVersion`` should report: the regular
        expression's group found in ``app_version`` (``v1.2.3`` -> ``1.2.3`` for
        ``v(\d+\.\d+\.\d+)``) when it matches there, else ``app_version`` itself."""
        if app_version is None or self.source != "regex":
            return app_version
        return self.match(app_version) or app_version

    def describe(self) -> str:
        return f"{self.source}: {self.expr}"


@dataclass(frozen=True)
class Sse:
    """``path`` of the Server-Sent Events stream."""

    path: str


@dataclass(frozen=True)
class Postgres:
    """How the chart takes its database: the values paths that name the Secret and its key
    (``secret_value``, ``secret_key_value``), the key inside the Secret (``secret_key``), and
    whether the chart runs a migration Job (``migration_job``)."""

    secret_value: str
    secret_key_value: str
    secret_key: str = "dsn"
    migration_job: bool = False


@dataclass(frozen=True)
class Broken:
    """A known-broken variant that scenario ``scenario`` must catch, with the ``reason`` it is broken.

    Attributes:
        values: the overlay's values files (absolute); one path is taken as a one-file tuple.
        sets: ``--set`` pairs of the overlay (v2).
        edge: the only edge the control runs through ("" for any): its defect lives in that edge's
            object (an HTTPRoute's ``timeouts``); through another edge it is skipped with the reason.
    """

    name: str
    values: tuple[Path, ...] | Path
    scenario: str
    reason: str
    sets: tuple[str, ...] = ()
    edge: str = ""

    def __post_init__(self) -> None:
        if isinstance(self.values, str | Path):
            object.__setattr__(self, "values", (Path(self.values),))
        else:
            object.__setattr__(self, "values", tuple(Path(v) for v in self.values))


@dataclass(frozen=True)
class Contract:
    """A loaded, validated harness-contract.yaml; see the module docstring for the fields.

    ``path`` is the contract file, ``chart_dir`` the chart beside it; ``api_version`` is
    ``harness/v1`` or ``harness/v2``; ``values``/``sets`` apply to every install and upgrade.
    """

    path: Path
    chart_dir: Path
    release: str
    released: Released | None
    images: tuple[str, ...]
    probe: Probe
    sse: Sse | None
    postgres: Postgres | None
    scenarios: tuple[str, ...]
    max_failed_requests: int
    broken: tuple[Broken, ...]
    values: tuple[Path, ...] = ()
    sets: tuple[str, ...] = ()
    version_from: VersionFrom | None = None
    api_version: str = "harness/v1"
    data: datacheck.DataCheck | None = None  # the ``data`` block: harness/core/datacheck.py
    sensitive_values: tuple[str, ...] = ()  # ``sensitiveValues``: harness/core/redact.py

    @property
    def ingress(self) -> Probe:
        """The probe target (the v1 name; ``probe.via`` says whether it is an Ingress or an HTTPRoute)."""
        return self.probe

    def supports(self, scenario: str) -> bool:
        return scenario in self.scenarios

    def broken_for(self, scenario: str) -> tuple[Broken, ...]:
        return tuple(b for b in self.broken if b.scenario == scenario)


class _Problems:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def add(self, key: str, msg: str) -> None:
        self.lines.append(f"{key}: {msg}")

    def mentions(self, key: str) -> bool:
        """A problem was already reported for ``key``, a key under it, or a key above it."""
        keys = [line.split(":", 1)[0] for line in self.lines]
        return any(k == key or k.startswith((f"{key}.", f"{key}[")) or key.startswith((f"{k}.", f"{k}["))
                   for k in keys)


def _unknown_keys(p: _Problems, where: str, data: Mapping[str, Any], known: tuple[str, ...]) -> None:
    for k in data:
        if k not in known:
            close = difflib.get_close_matches(str(k), known, n=1)
            p.add(f"{where}{k}", "unknown key" + (f"; did you mean {close[0]!r}?" if close else
                                                  f"; known: {', '.join(known)}"))


def _str(p: _Problems, key: str, value: Any, *, required: bool = True) -> str | None:
    if value is None:
        if required:
            p.add(key, "is required")
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        p.add(key, f"want a string, got {type(value).__name__}")
        return None
    if not isinstance(value, str):
        p.add(key, f"want a string, got the number {value!r}; quote it")
        return None
    if not value.strip():
        p.add(key, "is empty")
        return None
    return value.strip()


def _path_value(p: _Problems, key: str, value: str, base: Path) -> str | None:
    if not value.startswith("/"):
        p.add(key, f"{value!r} must start with '/'")
        return None
    return value


def _mapping(p: _Problems, key: str, value: Any) -> Mapping[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        p.add(key, f"want a mapping, got {type(value).__name__}")
        return None
    return value


def _values_files(p: _Problems, key: str, raw: Any, base: Path, *, single: bool = False) -> tuple[Path, ...]:
    """Values files (one string, or a list of them) resolved against ``base``; each must exist."""
    if raw is None:
        return ()
    items = [raw] if isinstance(raw, str) else raw
    if not isinstance(items, list):
        p.add(key, "want a values file or a list of them" if single else "want a list of values files")
        return ()
    out: list[Path] = []
    for i, item in enumerate(items):
        k = key if isinstance(raw, str) else f"{key}[{i}]"
        rel = _str(p, k, item)
        if rel is None:
            continue
        f = (base / rel).resolve()
        if not f.is_file():
            p.add(k, f"{rel} does not exist (resolved to {f})")
            continue
        out.append(f)
    return tuple(out)


def _sets(p: _Problems, key: str, raw: Any) -> tuple[str, ...]:
    """``--set`` pairs (``key=value``, helm's syntax: https://helm.sh/docs/intro/using_helm/)."""
    if raw is None:
        return ()
    if not isinstance(raw, list):
        p.add(key, 'want a list of key=value strings, e.g. ["ingress.enabled=true"]')
        return ()
    out: list[str] = []
    for i, item in enumerate(raw):
        if not isinstance(item, str) or not _SET.match(item):
            p.add(f"{key}[{i}]", f"{item!r} is not key=value")
        else:
            out.append(item)
    return tuple(out)


def _read(path: Path | str) -> tuple[Path, Any]:
    """The contract file (a chart directory's own) and its parsed YAML. Raises UsageError."""
    path = Path(path)
    if path.is_dir():
        path = path / CONTRACT_FILE
    if not path.is_file():
        raise UsageError(f"contract {path} does not exist (every chart under test needs a {CONTRACT_FILE})")
    path = path.resolve()
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise UsageError(f"contract {path} is not valid YAML{where}: {getattr(exc, 'problem', None) or exc}") from None
    if not isinstance(data, Mapping):
        raise UsageError(f"contract {path} must be a mapping")
    return path, data


def load(path: Path | str) -> Contract:
    """Load and validate a contract (v1 or v2).

    Args:
        path: the harness-contract.yaml file, or the chart directory holding it.

    Returns:
        the Contract, with relative paths resolved against the file's directory.

    Raises:
        UsageError: ``<file> has N problems:`` followed by one line per mistake, each naming the key
            (unknown keys with a did-you-mean); the same document is also checked against
            :data:`SCHEMA_PATH`, and a schema finding the loader did not make is one more line.
    """
    path, data = _read(path)
    base = path.parent

    p = _Problems()
    _unknown_keys(p, "", data, _TOP_KEYS)

    api_version = data.get("apiVersion")
    if api_version is None:
        api_version = "harness/v2" if any(k in data for k in _V2_KEYS) else "harness/v1"
    elif api_version not in API_VERSIONS:
        p.add("apiVersion", f"{api_version!r} is not one of {', '.join(API_VERSIONS)}")
        api_version = "harness/v2"

    release = _str(p, "release", data.get("release"))
    if release and (not _DNS_LABEL.match(release) or len(release) > RELEASE_PREFIX_MAX):
        p.add("release", f"{release!r} must be lowercase letters, digits and '-' (DNS-1123), "
                         f"at most {RELEASE_PREFIX_MAX} characters")

    scenarios: list[str] = []
    raw_scen = data.get("scenarios")
    if raw_scen is None:
        p.add("scenarios", f"is required (a subset of {', '.join(SCENARIOS)})")
    elif not isinstance(raw_scen, list):
        p.add("scenarios", "want a list")
    else:
        for s in raw_scen:
            if s not in SCENARIOS:
                close = difflib.get_close_matches(str(s), SCENARIOS, n=1)
                p.add("scenarios", f"{s!r} is not one of {', '.join(SCENARIOS)}"
                                   + (f"; did you mean {close[0]!r}?" if close else ""))
            elif s in scenarios:
                p.add("scenarios", f"{s!r} is listed twice")
            else:
                scenarios.append(s)

    values = _values_files(p, "values", data.get("values"), base)
    sets = _sets(p, "set", data.get("set"))
    released = _released(p, data.get("released"), base, scenarios)
    images = _images(p, data.get("images"))
    probe = _probe(p, data, base)
    version_from = _version_from(p, data.get("versionFrom"))

    sse = None
    raw = _mapping(p, "sse", data.get("sse"))
    if raw is not None:
        _unknown_keys(p, "sse.", raw, ("path",))
        sse_path = _str(p, "sse.path", raw.get("path"))
        if sse_path and _path_value(p, "sse.path", sse_path, base):
            sse = Sse(sse_path)
    if "sse" in scenarios and data.get("sse") is None:
        p.add("sse", "is required because scenarios lists sse")

    postgres = _postgres(p, data.get("postgres"))
    if "db_outage" in scenarios and data.get("postgres") is None:
        p.add("postgres", "is required because scenarios lists db_outage")

    max_failed = 0
    raw = _mapping(p, "availability", data.get("availability"))
    if raw is not None:
        _unknown_keys(p, "availability.", raw, ("maxFailedRequests",))
        v = raw.get("maxFailedRequests", 0)
        if isinstance(v, bool) or not isinstance(v, int) or v < 0:
            p.add("availability.maxFailedRequests", f"want an integer >= 0, got {v!r}")
        else:
            max_failed = v

    broken = _broken(p, data.get("broken"), base)
    sensitive_values = _sensitive_values(p, data.get("sensitiveValues"))
    data_check = datacheck.parse(p.add, data.get("data"), postgres=data.get("postgres"))

    for line in schema_problems(data):
        key = line.split(":", 1)[0]
        if not p.mentions(key):
            p.lines.append(line)

    if p.lines:
        n = len(p.lines)
        raise UsageError(f"contract {path} has {n} problem{'s' if n > 1 else ''}:\n  " + "\n  ".join(p.lines))
    return Contract(
        path=path, chart_dir=base, release=release or "", released=released, images=tuple(images),
        probe=probe,  # type: ignore[arg-type]
        sse=sse, postgres=postgres, scenarios=tuple(scenarios), max_failed_requests=max_failed, broken=broken,
        data=data_check, sensitive_values=sensitive_values,
        values=values, sets=sets, version_from=version_from, api_version=str(api_version),
    )


def schema() -> dict[str, Any]:
    """The contract's JSON Schema (:data:`SCHEMA_PATH`, draft 2020-12) as a dict."""
    return json.loads(SCHEMA_PATH.read_text())


def schema_problems(data: Any) -> list[str]:
    """``data`` (a parsed contract) checked against :func:`schema`: one ``<key>: <message>`` line
    per finding, keys written as the loader writes them (``broken[0].name``).

    Uses the ``jsonschema`` package (https://python-jsonschema.readthedocs.io/, Draft202012Validator).
    """
    # function-local: jsonschema (and its referencing/rpds dependencies) is only needed when a contract is read
    import jsonschema

    validator = jsonschema.Draft202012Validator(schema())
    out: list[str] = []
    for err in sorted(validator.iter_errors(data), key=lambda e: [str(x) for x in e.absolute_path]):
        key = ""
        for part in err.absolute_path:
            key += f"[{part}]" if isinstance(part, int) else (f".{part}" if key else str(part))
        # name the key the finding is about, as the loader does: the missing or the unexpected one
        inst = err.instance if isinstance(err.instance, Mapping) else {}
        child = None
        if err.validator == "required":
            child = next((r for r in err.validator_value if r not in inst), None)
        elif err.validator == "additionalProperties":
            known = err.schema.get("properties", {})
            child = next((k for k in inst if k not in known), None)
        elif err.validator == "oneOf" and not key:
            child = "probe"
        elif err.validator == "anyOf" and key.startswith("broken["):
            child = "values"
        if child is not None:
            key = f"{key}.{child}" if key else str(child)
        out.append(f"{key or '(top level)'}: {err.message}")
    return out


def _sensitive_values(p: _Problems, raw: Any) -> tuple[str, ...]:
    """``sensitiveValues``: dotted values paths (``a.b.c``) that harness/core/redact.py hides
    besides the keys it recognises by name."""
    if raw is None:
        return ()
    if not isinstance(raw, list):
        p.add("sensitiveValues", "want a list of values paths (a.b.c)")
        return ()
    out: list[str] = []
    for v in raw:
        if not isinstance(v, str) or not _VALUES_PATH.match(v):
            p.add("sensitiveValues", f"{v!r} is not a values path (a.b.c)")
        elif v not in out:
            out.append(v)
    return tuple(out)


def _released(p: _Problems, raw: Any, base: Path, scenarios: list[str]) -> Released | None:
    if raw is None:
        for s in ("upgrade", "rollback"):
            if s in scenarios:
                p.add("released", f"is required because scenarios lists {s}")
                break
        return None
    m = _mapping(p, "released", raw)
    if m is None:
        return None
    _unknown_keys(p, "released.", m, ("chart", "version", "repository", "values", "set"))
    chart = _str(p, "released.chart", m.get("chart"))
    version = _str(p, "released.version", m.get("version"), required=False)
    repo_raw = _str(p, "released.repository", m.get("repository"), required=False)
    values = _values_files(p, "released.values", m.get("values"), base)
    sets = _sets(p, "released.set", m.get("set"))
    if chart is None:
        return None
    repository: Path | str | None = None
    if chart.startswith("oci://"):
        kind = "oci"
        if chart.count("/") < 3:
            p.add("released.chart", f"{chart!r} is not an OCI reference (oci://registry/path/name)")
    elif chart.endswith((".tgz", ".tar.gz")):
        kind = "tgz"
        tgz = (base / chart).resolve()
        if not tgz.is_file():
            p.add("released.chart", f"{chart} does not exist (resolved to {tgz})")
        chart = str(tgz)
    elif _REPO_REF.match(chart):
        kind = "repo"
    else:
        p.add("released.chart", f"{chart!r} is not repo/name, oci://... or a .tgz path")
        return None
    if kind in ("repo", "oci") and version is None and not p.mentions("released.version"):
        p.add("released.version", f"is required for a {kind} chart")
    if repo_raw is not None:
        if kind != "repo":
            p.add("released.repository", f"only applies to repo/name charts, not {kind}")
        elif repo_raw.startswith(("http://", "https://")):
            repository = repo_raw.rstrip("/")
        else:
            repo_dir = (base / repo_raw).resolve()
            if not (repo_dir / "index.yaml").is_file():
                p.add("released.repository", f"{repo_raw} has no index.yaml (resolved to {repo_dir})")
            repository = repo_dir
    elif kind == "repo":
        p.add("released.repository", "is required for a repo/name chart (a directory with index.yaml or a URL)")
    return Released(chart, version, repository, kind, values, sets)


def _images(p: _Problems, raw: Any) -> list[str]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        p.add("images", "want a list of image references")
        return []
    out = []
    for i, img in enumerate(raw):
        if not isinstance(img, str) or not _IMAGE.match(img):
            p.add(f"images[{i}]", f"{img!r} is not an image reference with a tag (name:tag)")
        else:
            out.append(img)
    return out


def _probe(p: _Problems, data: Mapping[str, Any], base: Path) -> Probe | None:
    """v2 ``probe`` (host, via, path, readyPath) or v1 ``ingress`` (host, probePath, readyPath)."""
    if "probe" in data and "ingress" in data:
        p.add("probe", "give probe (v2) or ingress (v1), not both")
        return None
    if "probe" in data:
        key, raw, names = "probe", data.get("probe"), ("host", "via", "path", "readyPath")
    elif "ingress" in data:
        key, raw, names = "ingress", data.get("ingress"), ("host", "probePath", "readyPath")
    else:
        p.add("probe", "is required (host, via, path, readyPath; or the v1 ingress: host, probePath, readyPath)")
        return None
    m = _mapping(p, key, raw)
    if m is None:
        if raw is None:
            p.add(key, "is empty")
        return None
    _unknown_keys(p, f"{key}.", m, names)
    host = _str(p, f"{key}.host", m.get("host"))
    if host and not _HOST.match(host):
        p.add(f"{key}.host", f"{host!r} is not a lowercase DNS name")
    via = "ingress"
    if key == "probe":
        via = _str(p, "probe.via", m.get("via", "ingress")) or "ingress"
        if via not in PROBE_VIA:
            p.add("probe.via", f"{via!r} is not one of {', '.join(PROBE_VIA)}")
    path_key = "path" if key == "probe" else "probePath"
    path = _str(p, f"{key}.{path_key}", m.get(path_key, "/"))
    path = path and _path_value(p, f"{key}.{path_key}", path, base)
    ready = None
    if m.get("readyPath") is not None:
        ready = _str(p, f"{key}.readyPath", m.get("readyPath"))
        ready = ready and _path_value(p, f"{key}.readyPath", ready, base)
        if not ready:
            return None
    if host and path and via in PROBE_VIA:
        return Probe(host, path, ready, via)
    return None


def _version_from(p: _Problems, raw: Any) -> VersionFrom | None:
    m = _mapping(p, "versionFrom", raw)
    if m is None:
        return None
    _unknown_keys(p, "versionFrom.", m, VERSION_SOURCES)
    given = [k for k in VERSION_SOURCES if k in m]
    if len(given) != 1:
        p.add("versionFrom", f"want exactly one of {', '.join(VERSION_SOURCES)}"
                             + (f" (got {', '.join(given)})" if given else ""))
        return None
    source = given[0]
    expr = _str(p, f"versionFrom.{source}", m.get(source))
    if expr is None:
        return None
    if source == "header" and not _HEADER.match(expr):
        p.add("versionFrom.header", f"{expr!r} is not an HTTP header name")
        return None
    if source == "regex":
        try:
            if re.compile(expr).groups > 1:
                p.add("versionFrom.regex", f"{expr!r} has {re.compile(expr).groups} groups; want at most one "
                                           "(the version)")
                return None
        except re.error as exc:
            p.add("versionFrom.regex", f"{expr!r} is not a regular expression: {exc}")
            return None
    if source == "json" and any(not part for part in expr.split(".")):
        p.add("versionFrom.json", f"{expr!r} is not a key or a dotted path of keys")
        return None
    return VersionFrom(source, expr)


def _postgres(p: _Problems, raw: Any) -> Postgres | None:
    m = _mapping(p, "postgres", raw)
    if m is None:
        return None
    _unknown_keys(p, "postgres.", m, ("secretValue", "secretKeyValue", "secretKey", "migrationJob"))
    secret_value = _str(p, "postgres.secretValue", m.get("secretValue"))
    secret_key_value = _str(p, "postgres.secretKeyValue", m.get("secretKeyValue"))
    secret_key = _str(p, "postgres.secretKey", m.get("secretKey", "dsn"))
    for key, v in (("postgres.secretValue", secret_value), ("postgres.secretKeyValue", secret_key_value)):
        if v and not _VALUES_PATH.match(v):
            p.add(key, f"{v!r} is not a dotted values path like database.existingSecret")
    migration = m.get("migrationJob", False)
    if not isinstance(migration, bool):
        p.add("postgres.migrationJob", f"want true or false, got {migration!r}")
        migration = False
    if secret_value and secret_key_value and secret_key:
        return Postgres(secret_value, secret_key_value, secret_key, migration)
    return None


def _broken(p: _Problems, raw: Any, base: Path) -> tuple[Broken, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        p.add("broken", "want a list")
        return ()
    out: list[Broken] = []
    names: set[str] = set()
    for i, item in enumerate(raw):
        key = f"broken[{i}]"
        m = _mapping(p, key, item)
        if m is None:
            continue
        _unknown_keys(p, f"{key}.", m, ("name", "values", "set", "scenario", "reason", "edge"))
        name = _str(p, f"{key}.name", m.get("name"))
        if name:
            if not _DNS_LABEL.match(name):
                p.add(f"{key}.name", f"{name!r} must be lowercase letters, digits and '-'")
            if name in names:
                p.add(f"{key}.name", f"{name!r} is used twice")
            names.add(name)
        before = len(p.lines)
        files = _values_files(p, f"{key}.values", m.get("values"), base, single=True)
        sets = _sets(p, f"{key}.set", m.get("set"))
        if not files and not sets and len(p.lines) == before:
            p.add(f"{key}.values", "is required (a values file or a list of them; or set)")
        scenario = _str(p, f"{key}.scenario", m.get("scenario"))
        if scenario and scenario not in SCENARIOS:
            p.add(f"{key}.scenario", f"{scenario!r} is not one of {', '.join(SCENARIOS)}")
            scenario = None
        reason = _str(p, f"{key}.reason", m.get("reason"))
        edge = m.get("edge") or ""
        if edge and edge not in EDGES:
            p.add(f"{key}.edge", f"{edge!r} is not one of {', '.join(EDGES)}")
        if name and (files or sets) and len(p.lines) == before and scenario and reason:
            out.append(Broken(name, files, scenario, reason, sets, str(edge)))
    return tuple(out)


def discover(charts_root: Path | str) -> list[Contract]:
    """Load the contract of every chart directory directly under ``charts_root`` that has one.

    Returns:
        contracts sorted by chart directory name.

    Raises:
        UsageError: any contract is invalid (all problems of the first bad file).
    """
    root = Path(charts_root)
    if not root.is_dir():
        return []
    return [load(d) for d in sorted(root.iterdir()) if (d / CONTRACT_FILE).is_file()]


@dataclass(frozen=True)
class ChartUnderTest:
    """One chart the run tests.

    Attributes:
        ref: the chart (:class:`harness.core.values.ChartRef`), version folded in for repo/oci charts.
        contract: its harness-contract.yaml, or None (only for charts not given as a directory).
        values: values files to pass to every install/upgrade of it (from the configuration).
        sets: ``--set`` expressions, likewise.
    """

    ref: Any
    contract: Contract | None
    values: tuple[Path, ...] = ()
    sets: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return self.ref.name

    @property
    def release_prefix(self) -> str:
        """The contract's ``release``, else the chart name."""
        return self.contract.release if self.contract else self.ref.name

    @property
    def needs_repo(self) -> bool:
        """True when the chart or its released version comes from the local ``harness-charts`` repository."""
        if self.ref.kind == "repo" and self.ref.ref.startswith("harness-charts/"):
            return True
        rel = self.contract.released if self.contract else None
        return bool(rel and rel.kind == "repo" and rel.repo_name == "harness-charts")


def with_released_version(contract: Contract | None, version: str | None) -> Contract | None:
    """``contract`` with ``released.version`` replaced by ``version`` (the ``from-version`` option).

    Nothing changes when ``version`` is unset or the contract names no released chart.

    Raises:
        UsageError: the released chart is a .tgz, which has exactly one version.
    """
    if not version or contract is None or contract.released is None:
        return contract
    rel = contract.released
    if rel.kind == "tgz":
        raise UsageError(f"from-version: {version!r} cannot apply to {contract.path}: its released chart "
                         f"{rel.chart} is a .tgz archive, which has one version")
    return replace(contract, released=replace(rel, version=version))


def with_edge(contract: Contract | None, edge: str | None) -> Contract | None:
    """``contract`` as the configured ``edge`` (harness/core/edges.py) probes it.

    ``traefik-gateway``: the probe goes ``via: httproute`` and the contract's ``set`` gains
    :func:`harness.core.edges.gateway_sets` for its probe host (after the contract's own pairs, so
    the harness's parentRef wins over a chart's; before the user's ``--set``, which come last).
    Any other edge, or no contract: unchanged.
    """
    if contract is None or edge != TRAEFIK_GATEWAY:
        return contract
    return replace(contract, probe=replace(contract.probe, via="httproute"),
                   sets=(*contract.sets, *gateway_sets(contract.probe.host)))


def chart_contract(ref: ChartRef, contract_file: Path | None = None) -> Contract | None:
    """The contract of a ``--chart``: ``contract_file`` (``--contract``) when given; else a chart
    directory's own (required); else the ``<chart>/harness-contract.yaml`` packaged in a .tgz
    (read from its unpacked files, :func:`harness.core.chartfiles.extract_packaged`, so its relative
    paths resolve inside the archive); else None (repo/name and oci:// charts, or a .tgz without
    one: no scenario runs on them without ``--contract``).

    Raises:
        UsageError: the contract is missing (directory) or invalid; the .tgz is not a chart.
    """
    if contract_file is not None:
        return load(contract_file)
    if ref.kind == "dir":
        return load(Path(ref.ref))
    if ref.kind == "tgz":
        packaged = extract_packaged(ref.ref) / CONTRACT_FILE
        return load(packaged) if packaged.is_file() else None
    return None


def resolve_charts_under_test(cfg: Any) -> list[ChartUnderTest]:
    """The charts a run tests, from a :class:`harness.core.config.HarnessConfig`.

    ``cfg.charts`` when given (a directory must carry a contract; see :func:`chart_contract`), else every chart directory
    under ``<rootdir>/charts-under-test`` with a harness-contract.yaml. ``cfg.from_version``, when
    set, replaces each contract's ``released.version``; ``cfg.edge`` ``traefik-gateway`` turns each to
    its HTTPRoute (:func:`with_edge`).

    Raises:
        UsageError: no charts found, a chart directory without a contract, an invalid contract.
    """

    out: list[ChartUnderTest] = []
    from_version = getattr(cfg, "from_version", None)
    edge = getattr(cfg, "edge", None)
    if cfg.charts:
        for ref in cfg.charts:
            contract = with_released_version(chart_contract(ref, getattr(cfg, "contract", None)), from_version)
            contract = with_edge(contract, edge)
            out.append(ChartUnderTest(ref, contract, tuple(cfg.values), tuple(cfg.sets)))
        return out
    root = Path(cfg.rootdir) / "charts-under-test"
    for c in discover(root):
        c = with_edge(with_released_version(c, from_version), edge)  # type: ignore[assignment]
        out.append(ChartUnderTest(ChartRef(str(c.chart_dir), "dir"), c, tuple(cfg.values), tuple(cfg.sets)))
    if not out:
        raise UsageError(f"no charts under test: pass --chart, or add a {CONTRACT_FILE} to a chart in {root}")
    return out
