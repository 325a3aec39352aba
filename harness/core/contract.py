"""The per-chart contract: ``harness-contract.yaml`` beside a chart under test's Chart.yaml.

It tells the scenarios what they cannot guess from the chart: the release name prefix, the
released version to upgrade from, the images to preload, the ingress host and probe paths, the
optional SSE and PostgreSQL wiring, which scenarios apply, the availability budget, and broken
variants that a scenario must catch. Schema (relative paths resolve against the contract file)::

    release: realtime                  # release name prefix; the harness appends a random suffix
    released:                          # the last released chart, for upgrade/rollback
      chart: harness-charts/realtime   # repo/name | oci://... | path to a .tgz
      version: 1.0.0                   # required for repo/name and oci://
      repository: ../repo              # dir with index.yaml, or an http(s) URL (repo/name only)
    images: [harness/demo-service:1.0.0, harness/demo-service:1.1.0]
    ingress: {host: realtime.test, probePath: /, readyPath: /ready}
    sse: {path: /events}                                   # required by the sse scenario
    postgres: {secretValue: database.existingSecret, secretKeyValue: database.existingSecretKey,
               secretKey: dsn, migrationJob: true}        # required by the db_outage scenario
    scenarios: [upgrade, rollback, drain, sse, db_outage]
    availability: {maxFailedRequests: 0}
    broken: [{name: no-sse-heartbeat, values: ../broken/no-sse-heartbeat.yaml, scenario: sse, reason: "..."}]
    sensitiveValues: [auth.oidc.clientSecret]  # optional: values paths never written to artifacts

:func:`load` reports every mistake at once, one line each, in a single UsageError.
"""
from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import yaml

from harness.core.errors import UsageError
from harness.core.values import ChartRef

CONTRACT_FILE = "harness-contract.yaml"
SCENARIOS = ("upgrade", "rollback", "drain", "sse", "db_outage")
RELEASE_PREFIX_MAX = 40  # leaves room for "-<suffix>" within helm's 53-character release names

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_HOST = re.compile(r"^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_IMAGE = re.compile(r"^[a-z0-9][a-z0-9._/-]*(:[0-9]+)?[a-z0-9._/-]*:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
_VALUES_PATH = re.compile(r"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$")
_REPO_REF = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9][A-Za-z0-9_.-]*$")


@dataclass(frozen=True)
class Released:
    """The released chart to start upgrades from.

    Attributes:
        chart: ``repo/name``, ``oci://...`` or an absolute .tgz path.
        version: chart version (None only for a .tgz).
        repository: absolute directory with index.yaml, an http(s) URL, or None.
        kind: ``"repo"``, ``"oci"`` or ``"tgz"``.
    """

    chart: str
    version: str | None
    repository: Path | str | None
    kind: str

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
class Ingress:
    """``host`` (e.g. ``realtime.test``), ``probe_path`` (answers 2xx while serving),
    ``ready_path`` (readiness endpoint)."""

    host: str
    probe_path: str = "/"
    ready_path: str = "/ready"


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
    """A known-broken variant: values file ``values`` (absolute) that scenario ``scenario`` must
    catch, with the ``reason`` it is broken."""

    name: str
    values: Path
    scenario: str
    reason: str


@dataclass(frozen=True)
class Contract:
    """A loaded, validated harness-contract.yaml; see the module docstring for the fields.

    ``path`` is the contract file, ``chart_dir`` the chart beside it.
    """

    path: Path
    chart_dir: Path
    release: str
    released: Released | None
    images: tuple[str, ...]
    ingress: Ingress
    sse: Sse | None
    postgres: Postgres | None
    scenarios: tuple[str, ...]
    max_failed_requests: int
    broken: tuple[Broken, ...]
    sensitive_values: tuple[str, ...] = ()

    def supports(self, scenario: str) -> bool:
        return scenario in self.scenarios

    def broken_for(self, scenario: str) -> tuple[Broken, ...]:
        return tuple(b for b in self.broken if b.scenario == scenario)


class _Problems:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def add(self, key: str, msg: str) -> None:
        self.lines.append(f"{key}: {msg}")


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


def load(path: Path | str) -> Contract:
    """Load and validate a contract.

    Args:
        path: the harness-contract.yaml file, or the chart directory holding it.

    Returns:
        the Contract, with relative paths resolved against the file's directory.

    Raises:
        UsageError: ``<file> has N problems:`` followed by one line per mistake, each naming the key.
    """
    path = Path(path)
    if path.is_dir():
        path = path / CONTRACT_FILE
    if not path.is_file():
        raise UsageError(f"contract {path} does not exist (every chart under test needs a {CONTRACT_FILE})")
    path = path.resolve()
    base = path.parent
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise UsageError(f"contract {path} is not valid YAML{where}: {getattr(exc, 'problem', None) or exc}") from None
    if not isinstance(data, Mapping):
        raise UsageError(f"contract {path} must be a mapping")

    p = _Problems()
    _unknown_keys(p, "", data, ("release", "released", "images", "ingress", "sse", "postgres", "scenarios",
                                "availability", "broken", "sensitiveValues"))

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
                p.add("scenarios", f"{s!r} is not one of {', '.join(SCENARIOS)}")
            elif s in scenarios:
                p.add("scenarios", f"{s!r} is listed twice")
            else:
                scenarios.append(s)

    released = _released(p, data.get("released"), base, scenarios)
    images = _images(p, data.get("images"))
    ingress = _ingress(p, data.get("ingress"), base)

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

    if p.lines:
        n = len(p.lines)
        raise UsageError(f"contract {path} has {n} problem{'s' if n > 1 else ''}:\n  " + "\n  ".join(p.lines))
    return Contract(
        path=path, chart_dir=base, release=release or "", released=released, images=tuple(images),
        ingress=ingress,  # type: ignore[arg-type]
        sse=sse, postgres=postgres, scenarios=tuple(scenarios), max_failed_requests=max_failed, broken=broken,
        sensitive_values=sensitive_values,
    )


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
    _unknown_keys(p, "released.", m, ("chart", "version", "repository"))
    chart = _str(p, "released.chart", m.get("chart"))
    version = _str(p, "released.version", m.get("version"), required=False)
    repo_raw = _str(p, "released.repository", m.get("repository"), required=False)
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
    if kind in ("repo", "oci") and version is None and "released.version" not in " ".join(p.lines):
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
    return Released(chart, version, repository, kind)


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


def _ingress(p: _Problems, raw: Any, base: Path) -> Ingress | None:
    if raw is None:
        p.add("ingress", "is required (host, probePath, readyPath)")
        return None
    m = _mapping(p, "ingress", raw)
    if m is None:
        return None
    _unknown_keys(p, "ingress.", m, ("host", "probePath", "readyPath"))
    host = _str(p, "ingress.host", m.get("host"))
    if host and not _HOST.match(host):
        p.add("ingress.host", f"{host!r} is not a lowercase DNS name")
    probe = _str(p, "ingress.probePath", m.get("probePath", "/"))
    ready = _str(p, "ingress.readyPath", m.get("readyPath", "/ready"))
    probe = probe and _path_value(p, "ingress.probePath", probe, base)
    ready = ready and _path_value(p, "ingress.readyPath", ready, base)
    if host and probe and ready:
        return Ingress(host, probe, ready)
    return None


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
        _unknown_keys(p, f"{key}.", m, ("name", "values", "scenario", "reason"))
        name = _str(p, f"{key}.name", m.get("name"))
        if name:
            if not _DNS_LABEL.match(name):
                p.add(f"{key}.name", f"{name!r} must be lowercase letters, digits and '-'")
            if name in names:
                p.add(f"{key}.name", f"{name!r} is used twice")
            names.add(name)
        values = _str(p, f"{key}.values", m.get("values"))
        vpath = None
        if values:
            vpath = (base / values).resolve()
            if not vpath.is_file():
                p.add(f"{key}.values", f"{values} does not exist (resolved to {vpath})")
                vpath = None
        scenario = _str(p, f"{key}.scenario", m.get("scenario"))
        if scenario and scenario not in SCENARIOS:
            p.add(f"{key}.scenario", f"{scenario!r} is not one of {', '.join(SCENARIOS)}")
            scenario = None
        reason = _str(p, f"{key}.reason", m.get("reason"))
        if name and vpath and scenario and reason:
            out.append(Broken(name, vpath, scenario, reason))
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


def resolve_charts_under_test(cfg: Any) -> list[ChartUnderTest]:
    """The charts a run tests, from a :class:`harness.core.config.HarnessConfig`.

    ``cfg.charts`` when given (a directory must carry a contract), else every chart directory
    under ``<rootdir>/charts-under-test`` with a harness-contract.yaml. ``cfg.from_version``, when
    set, replaces each contract's ``released.version``.

    Raises:
        UsageError: no charts found, a chart directory without a contract, an invalid contract.
    """

    out: list[ChartUnderTest] = []
    from_version = getattr(cfg, "from_version", None)
    if cfg.charts:
        for ref in cfg.charts:
            contract = load(Path(ref.ref)) if ref.kind == "dir" else None
            contract = with_released_version(contract, from_version)
            out.append(ChartUnderTest(ref, contract, tuple(cfg.values), tuple(cfg.sets)))
        return out
    root = Path(cfg.rootdir) / "charts-under-test"
    for c in discover(root):
        c = with_released_version(c, from_version)  # type: ignore[assignment]
        out.append(ChartUnderTest(ChartRef(str(c.chart_dir), "dir"), c, tuple(cfg.values), tuple(cfg.sets)))
    if not out:
        raise UsageError(f"no charts under test: pass --chart, or add a {CONTRACT_FILE} to a chart in {root}")
    return out
