"""The migration diff: what a chart does differently through one edge than through another.

A chart moving from ingress-nginx to Traefik's NGINX provider or to Gateway API serves the same
workload through its Ingress and through its HTTPRoute. When a gate runs the same tests through
several edges (``--edge traefik-nginx,traefik-gateway``), the records of a test through each edge
are compared here, and only what differs is listed: the verdict, the status codes of failed
requests, how many requests failed, how streams were cut (idle timeout, total deadline, proxy
buffering: :mod:`harness.measure.cuts`), reconnect times. Identical behaviour is one line saying so.

What counts as different (:data:`COMPARED`): a verdict, a set of status codes or cut kinds differs
when its text differs; a count when it differs at all (one lost request is a finding); seconds when
they differ by more than :data:`SECONDS_SLACK` and by more than half of the smaller (a loaded 2-core
host moves reconnect times by tenths of a second between runs; an edge that holds a stream for
30 s more is a behaviour).

Pure: records in, :class:`EdgeDifference` rows out; the renderers only format them.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from harness.scenario.result import ScenarioResult, gate_status

SECONDS_SLACK = 1.0
"""Seconds two edges' timings may differ by and still count as the same behaviour (see the module
docstring)."""

COMPARED: tuple[tuple[str, str, str], ...] = (
    # (figure name, kind, what the row calls it)
    ("failure_classes", "text", "failed requests by class (status codes)"),
    ("failed_requests", "count", "failed requests"),
    ("probe_failed", "count", "failed probe requests"),
    ("hold_cut_kinds", "text", "stream cuts during the hold"),
    ("hold_disconnects", "count", "stream disconnects during the hold"),
    ("held_responses", "count", "responses held back (proxy buffering)"),
    ("hold_longest_silence_s", "seconds", "longest silence on a held stream (s)"),
    ("rollout_disconnects", "count", "stream disconnects during the rollout"),
    ("rollout_missed_ids", "count", "events missed across reconnects"),
    ("rollout_duplicate_ids", "count", "events delivered twice across reconnects"),
    ("rollout_reconnect_p99_s", "seconds", "reconnect p99 (s)"),
    ("rollout_max_reconnect_s", "seconds", "longest reconnect (s)"),
    ("longest_failure_seconds", "seconds", "longest run of failures (s)"),
    ("release_status", "text", "release status"),
)
"""The figures compared, in the order rows are listed."""


@dataclass(frozen=True)
class EdgeDifference:
    """One behaviour of one test that differs between edges.

    Attributes:
        test: the test as the report names it (``sse realtime-default``, a control's name after it).
        what: the behaviour (``verdict``, or a :data:`COMPARED` label).
        values: ``(edge, value as text)`` per edge, in the order the edges ran; ``–`` where that
            edge's record has no such figure.
    """

    test: str
    what: str
    values: tuple[tuple[str, str], ...]


def _test_key(r: ScenarioResult) -> tuple[str, str, str, str, str]:
    return (r.scenario, r.chart, r.variant, r.control or "", r.key or "")


def _test_name(r: ScenarioResult) -> str:
    variant = r.variant if r.variant.startswith(r.chart) else f"{r.chart}-{r.variant}" if r.variant else r.chart
    name = f"{r.scenario} {variant}"
    if r.key:
        name += f" ({r.key})"
    return name + (f", control {r.control}" if r.control else "")


def _text(value: object) -> str:
    if value is None or value == "":
        return "–"
    if isinstance(value, float):
        return f"{value:.1f}"
    return str(value)


def _differs(kind: str, values: Sequence[object]) -> bool:
    present = [v for v in values if v not in (None, "")]
    if not present:
        return False
    if len(present) != len(values):
        # a figure one edge measured and another did not: a behaviour only when it is not "nothing"
        return any(v not in (0, 0.0, "none", "-") for v in present)
    if kind == "seconds":
        try:
            nums = [float(v) for v in present]  # type: ignore[arg-type]
        except (TypeError, ValueError):
            return len({str(v) for v in present}) > 1
        lo, hi = min(nums), max(nums)
        return hi - lo > SECONDS_SLACK and hi - lo > 0.5 * lo
    return len({str(v) for v in present}) > 1


def edges_of(results: Iterable[ScenarioResult]) -> list[str]:
    """The edges the records ran through, in the order they first appear ("" left out)."""
    return [e for e in dict.fromkeys(r.cell.edge for r in results) if e]


def migration_diff(results: Sequence[ScenarioResult]) -> list[EdgeDifference]:
    """What differs between edges, test by test.

    Args:
        results: the gate's records; a test's records are matched across edges by scenario, chart,
            variant, control and key (its ``cell.edge`` tells the edges apart). A test that ran
            through one edge only is not compared.

    Returns:
        one :class:`EdgeDifference` per differing behaviour, tests in the order they first ran; []
        when fewer than two edges ran or nothing differs.
    """
    edges = edges_of(results)
    if len(edges) < 2:
        return []
    by_test: dict[tuple[str, ...], dict[str, ScenarioResult]] = {}
    for r in results:
        if r.cell.edge:
            by_test.setdefault(_test_key(r), {})[r.cell.edge] = r  # the last record of a test per edge
    out: list[EdgeDifference] = []
    for per_edge in by_test.values():
        ran = [e for e in edges if e in per_edge]
        if len(ran) < 2:
            continue
        recs = [per_edge[e] for e in ran]
        name = _test_name(recs[0])
        statuses = [gate_status(r) for r in recs]
        if len(set(statuses)) > 1:
            out.append(EdgeDifference(name, "verdict", tuple(
                (e, f"{s}: {' '.join(r.reason.removeprefix(s + ': ').split())[:160]}")
                for e, s, r in zip(ran, statuses, recs, strict=True))))
            if {"ERROR", "SKIP"} & set(statuses):
                continue  # a test that did not run to a verdict through one edge has no figures to compare
        for fig, kind, label in COMPARED:
            values = [r.figures[fig].value if fig in r.figures else None for r in recs]
            if _differs(kind, values):
                out.append(EdgeDifference(name, label, tuple((e, _text(v)) for e, v in zip(ran, values, strict=True))))
    return out


def compared_tests(results: Sequence[ScenarioResult]) -> int:
    """How many tests ran through two or more edges (what :func:`migration_diff` compared)."""
    seen: dict[tuple[str, ...], set[str]] = {}
    for r in results:
        if r.cell.edge:
            seen.setdefault(_test_key(r), set()).add(r.cell.edge)
    return sum(len(v) >= 2 for v in seen.values())


def markdown_section(results: Sequence[ScenarioResult]) -> list[str]:
    """The summary's "Migration diff" lines ([] when fewer than two edges ran)."""
    edges = edges_of(results)
    if len(edges) < 2:
        return []
    diffs = migration_diff(results)
    n = compared_tests(results)
    lines = ["", f"### Migration diff: {' → '.join(edges)}", ""]
    if not diffs:
        return [*lines, f"No behaviour differs between the edges in the {n} tests that ran through each."]
    lines += [f"{len(diffs)} behaviours differ in {len({d.test for d in diffs})} of {n} tests that ran through "
              "each edge:", "", "| test | behaviour | " + " | ".join(edges) + " |",
              "|---|---|" + "---|" * len(edges)]
    for d in diffs:
        vals = dict(d.values)
        cells = [d.test, d.what, *(vals.get(e, "not run") for e in edges)]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return lines


__all__ = ["COMPARED", "EdgeDifference", "SECONDS_SLACK", "compared_tests", "edges_of", "markdown_section",
           "migration_diff"]
