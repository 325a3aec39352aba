"""Per-test namespaces: ``<prefix>-<random>``, labelled with the run id and test id so a cleanup
can find what a killed run left behind, deleted after a pass and kept after a failure when the
keep policy says so.
"""
from __future__ import annotations

import hashlib
import re
import secrets
import string
import time
from typing import Any

from kubernetes import client

from harness.core.errors import UsageError
from harness.k8s.client import REQUEST_TIMEOUT, api_status, retrying
from harness.k8s.wait import gone, watch_until

LABEL_PREFIX = "helm-e2e-harness"
RUN_LABEL = f"{LABEL_PREFIX}/run-id"
TEST_LABEL = f"{LABEL_PREFIX}/test"
TEST_ANNOTATION = f"{LABEL_PREFIX}/test-id"
MANAGED_BY = {"app.kubernetes.io/managed-by": "helm-e2e-harness"}

MAX_NAME = 63
SUFFIX_LEN = 6
_ALPHABET = string.ascii_lowercase + string.digits


def random_suffix(n: int = SUFFIX_LEN) -> str:
    """``n`` random lowercase letters and digits."""
    return "".join(secrets.choice(_ALPHABET) for _ in range(n))


def dns_label(text: str, *, max_len: int = MAX_NAME, fallback: str = "t") -> str:
    """Turn ``text`` into a DNS-1123 label: lowercase alphanumerics and ``-``, starting and ending
    alphanumeric, at most ``max_len`` characters
    (https://kubernetes.io/docs/concepts/overview/working-with-objects/names/#dns-label-names)."""
    s = re.sub(r"[^a-z0-9-]+", "-", text.lower())
    s = re.sub(r"-{2,}", "-", s).strip("-")[:max_len].strip("-")
    return s or fallback


def namespace_name(prefix: str, suffix: str | None = None) -> str:
    """``<prefix>-<suffix>`` as a valid namespace name of at most 63 characters.

    Args:
        prefix: any text, e.g. the test function name (``test_upgrade_keeps_serving``); it is
            made DNS-safe and trimmed so the random suffix always fits.
        suffix: default: 6 random characters.
    """
    suffix = suffix or random_suffix()
    head = dns_label(prefix, max_len=MAX_NAME - len(suffix) - 1)
    return f"{head}-{suffix}"


_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")


def label_value(text: str, *, max_len: int = 63) -> str:
    """Turn ``text`` (e.g. a pytest node id) into a valid label value
    (https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#syntax-and-character-set).

    Invalid characters become ``_``; a value longer than ``max_len`` keeps its start and gets an
    8-character hash suffix, so different long ids stay different.
    """
    s = re.sub(r"[^A-Za-z0-9_.-]+", "_", text)
    s = re.sub(r"_{2,}", "_", s).strip("_.-")
    if len(s) > max_len:
        digest = hashlib.sha1(text.encode()).hexdigest()[:8]
        s = s[: max_len - 9].rstrip("_.-") + "-" + digest
    assert _LABEL_VALUE.match(s), s
    return s


def new_run_id() -> str:
    """A label-safe id for this run: ``YYYYmmdd-HHMMSS-<4 random>``."""
    return time.strftime("%Y%m%d-%H%M%S") + "-" + random_suffix(4)


def should_keep(policy: str, failed: bool) -> bool:
    """Whether to keep a cluster or namespace after the run, per the ``keep-cluster`` policy.

    Args:
        policy: ``"never"`` | ``"on-failure"`` | ``"always"``.
        failed: whether what it served failed.

    Raises:
        UsageError: an unknown policy.
    """
    if policy == "always":
        return True
    if policy == "never":
        return False
    if policy == "on-failure":
        return failed
    raise UsageError(f"keep-cluster: {policy!r} is not one of never, on-failure, always")


def namespace_body(name: str, *, run_id: str, test_id: str) -> dict[str, Any]:
    """The Namespace object the harness creates (labels: run id, label-safe test id; annotation: full test id)."""
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {
            "name": name,
            "labels": {**MANAGED_BY, RUN_LABEL: label_value(run_id), TEST_LABEL: label_value(test_id)},
            "annotations": {TEST_ANNOTATION: test_id},
        },
    }


def _core(api: Any) -> Any:

    return client.CoreV1Api(api) if isinstance(api, client.ApiClient) else api


def create_namespace(api: Any, prefix: str, *, run_id: str, test_id: str, attempts: int = 3) -> str:
    """Create a fresh ``<prefix>-<random>`` namespace (a new suffix on a 409 name clash).

    Args:
        api: ApiClient (or a CoreV1Api-like fake).
        prefix: see :func:`namespace_name`. run_id, test_id: recorded as labels/annotation.

    Returns:
        the namespace name.

    Raises:
        kubernetes ApiException: after retries of transient errors (harness.k8s.client.retrying).
    """
    core = _core(api)
    for attempt in range(attempts):
        name = namespace_name(prefix)
        try:
            retrying(core.create_namespace, namespace_body(name, run_id=run_id, test_id=test_id),
                     _request_timeout=REQUEST_TIMEOUT)
            return name
        except Exception as exc:
            if api_status(exc) == 409 and attempt + 1 < attempts:
                continue
            raise
    raise AssertionError("unreachable")


def delete_namespace(api: Any, name: str, *, wait: bool = False, timeout: float = 120.0) -> None:
    """Delete a namespace (its contents are deleted with it); a missing one is fine.

    Args:
        wait: block until it is gone (watched, see harness.k8s.wait.watch_until), at most ``timeout`` seconds.

    Raises:
        WaitTimeout: ``wait`` and it is still there after ``timeout`` (often a stuck finalizer).
    """
    core = _core(api)
    try:
        retrying(core.delete_namespace, name, _request_timeout=REQUEST_TIMEOUT)
    except Exception as exc:
        if api_status(exc) == 404:
            return
        raise
    if wait:

        watch_until(core.list_namespace, gone([name]), timeout=timeout, what=f"namespace {name} deleted",
                    hint="a finalizer may be stuck; see `kubectl get ns -o yaml`",
                    field_selector=f"metadata.name={name}")


def leftover_namespaces(api: Any, run_id: str | None = None) -> list[str]:
    """Namespaces the harness created (any run, or only ``run_id``), for cleaning up after a killed run."""
    core = _core(api)
    selector = f"{RUN_LABEL}={label_value(run_id)}" if run_id else RUN_LABEL
    items = core.list_namespace(label_selector=selector, _request_timeout=REQUEST_TIMEOUT).items
    return sorted(n.metadata.name for n in items)
