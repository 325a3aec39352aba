"""One lane per pod (harness/measure/lanes.py) and the labelled latency axis (harness/measure/plots.py)."""
from __future__ import annotations

from harness.k8s.watch import PodState
from harness.measure.lanes import (
    NOT_READY,
    READY,
    STARTING,
    TERMINATING,
    PodLane,
    Segment,
    lanes_from_states,
    segments,
    shown,
)
from harness.measure.plots import latency_axis, latency_ticks, ms_label, probe_timeline
from harness.measure.prober import Mark, ProbeResult, Sample


def test_an_old_pod_is_ready_then_terminating_then_gone():
    lane = PodLane("old", appeared=-60, ready=-55, not_ready=7.0, terminating=5.0, gone=9.0)
    # its NotReady after the deletion request belongs to terminating, not to a "not ready" stretch
    assert segments(lane, 0.0, 20.0) == [Segment(0.0, 5.0, READY), Segment(5.0, 9.0, TERMINATING)]


def test_a_new_pod_starts_then_is_ready_until_the_end():
    lane = PodLane("new", appeared=3.0, ready=4.5)
    assert segments(lane, 0.0, 10.0) == [Segment(3.0, 4.5, STARTING), Segment(4.5, 10.0, READY)]


def test_a_pod_that_loses_readiness_and_one_never_ready():
    flapping = PodLane("p", appeared=0.0, ready=1.0, not_ready=4.0)
    assert [s.state for s in segments(flapping, 0.0, 6.0)] == [STARTING, READY, NOT_READY]
    assert segments(flapping, 0.0, 6.0)[-1] == Segment(4.0, 6.0, NOT_READY)
    never = PodLane("crash", appeared=2.0, terminating=8.0)
    assert segments(never, 0.0, 10.0) == [Segment(2.0, 8.0, STARTING), Segment(8.0, 10.0, TERMINATING)]


def test_a_pod_outside_the_span_draws_nothing():
    gone_before = PodLane("gone", appeared=-100, ready=-90, terminating=-50, gone=-40)
    assert segments(gone_before, 0.0, 10.0) == []


def test_lanes_from_the_watch_are_relative_to_the_prober_and_in_order():
    t0 = 1_000.0
    states = [PodState("new", "u2", ("app:2",), "ReplicaSet", t0 + 3.0, ready_at=t0 + 4.5),
              PodState("old", "u1", ("app:1",), "ReplicaSet", t0 - 1.0, created=t0 - 60, ready_at=t0 - 1.0,
                       deleted_at=t0 + 5.0, gone_at=t0 + 9.0),
              PodState("migrate-x", "u3", ("app:2",), "Job", t0 + 2.0, job="migrate")]
    lanes = lanes_from_states(states, t0)
    assert [lane.name for lane in lanes] == ["old", "migrate-x", "new"]
    old = lanes[0]
    assert (old.appeared, old.ready, old.terminating, old.gone) == (-60.0, -1.0, 5.0, 9.0)
    assert lanes[1].job == "migrate" and lanes[2].ready == 4.5 and lanes[2].gone is None


def test_at_most_the_limit_of_lanes_is_drawn():
    lanes = [PodLane(f"p{i}", float(i)) for i in range(30)]
    drawn, more = shown(lanes, limit=24)
    assert len(drawn) == 24 and more == 6 and drawn[0].name == "p0"
    assert shown(lanes[:3], limit=24) == (lanes[:3], 0)


def test_latency_ticks_reach_the_highest_point():
    assert latency_ticks(0.5) == [0.0, 10.0]
    assert latency_ticks(250) == [0.0, 10.0, 100.0]  # 1000 would stretch the axis 4 times over the data
    assert latency_ticks(400) == [0.0, 10.0, 100.0, 1000.0]
    assert latency_ticks(10_000) == [0.0, 10.0, 100.0, 1000.0, 10000.0]
    assert latency_ticks(10_500) == [0.0, 10.0, 100.0, 1000.0, 10000.0]  # a 10 s timeout's band
    assert ms_label(0) == "0" and ms_label(100) == "100" and ms_label(10000) == "10\u2009000"


def test_the_latency_axis_shows_its_values_and_unit():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    try:
        ax.scatter([0, 1], [5, 4000])
        latency_axis(ax, 4000)
        fig.canvas.draw()
        assert [t.get_text() for t in ax.get_yticklabels()] == ["0", "10", "100", "1\u2009000", "10\u2009000"]
        assert "ms" in ax.get_ylabel()
    finally:
        plt.close(fig)


def test_the_pod_lanes_are_a_panel_of_their_own(tmp_path):
    import struct

    samples = [Sample(i, i * 0.1, 1000 + i * 0.1, 0.02, 200, None, "1.0.0") for i in range(60)]
    result = ProbeResult("http://x/", "h", samples, [Mark(2.0, 1002.0, "upgrade started")], duration=6.0)
    lanes = [PodLane("old", -30, -29, None, 3.0, 5.0), PodLane("new", 2.0, 3.5)]
    plain = probe_timeline(result, tmp_path / "plain.png")
    with_pods = probe_timeline(result, tmp_path / "pods.png", pods=lanes)
    none = probe_timeline(result, tmp_path / "none.png", pods=[])
    assert plain and with_pods and none and with_pods.stat().st_size > 0

    def height(path):
        return struct.unpack(">II", path.read_bytes()[16:24])[1]

    assert height(with_pods) > height(plain) == height(none)


def test_recorded_readiness_shows_a_pod_that_recovers():
    # a database outage: Ready, NotReady for 6 s, Ready again; then deleted
    lane = PodLane("web", appeared=-20, ready=-18, not_ready=4.0, terminating=15.0, gone=17.0,
                   readiness=((-19.0, False), (-18.0, True), (4.0, False), (10.0, True), (16.0, False)))
    assert segments(lane, 0.0, 20.0) == [Segment(0.0, 4.0, READY), Segment(4.0, 10.0, NOT_READY),
                                         Segment(10.0, 15.0, READY), Segment(15.0, 17.0, TERMINATING)]
    # without the record, the same pod would read as not Ready from its last drop on
    bare = PodLane("web", appeared=-20, ready=-18, not_ready=4.0)
    assert segments(bare, 0.0, 20.0)[-1] == Segment(4.0, 20.0, NOT_READY)


def test_a_pod_ready_before_the_watch_began_is_ready_from_its_transition_time():
    t0 = 1_000.0
    st = PodState("old", "u1", ("app:1",), "ReplicaSet", t0 - 2.0, created=t0 - 60, ready_at=t0 - 2.0,
                  ready_transition=t0 - 50, readiness=((t0 - 2.0, True),))
    lane = lanes_from_states([st], t0)[0]
    assert lane.ready == -50.0 and lane.readiness == ((-50.0, True),)
    assert segments(lane, -60.0, 5.0) == [Segment(-60.0, -50.0, STARTING), Segment(-50.0, 5.0, READY)]
