"""Wrappers around external tools (helm, kubectl, kind, docker), each call through the one process
runner in :mod:`harness.tools.exec`; the pinned versions (:mod:`harness.core.pins`)."""
