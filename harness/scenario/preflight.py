"""The chart check, before any cluster: render every variant of a chart under test the way the
scenarios install it, lint it, and run the pure checks of :mod:`harness.scenario.chart_checks`.

Variants (values in the scenarios' order, :func:`harness.scenario.targets.values_files`): the
candidate in each ``ci/*-values.yaml`` variant, the contract's released chart in each variant, and
the candidate with each broken overlay. For each: ``helm template`` (offline, for the configured
Kubernetes version: https://helm.sh/docs/helm/helm_template/) and ``helm lint``
(https://helm.sh/docs/helm/helm_lint/, local charts and archives); then the probe target (an
Ingress of a class the harness's edge serves, or an HTTPRoute), probe bounds, TLS Secret names,
the pull policy of loaded images under a local build, and, over all
variants, the contract's images against the rendered ones.

Used by ``python -m harness check``, the gate's preflight and the pytest plugin's collection, so
a chart the harness cannot reach is one usage line per problem in seconds.
"""
from __future__ import annotations

import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from harness.core.contract import ChartUnderTest, Released
from harness.core.errors import HarnessError
from harness.core.values import ChartRef
from harness.env import cluster as kind_cluster
from harness.env.addons import traefik
from harness.scenario.chart_checks import (
    image_problems,
    manifest_images,
    probe_bound_problems,
    probe_target_problems,
    pull_policy_problems,
    tls_secret_problems,
)
from harness.scenario.targets import Target, set_pairs, values_files, variants
from harness.tools.helm import Helm, HelmError, manifest_objects

CHECK_NAMESPACE = "harness-check"


@dataclass(frozen=True)
class Rendering:
    """One way the scenarios install a chart.

    Attributes:
        label: ``default``, ``released 1.0.0 (default)``, ``broken pdb-blocks-drain``.
        chart: what helm renders. extra: further helm flags (``--repo URL`` for a repository URL).
        values, sets: in helm's order. candidate: False for the released chart.
    """

    label: str
    chart: ChartRef
    values: tuple[Path, ...]
    sets: tuple[str, ...]
    candidate: bool = True
    extra: tuple[str, ...] = ()


@dataclass
class CheckReport:
    """What a check looked at (``checked``, one line each) and the ``problems`` it found (one line each)."""

    checked: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def extend(self, other: CheckReport) -> None:
        self.checked += other.checked
        self.problems += other.problems


def served_ingress_classes(cfg: Any = None) -> tuple[str | None, ...]:
    """The Ingress classes the harness's edge serves: the traefik add-on chart's
    ``ingressClass.name`` (``nginx``, ingress-nginx's class, which the ingress-nginx add-on serves
    too), plus None (no class) when its ``watchIngressWithoutClass`` or ``default`` is on.

    Args:
        cfg: a HarnessConfig; its ``addon_values["traefik"]``, when it has one, overrides the chart's.
    """
    try:
        values = yaml.safe_load((traefik.CHART_DIR / "values.yaml").read_text()) or {}
    except (OSError, yaml.YAMLError):
        values = {}
    ic = dict(values.get("ingressClass") or {})
    override = ((getattr(cfg, "addon_values", None) or {}).get("traefik") or {}).get("ingressClass") or {}
    ic.update(override)
    out: list[str | None] = [str(ic.get("name") or "nginx")]
    if ic.get("watchIngressWithoutClass") or ic.get("default"):
        out.append(None)
    return tuple(out)


def released_chart(rel: Released) -> tuple[ChartRef | None, tuple[str, ...], str | None]:
    """``(chart, extra helm flags, problem)`` to render the released chart without a cluster or a
    served repository: a local repository's archive from its index.yaml (``urls``, relative to the
    directory), ``--repo URL`` for an http(s) repository, the oci reference or .tgz as they are."""
    if rel.kind == "tgz":
        return ChartRef(rel.chart, "tgz"), (), None
    if rel.kind == "oci":
        return ChartRef(rel.chart, "oci", rel.version), (), None
    name = rel.chart.split("/", 1)[1]
    if isinstance(rel.repository, str):
        return ChartRef(name, "repo", rel.version), ("--repo", rel.repository), None
    repo = Path(rel.repository or ".")
    try:
        index = yaml.safe_load((repo / "index.yaml").read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        return None, (), f"released chart {rel.chart}: cannot read {repo / 'index.yaml'}: {exc}"
    entries = (index.get("entries") or {}).get(name) or []
    entry = next((e for e in entries if str(e.get("version")) == str(rel.version)), None)
    if entry is None:
        versions = ", ".join(str(e.get("version")) for e in entries) or "none"
        return None, (), (f"released chart {rel.chart} has no version {rel.version} in {repo / 'index.yaml'} "
                          f"(versions: {versions})")
    url = str((entry.get("urls") or [""])[0])
    if url.startswith(("http://", "https://")):
        return ChartRef(url, "url"), (), None
    tgz = (repo / url).resolve()
    if not tgz.is_file():
        return None, (), f"released chart {rel.chart} {rel.version}: {tgz} (from index.yaml) does not exist"
    return ChartRef(str(tgz), "tgz"), (), None


def renderings(chart: ChartUnderTest, edge: str | None = None) -> tuple[list[Rendering], list[str]]:
    """Every way the scenarios install ``chart`` through ``edge`` (see the module docstring) and the
    problems found on the way (a released chart that cannot be located). A negative control bound to
    another edge (``broken[].edge``) does not run through this one, so it is not rendered."""
    out: list[Rendering] = []
    problems: list[str] = []
    c = chart.contract
    vs = variants(chart)
    for name, files in vs:
        t = Target(chart, name, files)
        out.append(Rendering(name, chart.ref, tuple(values_files(t, candidate=True)),
                             tuple(set_pairs(t, candidate=True))))
    if c is not None and c.released is not None:
        ref, extra, problem = released_chart(c.released)
        if problem:
            problems.append(problem)
        elif ref is not None:
            for name, files in vs:
                t = Target(chart, name, files)
                out.append(Rendering(f"released {c.released.version or Path(c.released.chart).name} ({name})", ref,
                                     tuple(values_files(t, candidate=False)), tuple(set_pairs(t, candidate=False)),
                                     candidate=False, extra=extra))
    if c is not None and c.broken:
        default = next((v for v in vs if v[0] == "default"), vs[0])
        for b in c.broken:
            if b.edge and edge and b.edge != edge:
                continue
            t = Target(chart, default[0], default[1], b)
            out.append(Rendering(f"broken {b.name}", chart.ref, tuple(values_files(t, candidate=True)),
                                 tuple(set_pairs(t, candidate=True))))
    return out, problems


def render(helm: Helm, release: str, r: Rendering, *, lint: bool) -> tuple[list[dict[str, Any]] | None, str | None]:
    """``(objects, None)`` or ``(None, problem)`` for one rendering (lint first, then template):
    the check's renderer, also ``python -m harness init``'s (harness/gate/init.py)."""
    try:
        if lint and r.chart.kind in ("dir", "tgz"):
            helm.lint(r.chart, values=r.values, sets=r.sets)
        text = helm.template(release, r.chart, namespace=CHECK_NAMESPACE, values=r.values, sets=r.sets,
                             extra=r.extra)
    except HelmError as exc:
        return None, str(exc)
    try:
        return manifest_objects(text), None
    except yaml.YAMLError as exc:
        return None, f"helm template rendered invalid YAML: {str(exc).splitlines()[0]}"


def check_chart(chart: ChartUnderTest, helm: Helm, *, classes: Iterable[str | None] = ("nginx",),
                lint: bool = True, edge: str | None = None, loads_images: bool = False) -> CheckReport:
    """Render, lint and check every variant of ``chart`` (see the module docstring).

    Args:
        chart: a chart under test with its contract (a chart without one is only linted and rendered).
        helm: an offline :class:`harness.tools.helm.Helm` (its ``kube_version`` is the one rendered for).
        classes: what :func:`served_ingress_classes` returns.
        lint: also ``helm lint`` each local rendering.
        edge: the edge the run goes through (None: every control is rendered).
        loads_images: the contract's images are loaded into the nodes (image-source ``local``): no
            container of theirs may ask the kubelet to pull (:func:`pull_policy_problems`).

    Returns:
        a :class:`CheckReport`; problems read ``<chart> <variant[, variant...]>: <problem>``.
    """
    report = CheckReport()
    c = chart.contract
    classes = tuple(classes)
    rs, located = renderings(chart, edge)
    report.problems += [f"{chart.name}: {p}" for p in located]
    by_message: dict[str, list[str]] = {}
    images: dict[str, set[str]] = {}
    release = f"{chart.release_prefix[:40]}-check"
    for r in rs:
        objs, error = render(helm, release, r, lint=lint)
        if objs is None:
            by_message.setdefault(error or "rendering failed", []).append(r.label)
            continue
        images[r.label] = manifest_images(objs)
        found: list[str] = []
        if c is not None:
            found += probe_target_problems(objs, host=c.probe.host, via=c.probe.via, path=c.probe.probe_path,
                                           classes=classes)
        found += probe_bound_problems(objs)
        found += tls_secret_problems(objs)
        if loads_images and c is not None:
            found += pull_policy_problems(objs, c.images)
        for line in found:
            by_message.setdefault(line, []).append(r.label)
    for message, labels in by_message.items():
        report.problems.append(f"{chart.name} {', '.join(labels)}: {message}")
    if c is not None and len(images) == len(rs):  # every variant rendered: compare images
        report.problems += [f"{chart.name}: {p}" for p in image_problems(c.images, images)]
    what = "helm lint, helm template" if lint else "helm template"
    target = (f"{'HTTPRoute' if c.probe.via == 'httproute' else 'Ingress'} host {c.probe.host}"
              + (f" (class {' or '.join(str(x) for x in classes if x)})" if c.probe.via == "ingress" else "")
              if c is not None else "no contract")
    report.checked.append(f"{chart.name}: {len(rs)} variants ({', '.join(r.label for r in rs)}): {what}; "
                          f"{target}; probes; {len(c.images) if c else 0} contract images")
    return report


def check_charts(charts: Sequence[ChartUnderTest], cfg: Any, *, lint: bool = True,
                 home: Path | str | None = None) -> CheckReport:
    """:func:`check_chart` for every chart, with an offline Helm of ``cfg`` (``cfg.helm``, rendering
    for ``cfg.kubernetes_version``) in ``home`` (default: a temporary helm home, removed after).

    Raises:
        EnvironmentNotReady: helm is missing or of an unsupported major.
    """
    classes = served_ingress_classes(cfg)
    loads_images = loads_chart_images(cfg)
    report = CheckReport()
    with tempfile.TemporaryDirectory(prefix="harness-check-helm-") as tmp:
        helm = Helm(None, home=home or tmp, binary=getattr(cfg, "helm", None),
                    kube_version=getattr(cfg, "kubernetes_version", None))
        for chart in charts:
            if chart.contract is None:  # a packaged or remote chart given without a contract: no scenario runs it
                report.checked.append(f"{chart.name}: no contract, not checked")
                continue
            try:
                report.extend(check_chart(chart, helm, classes=classes, lint=lint, edge=getattr(cfg, "edge", None),
                                          loads_images=loads_images))
            except HelmError as exc:  # pragma: no cover - render catches helm's own failures
                report.problems.append(f"{chart.name}: {exc}")
    return report


def loads_chart_images(cfg: Any) -> bool:
    """Whether a run with ``cfg`` loads the contracts' images into the nodes itself (kind load under
    an effective image-source ``local``); an external cluster's nodes get theirs their own way."""
    if cfg is None or getattr(cfg, "external_cluster", False):
        return False
    try:
        return kind_cluster.configured_image_source(cfg) == "local"
    except HarnessError:
        return False


def problems_message(report: CheckReport, what: str = "chart check") -> str:
    """``"<what> found N problems:"`` and one indented line per problem (for a UsageError)."""
    n = len(report.problems)
    return f"{what} found {n} problem{'s' if n != 1 else ''}:\n  " + "\n  ".join(report.problems)

