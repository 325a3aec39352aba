"""The one result record of a scenario test, produced once per test and written once.

Every view of a run is rendered from these records: the JUnit ``<properties>``, ``scenarios.json``,
the terminal summary and the gate's HTML/Markdown report. Nothing downstream re-parses pytest node
ids or guesses a value's type: a record says which scenario, chart, variant and control it is,
the matrix cell it ran in, its verdict with each check, its figures with their units, the named
steps with their timings, and where its evidence lies.
"""
from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from harness.core.artifacts import write_text
from harness.core.redact import Redactor

Outcome = Literal["PASS", "FAIL", "ERROR", "SKIP"]
OUTCOMES: tuple[Outcome, ...] = ("PASS", "FAIL", "ERROR", "SKIP")
FigureValue = float | int | str | bool | None

# A figure's unit from the suffix of its name. Figure names are chosen by the harness (the verdict
# functions and measurements), so this table is the naming convention written down, not a guess
# about data from outside. A name with no known suffix is a plain number or text (unit "").
_UNIT_SUFFIXES: tuple[tuple[str, str], ...] = (
    ("_seconds", "s"), ("_s", "s"), ("_ms", "ms"), ("_ratio", "ratio"), ("_bytes", "bytes"), ("_percent", "%"),
    ("_requests", "requests"), ("_failed", "requests"), ("_count", "count"), ("_restarts", "restarts"),
)


def unit_for(name: str) -> str:
    """The unit the harness's naming convention gives a figure called ``name`` ("" for none)."""
    for suffix, unit in _UNIT_SUFFIXES:
        if name.endswith(suffix):
            return unit
    return ""


@dataclass(frozen=True)
class Figure:
    """One measured number (or short text) with its unit: ``"s"``, ``"ms"``, ``"ratio"``, ``"requests"``..."""

    value: FigureValue
    unit: str = ""


def figures_from(raw: Mapping[str, Any]) -> dict[str, Figure]:
    """``{name: value}`` (as the verdict functions return them) -> ``{name: Figure}`` with units.

    A value that is already a :class:`Figure` is kept; anything not a number, bool, text or None
    is turned into text (so the record stays plain JSON).
    """
    out: dict[str, Figure] = {}
    for name, value in raw.items():
        if isinstance(value, Figure):
            out[name] = value
            continue
        if not isinstance(value, (int, float, str, bool)) and value is not None:
            value = str(value)
        out[name] = Figure(value, unit_for(name))
    return out


@dataclass(frozen=True)
class CheckResult:
    """One criterion of a verdict: its name, whether it held, and what was seen."""

    name: str
    passed: bool
    detail: str = ""


@dataclass(frozen=True)
class StepRecord:
    """One named step of a scenario.

    Attributes:
        name: what the step does, as a reader would say it ("helm upgrade to the candidate").
        started: seconds from the start of the scenario to the start of the step.
        seconds: how long the step took.
        outcome: ``"ok"``, or ``"failed"`` when the step raised.
        error: the first line of the step's error (``"<ExceptionType>: message"``), if it failed.
    """

    name: str
    started: float
    seconds: float
    outcome: Literal["ok", "failed"] = "ok"
    error: str | None = None


@dataclass(frozen=True)
class Cell:
    """The matrix cell a test ran in: the cluster's Kubernetes version, the helm version, the edge."""

    kubernetes_version: str = ""
    helm_version: str = ""
    edge: str = ""


@dataclass(frozen=True)
class ScenarioResult:
    """The record of one scenario test.

    Attributes:
        scenario: the scenario's name (``upgrade``, ``rollback``, ``drain``, ``sse``, ``db_outage``).
        chart: the chart under test's name (its contract's release prefix).
        variant: the values variant (``default`` or ``ci/<variant>-values.yaml``'s name).
        control: the broken overlay's name for a negative control, None for a positive test.
        key: the scenario's own parameter, e.g. the database fault (``stop``), or None.
        cell: the matrix cell.
        outcome: PASS or FAIL (the verdict), ERROR (no verdict was reached), SKIP.
        reason: one line: the verdict's reason, the error, or the skip reason.
        checks: the verdict's criteria.
        figures: measured figures by name.
        steps: the named steps in the order they ran.
        artifacts: paths (relative to the artifacts directory where possible) of plots, CSVs and
            diagnostics for this test.
        seconds: the test's wall time.
        test_id: the pytest node id (for people and links only; nothing parses it).
        expected_reason: for a negative control, the pattern its FAIL reason must match.
    """

    scenario: str
    chart: str
    variant: str
    control: str | None
    outcome: Outcome
    reason: str
    cell: Cell = field(default_factory=Cell)
    key: str | None = None
    checks: tuple[CheckResult, ...] = ()
    figures: Mapping[str, Figure] = field(default_factory=dict)
    steps: tuple[StepRecord, ...] = ()
    artifacts: tuple[str, ...] = ()
    seconds: float = 0.0
    test_id: str = ""
    expected_reason: str | None = None

    @property
    def is_control(self) -> bool:
        """A negative control: the test passes when the scenario FAILS the broken chart."""
        return self.control is not None

    @property
    def target(self) -> str:
        """``<chart>-<variant>`` or ``<chart>-broken-<control>``, as test ids and the report name it."""
        return f"{self.chart}-broken-{self.control}" if self.control else f"{self.chart}-{self.variant}"

    def to_json(self) -> dict[str, Any]:
        """Plain JSON data (``from_json`` reads it back to an equal record)."""
        data = asdict(self)
        data["figures"] = {k: asdict(v) for k, v in self.figures.items()}
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ScenarioResult:
        """The record ``to_json`` wrote.

        Raises:
            ValueError: the data is not such a record (unknown outcome, missing field).
        """
        try:
            outcome = data["outcome"]
            if outcome not in OUTCOMES:
                raise ValueError(f"unknown outcome {outcome!r}")
            return cls(
                scenario=data["scenario"], chart=data["chart"], variant=data["variant"],
                control=data.get("control"), outcome=outcome, reason=data.get("reason", ""),
                cell=Cell(**data.get("cell", {})), key=data.get("key"),
                checks=tuple(CheckResult(**c) for c in data.get("checks", ())),
                figures={k: Figure(**v) for k, v in data.get("figures", {}).items()},
                steps=tuple(StepRecord(**s) for s in data.get("steps", ())),
                artifacts=tuple(data.get("artifacts", ())), seconds=float(data.get("seconds", 0.0)),
                test_id=data.get("test_id", ""), expected_reason=data.get("expected_reason"),
            )
        except (KeyError, TypeError) as exc:
            raise ValueError(f"not a scenario result record: {exc}") from None


def write_results(path: Path | str, results: Iterable[ScenarioResult], *, redactor: Redactor | None = None) -> Path:
    """Write the records as one JSON document ``{"results": [...]}`` (the run's ``scenarios.json``),
    through ``redactor`` (the run's secrets: a reason can quote an error message that holds one)."""
    text = json.dumps({"results": [r.to_json() for r in results]}, indent=2, default=str) + "\n"
    return write_text(path, text, redactor or Redactor())


def read_results(path: Path | str) -> list[ScenarioResult]:
    """The records :func:`write_results` wrote; [] when the file does not exist.

    Raises:
        ValueError: the file is not such a document.
    """
    path = Path(path)
    if not path.exists():
        return []
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not JSON: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("results"), list):
        raise ValueError(f"{path}: no 'results' list")
    return [ScenarioResult.from_json(r) for r in data["results"]]


def gate_status(result: ScenarioResult) -> Outcome:
    """The test's outcome as the gate counts it, from the record alone.

    A positive test PASSes when its verdict did; a negative control PASSes when the scenario FAILED
    the broken chart, for one of the scenario's own criteria (its reason matches
    ``expected_reason`` when the record has one). ERROR and SKIP stay what they are.
    """
    if result.outcome in ("ERROR", "SKIP"):
        return result.outcome
    if not result.is_control:
        return result.outcome
    if result.outcome == "PASS":
        return "FAIL"  # the scenario did not catch the broken chart
    if result.expected_reason and not re.search(result.expected_reason, result.reason):
        return "FAIL"  # caught, but not for the scenario's own reason
    return "PASS"


def figure_values(result: ScenarioResult) -> dict[str, FigureValue]:
    """``{name: value}`` of the record's figures (units dropped), for code that reads figures by name."""
    return {name: fig.value for name, fig in result.figures.items()}
