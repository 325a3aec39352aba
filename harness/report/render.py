"""The gate's report: the run's JUnit XML (copied, or merged from several), one self-contained HTML
page and a short Markdown summary.

Where the numbers come from (everything under one run's artifacts directory):

* ``junit.xml`` — one ``<testcase>`` per test with its outcome and, as ``<properties>``, what the
  scenario recorded (``record_property``: figures, ``verdict``, ``reason``, ``scenario_seconds``,
  ``harness_artifacts`` for the diagnostics of a failed test);
* ``scenarios.json`` — the scenario report collector (:data:`harness.plugin.report_rows.REPORT`): the same
  figures with their types, and the scenario's own verdict (for a negative control, the verdict is
  FAIL while the test passes);
* per test, ``<artifacts>/<test-id-safe>/`` (per-test scenarios) or ``<artifacts>/test_<scenario>__<target>/``
  (shared runs: sse, db_outage): the timeline plots (``probe*.png``, ``sse.png``) and ``verdict.json``;
  after a failure, the diagnostics (``summary.txt``, events, logs, helm history).

:func:`collect_rows` joins them into :class:`Row` objects (one per test: scenario x chart variant
[x fault]); :func:`render_html` and :func:`render_markdown` draw them; :func:`write_report` writes
``index.html``, ``summary.md``, ``gate.json`` and ``junit.xml`` into the report directory. Files
older than the run (``since``) are ignored, so a crashed run never reports a previous run's results.
"""
from __future__ import annotations

import base64
import datetime as dt
import html
import json
import os
import re
import shutil
import string
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.k8s.diagnostics import artifact_dir

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


@dataclass
class JunitCase:
    """One ``<testcase>``: ``nodeid`` (rebuilt from classname and name), outcome
    (``passed``/``failed``/``error``/``skipped``), ``message`` (first line of the failure, error or
    skip), ``seconds`` and the ``properties`` (all strings)."""

    nodeid: str
    classname: str
    name: str
    outcome: str
    message: str
    seconds: float
    properties: dict[str, str]


def nodeid_of(classname: str, name: str) -> str:
    """``scenarios.upgrade.test_upgrade`` + ``test_upgrade[x]`` -> ``scenarios/upgrade/test_upgrade.py::test_upgrade[x]``
    (pytest's junit classname is the module path with dots; a class inside the module is kept as ``::Class``)."""
    parts = classname.split(".")
    # a test class: ClassName starts upper case
    cls = []
    while parts and parts[-1][:1].isupper():
        cls.insert(0, parts.pop())
    return "/".join(parts) + ".py::" + "::".join([*cls, name])


def read_junit(path: Path | str) -> list[JunitCase]:
    """Every testcase of a JUnit XML file (``testsuites`` or a single ``testsuite`` root)."""
    root = ET.parse(path).getroot()
    out: list[JunitCase] = []
    for tc in root.iter("testcase"):
        classname, name = tc.get("classname", ""), tc.get("name", "")
        props = {p.get("name", ""): p.get("value", "") for p in tc.iter("property")}
        outcome, message = "passed", ""
        for tag in ("failure", "error", "skipped"):
            el = tc.find(tag)
            if el is not None:
                outcome = {"failure": "failed", "error": "error", "skipped": "skipped"}[tag]
                message = _first_line(el.get("message") or el.text or "")
                break
        try:
            seconds = float(tc.get("time", "0") or 0)
        except ValueError:
            seconds = 0.0
        out.append(JunitCase(nodeid_of(classname, name), classname, name, outcome, message, seconds, props))
    return out


def _first_line(text: str, limit: int = 400) -> str:
    line = next((ln.strip() for ln in text.strip().splitlines() if ln.strip()), "")
    return line if len(line) <= limit else line[: limit - 3] + "..."


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


def _fresh(path: Path, since: float | None) -> bool:
    """The file exists and (when ``since`` is given) was written during this run."""
    try:
        return path.is_file() and (since is None or path.stat().st_mtime >= since - 1)
    except OSError:
        return False


# --------------------------------------------------------------------------- rows


@dataclass
class Row:
    """One scenario test, as the report shows it.

    Attributes:
        nodeid: pytest node id. scenario: ``upgrade``... target: chart + variant (``realtime-default``,
            ``ha-service-broken-pdb-blocks-drain``). control: ``positive`` or ``broken:<name>``.
        fault: the db_outage fault, else "".
        outcome: the test's outcome (``passed``, ``failed``, ``error``, ``skipped``).
        verdict: the scenario's own verdict (``PASS``/``FAIL``), "" when it reached none.
        seconds: wall time. reason: the verdict's reason, else the failure/skip message.
        figures: what the scenario recorded (typed where scenarios.json had it).
        plots: timeline PNGs written during this run. evidence: the directory holding them.
        diagnostics: the failed test's diagnostics directory, when there is one.
    """

    nodeid: str
    scenario: str
    target: str
    control: str = "positive"
    fault: str = ""
    outcome: str = "passed"
    verdict: str = ""
    seconds: float = 0.0
    reason: str = ""
    figures: dict[str, Any] = field(default_factory=dict)
    plots: list[Path] = field(default_factory=list)
    evidence: Path | None = None
    diagnostics: Path | None = None

    @property
    def status(self) -> str:
        """The gate's view: PASS (the test passed: a positive scenario's verdict was PASS, a
        negative control's FAIL as expected), FAIL (it did not), ERROR (no verdict: the harness or
        the environment broke first), SKIP."""
        if self.outcome == "skipped":
            return "SKIP"
        if self.outcome == "passed":
            return "PASS"
        if self.outcome == "failed" and self.verdict:
            return "FAIL"
        return "ERROR"  # a setup/teardown error, or the test raised before reaching a verdict

    @property
    def is_control(self) -> bool:
        return self.control != "positive"

    @property
    def variant(self) -> str:
        """The chart variant as the table shows it: ``ha-service-default``; for a negative control
        the chart alone (``ha-service``), its overlay being shown as the control."""
        name = self.control.removeprefix("broken:")
        if self.is_control and name and self.target.endswith("-broken-" + name):
            return self.target[: -len("-broken-" + name)]
        return self.target

    @property
    def anchor(self) -> str:
        return "row-" + re.sub(r"[^A-Za-z0-9_-]+", "-", self.nodeid).strip("-")

    def to_json(self) -> dict[str, Any]:
        return {"nodeid": self.nodeid, "scenario": self.scenario, "target": self.target, "control": self.control,
                "fault": self.fault, "status": self.status, "outcome": self.outcome, "verdict": self.verdict,
                "seconds": self.seconds, "reason": self.reason, "figures": self.figures,
                "plots": [str(p) for p in self.plots], "diagnostics": str(self.diagnostics or "") or None}


def _typed(value: str) -> Any:
    """A JUnit property string back to a number where it is one."""
    if value in ("None", ""):
        return None
    try:
        return int(value)
    except ValueError:
        pass
    try:
        return float(value)
    except ValueError:
        return value


def _module_and_param(nodeid: str) -> tuple[str, str, str]:
    """``scenarios/sse/test_sse.py::test_sse[realtime-default]`` -> (``test_sse``, ``test_sse``, ``realtime-default``)."""
    path, _, rest = nodeid.partition("::")
    module = Path(path).stem
    func, _, param = rest.partition("[")
    return module, func.split("::")[-1], param.rstrip("]")


def _evidence_dir(artifacts: Path, nodeid: str, target: str, since: float | None) -> tuple[Path | None, list[Path]]:
    """Where the test's plots are: its own directory, else the shared run's ``<module>__<target>``."""
    module, _, _ = _module_and_param(nodeid)
    for d in (artifact_dir(artifacts, nodeid), artifacts / f"{module}__{target}"):
        pngs = sorted(p for p in d.glob("*.png") if _fresh(p, since)) if d.is_dir() else []
        if pngs:
            return d, pngs
    return None, []


def collect_rows(artifacts_dir: Path | str, *, since: float | None = None,
                 junit: Path | str | None = None) -> list[Row]:
    """One :class:`Row` per test of the run in ``artifacts_dir``.

    Args:
        artifacts_dir: the run's artifacts directory.
        since: epoch seconds the run started; older files are ignored (None: use whatever is there).
        junit: the JUnit XML (default ``<artifacts_dir>/junit.xml``).

    Returns:
        rows in the JUnit order, enriched from scenarios.json; tests only in scenarios.json come last.
    """
    artifacts = Path(artifacts_dir)
    junit_path = Path(junit) if junit else artifacts / "junit.xml"
    cases = read_junit(junit_path) if _fresh(junit_path, since) else []
    collected: dict[str, dict[str, Any]] = {}
    sj = artifacts / "scenarios.json"
    if _fresh(sj, since):
        try:
            for r in json.loads(sj.read_text()).get("scenarios", []):
                collected[r["nodeid"]] = r
        except (ValueError, KeyError, AttributeError):
            collected = {}
    rows: list[Row] = []
    seen: set[str] = set()
    for case in cases:
        rows.append(_row(artifacts, case, collected.get(case.nodeid), since))
        seen.add(case.nodeid)
    for nodeid, r in collected.items():
        if nodeid not in seen:
            outcome = {"PASS": "passed", "SKIP": "skipped"}.get(r.get("outcome", ""), "failed")
            rows.append(_row(artifacts, JunitCase(nodeid, "", "", outcome, "", float(r.get("seconds") or 0), {}),
                             r, since))
    return rows


def _row(artifacts: Path, case: JunitCase, collected: Mapping[str, Any] | None, since: float | None) -> Row:
    module, func, param = _module_and_param(case.nodeid)
    props = {k: _typed(v) for k, v in case.properties.items()}
    figures: dict[str, Any] = {k: v for k, v in props.items()
                               if k not in ("verdict", "reason", "harness_artifacts", "scenario_seconds")}
    if collected:
        scenario = str(collected.get("scenario") or "")
        target = str(collected.get("target") or param)
        control = str(collected.get("control") or "positive")
        figures.update(collected.get("figures") or {})
        verdict = collected.get("outcome") if collected.get("outcome") in ("PASS", "FAIL") else ""
        reason = str(collected.get("reason") or "")
        seconds = float(collected.get("seconds") or 0) or case.seconds
    else:
        scenario = module.removeprefix("test_")
        target = param or func
        control = "broken" if "catches_broken" in func else "positive"
        verdict = str(props.get("verdict") or "") if props.get("verdict") in ("PASS", "FAIL") else ""
        reason = str(props.get("reason") or "")
        seconds = float(props.get("scenario_seconds") or 0) or case.seconds
    fault = str(figures.get("fault") or "")
    if fault and target.endswith("-" + fault):
        target = target[: -len(fault) - 1]
    if not reason or case.outcome in ("error", "skipped") and not verdict:
        reason = case.message or reason
    evidence, plots = _evidence_dir(artifacts, case.nodeid, target, since)
    if fault:
        plots = [p for p in plots if fault in p.stem] or plots
    diag = None
    if props.get("harness_artifacts"):
        diag = Path(str(props["harness_artifacts"]))
    else:
        d = artifact_dir(artifacts, case.nodeid)
        if _fresh(d / "summary.txt", since):
            diag = d
    if not figures.get("shared_run_seconds"):
        figures.pop("shared_run_seconds", None)
    return Row(case.nodeid, scenario, target, control, fault, case.outcome, verdict, round(seconds, 1), reason,
               figures, plots, evidence, diag)


# --------------------------------------------------------------------------- key figures


def _num(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return float(value)
    try:
        return float(str(value))
    except ValueError:
        return None


def fmt_seconds(value: Any) -> str:
    v = _num(value)
    if v is None:
        return "–"
    if v < 10:
        return f"{v:.1f} s"
    if v < 120:
        return f"{v:.0f} s"
    m, s = divmod(round(v), 60)
    return f"{m}m{s:02d}s"


def fmt_ms(value: Any) -> str:
    v = _num(value)
    if v is None:
        return "–"
    if v < 10:
        return f"{v:.1f} ms"
    if v < 1000:
        return f"{v:.0f} ms"
    return f"{v / 1000:.2f} s"


@dataclass(frozen=True)
class Figure:
    """One cell: ``text`` (short), ``detail`` (a second, smaller line), ``bad`` (highlight it)."""

    text: str = "–"
    detail: str = ""
    bad: bool = False

    @property
    def empty(self) -> bool:
        return self.text == "–"


def key_figures(row: Row) -> dict[str, Figure]:
    """The :data:`COLUMNS` for one row, from the figures the scenarios record: success ratio,
    longest outage, p99 latency (the availability prober), reconnects and missed ids (SSE streams),
    drain time (drain) and time to NotReady / back to Ready (db_outage). A column a scenario does
    not measure is ``–``."""
    f = row.figures
    out = {c: Figure() for c in COLUMNS}
    requests, failed = _num(f.get("requests")), _num(f.get("failed_requests"))
    budget = _num(f.get("failure_budget")) or 0
    if requests:
        failed = failed or 0
        ratio = _num(f.get("probe_success_ratio"))
        ratio = ratio if ratio is not None else (requests - failed) / requests
        out["success"] = Figure(f"{ratio * 100:.2f} %".replace("100.00 %", "100 %"),
                                f"{int(failed)} of {int(requests)} failed", failed > budget)
        if f.get("longest_failure_seconds") is not None:
            run, secs = _num(f.get("longest_failure_run")) or 0, _num(f.get("longest_failure_seconds")) or 0
            out["longest outage"] = Figure(fmt_seconds(secs), f"{int(run)} request{'s' if run != 1 else ''}" if run
                                           else "no failed request", failed > budget and secs > 0)
        if f.get("probe_p99_ms") is not None:
            out["p99 latency"] = Figure(fmt_ms(f.get("probe_p99_ms")), f"p50 {fmt_ms(f.get('probe_p50_ms'))}")
    elif row.scenario == "db_outage" and f.get("ingress_requests") is not None:
        n, n503 = _num(f.get("ingress_requests")) or 0, _num(f.get("ingress_503")) or 0
        through = _num(f.get("ingress_passed_through")) or 0
        out["success"] = Figure(f"503 × {int(n503)}", f"of {int(n)} during the outage"
                                + (f", {int(through)} from pods" if through else ""), bool(through))
    # streams: the sse scenario's rollout, or the streams an upgrade holds (sse1_, sse2_ ...)
    if f.get("rollout_disconnects") is not None or f.get("hold_longest_silence_s") is not None:
        missed = (_num(f.get("rollout_missed_ids")) or 0) + (_num(f.get("rollout_duplicate_ids")) or 0)
        silence = f.get("hold_longest_silence_s")
        out["streams"] = Figure(f"max {fmt_seconds(f.get('rollout_max_reconnect_s'))}",
                                f"{int(_num(f.get('rollout_disconnects')) or 0)} reconnects, {int(missed)} ids "
                                f"missed/dup, silence {fmt_seconds(silence)}",
                                bool(missed) or (row.verdict == "FAIL" and "stream" in row.reason))
    else:
        idx = sorted({m.group(1) for k in f for m in [re.match(r"^(sse\d+)_max_reconnect_s$", k)] if m})
        if idx:
            lat = [v for v in (_num(f.get(f"{i}_max_reconnect_s")) for i in idx) if v is not None]
            missed = sum(int(_num(f.get(f"{i}_missed_ids")) or 0) + int(_num(f.get(f"{i}_duplicates")) or 0)
                         for i in idx)
            disc = sum(int(_num(f.get(f"{i}_disconnects")) or 0) for i in idx)
            out["streams"] = Figure(f"max {fmt_seconds(max(lat)) if lat else '–'}",
                                    f"{len(idx)} streams, {disc} reconnects, {missed} ids missed/dup", bool(missed))
    if f.get("drain_seconds") is not None:
        refusals = int(_num(f.get("eviction_refusals_429")) or 0)
        outcome = str(f.get("drain_outcome") or "")
        out["drain"] = Figure(fmt_seconds(f.get("drain_seconds")),
                              f"{outcome}, {refusals} × 429" if outcome else f"{refusals} × 429",
                              bool(outcome) and outcome != "done")
    if f.get("slowest_not_ready_s") is not None or f.get("ready_after_recovery_s") is not None:
        nr, rb = _num(f.get("slowest_not_ready_s")), _num(f.get("not_ready_bound_s"))
        ready, rcb = _num(f.get("ready_after_recovery_s")), _num(f.get("recovery_bound_s"))
        bad = (nr is None or (rb is not None and nr > rb)) or (ready is None or (rcb is not None and ready > rcb))
        restarts = int(_num(f.get("restarts")) or 0)
        out["NotReady / Ready"] = Figure(f"{fmt_seconds(nr)} / {fmt_seconds(ready)}",
                                         f"bounds {fmt_seconds(rb)} / {fmt_seconds(rcb)}"
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


def counts(rows: Iterable[Row]) -> dict[str, int]:
    out = dict.fromkeys(STATUSES, 0)
    for r in rows:
        out[r.status] += 1
    return out


def verdict_line(rows: Sequence[Row], exit_code: int) -> str:
    """``Gate: PASS|FAIL — N of M scenarios passed`` (M: the tests that ran, skipped ones excluded)."""
    c = counts(rows)
    ran = c["PASS"] + c["FAIL"] + c["ERROR"]
    return f"Gate: {'PASS' if exit_code == 0 else 'FAIL'} — {c['PASS']} of {ran} scenarios passed"


def _rel(path: Path | None, base: Path) -> str:
    if path is None:
        return ""
    try:
        return os.path.relpath(path, base)
    except ValueError:
        return str(path)


# --------------------------------------------------------------------------- Markdown


_ICON = {"PASS": "✅", "FAIL": "❌", "ERROR": "⚠️", "SKIP": "⏭️"}


def _md(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ").replace("<", "&lt;")


def _cut(text: str, limit: int) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def render_markdown(rows: Sequence[Row], info: GateInfo, *, report_dir: Path | None = None) -> str:
    """The summary for ``$GITHUB_STEP_SUMMARY`` or a PR comment; its first line is :func:`verdict_line`."""
    lines = [verdict_line(rows, info.exit_code), ""]
    meaning = EXIT_MEANING.get(info.exit_code, "")
    head = [f"**exit {info.exit_code}**" + (f": {meaning}" if meaning else "")]
    for c in info.charts:
        frm = f" ← {c['from']}" if c.get("from") else ""
        head.append(f"chart **{c['name']}** {c.get('version', '')}{frm}".rstrip())
    if info.node_image:
        head.append(f"`{info.node_image}`")
    if info.duration:
        head.append(fmt_seconds(info.duration))
    lines.append(" · ".join(head))
    if info.broken:
        lines += ["", f"Broken overlay applied: {_md(info.broken)}, so this gate is expected to FAIL."]
    if info.why and info.exit_code != 0:
        lines += ["", f"> {_md(info.why)}"]
    for e in info.errors:
        lines.append(f"> {_md(_cut(e, 400))}")
    positives, controls, skipped = _ordered(rows)
    shown = [*positives, *controls]
    if shown:
        lines += ["", "| result | scenario | chart variant | " + " | ".join(COLUMNS) + " | reason |",
                  "|---|---|---|" + "---|" * len(COLUMNS) + "---|"]
        for r in shown:
            figs = key_figures(r)
            cells = [f"{_ICON[r.status]} {r.status}", _md(r.scenario + (f" ({r.fault})" if r.fault else "")),
                     _md(f"{r.variant}, control {r.control.removeprefix('broken:')}" if r.is_control else r.target)]
            cells += [_md(figs[c].text) for c in COLUMNS]
            caught = ("caught: " if r.status == "PASS" else "not caught: ") if r.is_control else ""
            cells.append(_md(caught + _cut(r.reason.removeprefix("PASS: "), 220)))
            lines.append("| " + " | ".join(cells) + " |")
    if skipped:
        lines += ["", f"Skipped ({len(skipped)}):"]
        lines += [f"- {_md(r.scenario)} {_md(r.target)}{' (' + r.fault + ')' if r.fault else ''}: "
                  f"{_md(_cut(r.reason.removeprefix('skipped: '), 200))}" for r in skipped]
    failed = [r for r in rows if r.status in ("FAIL", "ERROR") and r.diagnostics]
    if failed:
        lines += ["", "Diagnostics of failed tests (in the uploaded artifacts):"]
        lines += [f"- `{_md(r.nodeid)}`: `{_md(_rel(r.diagnostics, report_dir.parent) if report_dir else r.diagnostics)}/`"
                  for r in failed]
    if report_dir is not None and rows:
        lines += ["", f"Full report: `{report_dir.name}/index.html` (timeline plots, every figure)."]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- HTML


def _e(text: Any) -> str:
    return html.escape(str(text), quote=True)


def _img(path: Path) -> str:
    data = base64.b64encode(path.read_bytes()).decode()
    return (f'<figure><img src="data:image/png;base64,{data}" alt="{_e(path.name)}" loading="lazy">'
            f'<figcaption>{_e(path.name)}</figcaption></figure>')


def _fmt_value(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:g}"
    if isinstance(v, list | dict):
        return json.dumps(v, default=str)
    return str(v)


def _figure_cell(fig: Figure) -> str:
    if fig.empty:
        return '<td class="num empty">–</td>'
    cls = "num bad" if fig.bad else "num"
    detail = f'<span class="detail">{_e(fig.detail)}</span>' if fig.detail else ""
    return f'<td class="{cls}">{_e(fig.text)}{detail}</td>'


def _pill(status: str) -> str:
    return f'<span class="pill {status.lower()}">{status}</span>'


def _header(rows: Sequence[Row], info: GateInfo) -> str:
    c = counts(rows)
    ok = info.exit_code == 0
    line = verdict_line(rows, info.exit_code)
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
        facts.append(("started", f"{started}, took {fmt_seconds(info.duration)}"))
    facts.append(("exit code", f"{info.exit_code}" + (f" — {meaning}" if meaning else "")))
    if info.command:
        facts.append(("command", info.command))
    dl = "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in facts)
    tally = " ".join(f'<span class="tally {s.lower()}">{c[s]} {s.lower()}</span>' for s in STATUSES if c[s])
    why = ""
    if not ok and (info.why or info.errors):
        why = '<div class="why">' + "".join(f"<p>{_e(x)}</p>" for x in [info.why, *info.errors] if x) + "</div>"
    return (f'<header class="{"ok" if ok else "bad"}"><div class="verdict">{"PASS" if ok else "FAIL"}</div>'
            f'<div class="headline"><h1>{_e(line)}</h1><div class="tallies">{tally}</div></div></header>'
            f'{why}<dl class="facts">{dl}</dl>')


def _table(rows: Sequence[Row], base: Path, *, controls: bool = False) -> str:
    head = "".join(f"<th class=\"num\">{_e(c)}</th>" for c in COLUMNS)
    second = "broken overlay" if controls else "chart variant"
    out = [(f'<table class="rows{" controls" if controls else ""}"><thead><tr><th>result</th><th>scenario</th>'
            f'<th>{second}</th>{head}<th class="num">time</th><th>evidence</th></tr></thead><tbody>')]
    for r in rows:
        figs = key_figures(r)
        links = []
        if r.plots:
            links.append(f'<a href="#{r.anchor}">{len(r.plots)} plot{"s" if len(r.plots) > 1 else ""}</a>')
        if r.diagnostics:
            links.append(f'<a href="{_e(_rel(r.diagnostics, base))}/">diagnostics</a>')
        if controls:
            who = (f'{_e(r.control.removeprefix("broken:"))}<span class="sub">on {_e(r.variant)}</span>')
        else:
            who = _e(r.target)
        fault = f' <span class="fault">{_e(r.fault)}</span>' if r.fault else ""
        shared = _num(r.figures.get("shared_run_seconds"))
        took = fmt_seconds(shared if shared and shared > r.seconds else r.seconds)
        took_detail = '<span class="detail">shared run</span>' if shared and shared > r.seconds else ""
        out.append(f'<tr class="{r.status.lower()}"><td>{_pill(r.status)}</td>'
                   f'<td class="scenario"><a href="#{r.anchor}">{_e(r.scenario)}</a>{fault}</td>'
                   f'<td class="target">{who}</td>'
                   + "".join(_figure_cell(figs[c]) for c in COLUMNS)
                   + f'<td class="num">{_e(took)}{took_detail}</td><td class="links">{" · ".join(links)}</td></tr>')
        reason = r.reason.removeprefix("PASS: ")
        expect = ""
        if controls:
            expect = ("caught — " if r.status == "PASS" else "NOT caught as expected — ")
        out.append(f'<tr class="reason {r.status.lower()}"><td></td><td colspan="{len(COLUMNS) + 4}">'
                   f'{_e(expect)}{_e(reason)}</td></tr>')
    out.append("</tbody></table>")
    return "".join(out)


def _skipped(rows: Sequence[Row]) -> str:
    if not rows:
        return ""
    items = "".join(f'<li><b>{_e(r.scenario)}</b> {_e(r.target)}{" (" + _e(r.fault) + ")" if r.fault else ""}: '
                    f'<span class="muted">{_e(r.reason.removeprefix("skipped: "))}</span></li>' for r in rows)
    return f'<details class="skipped"><summary>{len(rows)} skipped</summary><ul>{items}</ul></details>'


def _ordered(rows: Sequence[Row]) -> tuple[list[Row], list[Row], list[Row]]:
    """(positive tests, negative controls, skipped): failures first within each, then JUnit order."""
    rank = {"FAIL": 0, "ERROR": 0, "PASS": 1}
    ran = [r for r in rows if r.status != "SKIP"]
    positives = sorted((r for r in ran if not r.is_control), key=lambda r: rank[r.status])
    controls = sorted((r for r in ran if r.is_control), key=lambda r: rank[r.status])
    return positives, controls, [r for r in rows if r.status == "SKIP"]


def _details(rows: Sequence[Row], base: Path) -> str:
    out = []
    for r in rows:
        if r.status == "SKIP":
            continue
        title = f"{r.scenario} · {r.target}" + (f" · {r.fault}" if r.fault else "")
        figs = "".join(f"<tr><th>{_e(k)}</th><td>{_e(_fmt_value(v))}</td></tr>" for k, v in sorted(r.figures.items())
                       if v not in (None, ""))
        links = []
        if r.diagnostics:
            links.append(f'diagnostics: <a href="{_e(_rel(r.diagnostics, base))}/">{_e(_rel(r.diagnostics, base))}/</a>')
        if r.evidence and r.evidence != r.diagnostics:
            links.append(f'evidence: <a href="{_e(_rel(r.evidence, base))}/">{_e(_rel(r.evidence, base))}/</a>')
        plots = "".join(_img(p) for p in r.plots) or '<p class="muted">no timeline plot was written</p>'
        out.append(f'<section class="test {r.status.lower()}" id="{r.anchor}"><h3>{_pill(r.status)} {_e(title)}'
                   f'{" (negative control)" if r.is_control else ""}</h3>'
                   f'<p class="nodeid">{_e(r.nodeid)}</p><p class="reason">{_e(r.reason)}</p>'
                   f'<div class="plots">{plots}</div>'
                   + (f'<p class="links">{" · ".join(links)}</p>' if links else "")
                   + (f'<details><summary>all {len(r.figures)} figures</summary><table class="figs">{figs}</table>'
                      "</details>" if figs else "")
                   + "</section>")
    return "".join(out)


def _timings(artifacts: Path, since: float | None) -> str:
    path = artifacts / "timings.json"
    if not _fresh(path, since):
        return ""
    try:
        phases = [p for p in json.loads(path.read_text()).get("phases", []) if p.get("depth", 0) == 0]
    except (ValueError, AttributeError):
        return ""
    if not phases:
        return ""
    body = "".join(f'<tr class="{"" if p.get("outcome") == "ok" else "bad"}"><td>{_e(p.get("name"))}</td>'
                   f'<td class="num">{_e(fmt_seconds(p.get("duration")))}</td><td>{_e(p.get("outcome"))}</td></tr>'
                   for p in phases)
    return (f'<details class="timings"><summary>timings ({len(phases)} phases)</summary>'
            f'<table class="figs"><thead><tr><th>phase</th><th class="num">time</th><th>outcome</th></tr></thead>'
            f"<tbody>{body}</tbody></table></details>")


def render_html(rows: Sequence[Row], info: GateInfo, *, report_dir: Path, artifacts_dir: Path | None = None,
                since: float | None = None) -> str:
    """The self-contained page (inline CSS, plots as base64 PNG); links are relative to ``report_dir``."""
    tpl = string.Template((TEMPLATES / "report.html").read_text())
    css = (TEMPLATES / "report.css").read_text()
    if rows:
        positives, controls, skipped = _ordered(rows)
        body = ""
        if positives:
            body += '<h2>Scenarios</h2>' + _table(positives, report_dir)
        if controls:
            body += ('<h2>Negative controls</h2><p class="muted">Each runs a scenario on a deliberately broken '
                     'overlay from the contract and passes when the scenario FAILS for its own reason; highlighted '
                     'figures are the defect being caught.</p>' + _table(controls, report_dir, controls=True))
        body += _skipped(skipped)
        body += '<h2>Timelines and figures</h2>' + _details([*positives, *controls], report_dir)
    else:
        body = '<p class="muted">No scenario test ran (see the exit code above).</p>'
    if artifacts_dir is not None:
        body += _timings(Path(artifacts_dir), since)
        body += (f'<footer>JUnit XML: <a href="junit.xml">junit.xml</a> · figures: <a href="gate.json">gate.json</a> · '
                 f'artifacts: <a href="{_e(_rel(Path(artifacts_dir), report_dir))}/">'
                 f'{_e(_rel(Path(artifacts_dir), report_dir))}/</a></footer>')
    return tpl.substitute(title=_e(verdict_line(rows, info.exit_code)), css=css, header=_header(rows, info),
                          body=body)


# --------------------------------------------------------------------------- writing


def write_report(rows: Sequence[Row], info: GateInfo, *, report_dir: Path | str,
                 artifacts_dir: Path | str | None = None, junit_sources: Sequence[Path | str] = (),
                 since: float | None = None) -> dict[str, Path]:
    """Write ``index.html``, ``summary.md``, ``gate.json`` and (when there is any) ``junit.xml``.

    Returns:
        name -> written path.
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
    (report_dir / "index.html").write_text(render_html(rows, info, report_dir=report_dir, artifacts_dir=art,
                                                       since=since))
    written["html"] = report_dir / "index.html"
    (report_dir / "summary.md").write_text(render_markdown(rows, info, report_dir=report_dir))
    written["markdown"] = report_dir / "summary.md"
    c = counts(rows)
    doc = {"verdict": "PASS" if info.exit_code == 0 else "FAIL", "line": verdict_line(rows, info.exit_code),
           "exit_code": info.exit_code, "why": info.why, "errors": info.errors, "counts": c,
           "info": {k: v for k, v in info.__dict__.items() if k not in ("errors",)},
           "rows": [r.to_json() for r in rows]}
    (report_dir / "gate.json").write_text(json.dumps(doc, indent=2, default=str) + "\n")
    written["json"] = report_dir / "gate.json"
    return written


__all__ = ["COLUMNS", "EXIT_MEANING", "Figure", "GateInfo", "JunitCase", "Row", "collect_rows", "counts",
           "key_figures", "merge_junit", "nodeid_of", "read_junit", "render_html", "render_markdown",
           "verdict_line", "write_report"]
