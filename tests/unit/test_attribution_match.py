"""Probed requests matched to the pods that served them (harness/scenario/attribution.py) and the
upgrade's attribution checks (harness/scenario/verdicts.py), on synthetic pod histories and
Traefik-shaped log lines: no cluster."""
from __future__ import annotations

import datetime as dt

from test_attribution_parse import PID, traefik_line

from harness.k8s.watch import PodState
from harness.measure.attribution import NEW, OLD, parse_lines
from harness.measure.prober import Sample
from harness.scenario.attribution import (
    EDGE_ANSWERED,
    NO_LOG_LINE,
    UNKNOWN_UPSTREAM,
    PodLife,
    attribute,
    attribution_facts,
    candidate_revisions,
    lives,
    pod_for,
)
from harness.scenario.verdicts import (
    OLD_PODS_DRAINED,
    SERVED_BY_CANDIDATE,
    AttributionFacts,
    Availability,
    OldPodTraffic,
    PodsFacts,
    ReleaseFacts,
    attribution_figures,
    old_pods_drained_check,
    served_by_candidate_check,
    upgrade_verdict,
)

W0 = 1_800_000_000.0  # the prober's start (epoch seconds)


def iso(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f") + "000Z"


def state(name: str, ip: str, *, rs: str, images=("app:1",), first_seen=W0 - 30, ip_seen=None, created=None,
          deadline=None, finished=None, gone=None, job="") -> PodState:
    return PodState(name, f"uid-{name}", tuple(images), "ReplicaSet", first_seen, job=job, ips=(ip,),
                    ip_seen=first_seen if ip_seen is None else ip_seen,
                    created=first_seen - 60 if created is None else created, owner=rs, revision=rs.rsplit("-", 1)[-1],
                    deletion_deadline=deadline, deleted_at=None if deadline is None else deadline - 30,
                    finished_at=finished, gone_at=gone)


# A rolling update, seconds after W0: old pods a (10.0.0.1) and b (10.0.0.2) of web-old; new pods
# c (10.0.0.3, Ready at 5) and d (10.0.0.1 again: a's IP reused after a was gone, IP at 12).
# a: deletion requested at 6 (deadline 36), containers finished at 11.5, gone at 12.
# b: deletion requested at 9 (deadline 39), finished at 14, gone at 14.5.
def history() -> list[PodState]:
    return [
        state("web-old-a", "10.0.0.1", rs="web-old", deadline=W0 + 36, finished=W0 + 11.5, gone=W0 + 12),
        state("web-old-b", "10.0.0.2", rs="web-old", deadline=W0 + 39, finished=W0 + 14, gone=W0 + 14.5),
        state("web-new-c", "10.0.0.3", rs="web-new", images=("app:2",), first_seen=W0 + 2, ip_seen=W0 + 3,
              created=W0 + 2),
        state("web-new-d", "10.0.0.1", rs="web-new", images=("app:2",), first_seen=W0 + 10, ip_seen=W0 + 12.2,
              created=W0 + 10),
        state("migrate-x", "10.0.0.9", rs="migrate", images=("app:2",), job="migrate"),
    ]


ROUTES = {  # seconds after W0 -> upstream: old pods until they were fenced, then the new ones
    0: "10.0.0.1:8080", 1: "10.0.0.2:8080", 4: "10.0.0.1:8080", 6: "10.0.0.3:8080", 7: "10.0.0.2:8080",
    8: "10.0.0.3:8080", 13: "10.0.0.1:8080", 15: "10.0.0.3:8080",
}


def run(routes=ROUTES, *, extra_lines=(), rolled_out_t=12.5, missing=(), edge_answered=()):
    samples, lines = [], list(extra_lines)
    for seq, t in enumerate(sorted(routes)):
        samples.append(Sample(seq, float(t), W0 + t, 0.01, 200, None))
        if t in missing:
            continue
        addr = None if t in edge_answered else routes[t]
        lines.append(traefik_line(seq, start=iso(W0 + t + 0.002), addr=addr, status=503 if addr is None else 200))
    return attribution_facts(samples, parse_lines(lines, PID), history(), {"app:2"}, rollout_done_t=rolled_out_t,
                             started_wall=W0)


def test_pod_lives_leave_jobs_out_and_know_when_they_ended():
    by = {p.name: p for p in lives(history())}
    assert set(by) == {"web-old-a", "web-old-b", "web-new-c", "web-new-d"}
    assert by["web-old-a"].terminated == W0 + 11.5  # its containers stopped before the deadline and the DELETED event
    assert by["web-old-a"].ip_from == W0 - 90  # seen with its IP in the first list: held it since creation
    assert by["web-new-d"].ip_from == W0 + 12.2 and by["web-new-c"].terminated is None
    assert by["web-old-a"].revision == "ReplicaSet/web-old@old"


def test_candidate_revisions_are_what_is_left_running_the_candidate():
    pods = lives(history())
    assert candidate_revisions(pods, {"app:2"}) == {"ReplicaSet/web-new@new"}
    # same images in both versions (a configuration change): what is left decides
    assert candidate_revisions(pods, set()) == {"ReplicaSet/web-new@new"}


def test_an_ip_belongs_to_whoever_held_it_then():
    pods = lives(history())
    assert pod_for(pods, "10.0.0.1", W0 + 4)[0].name == "web-old-a"
    assert pod_for(pods, "10.0.0.1", W0 + 13) == (next(p for p in pods if p.name == "web-new-d"), False)
    assert pod_for(pods, "10.0.0.2", W0 + 20)[0].name == "web-old-b" and pod_for(pods, "10.0.0.2", W0 + 20)[1]
    assert pod_for(pods, "10.9.9.9", W0) == (None, False)


def test_a_good_rolling_update_passes_both_checks():
    facts, served = run()
    assert facts.available and (facts.old, facts.new, facts.requests) == (4, 4, 8)
    assert [s.side for s in served] == [OLD, OLD, OLD, NEW, OLD, NEW, NEW, NEW]
    assert served[6].pod == "web-new-d"  # 10.0.0.1 at 13 s is the reused IP, not the old pod
    assert facts.after_rollout_old == () and all(o.after_termination == 0 for o in facts.old_pods)
    assert [(o.pod, o.requests) for o in facts.old_pods] == [("web-old-a", 2), ("web-old-b", 2)]
    assert facts.old_pods[0].margin == round(11.5 - 4.002, 3)
    assert served_by_candidate_check(facts).ok and old_pods_drained_check(facts).ok
    figs = attribution_figures(facts)
    assert figs["attributed_requests"] == 8 and figs["unattributed_requests"] == 0 and figs["served_by_old_requests"] == 4
    assert figs["served_spans"] == "old 0.0-7.0 s, new 6.0-15.0 s" and figs["mixed_serving_seconds"] == 0.0
    assert figs["old_pod_last_request_margin_s"] == round(14 - 7.002, 3)  # the closer of the two
    assert figs["old_pod_last_requests"].startswith("web-old-a last 4.0 s, terminated 11.5 s")


def test_an_old_pod_answering_after_the_rollout_fails():
    facts, _ = run({**ROUTES, 14: "10.0.0.2:8080"})
    check = served_by_candidate_check(facts)
    assert not check.ok and "1 requests were served by old pods after the rollout completed" in check.detail
    assert "web-old-b" in check.detail and attribution_figures(facts)["old_after_rollout_requests"] == 1


def test_a_request_sent_to_an_old_pod_after_it_terminated_fails():
    facts, served = run({**ROUTES, 16: "10.0.0.2:8080"}, rolled_out_t=None)  # b finished at 14
    assert served[-1].stale and served[-1].pod == "web-old-b"
    check = old_pods_drained_check(facts)
    assert not check.ok and check.detail.startswith("1 requests were sent to old pods after they terminated")
    assert "web-old-b (1, last 2.0 s after)" in check.detail
    assert attribution_figures(facts)["old_pod_last_request_margin_s"] < 0
    assert served_by_candidate_check(facts).ok and "not judged" in served_by_candidate_check(facts).detail


def test_requests_without_a_pod_are_counted_by_reason():
    facts, served = run({**ROUTES, 9: "10.7.7.7:8080"}, missing={1}, edge_answered={8})
    assert facts.unattributed == {NO_LOG_LINE: 1, EDGE_ANSWERED: 1, UNKNOWN_UPSTREAM: 1}
    figs = attribution_figures(facts)
    assert figs["unattributed_requests"] == 3 and "answered by the edge x1" in figs["unattributed_reasons"]
    assert served_by_candidate_check(facts).ok and old_pods_drained_check(facts).ok


def test_no_line_at_all_makes_attribution_unavailable_not_a_failure():
    samples = [Sample(i, float(i), W0 + i, 0.01, 200, None) for i in range(5)]
    facts, served = attribution_facts(samples, parse_lines(["2026-11-30T08:50:50Z INF hello"], PID), history(),
                                      {"app:2"}, rollout_done_t=3.0, started_wall=W0)
    assert not facts.available and served == []
    assert facts.unavailable.startswith("none of the 5 probed requests has a line in the traefik access log")
    for check in (served_by_candidate_check(facts), old_pods_drained_check(facts)):
        assert check.ok and check.detail.startswith("not judged: attribution unavailable")
    assert attribution_figures(facts) == {"attribution": f"unavailable: {facts.unavailable}"}
    facts, _ = attribution_facts(samples, None, history(), {"app:2"}, rollout_done_t=3.0, started_wall=W0,
                                 unavailable="the edge is ingress-nginx")
    assert attribution_figures(facts) == {"attribution": "unavailable: the edge is ingress-nginx"}


def test_attribute_skips_tickets_that_were_never_sent():
    samples = [Sample(0, 0.0, W0, 0.0, None, "skipped")]
    assert attribute(samples, parse_lines([], PID), [], set()) == []


def _upgrade(attribution):
    return upgrade_verdict(availability=Availability(100, 0), budget=0,
                           pods=PodsFacts({"web-new-c": ["app:2"]}, 1, 1), candidate_images={"app:2"},
                           candidate_version=None, release=ReleaseFacts("deployed", 2, 2), attribution=attribution)


def test_the_upgrade_verdict_judges_attribution_and_reports_its_figures():
    good = _upgrade(AttributionFacts("traefik access log", requests=10, old=4, new=6, rollout_done_t=5.0,
                                     old_pods=(OldPodTraffic("web-old-a", 4, W0 + 3, 3.0, W0 + 9),)))
    assert good.passed and "edge log: 4 requests to old pods, 6 to new" in good.reason
    assert good.figures["attribution"] == "traefik access log" and good.figures["old_pod_last_request_margin_s"] == 6.0
    bad = _upgrade(AttributionFacts("traefik access log", requests=10, old=4, new=6, rollout_done_t=5.0,
                                    after_rollout_old=(("web-old-a", 7.5),),
                                    old_pods=(OldPodTraffic("web-old-a", 4, W0 + 10, 7.5, W0 + 9, 1),)))
    assert not bad.passed and list(bad.failed) == [SERVED_BY_CANDIDATE, OLD_PODS_DRAINED]
    assert "served by old pods after the rollout completed (at 5.0 s; first at 7.5 s): web-old-a" in bad.reason
    unavailable = _upgrade(AttributionFacts("traefik access log", "the edge is ingress-nginx"))
    assert unavailable.passed and unavailable.figures["attribution"] == "unavailable: the edge is ingress-nginx"
    assert _upgrade(None).passed


def test_a_pod_life_without_owner_is_its_own_revision():
    st = PodState("bare", "u", ("x:1",), "", W0, ips=("10.0.0.5",), ip_seen=W0 + 1)
    assert PodLife.from_state(st).revision == "Pod/bare" and PodLife.from_state(st).ip_from == W0 + 1
