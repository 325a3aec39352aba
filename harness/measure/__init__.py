"""Measurements taken while a release is disrupted: the availability prober, the SSE stream client,
and the timeline plots."""
