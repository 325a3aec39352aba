"""What the ingress add-ons share: the echo backend and the smoke check through 127.0.0.1.

The smoke check deploys a tiny echo service (``harness/toolbox``: static busybox, ``httpd``) with an
Ingress of class ``nginx`` for host ``<addon>.smoke.harness.test`` and polls
``http://127.0.0.1:<http_port>/`` with that Host header until the echo's unique token comes back,
within a bounded time. Traffic goes to loopback only (the kind node publishes its port 80 there).
"""
from __future__ import annotations

import secrets
from typing import Any

import requests
import urllib3

from harness.core.edges import GATEWAY_GROUP, GatewayRef
from harness.core.pins import pinned
from harness.k8s.wait import wait_for

TOOLBOX_IMAGE = "harness/toolbox:latest"


def toolbox_image(source: str = "local") -> str:
    """The echo server's image: this project's ``harness/toolbox`` (``local``), else busybox as the
    nodes pull it (``TOOLBOX_PULL_IMAGE`` in harness/data/versions.env)."""
    if source == "pull":
        return pinned().get("TOOLBOX_PULL_IMAGE", "busybox:1.37.0")
    return TOOLBOX_IMAGE


def pull_policy(source: str) -> str:
    """``Never`` for a preloaded image (a registry-less machine must not try), ``IfNotPresent`` when
    the nodes pull (Kubernetes docs, Images, "Image pull policy")."""
    return "IfNotPresent" if source == "pull" else "Never"
SMOKE_NAMESPACE = "harness-addons-smoke"
INGRESS_CLASS = "nginx"


def echo_objects(name: str, namespace: str, host: str, token: str, *, image: str = TOOLBOX_IMAGE,
                 with_endpoints: bool = True, ingress: bool = True, image_pull_policy: str = "Never") -> list[dict[str, Any]]:
    """Deployment + Service + Ingress (class nginx) of an echo server answering ``token`` on ``/``.

    Args:
        with_endpoints: False gives the Deployment 0 replicas: the Service has no ready endpoints
            (what a backend looks like mid-outage).
        ingress: False leaves the Ingress out (a route of another kind reaches the Service:
            :func:`http_route`).
    """
    labels = {"app.kubernetes.io/name": name, "app.kubernetes.io/managed-by": "helm-e2e-harness"}
    script = f"mkdir -p /www && echo {token} > /www/index.html && exec httpd -f -p 8080 -h /www"
    return [
        {"apiVersion": "v1", "kind": "Namespace",
         "metadata": {"name": namespace, "labels": {"app.kubernetes.io/managed-by": "helm-e2e-harness"}}},
        {"apiVersion": "apps/v1", "kind": "Deployment",
         "metadata": {"name": name, "namespace": namespace, "labels": labels},
         "spec": {"replicas": 1 if with_endpoints else 0,
                  "selector": {"matchLabels": {"app.kubernetes.io/name": name}},
                  "template": {"metadata": {"labels": labels},
                               "spec": {"terminationGracePeriodSeconds": 1,
                                        "containers": [{"name": "echo", "image": image, "imagePullPolicy": image_pull_policy,
                                                        "command": ["sh", "-c", script],
                                                        "ports": [{"name": "http", "containerPort": 8080}],
                                                        "readinessProbe": {"tcpSocket": {"port": 8080},
                                                                           "periodSeconds": 1}}]}}}},
        {"apiVersion": "v1", "kind": "Service",
         "metadata": {"name": name, "namespace": namespace, "labels": labels},
         "spec": {"selector": {"app.kubernetes.io/name": name},
                  "ports": [{"name": "http", "port": 80, "targetPort": "http"}]}},
        {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
         "metadata": {"name": name, "namespace": namespace, "labels": labels},
         "spec": {"ingressClassName": INGRESS_CLASS,
                  "rules": [{"host": host, "http": {"paths": [
                      {"path": "/", "pathType": "Prefix",
                       "backend": {"service": {"name": name, "port": {"name": "http"}}}}]}}]}},
    ][: None if ingress else 3]


def http_route(name: str, namespace: str, host: str, gateway: GatewayRef, *, port: int = 80) -> dict[str, Any]:
    """An HTTPRoute (Gateway API v1) for ``host`` attached to ``gateway`` (its listener, when it
    names one), sending ``/`` to Service ``name`` port ``port`` in ``namespace``."""
    parent: dict[str, Any] = {"group": GATEWAY_GROUP, "kind": "Gateway", "name": gateway.name,
                              "namespace": gateway.namespace}
    if gateway.section:
        parent["sectionName"] = gateway.section
    return {"apiVersion": f"{GATEWAY_GROUP}/v1", "kind": "HTTPRoute",
            "metadata": {"name": name, "namespace": namespace,
                         "labels": {"app.kubernetes.io/managed-by": "helm-e2e-harness"}},
            "spec": {"parentRefs": [parent], "hostnames": [host],
                     "rules": [{"matches": [{"path": {"type": "PathPrefix", "value": "/"}}],
                                "backendRefs": [{"name": name, "port": port}]}]}}


def http_get(port: int, host: str, path: str = "/", *, timeout: float = 5.0) -> tuple[int, str]:
    """GET ``http://127.0.0.1:<port><path>`` with ``Host: host``; returns (status, body)."""

    resp = requests.get(f"http://127.0.0.1:{port}{path}", headers={"Host": host}, timeout=timeout,
                        allow_redirects=False)
    return resp.status_code, resp.text


def wait_for_response(port: int, host: str, *, want_status: int, want_body: str | None = None,
                      timeout: float, what: str) -> tuple[int, str]:
    """Poll ``http_get`` until it answers ``want_status`` (and ``want_body`` within the body)."""

    seen: dict[str, Any] = {}

    def check() -> tuple[bool, str]:
        try:
            status, body = http_get(port, host)
        except requests.RequestException as exc:
            return False, f"request failed: {type(exc).__name__}"
        seen["r"] = (status, body)
        ok = status == want_status and (want_body is None or want_body in body)
        return ok, f"HTTP {status}: {body.strip()[:80]!r}"

    wait_for(check, timeout=timeout, interval=1.0, what=what,
             hint="check the ingress controller's pod logs and that the kind config maps port 80 to 127.0.0.1",
             transient=lambda exc: False)
    return seen["r"]


def smoke(ctx: Any, addon: str, *, timeout: float | None = None) -> None:
    """The ingress smoke check: an echo service behind an Ingress of class nginx answers through
    ``127.0.0.1:<http_port>`` with the right Host header within ``timeout`` (default ctx.wait_timeout).

    The echo objects are removed afterwards (without waiting); the namespace stays for the next run.

    Raises:
        WaitTimeout: no correct answer in time (the message holds the last status seen).
    """
    name = f"echo-{addon}"
    host = f"{addon}.smoke.harness.test"
    token = f"harness-smoke-{secrets.token_hex(6)}"
    src = ctx.effective_image_source()
    ctx.kubectl.apply(echo_objects(name, SMOKE_NAMESPACE, host, token, image=toolbox_image(src),
                                   image_pull_policy=pull_policy(src)))
    try:
        wait_for_response(ctx.http_port, host, want_status=200, want_body=token,
                          timeout=timeout or ctx.wait_timeout,
                          what=f"{addon} to route http://127.0.0.1:{ctx.http_port}/ (Host {host}) to the echo service")
    finally:
        ctx.kubectl.delete("-n", SMOKE_NAMESPACE, "ingress,service,deployment", name)


def gateway_smoke(ctx: Any, addon: str, gateway: GatewayRef, *, timeout: float | None = None) -> None:
    """The Gateway smoke check: an echo service behind an HTTPRoute attached to ``gateway`` answers
    through ``127.0.0.1:<http_port>`` (the listener shares the Ingresses' entrypoint) with the right
    Host header within ``timeout`` (default ctx.wait_timeout). Removed afterwards, without waiting.

    Raises:
        WaitTimeout: no correct answer in time (the message holds the last status seen).
    """
    name = f"echo-{addon}-gateway"
    host = f"{addon}-gateway.smoke.harness.test"
    token = f"harness-smoke-{secrets.token_hex(6)}"
    src = ctx.effective_image_source()
    ctx.kubectl.apply([*echo_objects(name, SMOKE_NAMESPACE, host, token, ingress=False, image=toolbox_image(src),
                                     image_pull_policy=pull_policy(src)),
                       http_route(name, SMOKE_NAMESPACE, host, gateway)])
    try:
        wait_for_response(ctx.http_port, host, want_status=200, want_body=token,
                          timeout=timeout or ctx.wait_timeout,
                          what=(f"{addon} to route http://127.0.0.1:{ctx.http_port}/ (Host {host}) through "
                                f"{gateway.describe()} to the echo service"))
    finally:
        ctx.kubectl.delete("-n", SMOKE_NAMESPACE, "httproute,service,deployment", name)


def https_get(port: int, host: str, path: str = "/", *, ca_file: str, timeout: float = 5.0) -> tuple[int, str]:
    """GET ``https://<host><path>`` through ``127.0.0.1:<port>``, verifying the certificate.

    The TLS handshake sends ``host`` as SNI and checks the certificate against ``host`` and
    ``ca_file`` (e.g. the cert-manager add-on's exported ``harness-ca.crt``): never verify=False.

    Returns:
        (status, body).
    """

    pool = urllib3.HTTPSConnectionPool("127.0.0.1", port, server_hostname=host, assert_hostname=host,
                                       cert_reqs="CERT_REQUIRED", ca_certs=ca_file, timeout=timeout, retries=False)
    try:
        resp = pool.request("GET", path, headers={"Host": host}, redirect=False)
        return resp.status, resp.data.decode(errors="replace")
    finally:
        pool.close()
