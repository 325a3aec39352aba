"""Core: the one validated configuration, the chart contract, errors, progress lines and timings.
Nothing here starts a process or talks to a cluster."""
