"""Measurements taken while a release is disrupted: the availability prober, the SSE stream client,
why a stream ended (:mod:`harness.measure.cuts`), and the timeline plots."""
