"""The timeline plot with the edge's attribution: the served-share panel (harness/measure/plots.py)."""
from __future__ import annotations

import struct

from harness.measure.attribution import NEW, OLD, served_series
from harness.measure.plots import probe_timeline
from harness.measure.prober import Mark, ProbeResult, Sample


def _size(path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", head[16:24])


def test_the_served_share_is_a_third_panel_under_the_timeline(tmp_path):
    samples = [Sample(i, i * 0.1, 1000 + i * 0.1, 0.02, 200, None, "1.0.0" if i < 40 else "1.1.0") for i in range(80)]
    result = ProbeResult("http://x/", "h", samples, [Mark(2.0, 1002.0, "upgrade started"), Mark(5.0, 1005.0, "rolled out")],
                         duration=8.0)
    points = [(s.t, OLD if s.t < 4 else NEW if s.t > 4.5 else None) for s in samples]
    plain = probe_timeline(result, tmp_path / "plain.png")
    served = probe_timeline(result, tmp_path / "served.png", served=served_series(points),
                            old_pods=[("web-old-a", 3.9, 6.2), ("web-old-b", 3.7, None)])
    assert plain is not None and served is not None
    (w1, h1), (w2, h2) = _size(plain), _size(served)
    assert w1 == w2 and h2 > h1  # the same width, one panel more


def test_an_empty_series_still_draws(tmp_path):
    result = ProbeResult("http://x/", "h", [], [], duration=0.0)
    assert probe_timeline(result, tmp_path / "empty.png", served=[]) is not None
