"""TLS through the Gateway edge without a cluster: the listener and Certificate objects and the
listener's readiness rule (harness/env/addons/gateway_tls.py)."""
from __future__ import annotations

import re

from harness.core.edges import ADDON_GATEWAY
from harness.env.addons import gateway_tls as gt


def test_one_listener_name_per_domain_and_a_dns_label():
    a, b = gt.listener_name("ha-service.test"), gt.listener_name("realtime.test")
    assert a != b and a == gt.listener_name("ha-service.test")
    assert re.fullmatch(r"tls-[0-9a-f]{10}", a)


def test_the_certificate_covers_every_release_host_of_the_domain():
    c = gt.certificate(ADDON_GATEWAY, "ha-service.test")
    assert c["metadata"]["namespace"] == "harness-traefik"
    assert c["spec"]["dnsNames"] == ["*.ha-service.test"]
    assert c["spec"]["secretName"] == c["metadata"]["name"] == f"harness-gateway-{gt.listener_name('ha-service.test')}"
    assert c["spec"]["issuerRef"] == {"name": "harness-ca", "kind": "ClusterIssuer", "group": "cert-manager.io"}


def test_the_listener_terminates_tls_on_the_websecure_port_with_that_secret():
    g = gt.gateway_listener(ADDON_GATEWAY, "ha-service.test")
    assert g["metadata"] == {"name": "harness", "namespace": "harness-traefik"}
    assert set(g["spec"]) == {"listeners"}, "only the listener: the rest of the Gateway is helm's"
    [lst] = g["spec"]["listeners"]
    assert (lst["protocol"], lst["port"], lst["hostname"]) == ("HTTPS", 8443, "*.ha-service.test")
    assert lst["tls"]["mode"] == "Terminate"
    assert lst["tls"]["certificateRefs"][0]["name"] == gt.certificate(ADDON_GATEWAY, "ha-service.test")["metadata"]["name"]


def _gw(listeners, programmed="True", generation=2, observed=2):
    return {"metadata": {"generation": generation},
            "status": {"conditions": [{"type": "Programmed", "status": programmed, "reason": "Programmed",
                                       "observedGeneration": observed}],
                       "listeners": [{"name": n, "conditions": [{"type": t, "status": st, "reason": "r"}
                                                                 for t in ("Accepted", "ResolvedRefs", "Programmed")]}
                                     for n, st in listeners]}}


def test_listener_state_waits_for_the_listener_in_status_and_its_conditions():
    name = gt.listener_name("ha-service.test")
    assert gt.listener_state(_gw([("web", "True"), (name, "True")]), name)[0] is True
    done, says = gt.listener_state(_gw([("web", "True")]), name)
    assert not done and f"listener {name} not in the Gateway's status" in says
    done, says = gt.listener_state(_gw([("web", "True"), (name, "False")], programmed="False"), name)
    assert not done and f"listener {name}: ResolvedRefs=False" in says
    done, says = gt.listener_state(_gw([("web", "True"), (name, "True")], observed=1), name)
    assert not done and "generation 1" in says
