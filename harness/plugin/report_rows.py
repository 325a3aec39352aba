"""pytest glue for scenario tests: the session's scenario rows (printed in the summary, written to
scenarios.json) and the verdict assertion every scenario test ends with."""
from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.scenario.targets import Target
from harness.scenario.verdicts import Verdict


@dataclass
class ReportRow:
    nodeid: str
    scenario: str
    target: str
    control: str
    outcome: str
    seconds: float
    reason: str
    figures: dict[str, Any] = field(default_factory=dict)


class ScenarioReport:
    """The session's scenario results (thread-safe)."""

    def __init__(self) -> None:
        self.rows: list[ReportRow] = []
        self._lock = threading.Lock()

    def reset(self) -> None:
        with self._lock:
            self.rows.clear()

    def add(self, row: ReportRow) -> None:
        with self._lock:
            self.rows.append(row)

    def table(self) -> str:
        """One line per scenario test: scenario, target, control, outcome, seconds, headline figures, reason."""
        with self._lock:
            rows = list(self.rows)
        if not rows:
            return "(no scenarios ran)"
        head = ["scenario", "target", "control", "outcome", "seconds", "figures", "reason"]
        keys = ("failed_requests", "requests", "longest_failure_seconds", "drain_seconds", "eviction_refusals_429",
                "hold_longest_silence_s", "rollout_max_reconnect_s", "slowest_not_ready_s", "ready_after_recovery_s",
                "restarts")
        lines = []
        for r in rows:
            figs = ", ".join(f"{k}={r.figures[k]}" for k in keys if r.figures.get(k) not in (None, ""))
            lines.append([r.scenario, r.target, r.control, r.outcome, f"{r.seconds:.0f}", figs, r.reason[:160]])
        widths = [max(len(head[i]), *(len(x[i]) for x in lines)) for i in range(5)]
        out = ["  ".join(h.ljust(w) for h, w in zip(head[:5], widths, strict=True)) + "  figures / reason"]
        for x in lines:
            out.append("  ".join(v.ljust(w) for v, w in zip(x[:5], widths, strict=True)) + f"  {x[5]}")
            out.append(" " * (sum(widths) + 10) + f"  {x[6]}")
        return "\n".join(out)

    def to_json(self) -> dict[str, Any]:
        with self._lock:
            return {"scenarios": [r.__dict__ for r in self.rows]}

    def write_json(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_json(), indent=2, default=str) + "\n")
        return path


REPORT = ScenarioReport()






def _control(target: Target) -> str:
    return f"broken:{target.broken.name}" if target.broken else "positive"


def report_row(item: Any, scenario: str, target: Target, verdict: Verdict | None, seconds: float,
               figures: dict[str, Any], error: str | None = None) -> None:
    """Add one test's result to :data:`REPORT`."""
    if verdict is None and error and error.startswith("skipped"):
        outcome, reason = "SKIP", error
    elif verdict is None:
        outcome, reason = "ERROR", error or "the scenario did not reach a verdict"
    else:
        outcome, reason = ("PASS" if verdict.passed else "FAIL"), verdict.reason
    REPORT.add(ReportRow(item.nodeid, scenario, target.id, _control(target), outcome, round(seconds, 1), reason,
                         dict(figures)))


def check_verdict(verdict: Verdict, target: Target, scenario: str) -> None:
    """The assertion every scenario test ends with: a positive target must pass; a negative control
    must fail, and for one of the scenario's own criteria (the expected-failure pattern)."""
    import re

    from harness.scenario.verdicts import EXPECTED_FAILURE

    if target.broken is None:
        assert verdict.passed, verdict.reason
        return
    assert not verdict.passed, (f"negative control {target.broken.name} PASSED {scenario}, so the scenario does not "
                                f"catch what it claims ({target.broken.reason}): {verdict.reason}")
    pattern = EXPECTED_FAILURE[scenario]
    assert re.search(pattern, verdict.reason), (
        f"negative control {target.broken.name} failed {scenario}, but not for the expected reason "
        f"(/{pattern}/; contract: {target.broken.reason}): {verdict.reason}")


def record_result(item: Any, result: Any) -> None:
    """Hand one test's :class:`harness.scenario.result.ScenarioResult` to the session (written once
    at the end into ``scenarios.json``; JUnit properties and the summary are rendered from it).

    Interface stub: the pytest layer's owner replaces the body; callers keep this signature.
    """
    records = getattr(item.config, "_harness_results", None)
    if records is None:
        records = []
        item.config._harness_results = records  # type: ignore[attr-defined]
    records.append(result)
