"""Each scenario's verdict as a pure function of its measurements.

A scenario collects facts (prober samples, stream recordings, Kubernetes observations, helm
history) into the small dataclasses below and hands them to ``<scenario>_verdict(...)``, which
returns a :class:`Verdict`: ``passed``, a one-line ``reason`` and the ``figures`` for the report.
No I/O happens here, so every criterion is unit-tested on synthetic measurements, including the
way each one fails (tests/unit/test_verdicts.py).

The reason names every failed criterion, most important first, separated by ``"; "``; a passed
verdict's reason summarises the figures that prove it.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from harness.measure.cuts import BUFFERING, Cut, classify
from harness.measure.prober import LATE_SEND_BOUND, percentile, sent_late_by_harness
from harness.scenario.deadlines import (
    Deadlines,
    attributed_kind,
    explain_parts,
    measured,
)


@dataclass(frozen=True)
class Check:
    """One criterion: ``name`` (stable, for tests and reports), ``ok``, ``detail`` (why it failed)."""

    name: str
    ok: bool
    detail: str = ""


@dataclass(frozen=True)
class Verdict:
    """A scenario's outcome.

    Attributes:
        passed: every criterion held.
        reason: one line: ``"PASS: ..."`` or the failed criteria's details joined by ``"; "``.
        figures: numbers for JUnit properties and the session summary.
        failed: names of the failed criteria (empty when passed).
        checks: every criterion judged, in the order the verdict function lists them (the result
            record carries one :class:`harness.scenario.result.CheckResult` per check).
    """

    passed: bool
    reason: str
    figures: dict[str, Any] = field(default_factory=dict)
    failed: tuple[str, ...] = ()
    checks: tuple[Check, ...] = ()

    @classmethod
    def from_checks(cls, checks: Iterable[Check], figures: Mapping[str, Any], summary: str,
                    notes: Iterable[str] = ()) -> Verdict:
        """The verdict of ``checks``: the failed ones' details, or ``"PASS: " + summary``; ``notes``
        (what was measured but not judged, e.g. failed requests the harness sent late) follow either,
        after ``"; "``, so a reader sees them whatever the outcome."""
        checks = list(checks)
        bad = [c for c in checks if not c.ok]
        if bad:
            reason = "; ".join(c.detail or c.name for c in bad)
        else:
            reason = "PASS: " + summary
        reason = "; ".join([reason, *(n for n in notes if n)])
        return cls(not bad, _one_line(reason), dict(figures), tuple(c.name for c in bad), tuple(checks))

    def __str__(self) -> str:
        return self.reason


def _one_line(text: str, limit: int = 900) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _s(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds:.1f} s"


def _names(items: Iterable[str], limit: int = 4) -> str:
    items = list(items)
    more = f" (+{len(items) - limit} more)" if len(items) > limit else ""
    return ", ".join(items[:limit]) + more


# --------------------------------------------------------------------------- shared facts


@dataclass(frozen=True)
class Availability:
    """What the prober saw in the window that matters, as the chart's availability.

    The late-send rule: a failed request whose ticket the harness issued more than ``late_bound``
    seconds behind its schedule (:func:`harness.measure.prober.sent_late_by_harness`: the
    scheduler's own lag, which a busy machine causes and the chart cannot) is not the chart's
    failure. It is left out of ``total``, ``failed``, the longest run and ``classes`` alike (it is
    neither a failure nor a request: counting it as a request would count it as a success nobody
    saw), and it does not break a run of failures around it (a hiccup of the machine must not split
    one outage into two shorter ones). It is counted in ``late_failed`` / ``late_classes`` and named
    in the verdict's message. A late request that succeeded stays a success (the chart served it);
    a request late only because it waited for a worker held by slower requests (what a hanging
    chart causes) stays judged.

    Attributes:
        total: requests judged (sent, less ``late_failed``); failed: those that failed.
        longest_run, longest_seconds: the longest run of consecutive judged failures.
        classes: e.g. ``"HTTP 503 x10, ChunkedEncodingError x2"``.
        window: what the window was (``"during the upgrade"``).
        late_failed: failed requests the harness sent late (not judged); late_classes: theirs.
        late_bound: seconds behind schedule beyond which a send is late.
    """

    total: int
    failed: int
    longest_run: int = 0
    longest_seconds: float = 0.0
    classes: str = ""
    window: str = "during the disruption"
    late_failed: int = 0
    late_classes: str = ""
    late_bound: float = LATE_SEND_BOUND

    @classmethod
    def from_probe(cls, result: Any, window: str, *, late_bound: float = LATE_SEND_BOUND) -> Availability:
        """From a :class:`harness.measure.prober.ProbeResult` (or its ``between(...)`` window), with
        the failed requests the harness sent late set apart (the late-send rule above)."""
        late = result.late_failed(late_bound)
        judged = result.without_late_failures(late_bound)
        run, seconds = judged.longest_failure_run()
        return cls(judged.total, judged.failed_count, run, seconds, judged.describe_failures(), window,
                   late_failed=len(late), late_classes=_classes(x.error for x in late), late_bound=late_bound)


def _classes(errors: Iterable[str | None]) -> str:
    """``"HTTP 503 x2, ReadTimeout x1"``, most frequent first."""
    return ", ".join(f"{k} x{v}" for k, v in Counter(e for e in errors if e).most_common())


def late_failed_note(late_failed: int, failed: int, late_bound: float, window: str, classes: str = "") -> str:
    """The message clause for failed requests the harness sent late ("" when there are none).

    Args:
        late_failed: failed requests the harness sent late (not judged).
        failed: the failures that were judged (0: every failure was a late send, said so plainly).
        late_bound: seconds behind schedule beyond which a send is late.
        window: ``"during the upgrade"``.
        classes: the late ones' failure classes.

    The clause never contains the words of a negative control's pattern (``requests failed``), so
    it cannot make a control look caught.
    """
    if not late_failed:
        return ""
    what = f"sent late by the harness (> {late_bound:g} s behind schedule{'; ' + classes if classes else ''})"
    if failed == 0:
        every = (f"the only failed request {window} was {what} and is" if late_failed == 1 else
                 f"all {late_failed} failed requests {window} were {what} and are")
        return f"{every} not counted: the machine, not the chart, was too busy to probe on time"
    return f"{late_failed} failed request{'s' if late_failed != 1 else ''} {what} not counted"


def availability_check(a: Availability, budget: int, *, min_requests: int = 1) -> Check:
    """``failed <= budget`` and at least ``min_requests`` were judged (a prober that sent nothing
    proves nothing); ``failed`` and ``total`` leave out the failed requests the harness sent late
    (:class:`Availability`)."""
    if a.total < min_requests:
        if a.late_failed:
            return Check("availability", False,
                         f"only {a.total} requests {a.window} could be judged (at least {min_requests} needed): "
                         f"{a.late_failed} more failed but were sent late by the harness (> {a.late_bound:g} s "
                         "behind schedule): the machine, not the chart, was too busy to probe on time")
        return Check("availability", False, f"the prober sent only {a.total} requests {a.window} "
                                            f"(at least {min_requests} needed to judge availability)")
    if a.failed > budget:
        return Check("availability", False,
                     f"{a.failed} of {a.total} requests failed {a.window} (budget {budget}): {a.classes}; "
                     f"longest outage {a.longest_run} requests / {a.longest_seconds:.1f} s")
    return Check("availability", True, availability_note(a))  # the record's check says what was set apart


def availability_note(a: Availability) -> str:
    """:func:`late_failed_note` of ``a`` (for :meth:`Verdict.from_checks`' ``notes``)."""
    return late_failed_note(a.late_failed, a.failed, a.late_bound, a.window, a.late_classes)


def availability_figures(a: Availability, budget: int) -> dict[str, Any]:
    """The judged availability (``requests``, ``failed_requests``, the longest run, ``failure_classes``:
    without the failed requests the harness sent late) and those set apart:
    ``probe_late_failed_count``, ``probe_late_failure_classes``."""
    return {"requests": a.total, "failed_requests": a.failed, "failure_budget": budget,
            "longest_failure_run": a.longest_run, "longest_failure_seconds": a.longest_seconds,
            "failure_classes": a.classes, "probe_late_failed_count": a.late_failed,
            "probe_late_failure_classes": a.late_classes}


@dataclass(frozen=True)
class PodsFacts:
    """The release's pods after the operation.

    Attributes:
        images: ``{pod: [image, ...]}`` of the workload pods (not Jobs), terminating ones excluded.
        ready: Ready pods; desired: replicas the workloads want.
        versions: versions the last answers through the ingress reported (may be empty when the
            service does not say).
    """

    images: Mapping[str, Sequence[str]]
    ready: int
    desired: int
    versions: Sequence[str] = ()


NOT_DECLARED = "not declared"
"""The ``version_from`` figure of a chart whose contract has no ``versionFrom``: its answers'
version is not checked (the application need not say who it is)."""


def version_figures(version_from: str | None) -> dict[str, str]:
    """``{"version_from": "json: version"}``, or ``"not declared"`` (a figure, never a failure)."""
    return {"version_from": version_from or NOT_DECLARED}


def runs_version_check(name: str, pods: PodsFacts, *, want_images: Iterable[str], want_version: str | None,
                       which: str) -> Check:
    """Every pod runs only ``want_images``, all are Ready, and the answers report ``want_version``
    (not checked when ``want_version`` is None)."""
    want = set(want_images)
    wrong = {p: [i for i in imgs if i not in want] for p, imgs in pods.images.items()}
    wrong = {p: v for p, v in wrong.items() if v}
    problems = []
    if wrong:
        problems.append(f"pods not running the {which} images ({_names(sorted(want))}): "
                        + _names(f"{p} ({', '.join(v)})" for p, v in sorted(wrong.items())))
    if pods.ready < pods.desired or not pods.images:
        problems.append(f"{pods.ready}/{pods.desired} pods Ready")
    if want_version and pods.versions:
        other = sorted({v for v in pods.versions if v != want_version})
        if other:
            problems.append(f"answers still report version {', '.join(other)} (want {want_version})")
    return Check(name, not problems, "; ".join(problems))


@dataclass(frozen=True)
class DataFacts:
    """The chart's declared data check (the contract's ``data``, harness/core/datacheck.py) around a
    disruption: records written before it, read back after it.

    Attributes:
        written: one label per record written before (``rollback-1a2b3c4d5e6f (id=7)``).
        read_failures: one line per record that did not read back as declared, naming the step
            (``rollback-1a2b...: data.read GET /items/7: JSON value is 'x' (want 'rollback-1a2b...')``).
        write_failure: the write step's last failure line when nothing could be written.
        write_after: the failure line of a fresh write after the disruption (None: it succeeded
            or was not attempted).
    """

    written: Sequence[str]
    read_failures: Sequence[str] = ()
    write_failure: str | None = None
    write_after: str | None = None


DATA_NOT_DECLARED = "data integrity: not declared"


def data_check(d: DataFacts | None) -> Check:
    """Data written before the disruption is intact and a new write succeeds. ``d`` None: the
    contract declares no data check, which is reported (:data:`DATA_NOT_DECLARED`), not failed."""
    if d is None:
        return Check("data", True, DATA_NOT_DECLARED)
    if not d.written:
        return Check("data", False, "no data could be written before the disruption, so its survival is unproven"
                     + (f": {d.write_failure}" if d.write_failure else ""))
    problems = []
    if d.read_failures:
        problems.append(f"data written before is not intact ({len(d.read_failures)} of {len(d.written)} "
                        f"records): {_names(d.read_failures, 2)}")
    if d.write_after is not None:
        problems.append(f"a write after the disruption failed: {d.write_after}")
    return Check("data", not problems, "; ".join(problems))


def data_figures(d: DataFacts | None) -> dict[str, Any]:
    """``data_integrity``: ``not declared``, ``2 of 2 records intact``, ``nothing written``."""
    if d is None:
        return {"data_integrity": "not declared"}
    if not d.written:
        return {"data_integrity": "nothing written"}
    return {"data_integrity": f"{len(d.written) - len(d.read_failures)} of {len(d.written)} records intact"}


# --------------------------------------------------------------------------- upgrade


@dataclass(frozen=True)
class MigrationFacts:
    """The migration hook during an upgrade.

    Attributes:
        jobs: hook Jobs created during the upgrade: ``[(name, outcome)]`` with outcome
            ``succeeded`` / ``failed`` / ``unknown``.
        completed_at: wall time the (last) migration Job completed (None: never seen completing).
        first_new_ready_at: wall time the first pod of the new version was seen Ready.
        table_rows: migration runs the chart's own record counted during the upgrade: the
            contract's ``data.migrations`` statement after the upgrade less before it (None: not
            declared, or not readable).
    """

    jobs: Sequence[tuple[str, str]]
    completed_at: float | None
    first_new_ready_at: float | None
    table_rows: int | None = None


def migration_check(m: MigrationFacts | None) -> Check:
    if m is None:
        return Check("migration", True)
    problems = []
    ran = len(m.jobs)
    failed = [n for n, o in m.jobs if o == "failed"]
    if ran != 1:
        problems.append(f"the migration hook ran {ran} times during the upgrade (want exactly once"
                        + (f": {_names(n for n, _ in m.jobs)})" if m.jobs else ")"))
    if failed:
        problems.append(f"migration Job failed: {_names(failed)}")
    if m.table_rows is not None and m.table_rows != 1:
        problems.append(f"the migrations table recorded {m.table_rows} runs during the upgrade (want 1)")
    if ran >= 1 and not failed:
        if m.completed_at is None:
            problems.append("the migration Job was never seen completing")
        elif m.first_new_ready_at is None:
            problems.append("no pod of the new version was seen becoming Ready")
        elif m.completed_at > m.first_new_ready_at:
            problems.append(f"a new pod was Ready {m.completed_at - m.first_new_ready_at:.1f} s before the "
                            "migration completed")
    return Check("migration", not problems, "; ".join(problems))


@dataclass(frozen=True)
class ReleaseFacts:
    """``status`` and ``revision`` of the release after the operation; ``expected_revision``."""

    status: str
    revision: int
    expected_revision: int


@dataclass(frozen=True)
class OldPodTraffic:
    """The probed requests one old pod served (from the edge's log).

    Attributes:
        pod: its name. requests: how many it served in the judged window.
        last_request: epoch seconds the edge started the last one; last_t: the same as seconds
            since the prober started (for the plot).
        terminated: epoch seconds it terminated (see :class:`harness.scenario.attribution.PodLife`),
            None when it did not.
        after_termination: requests the edge started later than ``terminated`` (plus the tolerance).
    """

    pod: str
    requests: int
    last_request: float
    last_t: float
    terminated: float | None = None
    after_termination: int = 0

    @property
    def margin(self) -> float | None:
        """Seconds from the last request to the termination (negative: traffic after it); None when
        the pod did not terminate."""
        return None if self.terminated is None else round(self.terminated - self.last_request, 3)


@dataclass(frozen=True)
class AttributionFacts:
    """Who served the probed requests, from the edge's access log matched to pod IPs over time
    (:func:`harness.scenario.attribution.attribution_facts`), whatever the application answers.

    Attributes:
        source: what was read (``traefik access log``).
        unavailable: why nothing could be attributed ("" when attribution worked): then the checks
            below are not judged, and the figure ``attribution`` says why.
        requests: probed requests in the window; old, new: served by old / candidate pods.
        unattributed: ``{reason: count}`` of requests with no pod (no log line, answered by the
            edge itself, an upstream address no pod had).
        rollout_done_t: seconds since the prober started when the rollout was seen complete (None:
            it was not). after_rollout_old: ``(pod, t)`` of requests an old pod served after that.
        old_pods: per old pod, its traffic and termination. spans: ``"old 0.0-10.8 s, new 4.6-15.0 s"``.
        mixed_seconds: seconds in which both old and new pods served. started_wall: the prober's start.
    """

    source: str
    unavailable: str = ""
    requests: int = 0
    old: int = 0
    new: int = 0
    unattributed: Mapping[str, int] = field(default_factory=dict)
    rollout_done_t: float | None = None
    after_rollout_old: Sequence[tuple[str, float]] = ()
    old_pods: Sequence[OldPodTraffic] = ()
    spans: str = ""
    mixed_seconds: float = 0.0
    started_wall: float = 0.0

    @property
    def available(self) -> bool:
        return not self.unavailable


SERVED_BY_CANDIDATE = "served by candidate after rollout"
OLD_PODS_DRAINED = "old pods drained before termination"


def served_by_candidate_check(a: AttributionFacts | None) -> Check:
    """Every probed request the edge sent after the rollout was seen complete went to a candidate pod."""
    if a is None or not a.available:
        return Check(SERVED_BY_CANDIDATE, True, "not judged: attribution unavailable"
                     + (f" ({a.unavailable})" if a is not None else ""))
    if a.rollout_done_t is None:
        return Check(SERVED_BY_CANDIDATE, True, "not judged: the rollout was not seen completing")
    if not a.after_rollout_old:
        return Check(SERVED_BY_CANDIDATE, True)
    pods = sorted({p for p, _ in a.after_rollout_old})
    first = min(t for _, t in a.after_rollout_old)
    return Check(SERVED_BY_CANDIDATE, False,
                 f"{len(a.after_rollout_old)} requests were served by old pods after the rollout completed "
                 f"(at {a.rollout_done_t:.1f} s; first at {first:.1f} s): {_names(pods)}")


def old_pods_drained_check(a: AttributionFacts | None) -> Check:
    """No old pod was sent a probed request after it terminated (its containers stopped, its deletion
    deadline passed, or it was deleted)."""
    if a is None or not a.available:
        return Check(OLD_PODS_DRAINED, True, "not judged: attribution unavailable"
                     + (f" ({a.unavailable})" if a is not None else ""))
    late = [o for o in a.old_pods if o.after_termination]
    if not late:
        return Check(OLD_PODS_DRAINED, True)
    n = sum(o.after_termination for o in late)
    return Check(OLD_PODS_DRAINED, False,
                 f"{n} requests were sent to old pods after they terminated: "
                 + _names(f"{o.pod} ({o.after_termination}, last {-(o.margin or 0.0):.1f} s after)" for o in late))


ATTRIBUTION_FIGURES = ("attribution", "attributed_requests", "unattributed_requests", "unattributed_reasons",
                       "served_by_old_requests", "served_by_new_requests", "served_spans", "mixed_serving_seconds",
                       "old_after_rollout_requests", "old_pods_with_traffic_count", "old_pod_last_request_margin_s",
                       "old_after_termination_requests", "old_pod_last_requests")
"""The attribution figures, by name (stable: the report and docs/scenarios.md read them):

* ``attribution``: ``traefik access log``, or ``unavailable: <why>``;
* ``attributed_requests`` / ``unattributed_requests``: probed requests in the window with / without a pod;
  ``unattributed_reasons``: ``answered by the edge x12, no log line x1``;
* ``served_by_old_requests`` / ``served_by_new_requests``; ``served_spans``: when each side served
  (``old 0.0-10.8 s, new 4.6-15.0 s``); ``mixed_serving_seconds``: seconds in which both did;
* ``old_after_rollout_requests``: requests old pods served after the rollout completed;
* ``old_pods_with_traffic_count``; ``old_pod_last_request_margin_s``: the smallest time from an old
  pod's last request to its termination (negative: it got requests after it terminated);
  ``old_after_termination_requests``; ``old_pod_last_requests``: per old pod, its last request and
  termination in seconds since the prober started.
"""


def attribution_figures(a: AttributionFacts | None) -> dict[str, Any]:
    """The :data:`ATTRIBUTION_FIGURES` (only ``attribution`` when it is unavailable)."""
    if a is None:
        return {"attribution": "unavailable: no edge log was read"}
    if not a.available:
        return {"attribution": f"unavailable: {a.unavailable}"}
    margins = [o.margin for o in a.old_pods if o.margin is not None]
    per_pod = ", ".join(
        f"{o.pod} last {o.last_t:.1f} s"
        + (f", terminated {o.last_t + o.margin:.1f} s" if o.margin is not None else ", not terminated")
        for o in list(a.old_pods)[:6]) + (f" (+{len(a.old_pods) - 6} more)" if len(a.old_pods) > 6 else "")
    return {
        "attribution": a.source,
        "attributed_requests": a.old + a.new,
        "unattributed_requests": sum(a.unattributed.values()),
        "unattributed_reasons": ", ".join(f"{k} x{v}" for k, v in sorted(a.unattributed.items(), key=lambda kv: -kv[1])),
        "served_by_old_requests": a.old,
        "served_by_new_requests": a.new,
        "served_spans": a.spans,
        "mixed_serving_seconds": a.mixed_seconds,
        "old_after_rollout_requests": len(a.after_rollout_old),
        "old_pods_with_traffic_count": len(a.old_pods),
        "old_pod_last_request_margin_s": min(margins) if margins else None,
        "old_after_termination_requests": sum(o.after_termination for o in a.old_pods),
        "old_pod_last_requests": per_pod,
    }


def upgrade_verdict(*, availability: Availability, budget: int, pods: PodsFacts, candidate_images: Iterable[str],
                    candidate_version: str | None, release: ReleaseFacts, migration: MigrationFacts | None = None,
                    upgrade_error: str | None = None, data: DataFacts | None = None,
                    extra_figures: Mapping[str, Any] | None = None,
                    version_from: str | None = "json: version",
                    attribution: AttributionFacts | None = None) -> Verdict:
    """Upgrade from the released version to the candidate while serving.

    Pass when: failed requests <= budget (a failed request the harness sent late is not the chart's:
    it is reported apart, see :class:`Availability`); the migration hook (if any) ran exactly once and completed
    before the first new pod was Ready; every pod runs the candidate (and, when ``version_from``
    names where the application reports its version, the last answers report
    ``candidate_version``; None: figure ``version_from`` "not declared", not checked); from the
    edge's log (when it could be read: ``attribution``), every request after the rollout completed
    went to a candidate pod and no old pod was sent one after it terminated; the release is
    ``deployed`` at the next revision; data written before the upgrade reads back (``data`` None:
    not declared, reported as a figure, not a failure).
    """
    checks = [
        Check("helm upgrade", upgrade_error is None, f"helm upgrade failed: {upgrade_error}"),
        availability_check(availability, budget),
        migration_check(migration),
        runs_version_check("candidate everywhere", pods, want_images=candidate_images,
                           want_version=candidate_version if version_from else None, which="candidate"),
        served_by_candidate_check(attribution),
        old_pods_drained_check(attribution),
        Check("release", release.status == "deployed" and release.revision == release.expected_revision,
              f"release is {release.status} at revision {release.revision} "
              f"(want deployed at {release.expected_revision})"),
        data_check(data),
    ]
    figures = {**availability_figures(availability, budget), "release_revision": release.revision,
               "release_status": release.status, **data_figures(data), **version_figures(version_from),
               **attribution_figures(attribution),
               **(extra_figures or {})}
    if migration is not None:
        figures["migration_jobs"] = len(migration.jobs)
        if migration.completed_at and migration.first_new_ready_at:
            figures["migration_lead_seconds"] = round(migration.first_new_ready_at - migration.completed_at, 2)
    return Verdict.from_checks(checks, figures,
                               f"{availability.total} requests, {availability.failed} failed (budget {budget}); "
                               f"{len(pods.images)} pods on {candidate_version or 'the candidate'}; "
                               f"revision {release.revision} deployed"
                               + (f"; edge log: {attribution.old} requests to old pods, {attribution.new} to new"
                                  if attribution is not None and attribution.available else ""),
                               notes=[availability_note(availability)])


# --------------------------------------------------------------------------- rollback


@dataclass(frozen=True)
class FailedUpgrade:
    """How the deliberately failing upgrade ended.

    Attributes:
        kind: ``readiness`` (helm gave up waiting for the new pods: the intended failure),
            ``hook`` (a pre-upgrade hook failed before any pod changed), ``other`` (another helm
            error), ``succeeded`` (helm reported success although the new pods cannot be Ready).
        error: helm's error line (None when it succeeded).
    """

    kind: str
    error: str | None = None


def classify_upgrade_error(error: str | None) -> FailedUpgrade:
    """Sort a helm upgrade error into :class:`FailedUpgrade` kinds from helm's message."""
    if error is None:
        return FailedUpgrade("succeeded")
    e = error.lower()
    if "pre-upgrade hook" in e or ("hook" in e and "fail" in e):
        return FailedUpgrade("hook", error)
    if any(s in e for s in ("timed out waiting", "context deadline exceeded", "not ready", "deadline",
                            "progress deadline", "resource not ready")):
        return FailedUpgrade("readiness", error)
    return FailedUpgrade("other", error)


def rollback_verdict(*, availability: Availability, budget: int, failed_upgrade: FailedUpgrade,
                     history: Sequence[Mapping[str, Any]], failed_revision: int, rollback_to: int,
                     pods: PodsFacts, released_images: Iterable[str], released_version: str | None,
                     data: DataFacts | None, rollback_error: str | None = None,
                     extra_figures: Mapping[str, Any] | None = None,
                     version_from: str | None = "json: version") -> Verdict:
    """An upgrade to a candidate whose new pods never become Ready, then ``helm rollback``.

    Pass when: the upgrade failed the intended way (the candidate's own hooks and manifests were
    applied, only readiness failed), availability held throughout (failed requests the harness
    sent late reported apart, see :class:`Availability`), history shows the failed
    revision and a deployed "Rollback to <n>" revision after it, the released version serves
    everywhere afterwards (its images; its version too where ``version_from`` is declared, as in
    :func:`upgrade_verdict`), and data written before the upgrade is intact.
    """
    fu = failed_upgrade
    if fu.kind == "readiness":
        upgrade = Check("failed upgrade", True)
    elif fu.kind == "hook":
        upgrade = Check("failed upgrade", False,
                        f"the upgrade to the candidate failed in a pre-upgrade hook before any pod was replaced "
                        f"({fu.error}): the candidate cannot be upgraded to, so there is nothing of it to roll back")
    elif fu.kind == "succeeded":
        upgrade = Check("failed upgrade", False,
                        "the upgrade whose new pods can never become Ready reported success: helm did not wait "
                        "for readiness, so the failure to roll back from never showed")
    else:
        upgrade = Check("failed upgrade", False, f"the upgrade failed for another reason than readiness: {fu.error}")

    by_rev = {int(h.get("revision", 0)): h for h in history}
    failed_h = by_rev.get(failed_revision)
    last = by_rev[max(by_rev)] if by_rev else {}
    hist_problems = []
    if failed_h is None or failed_h.get("status") != "failed":
        hist_problems.append(f"revision {failed_revision} is "
                             f"{failed_h.get('status') if failed_h else 'missing'} (want failed)")
    if not last or int(last.get("revision", 0)) <= failed_revision or last.get("status") != "deployed" \
            or not str(last.get("description", "")).startswith(f"Rollback to {rollback_to}"):
        hist_problems.append("the last revision is "
                             + (f"{last.get('revision')} {last.get('status')} ({last.get('description')!r})"
                                if last else "missing")
                             + f" (want deployed 'Rollback to {rollback_to}' after revision {failed_revision})")
    checks = [
        upgrade,
        Check("helm rollback", rollback_error is None, f"helm rollback failed: {rollback_error}"),
        availability_check(availability, budget),
        Check("history", not hist_problems, "history: " + "; ".join(hist_problems)),
        runs_version_check("released everywhere", pods, want_images=released_images,
                           want_version=released_version if version_from else None, which="released"),
        data_check(data),
    ]
    figures = {**availability_figures(availability, budget), "failed_upgrade": fu.kind, **version_figures(version_from),
               "history": " ".join(f"{h.get('revision')}:{h.get('status')}" for h in history),
               **data_figures(data), **(extra_figures or {})}
    return Verdict.from_checks(checks, figures,
                               f"upgrade failed on readiness, rolled back to revision {rollback_to}; "
                               f"{availability.total} requests, {availability.failed} failed (budget {budget}); "
                               f"{len(pods.images)} pods on {released_version or 'the released version'}",
                               notes=[availability_note(availability)])


# --------------------------------------------------------------------------- drain


@dataclass(frozen=True)
class DrainFacts:
    """What :func:`harness.k8s.drain.drain_node` did.

    Attributes:
        node: the drained node. outcome: ``done``, ``blocked`` (a PDB never allowed), ``timeout``
        or ``error``. seconds: how long it took; budget: its time budget.
        evicted: pods evicted. refusals: 429 answers (retried). pdb: the PDB that refused last.
        message: the drain's own one-line message when it did not finish.
        refusals_expected: the PDBs allowed fewer disruptions at the start than there were pods
            to evict, so a correct drain must have been refused at least once.
    """

    node: str
    outcome: str
    seconds: float
    budget: float
    evicted: int
    refusals: int
    pdb: str | None = None
    message: str = ""
    refusals_expected: bool = False


@dataclass(frozen=True)
class RescheduleFacts:
    """After the drain: ``ready``/``desired`` replicas, pods still on the drained node, seconds waited."""

    ready: int
    desired: int
    on_drained_node: Sequence[str] = ()
    seconds: float = 0.0


def drain_verdict(*, availability: Availability, budget: int, drain: DrainFacts, after: RescheduleFacts,
                  extra_figures: Mapping[str, Any] | None = None) -> Verdict:
    """Cordon a worker and evict the release's pods there through the Eviction API.

    Pass when: the drain finished within its budget (a PDB that never allows fails with "drain
    blocked by PodDisruptionBudget <name>"), the PDB was respected (refused evictions were retried;
    when the PDB allowed fewer disruptions than pods on the node, at least one refusal was seen),
    availability held (failed requests the harness sent late reported apart, see
    :class:`Availability`), and the pods are Ready elsewhere.
    """
    if drain.outcome == "done" and drain.seconds <= drain.budget:
        finished = Check("drain finished", True)
    elif drain.outcome == "blocked" or (drain.outcome == "timeout" and drain.pdb):
        head = f"drain blocked by PodDisruptionBudget {drain.pdb}"
        msg = drain.message or "every eviction refused"
        finished = Check("drain finished", False, msg if msg.startswith(head) else f"{head}: {msg}")
    else:
        finished = Check("drain finished", False, f"drain of {drain.node} did not finish within "
                                                  f"{drain.budget:.0f} s ({drain.outcome}): {drain.message}")
    respected = Check("PDB respected", not (drain.refusals_expected and drain.refusals == 0 and drain.outcome == "done"),
                      "no eviction was refused although the PodDisruptionBudget allowed fewer disruptions than "
                      "pods on the node: the budget did not protect the replicas")
    resched_problems = []
    if after.ready < after.desired:
        resched_problems.append(f"{after.ready}/{after.desired} replicas Ready after the drain")
    if after.on_drained_node:
        resched_problems.append(f"pods still on {drain.node}: {_names(after.on_drained_node)}")
    checks = [finished, respected, availability_check(availability, budget),
              Check("rescheduled", not resched_problems, "; ".join(resched_problems))]
    figures = {**availability_figures(availability, budget), "drain_node": drain.node,
               "drain_outcome": drain.outcome, "drain_seconds": round(drain.seconds, 2),
               "drain_budget_seconds": drain.budget, "evicted": drain.evicted, "eviction_refusals_429": drain.refusals,
               "reschedule_seconds": round(after.seconds, 2), **(extra_figures or {})}
    return Verdict.from_checks(checks, figures,
                               f"{drain.evicted} pods evicted from {drain.node} in {drain.seconds:.1f} s "
                               f"(budget {drain.budget:.0f} s, {drain.refusals} refusals retried); "
                               f"{availability.total} requests, {availability.failed} failed (budget {budget})",
                               notes=[availability_note(availability)])


# --------------------------------------------------------------------------- sse


def _cut_lines(cuts: Sequence[Cut], d: Deadlines) -> list[str]:
    """One line per (kind, attribution): ``"stream-1, stream-2: quiet stream cut after 60.0 s (...)
    (2 times, 60.0-60.3 s): idle timeout (edge traefik-nginx; Ingress proxy-read-timeout 60 s)"``."""
    groups: dict[str, list[Cut]] = {}
    for c in cuts:
        groups.setdefault(explain_parts(c, d)[1], []).append(c)
    out = []
    for tail, cs in groups.items():
        names = _names(sorted({c.stream for c in cs}))
        what = explain_parts(cs[0], d)[0]
        secs = [measured(c, d) for c in cs]
        spread = f" ({len(cs)} times, {min(secs):.1f}-{max(secs):.1f} s)" if len(cs) > 1 else ""
        out.append(f"{names}: {what}{spread}: {tail}")
    return out


def sse_verdict(*, hold: Sequence[Any], rollout: Sequence[Any] | None, margin: float, reconnect_bound: float,
                hold_seconds: float, deadlines: Deadlines, findings: Sequence[Cut] | None = None,
                extra_figures: Mapping[str, Any] | None = None) -> Verdict:
    """Streams held through the edge, then a rolling restart while they are open.

    Args:
        hold: :class:`harness.measure.sse.SseResult` windows covering the hold, one per stream.
        rollout: windows covering the rollout (None: the rollout phase did not run).
        margin: a stream must carry a byte at least every ``idle timeout - margin`` seconds.
        reconnect_bound: longest acceptable time from a disconnect to the next connect.
        hold_seconds: how long the hold lasted.
        deadlines: the edge under test and the release's stream configuration
            (:class:`harness.scenario.deadlines.Deadlines`): what each cut is attributed to.
        findings: :func:`harness.measure.cuts.classify` of the whole recordings: the cuts of the
            hold window and every held response (default: classify the hold windows themselves).

    Pass when: no response was held back (proxy buffering: :data:`harness.measure.cuts.HELD_SECONDS`
    without a first byte, or a body that arrived in one burst at the close); during the hold no
    stream was cut (each cut is told apart as an idle timeout or a total deadline from its own
    timing, and attributed to the configured value that fits); no stream was silent for the edge's
    idle timeout ``- margin`` or longer (when the edge under test has no idle timeout, the same
    criterion with an nginx ingress's, labelled as a prediction); no HTTPRoute total deadline
    (``timeouts.request``/``backendRequest``) shorter than the hold that the edge under test ignores
    (a Gateway that honours it cuts every stream there, GEP-1742; labelled as a prediction, since on
    an edge that honours it the "no cut during hold" check measures it); during the rollout every
    disconnect was followed by a reconnect within the bound, no reconnect was refused, and no event
    id was missed or duplicated across a reconnect.
    """
    d = deadlines
    if findings is None:
        findings = [c for s in hold for c in classify(s)]
    held = [c for c in findings if c.kind == BUFFERING]
    cuts = [c for c in findings if c.kind != BUFFERING]
    idle, idle_why = d.idle()
    if idle is not None:
        limit, limit_why = idle, f"within {margin:.0f} s of the idle timeout of {d.edge.label} ({idle_why}), so it cuts them"
    else:
        limit, why = d.nginx_prediction()
        limit_why = (f"prediction for an nginx ingress, not under test ({d.edge.label}: {idle_why}): within "
                     f"{margin:.0f} s of its idle timeout ({why}), so nginx cuts them")
    allowed_silence = max(1.0, limit - margin)
    problems_quiet, silences = [], []
    for s in hold:
        silences.append(s.longest_silence(connected_only=True)[0])
        silence, at = s.longest_silence(uncut_only=True)
        if silence >= allowed_silence:
            problems_quiet.append(f"{s.name} silent {silence:.0f} s from {at:.0f} s")
    refused = [f"{s.name} refused {s.failed_attempts[0].data}" for s in hold if s.failed_attempts]
    # a total deadline the edge under test ignores is only predicted: measured where it is honoured
    unheard = [(secs, text) for secs, text, honoured in d.totals() if not honoured and secs < hold_seconds]
    checks = [
        Check("not buffered", not held, f"responses held back: {'; '.join(_cut_lines(held, d))}"),
        Check("no cut during hold", not cuts and not refused,
              f"streams were cut during the {hold_seconds:.0f} s hold: {'; '.join(_cut_lines(cuts, d) + refused)}"),
        Check("heartbeat", not problems_quiet,
              f"streams went silent for at least {allowed_silence:.0f} s, {limit_why}: {_names(problems_quiet)}"),
        Check("route deadline", not unheard,
              "streams would be cut by a Gateway that honours HTTPRoute timeouts (prediction, not under test: "
              f"{d.edge.label} ignores them): " + "; ".join(
                  f"{text} is shorter than the {hold_seconds:.0f} s hold: total deadline at {secs:g} s"
                  for secs, text in unheard)),
    ]
    kinds = Counter(attributed_kind(c, d) for c in cuts)
    figures: dict[str, Any] = {"streams": len(hold), "hold_seconds": round(hold_seconds, 1),
                               "edge": d.edge.name, "edge_idle_timeout_s": idle,
                               "proxy_read_timeout": d.nginx_prediction()[0],
                               "hold_longest_silence_s": max(silences) if silences else None,
                               "hold_disconnects": sum(len(s.disconnects) for s in hold),
                               "hold_cut_kinds": ", ".join(f"{k} x{n}" for k, n in sorted(kinds.items())) or None,
                               "held_responses": len(held)}
    if rollout is not None:
        slow, refused, missed, dups, never = [], [], [], [], []
        latencies = []
        for s in rollout:
            for lat, d_ in zip(s.reconnect_latencies(), s.disconnects, strict=False):
                if lat is None:
                    never.append(f"{s.name} (cut at {d_.t:.1f} s: {d_.data})")
                else:
                    latencies.append(lat)
                    if lat > reconnect_bound:
                        slow.append(f"{s.name} {lat:.1f} s")
            if s.failed_attempts:
                refused.append(f"{s.name}: {', '.join(sorted({r.data for r in s.failed_attempts}))}")
            g = s.gaps_at_reconnect()
            if g:
                missed.append(f"{s.name} missed {s.missed_count(g)} ids ({_names(f'{a}-{b}' if a != b else str(a) for a, b in g)})")
            dup = s.duplicates()
            if dup:
                dups.append(f"{s.name} got {len(dup)} ids twice ({_names(str(i) for i in dup)})")
        checks += [
            Check("reconnected", not never,
                  f"streams never reconnected after the rollout cut them ({d.edge.label}): {_names(never)}"),
            Check("reconnect time", not slow,
                  f"reconnects took longer than {reconnect_bound:.0f} s ({d.edge.label}): {_names(slow)}"),
            Check("reconnect accepted", not refused,
                  f"reconnects were refused during the rollout ({d.edge.label}): {_names(refused)}"),
            Check("no missed ids", not missed, f"event ids missed across reconnects: {_names(missed)}"),
            Check("no duplicate ids", not dups, f"event ids delivered twice: {_names(dups)}"),
        ]
        figures.update({"rollout_disconnects": sum(len(s.disconnects) for s in rollout),
                        "rollout_max_reconnect_s": max(latencies) if latencies else None,
                        "rollout_reconnect_p50_s": percentile(latencies, 50),
                        "rollout_reconnect_p99_s": percentile(latencies, 99),
                        "rollout_events": sum(len(s.events) for s in rollout),
                        "rollout_missed_ids": sum(s.missed_count(s.gaps_at_reconnect()) for s in rollout),
                        "rollout_duplicate_ids": sum(len(s.duplicates()) for s in rollout)})
    else:
        checks.append(Check("rollout", False, "the rolling restart did not run"))
    figures.update(extra_figures or {})
    worst = max(silences) if silences else 0.0
    return Verdict.from_checks(checks, figures,
                               f"{len(hold)} streams held {hold_seconds:.0f} s uncut through {d.edge.label} "
                               f"(longest silence {worst:.0f} s; {idle_why}); rollout: "
                               f"{figures.get('rollout_disconnects', 0)} reconnects, max "
                               f"{_s(figures.get('rollout_max_reconnect_s'))}, no ids missed or repeated")


# --------------------------------------------------------------------------- db outage


@dataclass(frozen=True)
class IngressAnswers:
    """Answers through the ingress once the pods should be out of the Service.

    The late-send rule of :class:`Availability` holds here too: a request that got neither the
    ingress's own 503 nor an answer from the pods (an error or another status: what ``other``
    counts) and that the harness sent more than ``late_bound`` seconds behind schedule is not
    judged: it is left out of ``total`` and ``other`` and counted in ``late_failed``. A proxy 503
    or an answer from the pods is judged however late it was sent (it says what the chart did).

    Attributes:
        total: requests judged in the window (sent, less ``late_failed``).
        proxy_503: 503s generated by the ingress controller (not the service's own JSON).
        passed_through: answers that came from the pods (2xx, or the service's own error bodies).
        other: other statuses / errors, e.g. ``{"HTTP 502": 3, "ReadTimeout": 1}``.
        late_failed: requests of the ``other`` kinds the harness sent late (not judged);
            late_classes: theirs (``"ReadTimeout x2"``); late_bound: seconds.
    """

    total: int
    proxy_503: int
    passed_through: int = 0
    other: Mapping[str, int] = field(default_factory=dict)
    late_failed: int = 0
    late_classes: str = ""
    late_bound: float = LATE_SEND_BOUND

    @classmethod
    def from_probe(cls, probe: Any, t_from: float, t_to: float, *,
                   late_bound: float = LATE_SEND_BOUND) -> IngressAnswers:
        """The requests of ``probe`` (a :class:`harness.measure.prober.ProbeResult`) sent between two
        wall times (epoch seconds, ``t_from`` included), sorted into the kinds above."""
        sel = [s for s in probe.sent if t_from <= s.wall < t_to]
        proxy_503 = through = late = 0
        other: dict[str, int] = {}
        late_kinds: list[str] = []
        for s in sel:
            if s.status == 503 and s.source == "proxy":
                proxy_503 += 1
            elif s.status is not None and (s.source == "app" or 200 <= s.status < 300):
                through += 1
            else:
                key = s.error or f"HTTP {s.status}"
                if sent_late_by_harness(s, probe.rate, late_bound):
                    late += 1
                    late_kinds.append(key)
                else:
                    other[key] = other.get(key, 0) + 1
        return cls(len(sel) - late, proxy_503, through, other, late, _classes(late_kinds), late_bound)


@dataclass(frozen=True)
class OutageFacts:
    """One database outage as one release saw it.

    Attributes:
        fault: ``stop``, ``pause`` or ``disconnect``.
        duration: seconds the database was away.
        not_ready_bound: seconds within which every pod must be NotReady (from the rendered
            readiness probe: periodSeconds x failureThreshold + timeoutSeconds + margin).
        not_ready_after: ``{pod: seconds after the fault until seen NotReady, or None}``.
        endpoints_empty_after: seconds until the Service had no ready endpoints (None: never).
        ingress: answers in the judged window.
        restarts: ``{"pod/container": added restarts}`` over the outage and recovery.
        recovery_bound: seconds within which every pod must be Ready again after the database returned.
        ready_after_recovery: seconds until all pods were Ready again (None: not within the wait).
        data: data written before the outage, read after it.
    """

    fault: str
    duration: float
    not_ready_bound: float
    not_ready_after: Mapping[str, float | None]
    endpoints_empty_after: float | None
    ingress: IngressAnswers
    restarts: Mapping[str, int]
    recovery_bound: float
    ready_after_recovery: float | None
    data: DataFacts | None = None


def db_outage_verdict(f: OutageFacts, *, extra_figures: Mapping[str, Any] | None = None) -> Verdict:
    """Readiness during a PostgreSQL outage.

    Pass when: every pod became NotReady within the bound, the Service had no ready endpoints, the
    ingress answered 503 itself (no hanging, no 5xx or 2xx passed through from the pods; a failed
    request the harness sent late is reported apart, see :class:`IngressAnswers`), no container
    restarted, every pod was Ready again within the recovery bound after the database returned,
    and data written before the outage is intact.
    """
    stayed = sorted(p for p, t in f.not_ready_after.items() if t is None)
    late = sorted(f"{p} after {t:.1f} s" for p, t in f.not_ready_after.items() if t is not None and t > f.not_ready_bound)
    nr_problems = []
    if stayed:
        nr_problems.append(f"pods stayed Ready through the {f.duration:.0f} s {f.fault} outage: {_names(stayed)}")
    if late:
        nr_problems.append(f"pods went NotReady later than {f.not_ready_bound:.0f} s: {_names(late)}")
    if not f.not_ready_after:
        nr_problems.append("no pods were observed")
    ep_ok = f.endpoints_empty_after is not None
    ing = f.ingress
    bad_ing = []
    if ing.passed_through:
        bad_ing.append(f"{ing.passed_through} answered by the pods")
    bad_ing += [f"{k} x{v}" for k, v in ing.other.items()]
    ing_ok = ing.total > 0 and not bad_ing
    if ing.total:
        no_503 = f"the ingress did not answer 503 once the pods should be out ({_names(bad_ing)} of {ing.total} requests)"
    elif ing.late_failed:
        no_503 = (f"no requests could be judged during the outage: all {ing.late_failed} failed but were sent late by "
                  f"the harness (> {ing.late_bound:g} s behind schedule): the machine, not the chart, was too busy "
                  "to probe on time")
    else:
        no_503 = "no requests were judged during the outage"
    checks = [
        Check("NotReady", not nr_problems, "; ".join(nr_problems)),
        Check("no endpoints", ep_ok, "the Service kept ready endpoints during the outage"),
        Check("ingress 503", ing_ok, no_503),
        Check("no restarts", not f.restarts,
              f"containers restarted during the outage: {_names(f'{k} +{v}' for k, v in sorted(f.restarts.items()))}"),
        Check("recovered", f.ready_after_recovery is not None and f.ready_after_recovery <= f.recovery_bound,
              f"pods not all Ready within {f.recovery_bound:.0f} s after the database returned "
              f"({'after ' + _s(f.ready_after_recovery) if f.ready_after_recovery is not None else 'not at all'})"),
        data_check(f.data),
    ]
    seen = [t for t in f.not_ready_after.values() if t is not None]
    figures = {"fault": f.fault, "outage_seconds": round(f.duration, 1), "not_ready_bound_s": f.not_ready_bound,
               "slowest_not_ready_s": max(seen) if seen else None, "endpoints_empty_after_s": f.endpoints_empty_after,
               "ingress_requests": ing.total, "ingress_503": ing.proxy_503, "ingress_passed_through": ing.passed_through,
               "probe_late_failed_count": ing.late_failed, "probe_late_failure_classes": ing.late_classes,
               "restarts": sum(f.restarts.values()), "recovery_bound_s": f.recovery_bound,
               "ready_after_recovery_s": f.ready_after_recovery, **data_figures(f.data), **(extra_figures or {})}
    return Verdict.from_checks(checks, figures,
                               f"{f.fault}: {len(f.not_ready_after)} pods NotReady within "
                               f"{_s(max(seen) if seen else None)} (bound {f.not_ready_bound:.0f} s), ingress 503 x"
                               f"{ing.proxy_503}, no restarts, Ready {_s(f.ready_after_recovery)} after the database "
                               "returned",
                               notes=[late_failed_note(ing.late_failed, sum(ing.other.values()), ing.late_bound,
                                                       "during the outage", ing.late_classes) if ing.total else ""])


# --------------------------------------------------------------------------- negative controls

EXPECTED_FAILURE = {
    "upgrade": r"requests failed",
    "rollback": r"pre-upgrade hook|requests failed|history:|not running the released|data written before",
    "drain": r"drain blocked by PodDisruptionBudget \S+|requests failed during the drain",
    "sse": r"streams were cut|streams would be cut|streams went silent|responses held back",
    "db_outage": r"restarted|stayed Ready|NotReady later|kept ready endpoints|did not answer 503",
}
"""Per scenario, a pattern a negative control's reason must match: the failure must come from one of
the scenario's own criteria about the chart (never from the harness breaking, which raises instead)."""
