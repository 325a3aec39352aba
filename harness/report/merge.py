"""``python -m harness report merge DIR... [--out DIR]``: the reports of several gate jobs (the shards
of one gate, ``gate --shard I/N``, or any gate runs) joined into one report, one summary line and
one exit code.

Each input is a gate report directory as :func:`harness.report.render.write_report` leaves it:
``gate.json`` (the exit code, why, the header as ``info``, the records as ``rows``), ``junit.xml``
and, beside it when the job uploaded both, the artifacts directory its rows' paths are relative to.
The records are read back into :class:`harness.scenario.result.ScenarioResult` (``from_json``), so
the joined report is drawn exactly like a single run's (the key figures, the migration diff when
the rows went through several edges); the JUnit XML files are merged
(:func:`harness.report.render.merge_junit`).

The exit code is the worst of the inputs' by the gate's precedence (:func:`worst_code`: 130, 2, 3,
1, else 0), and the gate's "nothing ran" rule applies to the joined records: a merge in which no
test passed and none failed is 3 (a shard on its own passes when it holds no test, or only skipped
ones: harness/gate/exitcode.py).
"""
from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from harness.core.errors import UsageError
from harness.report.render import GateInfo, counts, verdict_line, write_report
from harness.scenario.result import ScenarioResult

EXIT_PRECEDENCE = (130, 2, 3, 1)
"""The gate's exit codes, the one that wins first: interrupted, usage, environment, a failed scenario."""


def worst_code(codes: Iterable[int]) -> int:
    """The first of :data:`EXIT_PRECEDENCE` among ``codes``, else the largest (0 for none)."""
    codes = list(codes)
    for c in EXIT_PRECEDENCE:
        if c in codes:
            return c
    return max(codes, default=0)


@dataclass(frozen=True)
class Part:
    """One input report.

    Attributes:
        report_dir: the directory. exit_code, why: its gate's. info: its header.
        results: its records, artifact paths as they are in its gate.json.
        artifacts: the artifacts directory those paths are relative to, when it is present, else None.
    """

    report_dir: Path
    exit_code: int
    why: str
    info: GateInfo
    results: tuple[ScenarioResult, ...]
    artifacts: Path | None

    @property
    def junit(self) -> Path:
        return self.report_dir / "junit.xml"


def info_from_json(data: dict[str, Any]) -> GateInfo:
    """The :class:`GateInfo` a gate.json's ``info`` holds (keys it does not know are left out, so a
    report from an older or newer harness still reads)."""
    known = {f.name for f in fields(GateInfo)}
    return GateInfo(**{k: v for k, v in data.items() if k in known})


def read_part(report_dir: Path | str) -> Part:
    """Read one gate report directory.

    Raises:
        UsageError: the directory or its gate.json is missing, or gate.json is not a gate report
            (one line naming the directory).
    """
    d = Path(report_dir)
    if not d.is_dir():
        raise UsageError(f"report merge: {d} is not a directory (give the report directories the gate jobs wrote)")
    path = d / "gate.json"
    try:
        doc = json.loads(path.read_text())
        rows = [ScenarioResult.from_json({k: v for k, v in row.items() if k != "status"}) for row in doc["rows"]]
        code = int(doc["exit_code"])
        info = info_from_json(dict(doc.get("info") or {}))
    except FileNotFoundError:
        raise UsageError(f"report merge: {d} has no gate.json (not a gate report directory)") from None
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise UsageError(f"report merge: {path} cannot be read as a gate report: {type(exc).__name__}: {exc}") from None
    art_rel = doc.get("artifacts_dir")
    candidates = [d / art_rel] if art_rel else []
    candidates.append(d.parent / "artifacts")  # the gate's and the action's layout: report/ beside artifacts/
    artifacts = next((c.resolve() for c in candidates if c.is_dir()), None)
    return Part(d, code, str(doc.get("why") or ""), info, tuple(rows), artifacts)


def rebase(results: Sequence[ScenarioResult], artifacts: Path | None, root: Path | None) -> list[ScenarioResult]:
    """``results`` with their relative artifact paths made relative to ``root`` (the joined report's
    artifacts directory) instead of ``artifacts`` (their own); unchanged when either is unknown."""
    if artifacts is None or root is None:
        return list(results)
    prefix = os.path.relpath(artifacts, root)
    return [replace(r, artifacts=tuple(a if os.path.isabs(a) or prefix == "." else f"{prefix}/{a}"
                                       for a in r.artifacts)) for r in results]


def _distinct(values: Iterable[Any]) -> list[Any]:
    out: list[Any] = []
    for v in values:
        if v not in out and v not in ("", None, [], {}):
            out.append(v)
    return out


def merged_info(parts: Sequence[Part], *, code: int, why: str, command: str) -> GateInfo:
    """One header for the joined report: each list the inputs' items once, in order; a text field
    their distinct values joined by ", "; the time from the first start to the last end; the shards
    and their exit codes under ``merged_from``."""
    infos = [p.info for p in parts]
    out = GateInfo(exit_code=code, why=why, command=command)
    for f in fields(GateInfo):
        if f.name in ("exit_code", "why", "command", "started", "duration", "errors", "merged_from", "controls",
                      "shard"):
            continue
        vals = [getattr(i, f.name) for i in infos]
        if isinstance(getattr(out, f.name), list):
            setattr(out, f.name, _distinct(x for v in vals for x in (v or [])))
        elif isinstance(getattr(out, f.name), dict):
            keys = _distinct(k for v in vals for k in (v or {}))
            setattr(out, f.name, {k: ", ".join(_distinct(str((v or {}).get(k, "")) for v in vals)) for k in keys})
        else:
            setattr(out, f.name, ", ".join(_distinct(str(v) for v in vals)))
    out.controls = any(i.controls for i in infos)
    starts = [i.started for i in infos if i.started]
    if starts:
        out.started = min(starts)
        out.duration = max(i.started + i.duration for i in infos if i.started) - out.started
    out.errors = [f"{p.report_dir}: {e}" for p in parts for e in p.info.errors]
    out.merged_from = [{"report": str(p.report_dir), "shard": p.info.shard, "exit_code": p.exit_code, "why": p.why}
                       for p in parts]
    return out


def merged_code(parts: Sequence[Part], results: Sequence[ScenarioResult]) -> tuple[int, str]:
    """``(exit code, why)`` of the joined report: :func:`worst_code` of the inputs'; 3 when that is 0
    but no test ran (the gate's rule: a gate that measured nothing does not pass)."""
    code = worst_code(p.exit_code for p in parts)
    c = counts(results)
    if code == 0 and not (c["PASS"] or c["FAIL"] or c["ERROR"]):
        return 3, (f"nothing ran: the {len(parts)} reports hold {len(results)} scenario tests, "
                   f"{c['SKIP']} skipped")
    bad = [f"{p.report_dir.name if p.report_dir.name != 'report' else p.report_dir}: exit {p.exit_code}: {p.why}"
           for p in parts if p.exit_code]
    if bad:
        return code, "; ".join(bad)
    return 0, f"{c['PASS']} scenario tests passed in {len(parts)} reports" + (f", {c['SKIP']} skipped" if c["SKIP"] else "")


def merge_reports(dirs: Sequence[Path | str], out: Path | str, *, command: str = "",
                  say: Callable[[str], None] = print) -> int:
    """Join the reports in ``dirs`` into ``out`` (index.html, summary.md, gate.json, junit.xml); says
    where it went and the verdict line. Returns the exit code (:func:`merged_code`).

    Raises:
        UsageError: no input, an input that is not a readable gate report or given twice, or ``out``
            being one of them.
    """
    if not dirs:
        raise UsageError("report merge: give at least one report directory")
    out = Path(out).resolve()
    resolved = [Path(d).resolve() for d in dirs]
    if out in resolved:
        raise UsageError(f"report merge: --out {out} is one of the inputs; write the joined report elsewhere")
    twice = sorted({str(d) for d in resolved if resolved.count(d) > 1})
    if twice:  # its rows would count twice
        raise UsageError(f"report merge: {', '.join(twice)} given more than once")
    parts = [read_part(d) for d in dirs]
    present = [p.artifacts for p in parts if p.artifacts is not None]
    root = Path(os.path.commonpath(present)) if present else None
    results = [r for p in parts for r in rebase(p.results, p.artifacts, root)]
    code, why = merged_code(parts, results)
    info = merged_info(parts, code=code, why=why, command=command)
    written = write_report(results, info, report_dir=out, artifacts_dir=root, junit_sources=[p.junit for p in parts])
    say(f"report: {written['html']} and {written['markdown'].name}" + (", junit.xml" if "junit" in written else "")
        + f" ({len(parts)} reports, {len(results)} scenario tests)")
    say(f"{verdict_line(results, code)} (exit {code}: {why})")
    return code


__all__ = ["EXIT_PRECEDENCE", "Part", "info_from_json", "merge_reports", "merged_code", "merged_info", "read_part",
           "rebase", "worst_code"]
