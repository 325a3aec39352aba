"""Helpers around the official Kubernetes Python client (https://github.com/kubernetes-client/python).

Every client is built from an explicit kubeconfig path (``new_client_from_config``), so the
harness never reads ``~/.kube/config`` nor changes the client's global default configuration.
"""
from __future__ import annotations

import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import tenacity
from kubernetes import client
from kubernetes import config as kconfig
from kubernetes.client.exceptions import ApiException

from harness.core.config import REQUEST_TIMEOUT  # noqa: F401  (re-exported: k8s callers import it from here)
from harness.core.errors import EnvironmentNotReady, UsageError

T = TypeVar("T")


def api_client(kubeconfig: Path | str, *, context: str | None = None) -> Any:
    """An ``kubernetes.client.ApiClient`` for ``kubeconfig`` (and ``context``, default: its current one).

    Raises:
        UsageError: the kubeconfig does not exist or cannot be parsed (or lacks the context).
    """

    path = Path(kubeconfig)
    if not path.is_file():
        raise UsageError(f"kubeconfig {path} does not exist")
    try:
        return kconfig.new_client_from_config(config_file=str(path), context=context, persist_config=False)
    except (kconfig.ConfigException, ValueError, KeyError, TypeError) as exc:
        where = f" (context {context})" if context else ""
        raise UsageError(f"kubeconfig {path}{where} is not usable: {exc}") from None


def make_private(path: Path | str) -> None:
    """chmod 0600 a kubeconfig the harness wrote (credentials inside); leaves others' files alone."""
    p = Path(path)
    mode = stat.S_IMODE(p.stat().st_mode)
    if mode & 0o077:
        os.chmod(p, 0o600)


def server_url(api: Any) -> str:
    """The API server URL an ApiClient talks to."""
    return str(getattr(api.configuration, "host", "?"))


def check_reachable(api: Any, *, timeout: float = 10.0, kubeconfig: Path | str | None = None) -> str:
    """Ask the API server for its version (``GET /version``).

    Returns:
        the server's ``gitVersion``, e.g. ``v1.33.1``.

    Raises:
        EnvironmentNotReady: one line naming the server (and kubeconfig) and the reason.
    """

    try:
        info = client.VersionApi(api).get_code(_request_timeout=timeout)
        return str(info.git_version)
    except Exception as exc:  # noqa: BLE001 - connection errors come in many types
        where = f" (kubeconfig {kubeconfig})" if kubeconfig else ""
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise EnvironmentNotReady(f"the cluster at {server_url(api)}{where} is not reachable: {reason}") from None


def is_transient(exc: BaseException) -> bool:
    """True for errors worth retrying: connection problems, HTTP 429 and 5xx from the API server."""

    if isinstance(exc, ApiException):
        return exc.status in (429, 500, 502, 503, 504)
    try:
        import urllib3.exceptions as u3

        if isinstance(exc, u3.HTTPError):
            return True
    except ImportError:  # pragma: no cover
        pass
    return isinstance(exc, ConnectionError | TimeoutError)


def retrying(fn: Callable[..., T], *args: Any, attempts: int = 5, max_delay: float = 30.0, **kwargs: Any) -> T:
    """Call ``fn(*args, **kwargs)``, retrying transient API errors (:func:`is_transient`) with
    exponential backoff (tenacity), at most ``attempts`` times within ``max_delay`` seconds.

    The right tool for single API calls that must land (create a namespace, read a log) while the
    API server is briefly unavailable; waits for a *state* use harness.k8s.wait instead.

    Raises:
        the last error when it is not transient or the attempts are used up.
    """

    retryer = tenacity.Retrying(
        retry=tenacity.retry_if_exception(is_transient),
        stop=tenacity.stop_after_attempt(attempts) | tenacity.stop_after_delay(max_delay),
        wait=tenacity.wait_exponential(multiplier=0.5, max=8),
        reraise=True,
    )
    return retryer(fn, *args, **kwargs)


def api_status(exc: BaseException) -> int | None:
    """The HTTP status of a Kubernetes client error, else None.

    The client raises ``ApiException`` or, for some statuses, a subclass (``NotFoundException``...);
    both carry ``status``.
    """

    return getattr(exc, "status", None) if isinstance(exc, ApiException) else None


def typed_api(api: Any, cls_name: str) -> Any:
    """``kubernetes.client.<cls_name>(api)`` (e.g. ``"CoreV1Api"``) when ``api`` is an ``ApiClient``;
    anything else is returned as it is, so tests can pass one fake that answers every group's calls."""

    if isinstance(api, client.ApiClient):
        return getattr(client, cls_name)(api)
    return api


def to_dict(api: Any, obj: Any) -> Any:
    """A client model as plain JSON-style data (camelCase keys), via ``ApiClient.sanitize_for_serialization``."""
    return api.sanitize_for_serialization(obj)
