"""``python -m harness init --chart DIR [--out FILE] [--force]``: a commented ``harness-contract.yaml``
scaffolded from the chart itself.

The chart is rendered the way ``python -m harness check`` renders it (harness/scenario/preflight.py:
the pinned helm's ``helm template``, offline, once per ``ci/*-values.yaml`` variant, with the run's
``--values``/``--set``); harness/scenario/survey.py reads the renderings (routes, images, probes,
PDBs, hooks, Services, database settings) and the chart's values.yaml, and proposes the scenarios
that apply. When no rendering has an Ingress the harness's edge serves, the values switches
``ingress.enabled`` / ``ingress.className`` (helm create's layout) are tried and kept in the
contract's ``set`` only if the rendering then has one. A released version to upgrade from is looked
for in a chart repository ``index.yaml`` beside the chart (its parent directory, or a directory
there: the layout of a gh-pages chart repository and of charts-under-test/repo).

The written file validates against harness/core/contract.schema.json; every scenario carries a
comment saying why it applies, or what to fill in; the command then runs the chart check on it and
prints what is left to fill in. Exit 0 written; 2 bad input (no chart directory, an existing file
without ``--force``, a chart helm cannot render); 3 no helm.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from harness.core import contract as contract_mod
from harness.core.contract import (
    CONTRACT_FILE,
    RELEASE_PREFIX_MAX,
    ChartUnderTest,
    Released,
)
from harness.core.errors import UsageError
from harness.core.values import ChartRef
from harness.scenario import preflight
from harness.scenario.survey import (
    Proposal,
    Survey,
    ValuesHints,
    propose,
    stream_path,
    survey,
    values_hints,
)
from harness.tools.helm import Helm

RELEASED_REPO = "released"
"""The helm repository name the scaffold gives the released chart's repository (``released/<chart>``)."""
_SAFE_SCALAR = re.compile(r"^[A-Za-z0-9_./][A-Za-z0-9_./:@=,-]*$")
_VERSION = re.compile(r"^v?(\d+)\.(\d+)\.(\d+)(?:[-+].*)?$")
FILL_HOST_SUFFIX = ".test"


@dataclass(frozen=True)
class ReleasedFound:
    """A released version of the chart found in a repository index: ``version`` and the directory
    holding ``index.yaml``."""

    version: str
    repository: Path


@dataclass
class Scaffold:
    """Everything the contract text is made from (pure data: :func:`contract_text` renders it).

    Attributes:
        chart: the chart's name; version: its Chart.yaml version; out: where the contract goes.
        variants: the variant labels rendered. surveys: ``{variant: Survey}`` of the candidate.
        hints: the values.yaml hints. proposals: one per scenario (survey.propose).
        images: every image of the candidate and released renderings.
        sets: ``--set`` pairs the contract needs (the run's own and those init proposed), with why.
        values: values files for every install (the run's ``--values``), absolute.
        released: what was found to upgrade from, or None.
        served: the Ingress classes the harness's edge serves.
    """

    chart: str
    version: str
    out: Path
    variants: list[str]
    surveys: dict[str, Survey]
    hints: ValuesHints
    proposals: list[Proposal]
    images: list[str]
    sets: list[tuple[str, str]] = field(default_factory=list)
    values: list[Path] = field(default_factory=list)
    released: ReleasedFound | None = None
    served: tuple[str | None, ...] = ("nginx",)
    chart_dir: Path | None = None


def _scalar(v: str) -> str:
    """``v`` as a YAML scalar: plain when unambiguous, else a JSON (= YAML double-quoted) string."""
    if _SAFE_SCALAR.match(v) and yaml.safe_load(v) == v:
        return v
    return json.dumps(v)


def _version_key(v: str) -> tuple[int, int, int] | None:
    m = _VERSION.match(str(v))
    return (int(m.group(1)), int(m.group(2)), int(m.group(3))) if m else None


def release_prefix(name: str) -> str:
    """The chart name as a contract ``release`` (DNS-1123 label, at most 40 characters)."""
    out = re.sub(r"[^a-z0-9-]+", "-", name.lower()).strip("-")[:RELEASE_PREFIX_MAX].strip("-")
    return out or "release"


def released_from_index(index: Mapping[str, Any], chart: str, version: str) -> str | None:
    """The newest version of ``chart`` in a parsed repository ``index.yaml`` that is older than
    ``version`` (semantic versions; pre-releases count as their release), or None."""
    want = _version_key(version)
    found = []
    for e in (index.get("entries") or {}).get(chart) or []:
        key = _version_key(str(e.get("version", "")))
        if key is not None and (want is None or key < want):
            found.append((key, str(e.get("version"))))
    return max(found)[1] if found else None


def find_released(chart_dir: Path, chart: str, version: str, *, limit: int = 50) -> ReleasedFound | None:
    """A released version in an ``index.yaml`` beside the chart: in its parent directory, in a
    directory there (at most ``limit`` of them, sorted), or in its grandparent; the first index
    listing an older version of ``chart`` wins."""
    parent = chart_dir.resolve().parent
    dirs = [parent, *sorted(d for d in parent.iterdir() if d.is_dir() and d != chart_dir.resolve())[:limit],
            parent.parent]
    for d in dirs:
        index = d / "index.yaml"
        if not index.is_file():
            continue
        try:
            data = yaml.safe_load(index.read_text()) or {}
        except (OSError, yaml.YAMLError):
            continue
        v = released_from_index(data, chart, version) if isinstance(data, Mapping) else None
        if v:
            return ReleasedFound(v, d)
    return None


def choose_probe(surveys: Mapping[str, Survey], served: Sequence[str | None],
                 release: str) -> tuple[dict[str, str], str]:
    """``(probe block, comment)`` from the first usable route: an Ingress of a served class, else
    an HTTPRoute with a hostname, else any Ingress host; with none, a ``<release>.test`` host and
    a comment starting ``fill in:``. ``readyPath`` is a readiness probe's httpGet path the route
    covers."""
    all_routes = [r for s in surveys.values() for r in s.routes]
    host_ok = [r for r in all_routes if r.hosts and contract_mod._HOST.match(r.hosts[0])]
    served_ing = [r for r in host_ok if r.kind == "Ingress" and r.ingress_class in served]
    routes_ = [r for r in host_ok if r.kind == "HTTPRoute"]
    other = [r for r in host_ok if r.kind == "Ingress"]
    if served_ing:
        r, via, why = served_ing[0], "ingress", f"Ingress {served_ing[0].name} (class {served_ing[0].ingress_class}) routes this host"
    elif routes_:
        r, via, why = routes_[0], "httproute", (f"HTTPRoute {routes_[0].name} (parentRefs "
                                                f"{', '.join(routes_[0].parent_refs) or 'none'}) routes this hostname")
    elif other:
        r, via = other[0], "ingress"
        why = (f"fill in: Ingress {r.name} has class {r.ingress_class or '(none)'}; the harness's edge serves class "
               f"{' or '.join(str(c) for c in served if c)}: set it with the contract's set")
    else:
        return ({"via": "ingress", "host": f"{release}{FILL_HOST_SUFFIX}", "path": "/"},
                "fill in: the chart renders no Ingress or HTTPRoute with a host; enable one with the contract's "
                "values/set and put its host here")
    path = "/"
    if r.paths and not any(p in ("/", "") for p in r.paths):
        path = r.paths[0]
    block = {"via": via, "host": r.hosts[0], "path": path}
    for s in surveys.values():
        ready = next((p.path for p in s.probes if p.kind == "readiness" and p.path
                      and any(p.path == rp or p.path.startswith(rp.rstrip("/") + "/") for rp in r.paths or ("/",))), None)
        if ready:
            block["readyPath"] = ready
            break
    return block, why


def _rel(path: Path, base: Path) -> str:
    """``path`` relative to ``base`` when that climbs at most one directory (``../repo``), else absolute."""
    rel = os.path.relpath(Path(path).resolve(), Path(base).resolve())
    return str(Path(path).resolve()) if rel.startswith(f"..{os.sep}..") else rel


def contract_text(sc: Scaffold) -> str:
    """The commented contract (YAML) for :class:`Scaffold` ``sc``: every key init could fill, a
    comment per scenario, "fill in" where the chart does not say, and what was found."""
    base = sc.out.resolve().parent
    release = release_prefix(sc.chart)
    L: list[str] = []

    def line(text: str, comment: str = "") -> None:
        L.append(f"{text:<33} # {comment}" if comment else text)

    schema = _rel(contract_mod.SCHEMA_PATH, base)
    L.append(f"# yaml-language-server: $schema={schema}")
    L.append(f"# harness-contract.yaml for chart {sc.chart} {sc.version}, written by `python -m harness init` from")
    L.append(f"# `helm template` of its values ({'variants ' if len(sc.variants) > 1 else 'variant '}"
             f"{', '.join(sc.variants)}). Review every \"fill in\", then run: python -m harness check --chart <chart dir>"
             + ("" if sc.chart_dir and sc.out.resolve() == (sc.chart_dir / CONTRACT_FILE).resolve()
                else " --contract <this file>"))
    L.append("# Keys: docs/charts-under-test.md (the contract file). Paths are relative to this file.")
    line("apiVersion: harness/v2", "contract version")
    line(f"release: {release}", "release name prefix; the harness appends a random suffix")
    if sc.values:
        line("values:", "values files for every install and upgrade (released and candidate)")
        L.extend(f"  - {_scalar(_rel(v, base))}" for v in sc.values)
    if sc.sets:
        line("set:", "--set pairs for every install and upgrade (released and candidate)")
        for pair, why in sc.sets:
            line(f"  - {_scalar(pair)}", why)
    if sc.released is not None:
        index = _rel(sc.released.repository / "index.yaml", base)
        line("released:", f"the version users run today (the newest below {sc.version} in {index})")
        line(f"  chart: {_scalar(f'{RELEASED_REPO}/{sc.chart}')}", "repo/name, oci://..., or a .tgz path")
        line(f"  version: {_scalar(sc.released.version)}")
        line(f"  repository: {_scalar(_rel(sc.released.repository, base))}", "a directory with index.yaml, or an http(s) URL")
    else:
        line("# released:", "fill in: the version users run today, where upgrade and rollback start;")
        line(f"#   chart: myrepo/{sc.chart}", "no index.yaml beside the chart lists an older version of it")
        line("#   version: 1.2.3")
        line("#   repository: https://charts.example.org")
    good = [i for i in sc.images if contract_mod._IMAGE.match(i)]
    bad = [i for i in sc.images if i not in good]
    if good:
        line("images:", "every image the rendered manifests run (released and candidate); loaded into kind")
        L.extend(f"  - {_scalar(i)}" for i in good)
    for i in bad:
        L.append(f"# fill in: image {i} has no tag (name:tag); pin one and list it under images")
    probe, why = choose_probe(sc.surveys, sc.served, release)
    line("probe:", why)
    line(f"  via: {probe['via']}")
    line(f"  host: {_scalar(probe['host'])}", "Host header the probes send to the edge on 127.0.0.1")
    line(f"  path: {_scalar(probe['path'])}", "what the availability prober requests: must answer 2xx (fill in if not)")
    if "readyPath" in probe:
        line(f"  readyPath: {_scalar(probe['readyPath'])}", "a readiness probe's path: the 'host answers' wait polls it")
    by_name = {p.scenario: p for p in sc.proposals}
    sse = by_name.get("sse")
    path = stream_path(sc.surveys)
    if sse is not None and sse.applies and path:
        line("sse:", "the stream the sse scenario holds through the edge")
        line(f"  path: {_scalar(path)}")
    db = by_name.get("db_outage")
    if db is not None and db.applies:
        migration = any(h.migration for s in sc.surveys.values() for h in s.hooks)
        line("postgres:", "how the chart takes its database: the harness's PostgreSQL fills these values")
        line(f"  secretValue: {sc.hints.db_secret}", "value that receives the Secret name")
        line(f"  secretKeyValue: {sc.hints.db_secret_key}", "value that receives the key within it")
        line(f"  secretKey: {_scalar(sc.hints.db_secret_key_default or 'dsn')}", "the key the DSN is stored under")
        line(f"  migrationJob: {'true' if migration else 'false'}",
             "a pre-upgrade hook Job runs a migration" if migration else "no pre-upgrade hook Job rendered")
    applies = [p for p in sc.proposals if p.applies]
    line("scenarios:" if applies else "scenarios: []", "which scenarios apply, and why (or what to fill in)")
    for p in sc.proposals:
        name = p.scenario
        if p.applies:
            line(f"  - {name}", p.why)
        else:
            line(f"  # - {name}", p.why)
    line("availability:")
    line("  maxFailedRequests: 0", "failure budget during upgrade/drain")
    L.append("# Not written (add when you need them): versionFrom (where the app reports its version), data")
    L.append("# (write/read checks that data survives), broken (negative controls each scenario must FAIL),")
    L.append("# sensitiveValues (values paths kept out of artifacts).")
    L.extend(_found(sc))
    return "\n".join(L) + "\n"


def _found(sc: Scaffold) -> list[str]:
    """``# Found ...`` comment lines: what each variant's rendering has."""
    out = ["#", "# Found in the rendered chart:"]
    groups: dict[tuple[str, ...], list[str]] = {}
    for label, s in sc.surveys.items():
        rows = [
            ("routes", [f"{r.kind} {r.name} ({', '.join(r.hosts) or 'no host'}; paths {', '.join(r.paths) or '-'}"
                        + (f"; class {r.ingress_class}" if r.kind == "Ingress" else f"; parentRefs {', '.join(r.parent_refs) or '-'}")
                        + ")" for r in s.routes]),
            ("workloads", [f"{w.ref} ({'one per node' if w.min_replicas is None else f'{w.min_replicas}+ replicas'})"
                           for w in s.workloads]),
            ("probes", [f"{p.workload}/{p.container} {p.kind} {p.handler}" + (f" {p.path}" if p.path else "")
                        for p in s.probes]),
            ("PDBs", [f"{p.describe()} over {', '.join(p.covers) or 'no workload'}" for p in s.pdbs]),
            ("hooks", [f"{h.kind} {h.name} ({', '.join(h.hooks)})" for h in s.hooks]),
            ("Services", [f"{v.name} ({v.type} {', '.join(v.ports)})" for v in s.services]),
            ("database", [f"{d.where} env {d.name}" + (f" from Secret {d.secret} key {d.key}" if d.secret else "")
                          for d in s.database]),
        ]
        lines = tuple(f"#     {what}: {'; '.join(items) if items else 'none'}" for what, items in rows)
        groups.setdefault(lines, []).append(label)
    for lines, labels in groups.items():
        out.append(f"#   {', '.join(labels)}:")
        out.extend(lines)
    return out


# --------------------------------------------------------------------------- the command


def _chart_dir(cfg: Any) -> Path:
    charts = list(getattr(cfg, "charts", ()) or ())
    if len(charts) != 1:
        raise UsageError(f"init: pass exactly one --chart DIR (a chart directory); got {len(charts) or 'none'}")
    ref = charts[0]
    if ref.kind != "dir":
        raise UsageError(f"init: --chart {ref.ref} is not a chart directory (init reads a chart's own files)")
    d = Path(ref.ref)
    if not (d / "Chart.yaml").is_file():
        raise UsageError(f"init: {d} has no Chart.yaml (not a chart directory)")
    return d


def _read_yaml(path: Path, what: str) -> Any:
    try:
        return yaml.safe_load(path.read_text()) if path.is_file() else None
    except yaml.YAMLError as exc:
        raise UsageError(f"init: {what} {path} is not valid YAML: {str(exc).splitlines()[0]}") from None


def _render_all(helm: Helm, chart: ChartUnderTest, release: str) -> dict[str, list[dict[str, Any]]]:
    """``{variant: objects}`` of the candidate in every variant. Raises UsageError: helm cannot render it."""
    rs, _ = preflight.renderings(chart)
    out: dict[str, list[dict[str, Any]]] = {}
    for r in rs:
        objs, error = preflight.render(helm, release, r, lint=False)
        if objs is None:
            raise UsageError(f"init: helm template of {chart.name} ({r.label}) failed: {str(error).splitlines()[0]}")
        out[r.label] = objs
    return out


def scaffold(cfg: Any, helm: Helm, out: Path) -> Scaffold:
    """Render, survey and propose (see the module docstring). Raises UsageError."""
    chart_dir = _chart_dir(cfg)
    meta = _read_yaml(chart_dir / "Chart.yaml", "Chart.yaml") or {}
    name, version = str(meta.get("name") or chart_dir.name), str(meta.get("version") or "")
    values = _read_yaml(chart_dir / "values.yaml", "values.yaml")
    hints = values_hints(values if isinstance(values, Mapping) else {})
    served = preflight.served_ingress_classes(cfg)
    release = release_prefix(name)  # names in the "Found" comments read as a user's install would
    ref = ChartRef(str(chart_dir), "dir")
    sets: list[tuple[str, str]] = [(s, "given to init with --set") for s in cfg.sets]

    def rendered() -> dict[str, list[dict[str, Any]]]:
        return _render_all(helm, ChartUnderTest(ref, None, tuple(cfg.values), tuple(s for s, _ in sets)), release)

    objs = rendered()

    def served_ingress(o: dict[str, list[dict[str, Any]]]) -> bool:
        return any(r.kind == "Ingress" and r.ingress_class in served and r.hosts
                   for v in o.values() for r in survey(v).routes)

    def any_route(o: dict[str, list[dict[str, Any]]]) -> bool:
        return any(survey(v).routes for v in o.values())

    # The probes need an Ingress the edge serves: try the usual switches, keep one only if it helps.
    if not served_ingress(objs):
        tries: list[tuple[str, str]] = []
        if hints.ingress_enabled and not any_route(objs):
            tries.append((f"{hints.ingress_enabled}=true", "init: the chart's Ingress is off by default; the probes need it"))
        if hints.ingress_class:
            cls = next((c for c in served if c), "nginx")
            tries.append((f"{hints.ingress_class}={cls}", f"init: the class the harness's edge serves ({cls})"))
        if tries:
            before = list(sets)
            sets += tries
            attempt = rendered()
            if served_ingress(attempt):
                objs = attempt
            else:
                sets = before
    surveys = {label: survey(o) for label, o in objs.items()}
    images = {i for s in surveys.values() for i in s.images}
    found = find_released(chart_dir, name, version)
    if found is not None:
        rel = Released(f"{RELEASED_REPO}/{name}", found.version, found.repository, "repo")
        chart_ref, extra, problem = preflight.released_chart(rel)
        if chart_ref is None:
            found = None  # an index entry without its archive: nothing to upgrade from here
        else:
            chart = ChartUnderTest(ref, None, tuple(cfg.values), tuple(s for s, _ in sets))
            for r in preflight.renderings(chart)[0]:
                rr = preflight.Rendering(f"released {r.label}", chart_ref, r.values, r.sets, False, extra)
                robjs, _ = preflight.render(helm, release, rr, lint=False)
                images |= set(survey(robjs).images) if robjs is not None else set()
    proposals = propose(surveys, hints, released=f"{name} {found.version}" if found else None)
    return Scaffold(name, version, out, list(surveys), surveys, hints, proposals, sorted(images), sets,
                    list(cfg.values), found, served, chart_dir.resolve())


def cmd_init(args: argparse.Namespace, cfg: Any) -> int:
    """`init`: write the scaffolded contract to ``--out`` (default ``<chart>/harness-contract.yaml``),
    never over an existing file without ``--force``; then run the chart check on it and print what
    is left to fill in.

    Returns:
        0 written (the check's problems are printed as what to fill in).

    Raises:
        UsageError: no or several charts, not a chart directory, the file exists (no --force),
            helm cannot render the chart. EnvironmentNotReady: no helm.
    """
    chart_dir = _chart_dir(cfg)
    out = Path(args.out).expanduser() if args.out else chart_dir / CONTRACT_FILE
    out = out if out.is_absolute() else Path.cwd() / out
    if out.exists() and not args.force:
        raise UsageError(f"init: {out} exists; pass --force to overwrite it (or --out FILE to write elsewhere)")
    with tempfile.TemporaryDirectory(prefix="harness-init-helm-") as tmp:
        helm = Helm(None, home=tmp, binary=getattr(cfg, "helm", None),
                    kube_version=getattr(cfg, "kubernetes_version", None))
        sc = scaffold(cfg, helm, out)
    text = contract_text(sc)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    applies = [p.scenario for p in sc.proposals if p.applies]
    print(f"wrote {out}: scenarios {', '.join(applies) or 'none yet'}")
    for p in sc.proposals:
        if not p.applies:
            print(f"  {p.scenario}: {p.why}")
    try:
        loaded = contract_mod.load(out)
    except UsageError as exc:  # pragma: no cover - contract_text writes what load reads; a test keeps it so
        print(f"init: the written contract does not load: {exc}")
        return 0
    chart = ChartUnderTest(ChartRef(str(chart_dir), "dir"), loaded)
    report = preflight.check_charts([chart], cfg)
    check = f"python -m harness check --chart {chart_dir}" + ("" if out == chart_dir / CONTRACT_FILE else f" --contract {out}")
    if report.ok:
        print(f"check: clean ({check})")
    else:
        print(f"check: {len(report.problems)} to fill in ({check}):")
        for line in report.problems:
            print(f"  {line}")
    return 0
