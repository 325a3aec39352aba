"""harness.k8s.client's small helpers: the status of a client error, the typed API of an ApiClient."""
from __future__ import annotations

from kubernetes import client
from kubernetes.client.exceptions import ApiException, NotFoundException

from harness.k8s.client import api_status, typed_api


def test_api_status_reads_client_errors_and_their_subclasses_only():
    assert api_status(ApiException(status=409)) == 409
    assert api_status(NotFoundException(status=404)) == 404
    assert api_status(RuntimeError("status")) is None


def test_typed_api_wraps_an_api_client_and_passes_fakes_through():
    assert isinstance(typed_api(client.ApiClient(), "PolicyV1Api"), client.PolicyV1Api)
    fake = object()
    assert typed_api(fake, "CoreV1Api") is fake
