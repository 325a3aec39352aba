"""The gate's report: the run's JUnit XML (copied, or merged from several), one self-contained HTML
page and a short Markdown summary, all drawn from the run's scenario records.

Where the rows come from: ``<artifacts>/scenarios.json``, the :class:`harness.scenario.result.ScenarioResult`
records the pytest layer wrote once at the end of the run (:func:`load_results`). A record says which
scenario, chart, variant, key and control it is, the matrix cell it ran in, its verdict and reason,
its figures with their units, its named steps and the paths of its plots and diagnostics; nothing
here re-reads JUnit properties, parses node ids or guesses a value's type. Besides the records, the
report reads only ``timings.json`` (the harness's own phases: a table, and the run's Gantt chart
``run-gantt.png``, :mod:`harness.report.gantt`) and the JUnit XML it copies.

:func:`render_html` and :func:`render_markdown` draw the records: a pure view (:func:`html_view`,
:func:`markdown_view`) rendered by jinja2 from ``templates/report.html`` (autoescaped) and
``templates/summary.md``; the page's first screen also says what produced it (:func:`provenance_facts`:
versions, edges, image sources, the contracts' sha256). :func:`write_report` writes ``index.html``,
``summary.md``, ``gate.json`` and ``junit.xml`` into the report directory. Files
older than the run (``since``) are ignored, so a crashed run never reports a previous run's results.
"""
from __future__ import annotations

import base64
import datetime as dt
import functools
import json
import os
import re
import shutil
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

from harness.core.fmt import MISSING, duration
from harness.report import migration
from harness.report.figures import (
    attribution_summary,
    format_cell,
    format_figure,
    number,
)
from harness.report.gantt import GANTT_NAME, write_gantt
from harness.scenario.result import (
    ScenarioResult,
    figure_values,
    gate_status,
    read_results,
)

TEMPLATES = Path(__file__).resolve().parent / "templates"
STATUSES = ("PASS", "FAIL", "ERROR", "SKIP")
COLUMNS = ("success", "longest outage", "p99 latency", "streams", "drain", "NotReady / Ready")
"""The key-figure columns of the HTML table and the Markdown summary (see :func:`key_figures`)."""

EXIT_MEANING = {
    0: "every scenario passed",
    1: "a scenario failed: the chart is not ready for release",
    2: "usage error: bad option, chart path or contract",
    3: "the environment could not be set up (Docker, tools, images, cluster)",
    130: "interrupted",
}


# --------------------------------------------------------------------------- reading


def _fresh(path: Path, since: float | None) -> bool:
    """The file exists and (when ``since`` is given) was written during this run."""
    try:
        return path.is_file() and (since is None or path.stat().st_mtime >= since - 1)
    except OSError:
        return False


def load_results(artifacts_dir: Path | str, *, since: float | None = None) -> list[ScenarioResult]:
    """The run's records: ``<artifacts_dir>/scenarios.json`` (:func:`harness.scenario.result.read_results`).

    Args:
        artifacts_dir: the run's artifacts directory.
        since: epoch seconds the run started; an older scenarios.json is not this run's (None: any).

    Returns:
        the records in the order the tests ran; [] when there is no (fresh) file.

    Raises:
        ValueError: the file is not a records document.
    """
    path = Path(artifacts_dir) / "scenarios.json"
    return read_results(path) if _fresh(path, since) else []


def merge_junit(sources: Sequence[Path | str], dest: Path | str) -> Path | None:
    """Write the JUnit XML of ``sources`` to ``dest``: a copy of a single file, or one
    ``<testsuites>`` holding every source's ``<testsuite>`` elements (counts summed). Missing
    sources are left out; None when there is none."""
    files = [Path(s) for s in sources if Path(s).is_file()]
    dest = Path(dest)
    if not files:
        return None
    dest.parent.mkdir(parents=True, exist_ok=True)
    if len(files) == 1:
        if files[0].resolve() != dest.resolve():
            shutil.copyfile(files[0], dest)
        return dest
    merged = ET.Element("testsuites", name="helm-e2e-harness gate")
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    seconds = 0.0
    for f in files:
        root = ET.parse(f).getroot()
        suites = [root] if root.tag == "testsuite" else list(root.iter("testsuite"))
        for suite in suites:
            merged.append(suite)
            for k in totals:
                totals[k] += int(suite.get(k, "0") or 0)
            seconds += float(suite.get("time", "0") or 0)
    for k, v in totals.items():
        merged.set(k, str(v))
    merged.set("time", f"{seconds:.3f}")
    ET.ElementTree(merged).write(dest, encoding="utf-8", xml_declaration=True)
    return dest


# --------------------------------------------------------------------------- what a record points at


def _resolve(path: str, artifacts: Path | None) -> Path:
    p = Path(path)
    return p if p.is_absolute() or artifacts is None else artifacts / p


def plots(result: ScenarioResult, artifacts: Path | None) -> list[Path]:
    """The record's timeline plots (its ``.png`` artifacts) that exist, resolved against ``artifacts``."""
    return [p for p in (_resolve(a, artifacts) for a in result.artifacts if a.endswith(".png")) if p.is_file()]


def diagnostics(result: ScenarioResult, artifacts: Path | None) -> Path | None:
    """The record's diagnostics: the artifact that is a directory (collected after a failure), else None."""
    return next((p for p in (_resolve(a, artifacts) for a in result.artifacts) if p.is_dir()), None)


def _anchor(result: ScenarioResult, index: int) -> str:
    name = "-".join(x for x in (result.scenario, result.target, result.key or "") if x)
    return f"row-{index}-" + re.sub(r"[^A-Za-z0-9_-]+", "-", name).strip("-")


def _title(result: ScenarioResult) -> str:
    return result.scenario + (f" ({result.key})" if result.key else "")


def _variant(result: ScenarioResult) -> str:
    """The chart variant as the table shows it: ``ha-service-default``; a negative control's chart alone."""
    return result.chart if result.is_control else result.target


# --------------------------------------------------------------------------- key figures


@dataclass(frozen=True)
class Figure:
    """One cell: ``text`` (short), ``detail`` (a second, smaller line), ``bad`` (highlight it)."""

    text: str = MISSING
    detail: str = ""
    bad: bool = False

    @property
    def empty(self) -> bool:
        return self.text == MISSING


def key_figures(result: ScenarioResult) -> dict[str, Figure]:
    """The :data:`COLUMNS` for one record, from the figures the scenarios record: success ratio,
    longest outage, p99 latency (the availability prober), reconnects and missed ids (SSE streams),
    drain time (drain) and time to NotReady / back to Ready (db_outage). A column a scenario does
    not measure is ``–``."""
    f = figure_values(result)
    out = {c: Figure() for c in COLUMNS}
    requests, failed = number(f.get("requests")), number(f.get("failed_requests"))
    budget = number(f.get("failure_budget")) or 0
    if requests:
        failed = failed or 0
        # failed requests the harness sent late are not the chart's (verdicts.Availability): the
        # prober's raw ratio counts them, so the judged one is computed then
        late = number(f.get("probe_late_failed_count")) or 0
        ratio = number(f.get("probe_success_ratio")) if not late else None
        ratio = ratio if ratio is not None else (requests - failed) / requests
        out["success"] = Figure(f"{ratio * 100:.2f} %".replace("100.00 %", "100 %"),
                                f"{int(failed)} of {int(requests)} failed"
                                + (f" (+{int(late)} sent late, not counted)" if late else ""), failed > budget)
        if f.get("longest_failure_seconds") is not None:
            run, secs = number(f.get("longest_failure_run")) or 0, number(f.get("longest_failure_seconds")) or 0
            out["longest outage"] = Figure(duration(secs), f"{int(run)} request{'s' if run != 1 else ''}" if run
                                           else "no failed request", failed > budget and secs > 0)
        p99 = number(f.get("probe_p99_ms"))
        if p99 is not None:
            p50 = number(f.get("probe_p50_ms"))
            out["p99 latency"] = Figure(duration(p99 / 1000, "latency"),
                                        f"p50 {duration(None if p50 is None else p50 / 1000, 'latency')}")
    elif result.scenario == "db_outage" and f.get("ingress_requests") is not None:
        n, n503 = number(f.get("ingress_requests")) or 0, number(f.get("ingress_503")) or 0
        through = number(f.get("ingress_passed_through")) or 0
        out["success"] = Figure(f"503 × {int(n503)}", f"of {int(n)} during the outage"
                                + (f", {int(through)} from pods" if through else ""), bool(through))
    # streams: the sse scenario's rollout, or the streams an upgrade holds (sse1_, sse2_ ...)
    if f.get("rollout_disconnects") is not None or f.get("hold_longest_silence_s") is not None:
        missed = (number(f.get("rollout_missed_ids")) or 0) + (number(f.get("rollout_duplicate_ids")) or 0)
        out["streams"] = Figure(f"max {duration(number(f.get('rollout_max_reconnect_s')))}",
                                f"{int(number(f.get('rollout_disconnects')) or 0)} reconnects, {int(missed)} ids "
                                f"missed/dup, silence {duration(number(f.get('hold_longest_silence_s')))}",
                                bool(missed) or (result.outcome == "FAIL" and "stream" in result.reason))
    else:
        idx = sorted({m.group(1) for k in f for m in [re.match(r"^(sse\d+)_max_reconnect_s$", k)] if m})
        if idx:
            lat = [v for v in (number(f.get(f"{i}_max_reconnect_s")) for i in idx) if v is not None]
            missed = sum(int(number(f.get(f"{i}_missed_ids")) or 0) + int(number(f.get(f"{i}_duplicates")) or 0)
                         for i in idx)
            disc = sum(int(number(f.get(f"{i}_disconnects")) or 0) for i in idx)
            out["streams"] = Figure(f"max {duration(max(lat)) if lat else MISSING}",
                                    f"{len(idx)} streams, {disc} reconnects, {missed} ids missed/dup", bool(missed))
    if f.get("drain_seconds") is not None:
        refusals = int(number(f.get("eviction_refusals_429")) or 0)
        outcome = str(f.get("drain_outcome") or "")
        out["drain"] = Figure(duration(number(f.get("drain_seconds"))),
                              f"{outcome}, {refusals} × 429" if outcome else f"{refusals} × 429",
                              bool(outcome) and outcome != "done")
    if f.get("slowest_not_ready_s") is not None or f.get("ready_after_recovery_s") is not None:
        nr, rb = number(f.get("slowest_not_ready_s")), number(f.get("not_ready_bound_s"))
        ready, rcb = number(f.get("ready_after_recovery_s")), number(f.get("recovery_bound_s"))
        bad = (nr is None or (rb is not None and nr > rb)) or (ready is None or (rcb is not None and ready > rcb))
        restarts = int(number(f.get("restarts")) or 0)
        out["NotReady / Ready"] = Figure(f"{duration(nr)} / {duration(ready)}",
                                         f"bounds {duration(rb)} / {duration(rcb)}"
                                         + (f", {restarts} restarts" if restarts else ""), bad or bool(restarts))
    return out


# --------------------------------------------------------------------------- the gate's result


@dataclass
class GateInfo:
    """What the gate ran and how it ended (the report's header).

    Attributes:
        charts: per chart ``{"name", "path", "version", "app_version", "from"}``.
        scenarios: the scenarios selected. controls: negative controls included.
        values, sets: what was applied on top of each chart. broken: the contract's broken entry
            applied as an overlay, if any.
        node_image, cluster, addons: where it ran.
        started: epoch seconds. duration: seconds.
        exit_code: the gate's exit code; why: one line explaining it; errors: further lines
            (the harness's own one-line errors).
        command: the command line.
        harness_version: the harness's version. versions: ``{"helm", "kind", "kubectl", "kubernetes"}``
            (what ran, else what is pinned: harness/gate/header.py says which). edges: what the probes
            went through. image_source: the ``image-source`` setting and what ``auto`` became.
            images: per image ``{"image", "use", "source"}`` (``built here``, ``pulled``...).
            contracts: per chart ``{"chart", "path", "sha256"}`` of its harness-contract.yaml.
        shard: ``I/N`` when the run took one slice (``gate --shard``). merged_from: for a joined
            report (harness/report/merge.py), per input ``{"report", "shard", "exit_code", "why"}``.
    """

    charts: list[dict[str, str]] = field(default_factory=list)
    scenarios: list[str] = field(default_factory=list)
    controls: bool = False
    values: list[str] = field(default_factory=list)
    sets: list[str] = field(default_factory=list)
    broken: str = ""
    node_image: str = ""
    cluster: str = ""
    addons: list[str] = field(default_factory=list)
    started: float = 0.0
    duration: float = 0.0
    exit_code: int = 0
    why: str = ""
    errors: list[str] = field(default_factory=list)
    command: str = ""
    harness_version: str = ""
    versions: dict[str, str] = field(default_factory=dict)
    edges: list[str] = field(default_factory=list)
    image_source: str = ""
    images: list[dict[str, str]] = field(default_factory=list)
    contracts: list[dict[str, str]] = field(default_factory=list)
    shard: str = ""
    merged_from: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class _Shown:
    """What one record shows, worked out once per render: its gate status, anchor and files."""

    result: ScenarioResult
    status: str
    anchor: str
    plots: tuple[Path, ...]
    diagnostics: Path | None

    @property
    def evidence(self) -> Path | None:
        return self.plots[0].parent if self.plots else None


def _shown(results: Sequence[ScenarioResult], artifacts: Path | None) -> list[_Shown]:
    return [_Shown(r, gate_status(r), _anchor(r, i), tuple(plots(r, artifacts)), diagnostics(r, artifacts))
            for i, r in enumerate(results, 1)]


def counts(results: Iterable[ScenarioResult]) -> dict[str, int]:
    """``{status: number of records}`` for PASS, FAIL, ERROR, SKIP as the gate counts them
    (:func:`harness.scenario.result.gate_status`)."""
    out = dict.fromkeys(STATUSES, 0)
    for r in results:
        out[gate_status(r)] += 1
    return out


def verdict_line(results: Sequence[ScenarioResult], exit_code: int) -> str:
    """``Gate: PASS|FAIL — N of M scenarios passed`` (M: the tests that ran, skipped ones excluded)."""
    c = counts(results)
    ran = c["PASS"] + c["FAIL"] + c["ERROR"]
    return f"Gate: {'PASS' if exit_code == 0 else 'FAIL'} — {c['PASS']} of {ran} scenarios passed"


def _rel(path: Path | None, base: Path) -> str:
    if path is None:
        return ""
    try:
        return os.path.relpath(path, base)
    except ValueError:
        return str(path)


def _ordered(shown: Sequence[_Shown]) -> tuple[list[_Shown], list[_Shown], list[_Shown]]:
    """(positive tests, negative controls, skipped): grouped by edge (``cell.edge``, in the order the
    edges first appear: a run through ``traefik-nginx`` and ``traefik-gateway`` shows each edge's rows
    together), failures first within each group, then run order."""
    rank = {"FAIL": 0, "ERROR": 0, "PASS": 1}
    edges = {e: i for i, e in enumerate(dict.fromkeys(s.result.cell.edge for s in shown))}
    ran = [s for s in shown if s.status != "SKIP"]

    def key(s: _Shown) -> tuple[int, int]:
        return edges[s.result.cell.edge], rank[s.status]

    positives = sorted((s for s in ran if not s.result.is_control), key=key)
    controls = sorted((s for s in ran if s.result.is_control), key=key)
    return positives, controls, [s for s in shown if s.status == "SKIP"]


def _took(r: ScenarioResult) -> tuple[str, bool]:
    """The test's time, or the shared run's when the test took part in one that ran longer."""
    fig = r.figures.get("shared_run_seconds")
    shared = number(fig.value) if fig is not None else None
    if shared and shared > r.seconds:
        return duration(shared), True
    return duration(r.seconds), False


# --------------------------------------------------------------------------- templates


@functools.cache
def _templates() -> jinja2.Environment:
    """The report's jinja2 environment over :data:`TEMPLATES`: autoescaping for ``.html`` (every value a
    scenario wrote is escaped unless the view marks it safe), none for the Markdown summary (its
    table cells are escaped for Markdown by :func:`_md`); undefined names are errors, not blanks."""
    return jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)),
                              autoescape=jinja2.select_autoescape(enabled_extensions=("html",),
                                                                  default_for_string=False),
                              undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                              keep_trailing_newline=True)


def provenance_facts(info: GateInfo) -> list[tuple[str, str]]:
    """What produced the report, as ``(label, text)`` pairs for its first screen: the harness, helm,
    kind, kubectl and Kubernetes versions, the edge(s), the image source, the shard or the merged
    reports, each contract's sha256 (the per-image sources are :attr:`GateInfo.images`)."""
    facts: list[tuple[str, str]] = []
    if info.harness_version:
        facts.append(("harness", info.harness_version))
    names = {"helm": "helm", "kind": "kind", "kubectl": "kubectl", "kubernetes": "Kubernetes"}
    facts += [(names.get(k, k), v) for k, v in info.versions.items() if v]
    if info.edges:
        facts.append(("edge" if len(info.edges) == 1 else "edges", ", ".join(info.edges)))
    if info.image_source:
        facts.append(("image source", info.image_source))
    for c in info.contracts:
        facts.append((f"contract {c.get('chart', '')}".strip(), f"sha256 {c.get('sha256', '')} ({c.get('path', '')})"))
    if info.shard:
        facts.append(("shard", f"{info.shard} (python -m harness report merge joins the shards' reports)"))
    if info.merged_from:
        facts.append(("merged from", "; ".join(
            f"{m.get('report', '')}" + (f" (shard {m['shard']})" if m.get("shard") else "") + f": exit {m.get('exit_code')}"
            for m in info.merged_from)))
    return facts


def _provenance_line(info: GateInfo) -> str:
    """The summary's one line of what produced it (versions, edge, image source, contract digests)."""
    parts = [f"{k} {v}" for k, v in provenance_facts(info) if not k.startswith(("contract", "merged", "shard"))]
    parts += [f"contract {c.get('chart', '')} sha256 `{str(c.get('sha256', ''))[:12]}`" for c in info.contracts]
    if info.shard:
        parts.append(f"shard {info.shard}")
    if info.merged_from:
        parts.append(f"merged from {len(info.merged_from)} reports")
    return _md(" · ".join(parts)) if parts else ""


# --------------------------------------------------------------------------- Markdown


_ICON = {"PASS": "✅", "FAIL": "❌", "ERROR": "⚠️", "SKIP": "⏭️"}


def _md(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ").replace("<", "&lt;")


def _cut(text: str, limit: int) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def markdown_view(results: Sequence[ScenarioResult], info: GateInfo, *, report_dir: Path | None = None,
                  artifacts_dir: Path | None = None, gantt: Path | None = None) -> dict[str, Any]:
    """What the summary shows, as text already escaped for Markdown (templates/summary.md lays it out);
    ``gantt``: the run's Gantt chart (:mod:`harness.report.gantt`), named relative to the report's parent."""
    meaning = EXIT_MEANING.get(info.exit_code, "")
    head = [f"**exit {info.exit_code}**" + (f": {meaning}" if meaning else "")]
    for c in info.charts:
        frm = f" ← {c['from']}" if c.get("from") else ""
        head.append(f"chart **{c['name']}** {c.get('version', '')}{frm}".rstrip())
    if info.node_image:
        head.append(f"`{info.node_image}`")
    if info.duration:
        head.append(duration(info.duration))
    shown = _shown(results, artifacts_dir)
    positives, controls, skipped = _ordered(shown)
    rows = []
    for s in [*positives, *controls]:
        r = s.result
        figs = key_figures(r)
        cells = [f"{_ICON[s.status]} {s.status}", _md(_title(r)),
                 _md(f"{_variant(r)}, control {r.control}" if r.is_control else r.target), _md(format_cell(r.cell))]
        cells += [_md(figs[c].text) for c in COLUMNS]
        caught = ("caught: " if s.status == "PASS" else "not caught: ") if r.is_control else ""
        cells.append(_md(caught + _cut(r.reason.removeprefix("PASS: "), 220)))
        rows.append(cells)
    failed = [s for s in shown if s.status in ("FAIL", "ERROR") and s.diagnostics]
    return {
        "line": verdict_line(results, info.exit_code), "head": " · ".join(head),
        "provenance": _provenance_line(info), "broken": _md(info.broken) if info.broken else "",
        "why": _md(info.why) if info.why and info.exit_code != 0 else "",
        "errors": [_md(_cut(e, 400)) for e in info.errors], "columns": COLUMNS, "rows": rows,
        "migration": migration.markdown_section(results),
        "skipped": [f"{_md(s.result.scenario)} {_md(s.result.target)}"
                    f"{' (' + s.result.key + ')' if s.result.key else ''}: "
                    f"{_md(_cut(s.result.reason.removeprefix('skipped: '), 200))}" for s in skipped],
        "diagnostics": [f"{_md(_title(s.result))} {_md(s.result.target)}: "
                        f"`{_md(_rel(s.diagnostics, report_dir.parent) if report_dir else s.diagnostics)}/`"
                        for s in failed],
        "full_report": f"{report_dir.name}/index.html" if report_dir is not None and results else "",
        "gantt": "" if gantt is None else (f"{report_dir.name}/{gantt.name}" if report_dir is not None else gantt.name),
    }


def render_markdown(results: Sequence[ScenarioResult], info: GateInfo, *, report_dir: Path | None = None,
                    artifacts_dir: Path | None = None, gantt: Path | None = None) -> str:
    """The summary for ``$GITHUB_STEP_SUMMARY`` or a PR comment; its first line is :func:`verdict_line`,
    then the exit code, the charts, and what produced it (:func:`provenance_facts`, one line).

    Args:
        results: the run's records. info: the gate's header. report_dir: where the summary goes
            (paths are shown relative to its parent). artifacts_dir: what the records' paths are relative to.
        gantt: the run's Gantt chart, when one was drawn (the summary names it).
    """
    view = markdown_view(results, info, report_dir=report_dir, artifacts_dir=artifacts_dir, gantt=gantt)
    return _templates().get_template("summary.md").render(**view)


# --------------------------------------------------------------------------- HTML


def _img(path: Path) -> dict[str, str]:
    return {"src": "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode(), "name": path.name}


def _header_view(results: Sequence[ScenarioResult], info: GateInfo) -> dict[str, Any]:
    c = counts(results)
    ok = info.exit_code == 0
    meaning = EXIT_MEANING.get(info.exit_code, "")
    facts: list[tuple[str, str]] = []
    for ch in info.charts:
        facts.append(("chart", (f"{ch['name']} {ch.get('version', '')} (app {ch.get('app_version') or '?'})"
                                f" — {ch.get('path', '')}")))
        if ch.get("from"):
            facts.append(("upgrades from", ch["from"]))
    facts.append(("scenarios", ", ".join(info.scenarios) + (" + negative controls" if info.controls else "")))
    if info.broken:
        facts.append(("broken overlay", info.broken + ", so this gate is expected to FAIL"))
    if info.values:
        facts.append(("values", ", ".join(info.values)))
    if info.sets:
        facts.append(("set", ", ".join(info.sets)))
    where = ", ".join(x for x in (info.node_image, f"cluster {info.cluster}" if info.cluster else "",
                                  ("add-ons " + ", ".join(info.addons)) if info.addons else "") if x)
    if where:
        facts.append(("ran on", where))
    if info.started:
        started = dt.datetime.fromtimestamp(info.started, dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        facts.append(("started", f"{started}, took {duration(info.duration)}"))
    facts.append(("exit code", f"{info.exit_code}" + (f" — {meaning}" if meaning else "")))
    if info.command:
        facts.append(("command", info.command))
    return {"ok": ok, "line": verdict_line(results, info.exit_code), "facts": facts,
            "tallies": [(s, c[s]) for s in STATUSES if c[s]],
            "why": [x for x in [info.why, *info.errors] if x] if not ok else [],
            "provenance": provenance_facts(info), "images": info.images}


def _row_view(s: _Shown, base: Path, *, controls: bool) -> dict[str, Any]:
    r = s.result
    took, shared = _took(r)
    expect = ("caught — " if s.status == "PASS" else "NOT caught as expected — ") if controls else ""
    return {"status": s.status, "anchor": s.anchor, "scenario": r.scenario, "key": r.key or "",
            "control": r.control if controls else "", "variant": _variant(r) if controls else r.target,
            "cell": format_cell(r.cell), "figures": [key_figures(r)[c] for c in COLUMNS], "took": took,
            "shared": shared, "plots": len(s.plots),
            "diagnostics": _rel(s.diagnostics, base) if s.diagnostics else "",
            "reason": expect + r.reason.removeprefix("PASS: ")}


def _detail_view(s: _Shown, base: Path) -> dict[str, Any]:
    r = s.result
    cpu = r.figures.get("harness_cpu_percent")
    evidence = s.evidence if s.evidence and s.evidence != s.diagnostics else None
    return {"status": s.status, "anchor": s.anchor, "title": f"{r.scenario} · {r.target}" + (f" · {r.key}" if r.key else ""),
            "control": r.is_control, "test_id": r.test_id, "cell": format_cell(r.cell), "reason": r.reason,
            # the measuring harness's own load: a probe gap beside a high share may be the machine's, not the chart's
            "cpu": format_figure(cpu) if cpu is not None and cpu.value not in (None, "") else "",
            "served": attribution_summary(r.figures),
            "steps": [{"name": st.name, "at": duration(st.started), "took": duration(st.seconds), "ok": st.outcome == "ok",
                       "outcome": st.outcome if not st.error else f"{st.outcome}: {st.error}"} for st in r.steps],
            "images": [_img(p) for p in s.plots],
            "diagnostics": _rel(s.diagnostics, base) if s.diagnostics else "",
            "evidence": _rel(evidence, base) if evidence else "",
            "n_figures": len(r.figures),
            "figures": [(k, format_figure(v)) for k, v in sorted(r.figures.items()) if v.value not in (None, "")]}


def _timing_phases(artifacts: Path, since: float | None) -> list[dict[str, str]]:
    path = artifacts / "timings.json"
    if not _fresh(path, since):
        return []
    try:
        phases = [p for p in json.loads(path.read_text()).get("phases", []) if p.get("depth", 0) == 0]
    except (ValueError, AttributeError):
        return []
    return [{"name": str(p.get("name")), "took": duration(number(p.get("duration"))), "outcome": str(p.get("outcome"))}
            for p in phases]


def _migration_view(results: Sequence[ScenarioResult]) -> dict[str, Any] | None:
    """The "Migration diff" section (harness/report/migration.py); None when fewer than two edges ran."""
    edges = migration.edges_of(results)
    if len(edges) < 2:
        return None
    return {"edges": edges, "tests": migration.compared_tests(results), "slack": f"{migration.SECONDS_SLACK:.0f}",
            "rows": [(d.test, d.what, [dict(d.values).get(e, "not run") for e in edges])
                     for d in migration.migration_diff(results)]}


def html_view(results: Sequence[ScenarioResult], info: GateInfo, *, report_dir: Path,
              artifacts_dir: Path | None = None, since: float | None = None, gantt: Path | None = None) -> dict[str, Any]:
    """What the page shows (templates/report.html lays it out; jinja2 escapes every value); ``gantt``:
    the run's Gantt chart (:mod:`harness.report.gantt`), embedded when the file exists."""
    positives, controls, skipped = _ordered(_shown(results, artifacts_dir))
    view: dict[str, Any] = {
        "title": verdict_line(results, info.exit_code), "css": Markup((TEMPLATES / "report.css").read_text()),
        "header": _header_view(results, info), "columns": COLUMNS, "has_results": bool(results),
        "positives": [_row_view(s, report_dir, controls=False) for s in positives],
        "controls": [_row_view(s, report_dir, controls=True) for s in controls],
        "migration": _migration_view(results),
        "skipped": [{"scenario": s.result.scenario, "target": s.result.target, "key": s.result.key or "",
                     "reason": s.result.reason.removeprefix("skipped: ")} for s in skipped],
        "details": [_detail_view(s, report_dir) for s in [*positives, *controls]],
        "timings": [], "artifacts": None,
        "gantt": _img(gantt) if gantt is not None and gantt.is_file() else None,
    }
    if artifacts_dir is not None:
        view["timings"] = _timing_phases(Path(artifacts_dir), since)
        view["artifacts"] = _rel(Path(artifacts_dir), report_dir)
    return view


def render_html(results: Sequence[ScenarioResult], info: GateInfo, *, report_dir: Path,
                artifacts_dir: Path | None = None, since: float | None = None, gantt: Path | None = None) -> str:
    """The self-contained page (inline CSS, plots as base64 PNG), from templates/report.html with
    autoescaping; links are relative to ``report_dir``, the records' artifact paths relative to
    ``artifacts_dir``. Its first screen: the verdict, the run's facts and what produced the report
    (:func:`provenance_facts`, the image sources); ``gantt``: the run's Gantt chart to embed."""
    view = html_view(results, info, report_dir=report_dir, artifacts_dir=artifacts_dir, since=since, gantt=gantt)
    return _templates().get_template("report.html").render(**view)


# --------------------------------------------------------------------------- writing


def write_report(results: Sequence[ScenarioResult], info: GateInfo, *, report_dir: Path | str,
                 artifacts_dir: Path | str | None = None, junit_sources: Sequence[Path | str] = (),
                 since: float | None = None) -> dict[str, Path]:
    """Write ``index.html``, ``summary.md``, ``gate.json`` (the records, each with its gate
    ``status``), (when there is any) ``junit.xml``, and (when the run's ``timings.json`` is there)
    the Gantt chart :data:`harness.report.gantt.GANTT_NAME`, which index.html embeds and summary.md names.

    Returns:
        name -> written path (``html``, ``markdown``, ``json``; ``junit`` and ``gantt`` when written).
    """
    report_dir = Path(report_dir).resolve()
    report_dir.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    j = merge_junit([s for s in junit_sources if _fresh(Path(s), since)], report_dir / "junit.xml")
    if j is not None:
        written["junit"] = j
    else:  # never leave a previous run's JUnit XML beside this run's verdict
        (report_dir / "junit.xml").unlink(missing_ok=True)
    art = Path(artifacts_dir).resolve() if artifacts_dir else None
    timings_json = art / "timings.json" if art is not None else None
    gantt = (write_gantt(timings_json, report_dir / GANTT_NAME)
             if timings_json is not None and _fresh(timings_json, since) else None)
    if gantt is not None:
        written["gantt"] = gantt
    else:  # never leave a previous run's chart beside this run's verdict
        (report_dir / GANTT_NAME).unlink(missing_ok=True)
    (report_dir / "index.html").write_text(render_html(results, info, report_dir=report_dir, artifacts_dir=art,
                                                       since=since, gantt=gantt))
    written["html"] = report_dir / "index.html"
    (report_dir / "summary.md").write_text(render_markdown(results, info, report_dir=report_dir, artifacts_dir=art,
                                                           gantt=gantt))
    written["markdown"] = report_dir / "summary.md"
    c = counts(results)
    doc = {"verdict": "PASS" if info.exit_code == 0 else "FAIL", "line": verdict_line(results, info.exit_code),
           "exit_code": info.exit_code, "why": info.why, "errors": info.errors, "counts": c,
           # what the rows' artifact paths are relative to (python -m harness report merge finds it here)
           "artifacts_dir": _rel(art, report_dir) if art is not None else None,
           "info": {k: v for k, v in info.__dict__.items() if k not in ("errors",)},
           "rows": [{**r.to_json(), "status": gate_status(r)} for r in results]}
    if len(migration.edges_of(results)) > 1:
        doc["migration_diff"] = {"edges": migration.edges_of(results), "tests_compared": migration.compared_tests(results),
                                 "differences": [{"test": d.test, "behaviour": d.what, "values": dict(d.values)}
                                                 for d in migration.migration_diff(results)]}
    (report_dir / "gate.json").write_text(json.dumps(doc, indent=2, default=str) + "\n")
    written["json"] = report_dir / "gate.json"
    return written


__all__ = ["COLUMNS", "EXIT_MEANING", "Figure", "GateInfo", "counts", "diagnostics", "key_figures", "load_results",
           "merge_junit", "plots", "render_html", "render_markdown", "verdict_line", "write_report"]
