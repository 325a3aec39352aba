"""The Gateway API edge on a real kind cluster (issue 12, item 1).

The traefik add-on with its Gateway edge on (what ``--harness-edge traefik-gateway`` asks for)
installs the vendored Gateway API CRDs, then Traefik with its Kubernetes Gateway provider, the
GatewayClass and the Gateway ``harness-traefik/harness``; it is ready once the Gateway is Programmed
and its smoke check routed an HTTPRoute. Then: an HTTPRoute in a test namespace attached to that
Gateway answers 200 through 127.0.0.1 (the Ingresses' port) with its Host header, beside an Ingress
served by the same Traefik; a route attached to a Gateway nobody provides is not served; the access
log carries the probe header for Gateway-routed requests too. Every wait is bounded polling.

Run by the lead: ``pytest tests/cluster/test_gateway_cluster.py`` (creates or reuses the kind
cluster of the configuration, like the other cluster tests).
"""
from __future__ import annotations

import secrets
import time
from typing import Any

import pytest
import requests

from harness.core.edges import ADDON_GATEWAY, GatewayRef
from harness.core.pins import pinned
from harness.env.addons import gateway_tls
from harness.env.addons import smoke as ing
from harness.env.addons.catalog import install_addons, teardown_addons
from harness.env.addons.engine import AddonContext
from harness.env.addons.traefik import (
    GATEWAY_STATE,
    access_log_pods,
    gateway_programmed,
)
from harness.k8s.logs import PodLogFollower
from harness.measure.attribution import parse_lines
from harness.measure.prober import (
    PROBE_HEADER,
    https_session_factory,
    new_probe_id,
    probe_header_value,
)

pytestmark = pytest.mark.cluster


@pytest.fixture(scope="module")
def ctx(cluster, harness_config, harness_run_id) -> Any:
    """An add-on context with the traefik add-on's Gateway edge on."""
    c = AddonContext.from_config(harness_config, cluster, run_id=harness_run_id)
    c.settings.setdefault("traefik", {})["gateway"] = True
    yield c
    teardown_addons(c, keep=False)


@pytest.fixture(scope="module")
def traefik(ctx) -> Any:
    install_addons(["traefik"], ctx)
    return ctx.results[-1]


def test_gateway_edge_installs_programmed_and_smoke_checked(ctx, traefik):
    assert traefik.name == "traefik" and traefik.smoke is True
    assert ctx.state.get(GATEWAY_STATE) == ADDON_GATEWAY
    gw = ctx.kubectl.get_json("gateway", ADDON_GATEWAY.name, "-n", ADDON_GATEWAY.namespace)
    done, state = gateway_programmed(gw)
    assert done, state
    crds = ctx.kubectl.get_json("crd", "httproutes.gateway.networking.k8s.io")
    assert crds["metadata"]["annotations"]["gateway.networking.k8s.io/bundle-version"] == pinned()["GATEWAY_API_VERSION"]
    gc = ctx.kubectl.get_json("gatewayclass", gw["spec"]["gatewayClassName"])
    accepted = {c["type"]: c["status"] for c in (gc.get("status") or {}).get("conditions") or []}
    assert accepted.get("Accepted") == "True", gc.get("status")


def test_second_install_is_left_alone(ctx, traefik):
    install_addons(["traefik"], ctx)
    again = ctx.results[-1]
    assert again.action == "present", f"a second install with the Gateway edge did {again.action}"


def test_httproute_answers_200_through_loopback_beside_an_ingress(ctx, traefik, namespace):
    host = f"route-{secrets.token_hex(3)}.harness.test"
    token = secrets.token_hex(6)
    ctx.kubectl.apply([*ing.echo_objects("routed", namespace, host, token, ingress=False)[1:],
                       ing.http_route("routed", namespace, host, ADDON_GATEWAY)])
    status, body = ing.wait_for_response(ctx.http_port, host, want_status=200, want_body=token, timeout=90,
                                         what=f"HTTPRoute {host} served through {ADDON_GATEWAY.describe()}")
    assert status == 200 and token in body
    route = ctx.kubectl.get_json("httproute", "routed", "-n", namespace)
    parents = (route.get("status") or {}).get("parents") or []
    conds = {c["type"]: c["status"] for p in parents for c in p.get("conditions") or []}
    assert conds.get("Accepted") == "True" and conds.get("ResolvedRefs") == "True", route.get("status")

    # the Ingress edge keeps working on the same port, served by the same Traefik
    ing_host = f"ingress-{secrets.token_hex(3)}.harness.test"
    ing_token = secrets.token_hex(6)
    ctx.kubectl.apply(ing.echo_objects("ingressed", namespace, ing_host, ing_token)[1:])
    status, body = ing.wait_for_response(ctx.http_port, ing_host, want_status=200, want_body=ing_token, timeout=90,
                                         what=f"Ingress {ing_host} served beside the Gateway")
    assert ing_token in body


def test_route_on_a_gateway_nobody_provides_is_not_served(ctx, traefik, namespace):
    host = f"stray-{secrets.token_hex(3)}.harness.test"
    ctx.kubectl.apply([*ing.echo_objects("stray", namespace, host, "unused", ingress=False)[1:],
                       ing.http_route("stray", namespace, host, GatewayRef("nobody", ADDON_GATEWAY.namespace))])
    deadline = time.monotonic() + 10  # long enough for Traefik to have applied it if it were going to
    while time.monotonic() < deadline:
        status, _ = ing.http_get(ctx.http_port, host)
        assert status == 404, f"a route on Gateway 'nobody' answered {status}"
        time.sleep(1)


def test_access_log_names_gateway_routed_requests(ctx, traefik, namespace, kube_api):
    host = f"logged-{secrets.token_hex(3)}.harness.test"
    token = secrets.token_hex(6)
    ctx.kubectl.apply([*ing.echo_objects("logged", namespace, host, token, ingress=False)[1:],
                       ing.http_route("logged", namespace, host, ADDON_GATEWAY)])
    ing.wait_for_response(ctx.http_port, host, want_status=200, want_body=token, timeout=90,
                          what=f"HTTPRoute {host} served")
    import requests

    probe_id = new_probe_id()
    ns, selector = access_log_pods()
    follower = PodLogFollower(kube_api, ns, selector, keep=lambda line: probe_id in line, max_duration=60).start()
    try:
        for seq in range(3):
            r = requests.get(f"http://127.0.0.1:{ctx.http_port}/", timeout=5, allow_redirects=False,
                             headers={"Host": host, PROBE_HEADER: probe_header_value(probe_id, seq)})
            assert r.status_code == 200
        follower.wait_until(lambda lines: len(lines) >= 3, timeout=20)
    finally:
        cap = follower.stop()
    log = parse_lines(cap.lines, probe_id)
    assert sorted(log.records) == [0, 1, 2], (cap.lines[:2], cap.errors)
    for rec in log.records.values():
        assert rec.status == 200 and rec.host == host and rec.upstream.endswith(":8080"), rec


def test_a_tls_domain_gets_an_https_listener_whose_certificate_chains_to_the_harness_ca(ctx, traefik, namespace):
    """TLS through the Gateway (harness/env/addons/gateway_tls.py): the listener for ``*.<domain>``
    is Programmed with a cert-manager certificate; a route attached to it answers over HTTPS on
    127.0.0.1 with the release host as SNI, verified against the harness CA, and not over plain HTTP;
    a second domain's listener leaves the first in place (one field manager per listener); removing
    them leaves helm's ``web`` listener alone."""
    install_addons(["cert-manager"], ctx)
    ca = ctx.state["cert-manager"]
    domain = f"tls-{secrets.token_hex(3)}.harness.test"
    try:
        _https_through_a_listener(ctx, namespace, domain, ca)
    finally:
        for d in (domain, f"other-{domain}"):
            gateway_tls.remove_https_listener(ctx.kubectl, ADDON_GATEWAY, d)
    gw = ctx.kubectl.get_json("gateway", ADDON_GATEWAY.name, "-n", ADDON_GATEWAY.namespace)
    names = [lst["name"] for lst in gw["spec"]["listeners"]]
    left = {gateway_tls.listener_name(d) for d in (domain, f"other-{domain}")} & set(names)
    assert ADDON_GATEWAY.section in names and not left, f"listeners after removal: {names}"


def _https_through_a_listener(ctx, namespace, domain, ca):
    listener = gateway_tls.ensure_https_listener(ctx.kubectl, ADDON_GATEWAY, domain, timeout=120)
    assert gateway_tls.ensure_https_listener(ctx.kubectl, ADDON_GATEWAY, domain, timeout=60) == listener

    host = f"rel-{secrets.token_hex(3)}.{domain}"
    token = secrets.token_hex(6)
    on_tls = GatewayRef(ADDON_GATEWAY.name, ADDON_GATEWAY.namespace, listener)
    ctx.kubectl.apply([*ing.echo_objects("secured", namespace, host, token, ingress=False)[1:],
                       ing.http_route("secured", namespace, host, on_tls)])
    session = https_session_factory(host)()
    deadline, last = time.monotonic() + 90, "no answer yet"
    while time.monotonic() < deadline:
        try:
            r = session.get(f"https://127.0.0.1:{ctx.https_port}/", headers={"Host": host}, verify=str(ca), timeout=5)
            last = f"HTTP {r.status_code}"
            if r.status_code == 200 and token in r.text:
                break
        except requests.RequestException as exc:
            last = f"{type(exc).__name__}: {exc}"
        time.sleep(1)
    else:
        pytest.fail(f"HTTPS through listener {listener} for {host} never answered 200 with the token: {last}")
    assert ing.http_get(ctx.http_port, host)[0] == 404, "the route on the HTTPS listener answered plain HTTP"

    other = gateway_tls.ensure_https_listener(ctx.kubectl, ADDON_GATEWAY, f"other-{domain}", timeout=120)
    gw = ctx.kubectl.get_json("gateway", ADDON_GATEWAY.name, "-n", ADDON_GATEWAY.namespace)
    names = [lst["name"] for lst in gw["spec"]["listeners"]]
    assert {ADDON_GATEWAY.section, listener, other} <= set(names), names
