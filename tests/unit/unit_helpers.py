"""Helpers shared by the unit tests (imported as a plain module: tests/unit is on sys.path)."""
from __future__ import annotations


def kobj(kind: str, data: dict):
    """Build a kubernetes client model (e.g. ``V1Deployment``) from API-shaped camelCase data,
    the way the client deserializes a response."""
    from kubernetes import client

    return client.ApiClient()._ApiClient__deserialize(data, kind)
