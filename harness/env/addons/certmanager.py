"""``cert-manager``: the jetstack chart plus a CA ClusterIssuer ``harness-ca``.

After the chart (CRDs included) is ready, the add-on creates

* ClusterIssuer ``harness-selfsigned`` (selfSigned),
* Certificate ``harness-ca`` in the cert-manager namespace (isCA, ECDSA P-256, issued by it),
* ClusterIssuer ``harness-ca`` (``ca.secretName: harness-ca``),

so an Ingress annotated ``cert-manager.io/cluster-issuer: harness-ca`` (with ``spec.tls``) gets a
certificate signed by that CA. The CA certificate is written to ``<artifacts>/harness-ca.crt``;
HTTPS probes verify against it (``requests.get(url, verify=ctx.state["cert-manager"])``).

Offline: there is no honest way to build cert-manager's images from the Go module proxy (the
controller/webhook/cainjector mains live in separate modules, ``cmd/*``, that the proxy does not
serve, and the main module's webhook wiring is under ``internal/``); see docs/addons.md. On a
registry-less machine the add-on fails its image check with one line, and the cluster tests skip.
"""
from __future__ import annotations

import base64
from pathlib import Path
from typing import Any, ClassVar

from harness.core.errors import WaitFailed
from harness.env.addons.engine import (
    AddonContext,
    ChartSource,
    HelmAddon,
    check_images,
    pinned,
)
from harness.env.addons.smoke import SMOKE_NAMESPACE
from harness.k8s.wait import wait_for

REPOSITORY = "https://charts.jetstack.io"
NAMESPACE = "cert-manager"
SELFSIGNED_ISSUER = "harness-selfsigned"
CA_ISSUER = "harness-ca"
CA_SECRET = "harness-ca"
CA_FILE_NAME = "harness-ca.crt"
COMPONENTS = ("controller", "webhook", "cainjector", "startupapicheck")


def chart_version() -> str:
    return pinned().get("CERT_MANAGER_CHART_VERSION", "v1.21.2")


def images(version: str | None = None) -> list[str]:
    """The chart's images at the pinned version (quay.io/jetstack/cert-manager-<component>)."""
    v = version or chart_version()
    return [f"quay.io/jetstack/cert-manager-{c}:{v}" for c in COMPONENTS]


def issuer_manifests(namespace: str = NAMESPACE) -> list[dict[str, Any]]:
    """The self-signed root, the CA Certificate and the CA ClusterIssuer ``harness-ca``.

    The CA's Secret lives in the cert-manager namespace: a ClusterIssuer reads its secret from the
    "cluster resource namespace", which defaults to the namespace cert-manager runs in.
    """
    labels = {"app.kubernetes.io/managed-by": "helm-e2e-harness"}
    return [
        {"apiVersion": "cert-manager.io/v1", "kind": "ClusterIssuer",
         "metadata": {"name": SELFSIGNED_ISSUER, "labels": labels},
         "spec": {"selfSigned": {}}},
        {"apiVersion": "cert-manager.io/v1", "kind": "Certificate",
         "metadata": {"name": CA_SECRET, "namespace": namespace, "labels": labels},
         "spec": {"isCA": True, "commonName": "helm-e2e-harness CA", "secretName": CA_SECRET,
                  "duration": "8760h", "privateKey": {"algorithm": "ECDSA", "size": 256},
                  "issuerRef": {"name": SELFSIGNED_ISSUER, "kind": "ClusterIssuer", "group": "cert-manager.io"}}},
        {"apiVersion": "cert-manager.io/v1", "kind": "ClusterIssuer",
         "metadata": {"name": CA_ISSUER, "labels": labels},
         "spec": {"ca": {"secretName": CA_SECRET}}},
    ]


def _condition(obj: dict[str, Any] | None, kind: str = "Ready") -> tuple[str, str]:
    for c in ((obj or {}).get("status") or {}).get("conditions") or []:
        if c.get("type") == kind:
            return str(c.get("status")), str(c.get("message") or c.get("reason") or "")
    return "Unknown", "no condition yet"


class CertManager(HelmAddon):
    name: ClassVar[str] = "cert-manager"
    summary: ClassVar[str] = ("cert-manager (jetstack chart, CRDs) with CA ClusterIssuer harness-ca; "
                              "its CA certificate is exported for TLS-verifying probes")
    namespace: ClassVar[str] = NAMESPACE
    release: ClassVar[str] = "cert-manager"
    chart: ClassVar[ChartSource] = ChartSource("repo", REPOSITORY, "cert-manager", chart_version())
    wait_for_jobs: ClassVar[bool] = True

    def default_values(self, ctx: AddonContext) -> dict[str, Any]:
        return {
            "crds": {"enabled": True, "keep": False},
            # the startupapicheck hook Job waits until the webhook answers: helm returns when
            # cert-manager can really issue
            "startupapicheck": {"enabled": True, "timeout": "2m"},
            "prometheus": {"enabled": False},
            "global": {"leaderElection": {"namespace": NAMESPACE}},
        }

    def images(self, ctx: AddonContext) -> list[str]:
        return images(self.chart.version)

    def offline_hint(self) -> str:
        return ("cert-manager's images cannot be built offline (its cmd/* modules are not served by the Go "
                "module proxy); pull them on a machine with registry access or remove cert-manager from addons")

    def preflight(self, ctx: AddonContext) -> None:
        check_images(ctx, [self])     # the clearer message on a registry-less machine comes first
        super().preflight(ctx)

    def ready(self, ctx: AddonContext) -> None:
        """Apply the issuers, wait until ClusterIssuer harness-ca is Ready, export the CA."""
        ctx.kubectl.apply(issuer_manifests())

        def issuer_ready() -> tuple[bool, str]:
            status, msg = _condition(ctx.kubectl.get_json("clusterissuer", CA_ISSUER))
            return status == "True", f"ClusterIssuer {CA_ISSUER} Ready={status}: {msg}"

        wait_for(issuer_ready, timeout=ctx.wait_timeout, interval=2.0,
                 what=f"ClusterIssuer {CA_ISSUER} Ready",
                 hint=f"kubectl -n {NAMESPACE} describe certificate {CA_SECRET}")
        ctx.state[self.name] = export_ca(ctx)

    def smoke(self, ctx: AddonContext) -> None:
        """A Certificate issued by harness-ca becomes Ready and its Secret chains to the exported CA."""

        name = "harness-smoke-cert"
        ctx.kubectl.apply([
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": SMOKE_NAMESPACE}},
            smoke_certificate(name, SMOKE_NAMESPACE),
        ])

        def cert_ready() -> tuple[bool, str]:
            obj = ctx.kubectl.get_json("certificate", "-n", SMOKE_NAMESPACE, name)
            status, msg = _condition(obj)
            if status == "False" and "Failed" in msg:
                raise WaitFailed(f"certificate {name}: {msg}")
            return status == "True", f"Certificate {name} Ready={status}: {msg}"

        try:
            wait_for(cert_ready, timeout=ctx.wait_timeout, interval=1.0,
                     what=f"Certificate {SMOKE_NAMESPACE}/{name} issued by {CA_ISSUER}")
            secret = ctx.kubectl.get_json("secret", "-n", SMOKE_NAMESPACE, name) or {}
            ca = base64.b64decode((secret.get("data") or {}).get("ca.crt", "")).decode()
            exported = Path(ctx.state[self.name]).read_text()
            if ca.strip() != exported.strip():
                raise WaitFailed(f"certificate {name} was not signed by the exported CA {ctx.state[self.name]}")
        finally:
            ctx.kubectl.delete("-n", SMOKE_NAMESPACE, "certificate", name)
            ctx.kubectl.delete("-n", SMOKE_NAMESPACE, "secret", name)


def smoke_certificate(name: str, namespace: str, dns_name: str = "smoke.harness.test") -> dict[str, Any]:
    return {"apiVersion": "cert-manager.io/v1", "kind": "Certificate",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {"secretName": name, "dnsNames": [dns_name], "duration": "24h",
                     "issuerRef": {"name": CA_ISSUER, "kind": "ClusterIssuer", "group": "cert-manager.io"}}}


def export_ca(ctx: AddonContext) -> Path:
    """Write the CA certificate (PEM) of ``harness-ca`` to ``<artifacts>/harness-ca.crt``; return its path."""
    secret = ctx.kubectl.get_json("secret", "-n", NAMESPACE, CA_SECRET) or {}
    data = (secret.get("data") or {}).get("ca.crt") or (secret.get("data") or {}).get("tls.crt")
    if not data:
        raise WaitFailed(f"secret {NAMESPACE}/{CA_SECRET} has no ca.crt")
    path = Path(ctx.artifacts_dir) / CA_FILE_NAME
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(base64.b64decode(data).decode())
    return path
