"""TLS through the Gateway edge: an HTTPS listener on the harness's Gateway for a chart's hosts,
its certificate issued by the cert-manager add-on's CA.

With Gateway API, TLS ends at the Gateway, which the platform owns: a chart's HTTPRoute cannot
carry a certificate (Gateway API, "TLS configuration": ``Listener.tls.certificateRefs``). A chart
whose TLS variant moves from an Ingress with ``spec.tls`` to an HTTPRoute is served over HTTPS the
way a platform would serve it: one listener per domain on the Gateway, here

* listener ``tls-<hash of the domain>``: protocol HTTPS, port 8443 (Traefik's ``websecure``
  entrypoint, 127.0.0.1:18443 on the host; the provider maps a listener to the entrypoint whose
  address ends in its port), hostname ``*.<domain>`` (the harness names each release's host
  ``<release>.<contract host>``), TLS mode Terminate with the Secret below;
* Certificate ``harness-gateway-<listener>`` in the Gateway's namespace, ``dnsNames: [*.<domain>]``,
  issued by ClusterIssuer ``harness-ca``, whose CA the probes verify against.

Each listener is applied server-side under a field manager of its own (``harness-gateway-<listener>``),
so listeners of several domains, and the chart's own ``web`` listener that helm manages, stay side by
side: server-side apply removes only entries the same manager applied before
(https://kubernetes.io/docs/reference/using-api/server-side-apply/#merge-strategy; Gateway
``spec.listeners`` is a map keyed by ``name``). Listeners stay for later releases of the same domain.
"""
from __future__ import annotations

import hashlib
from typing import Any

import yaml

from harness.core.edges import GATEWAY_GROUP, GatewayRef
from harness.core.errors import WaitFailed
from harness.env.addons.certmanager import CA_ISSUER, condition
from harness.env.addons.traefik import gateway_programmed
from harness.k8s.wait import wait_for

HTTPS_PORT = 8443
"""The container port of Traefik's ``websecure`` entrypoint (harness/env/addons/charts/traefik)."""


def listener_name(domain: str) -> str:
    """``tls-`` and 10 hex digits of the domain's SHA-256: a listener name (a DNS label) per domain."""
    return "tls-" + hashlib.sha256(domain.encode()).hexdigest()[:10]


def certificate(gateway: GatewayRef, domain: str, issuer: str = CA_ISSUER) -> dict[str, Any]:
    """The cert-manager Certificate for ``*.<domain>`` in the Gateway's namespace (Secret of the same name)."""
    name = f"harness-gateway-{listener_name(domain)}"
    return {"apiVersion": "cert-manager.io/v1", "kind": "Certificate",
            "metadata": {"name": name, "namespace": gateway.namespace,
                         "labels": {"app.kubernetes.io/managed-by": "helm-e2e-harness"}},
            "spec": {"secretName": name, "dnsNames": [f"*.{domain}"], "duration": "24h",
                     "privateKey": {"algorithm": "ECDSA", "size": 256},
                     "issuerRef": {"name": issuer, "kind": "ClusterIssuer", "group": "cert-manager.io"}}}


def gateway_listener(gateway: GatewayRef, domain: str) -> dict[str, Any]:
    """The partial Gateway (identity and one listener) applied for ``domain``."""
    name = listener_name(domain)
    return {"apiVersion": f"{GATEWAY_GROUP}/v1", "kind": "Gateway",
            "metadata": {"name": gateway.name, "namespace": gateway.namespace},
            "spec": {"listeners": [{
                "name": name, "protocol": "HTTPS", "port": HTTPS_PORT, "hostname": f"*.{domain}",
                "tls": {"mode": "Terminate",
                        "certificateRefs": [{"kind": "Secret", "group": "", "name": f"harness-gateway-{name}"}]},
                "allowedRoutes": {"namespaces": {"from": "All"},
                                  "kinds": [{"group": GATEWAY_GROUP, "kind": "HTTPRoute"}]},
            }]}}


def listener_state(gateway_obj: dict[str, Any] | None, name: str) -> tuple[bool, str]:
    """Whether listener ``name`` of a Gateway object is in its status with every condition True,
    the Gateway Programmed for its current generation (:func:`gateway_programmed`)."""
    done, state = gateway_programmed(gateway_obj)
    listeners = {lst.get("name"): lst for lst in ((gateway_obj or {}).get("status") or {}).get("listeners") or []}
    if name not in listeners:
        return False, f"listener {name} not in the Gateway's status yet; {state}"
    return done, state


def ensure_https_listener(kubectl: Any, gateway: GatewayRef, domain: str, *, timeout: float) -> str:
    """An HTTPS listener for ``*.<domain>`` on ``gateway``, its certificate Ready; returns its name.

    Args:
        kubectl: a :class:`harness.tools.kubectl.Kubectl` of the cluster.
        gateway: the harness's Gateway (the traefik add-on's, ``edge: traefik-gateway``).
        domain: the contract's host; releases are ``<release>.<domain>``.
        timeout: seconds for the certificate to be issued and for the listener to be Programmed.

    Raises:
        WaitTimeout: the Certificate did not become Ready, or the listener was not Programmed, in
            ``timeout`` (the message says what was seen last).
        WaitFailed: cert-manager reported the Certificate failed.
        KubectlError: an apply was refused.
    """
    name = listener_name(domain)
    cert = certificate(gateway, domain)
    kubectl.apply([cert])

    def issued() -> tuple[bool, str]:
        status, msg = condition(kubectl.get_json("certificate", "-n", gateway.namespace, cert["metadata"]["name"]))
        if status == "False" and "Failed" in msg:
            raise WaitFailed(f"certificate {cert['metadata']['name']}: {msg}")
        return status == "True", f"Certificate {cert['metadata']['name']} Ready={status}: {msg}"

    wait_for(issued, timeout=timeout, interval=1.0, what=f"the certificate for *.{domain} on {gateway.describe()}",
             hint=f"kubectl -n {gateway.namespace} describe certificate {cert['metadata']['name']}")
    kubectl("apply", "--server-side", "--force-conflicts", f"--field-manager=harness-gateway-{name}", "-f", "-",
            input=yaml.safe_dump(gateway_listener(gateway, domain), sort_keys=False))
    wait_for(lambda: listener_state(kubectl.get_json("gateway", gateway.name, "-n", gateway.namespace), name),
             timeout=timeout, interval=1.0, what=f"HTTPS listener {name} (*.{domain}) on {gateway.describe()} Programmed",
             hint=f"kubectl -n {gateway.namespace} get gateway {gateway.name} -o yaml")
    return name


def remove_https_listener(kubectl: Any, gateway: GatewayRef, domain: str) -> None:
    """Take the listener for ``domain`` off ``gateway`` and delete its Certificate and Secret.

    The listener goes by applying the Gateway's identity with no listeners under the listener's own
    field manager: server-side apply then removes the fields only that manager owned
    (https://kubernetes.io/docs/reference/using-api/server-side-apply/#field-management).

    Raises:
        KubectlError: the apply was refused.
    """
    name = listener_name(domain)
    identity = {"apiVersion": f"{GATEWAY_GROUP}/v1", "kind": "Gateway",
                "metadata": {"name": gateway.name, "namespace": gateway.namespace}}
    kubectl("apply", "--server-side", "--force-conflicts", f"--field-manager=harness-gateway-{name}", "-f", "-",
            input=yaml.safe_dump(identity, sort_keys=False))
    kubectl.delete("-n", gateway.namespace, "certificate", f"harness-gateway-{name}", "--ignore-not-found")
    kubectl.delete("-n", gateway.namespace, "secret", f"harness-gateway-{name}", "--ignore-not-found")
