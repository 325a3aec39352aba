"""The platform add-ons on a real kind cluster (issue 5).

Each add-on installs and passes its smoke check; a second install is left alone; Traefik serves
ingress-nginx Ingresses, answers 503 for a backend without endpoints and keeps long streams open;
PostgreSQL is reachable from a pod, and each fault control makes a pod's connection fail the
expected way while recovery brings it (and the data) back. Every wait is bounded polling.
"""
from __future__ import annotations

import secrets
import time
from typing import Any

import pytest
from kubernetes import client

from harness.core.errors import EnvironmentNotReady
from harness.env.addons import engine as addons_mod
from harness.env.addons import smoke as ing
from harness.env.addons.catalog import install_addons, teardown_addons
from harness.env.addons.engine import AddonContext
from harness.env.addons.postgres import PostgresServer, client_pod
from harness.env.addons.traefik import access_log_pods
from harness.k8s.logs import PodLogFollower
from harness.k8s.wait import wait_for
from harness.measure.attribution import parse_lines
from harness.measure.prober import PROBE_HEADER, new_probe_id, probe_header_value
from harness.tools.kind import Kind

pytestmark = pytest.mark.cluster

STREAM_SECONDS = 70  # longer than Traefik's default entrypoint readTimeout (60 s)


@pytest.fixture(scope="module")
def ctx(cluster, harness_config, harness_run_id) -> Any:
    """An add-on context of this module's own; PostgreSQL containers it starts are removed at the end."""
    c = AddonContext.from_config(harness_config, cluster, run_id=harness_run_id)
    yield c
    teardown_addons(c, keep=False)


def _install(ctx: AddonContext, name: str) -> addons_mod.AddonResult:
    install_addons([name], ctx)
    return ctx.results[-1]


@pytest.fixture(scope="module")
def traefik(ctx) -> addons_mod.AddonResult:
    return _install(ctx, "traefik")


def _apply(ctx, objs):
    ctx.kubectl.apply(objs)


# --------------------------------------------------------------------------- traefik


def test_traefik_installs_and_routes_an_nginx_ingress(traefik):
    assert traefik.name == "traefik"
    assert traefik.action in ("install", "upgrade", "present")
    assert traefik.smoke is True, "the smoke check (echo service through 127.0.0.1) must have run and passed"


def test_second_traefik_install_is_left_alone(ctx, traefik):
    again = _install(ctx, "traefik")
    assert again.action == "present", f"a second install on the same cluster did {again.action}"
    assert again.smoke is True


def _pending_secret(ctx, status: str) -> dict | None:
    """The release's newest revision Secret when it has ``status`` (older ones may have any)."""
    found = ctx.kubectl.get_json("secrets", "-n", "harness-traefik", "-l", "owner=helm,name=traefik") or {}
    items = sorted(found.get("items") or [], key=lambda s: int(s["metadata"]["labels"]["version"]))
    return items[-1] if items and items[-1]["metadata"]["labels"].get("status") == status else None


def test_a_release_a_killed_run_left_pending_is_freed_by_the_next_install(ctx, traefik):
    """A run SIGKILLed while helm upgrades an add-on leaves the release pending-upgrade, and helm
    refuses every later operation on it. A live run's pending release is left alone (one line with
    the command that frees it); once that run is over, the next install rolls it back and goes on."""
    import subprocess

    from harness.core import progress
    from harness.env.addons import catalog
    from harness.k8s.namespaces import RUN_LABEL

    helm = ctx.get_helm()
    addon = catalog.get("traefik")
    argv = helm.argv("upgrade", "traefik", *addon.chart_ref(ctx).argv(), "--reuse-values",
                     "--set-string", f"podAnnotations.harness-test-pending={secrets.token_hex(3)}",
                     "--labels", f"{RUN_LABEL}={ctx.run_id}", "--wait", "--timeout", "120s",
                     namespace="harness-traefik")
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        def written():
            found = _pending_secret(ctx, "pending-upgrade")
            return found is not None, "written" if found else "not yet"
        wait_for(written, timeout=60, interval=0.5, what="helm's pending-upgrade revision of traefik")
        pending = _pending_secret(ctx, "pending-upgrade")
    finally:
        proc.kill()  # as SIGKILL leaves it: helm never marks the revision deployed or failed
        proc.wait(timeout=30)
    assert pending["metadata"]["labels"][RUN_LABEL] == ctx.run_id

    # this run is alive: its operation is not the next install's to undo
    with pytest.raises(EnvironmentNotReady, match=rf"traefik: release traefik in namespace harness-traefik is "
                                                  rf"pending-upgrade \(harness run {ctx.run_id} is still running it\)"):
        addon.decide(ctx)

    # the same revision, as a run that is over left it (no owner record under the cache)
    ctx.kubectl("label", "secret", pending["metadata"]["name"], f"{RUN_LABEL}=20200101-000000-dead",
                "--overwrite", namespace="harness-traefik")
    said: list[str] = []
    previous = progress.set_sink(said.append)
    try:
        again = _install(ctx, "traefik")
    finally:
        progress.set_sink(previous)
    assert any("left pending-upgrade by run 20200101-000000-dead, which is over; rolling it back" in s
               for s in said), said
    assert again.smoke is True
    rel = addon.installed_release(ctx)
    assert rel and rel["status"] == "deployed", rel
    assert "harness-test-pending" not in (helm.get_values("traefik", namespace="harness-traefik") or {}).get(
        "podAnnotations", {})


def test_ingress_nginx_annotations_are_accepted(ctx, traefik, namespace):
    """An Ingress carrying the annotations the charts under test use is served (the provider
    honours the timeouts and buffering ones since v3.7; anything it does not know it ignores)."""
    host = f"annotated-{secrets.token_hex(3)}.harness.test"
    token = secrets.token_hex(6)
    objs = ing.echo_objects("annotated", namespace, host, token)[1:]
    objs[-1]["metadata"]["annotations"] = {
        "nginx.ingress.kubernetes.io/proxy-read-timeout": "3600",
        "nginx.ingress.kubernetes.io/proxy-send-timeout": "3600",
        "nginx.ingress.kubernetes.io/proxy-buffering": "off",
        "nginx.ingress.kubernetes.io/proxy-body-size": "16m",
    }
    _apply(ctx, objs)
    status, body = ing.wait_for_response(ctx.http_port, host, want_status=200, want_body=token, timeout=90,
                                         what=f"annotated Ingress {host} served")
    assert token in body


def test_backend_without_endpoints_answers_503_fast(ctx, traefik, namespace):
    host = f"empty-{secrets.token_hex(3)}.harness.test"
    _apply(ctx, ing.echo_objects("empty", namespace, host, "unused", with_endpoints=False)[1:])
    ing.wait_for_response(ctx.http_port, host, want_status=503, timeout=60,
                          what=f"503 from Traefik for {host} (Service without ready endpoints)")
    start = time.monotonic()
    status, body = ing.http_get(ctx.http_port, host, timeout=5)
    elapsed = time.monotonic() - start
    assert status == 503, body
    assert "no available server" in body
    assert elapsed < 1.0, f"503 took {elapsed:.2f} s"


def _stream_objects(namespace: str, host: str) -> list[dict]:
    """An SSE endpoint: busybox httpd running a CGI script that prints an event every 2 s."""
    objs = ing.echo_objects("stream", namespace, host, "index")[1:]
    script = ("mkdir -p /www/cgi-bin && echo index > /www/index.html && printf '%s\\n' '#!/bin/sh' "
              "'printf \"Content-Type: text/event-stream\\r\\nCache-Control: no-cache\\r\\n\\r\\n\"' "
              "'i=0; while [ $i -lt 120 ]; do printf \"data: %s\\n\\n\" $i; i=$((i+1)); sleep 2; done' "
              "> /www/cgi-bin/events && chmod +x /www/cgi-bin/events && exec httpd -f -p 8080 -h /www")
    objs[0]["spec"]["template"]["spec"]["containers"][0]["command"] = ["sh", "-c", script]
    objs[-1]["metadata"]["annotations"] = {"nginx.ingress.kubernetes.io/proxy-read-timeout": "3600"}
    return objs


def test_event_stream_outlives_the_default_read_timeout(ctx, traefik, namespace):
    import requests

    host = f"stream-{secrets.token_hex(3)}.harness.test"
    _apply(ctx, _stream_objects(namespace, host))
    ing.wait_for_response(ctx.http_port, host, want_status=200, want_body="index", timeout=90,
                          what=f"stream backend {host} served")
    events: list[float] = []
    start = time.monotonic()
    with requests.get(f"http://127.0.0.1:{ctx.http_port}/cgi-bin/events", headers={"Host": host},
                      stream=True, timeout=(5, 15)) as resp:
        assert resp.status_code == 200
        assert resp.headers.get("Content-Type", "").startswith("text/event-stream")
        for line in resp.iter_lines(decode_unicode=True):
            if line and line.startswith("data:"):
                events.append(time.monotonic() - start)
            if time.monotonic() - start > STREAM_SECONDS:
                break
    assert events, "no event arrived"
    assert events[0] < 10, f"first event after {events[0]:.1f} s: the response is buffered"
    assert events[-1] > STREAM_SECONDS, (f"stream ended after {events[-1]:.0f} s with {len(events)} events; "
                                         "Traefik cut it before the test's horizon")


def test_traefik_access_log_names_the_pod_that_answered(ctx, traefik, namespace, kube_api):
    """Issue 11 item 2 end to end at the edge: requests carrying X-Harness-Probe through Traefik, its
    access log followed through the API (every Traefik pod), one JSON line per request naming the
    echo pod's IP:port as ServiceAddr, with the status and a StartUTC inside the test's time."""
    import requests

    host = f"attrib-{secrets.token_hex(3)}.harness.test"
    objs = ing.echo_objects("attrib", namespace, host, "attributed")[1:]
    objs[0]["spec"]["replicas"] = 2
    _apply(ctx, objs)
    ing.wait_for_response(ctx.http_port, host, want_status=200, want_body="attributed", timeout=90,
                          what=f"echo backend {host} served")
    pid = new_probe_id()
    log_ns, selector = access_log_pods()
    follower = PodLogFollower(kube_api, log_ns, selector, keep=lambda line: pid in line, max_duration=120).start()
    began = time.time()
    try:
        for seq in range(20):
            r = requests.get(f"http://127.0.0.1:{ctx.http_port}/", timeout=5, allow_redirects=False,
                             headers={"Host": host, PROBE_HEADER: probe_header_value(pid, seq)})
            assert r.status_code == 200
        follower.wait_until(lambda lines: len(lines) >= 20, timeout=20)
    finally:
        cap = follower.stop()
    ended = time.time()
    assert cap.pods and not cap.errors, cap.errors
    log = parse_lines(cap.lines, pid)
    assert sorted(log.records) == list(range(20)), f"{len(cap.lines)} lines, {log.malformed} unreadable: {cap.lines[:2]}"
    pods = client.CoreV1Api(kube_api).list_namespaced_pod(namespace, label_selector="app.kubernetes.io/name=attrib")
    ips = {p.status.pod_ip for p in pods.items}
    for rec in log.records.values():
        assert rec.upstream_ip in ips and rec.upstream.endswith(":8080"), rec
        assert rec.status == 200 and rec.host == host
        assert began - 2 <= rec.start <= ended + 2, (rec.start, began, ended)


# --------------------------------------------------------------------------- cert-manager


def test_cert_manager_issues_certificates_or_skips_with_the_reason(ctx, traefik, namespace):
    try:
        result = _install(ctx, "cert-manager")
    except EnvironmentNotReady as exc:
        pytest.skip(f"cert-manager cannot be installed here: {exc}")
    assert result.smoke is True
    ca_file = ctx.addon_state("cert-manager")
    host = f"tls-{secrets.token_hex(3)}.harness.test"
    token = secrets.token_hex(6)
    objs = ing.echo_objects("tls", namespace, host, token)[1:]
    objs[-1]["metadata"]["annotations"] = {"cert-manager.io/cluster-issuer": "harness-ca"}
    objs[-1]["spec"]["tls"] = [{"hosts": [host], "secretName": "tls-cert"}]
    _apply(ctx, objs)

    def served() -> tuple[bool, str]:
        try:
            status, body = ing.https_get(ctx.https_port, host, ca_file=str(ca_file))
        except Exception as exc:  # noqa: BLE001 - TLS errors until the certificate is issued
            return False, f"{type(exc).__name__}: {exc}"[:120]
        return status == 200 and token in body, f"HTTP {status}"

    wait_for(served, timeout=120, interval=2, what=f"https://{host} verified against {ca_file}",
             transient=lambda exc: False)
    assert _install(ctx, "cert-manager").action == "present"


# --------------------------------------------------------------------------- ingress-nginx


def test_ingress_nginx_skips_where_its_image_cannot_be_pulled(ctx):
    if ctx.effective_image_source() == "local":
        pytest.skip("ingress-nginx: image source is local (no registry); its controller image cannot be built "
                    "offline and the project is retired; traefik serves the same Ingresses")
    pytest.skip("ingress-nginx conflicts with the traefik add-on this module installed (both take host ports "
                "80/443); test it in a cluster of its own: --addons ingress-nginx")


# --------------------------------------------------------------------------- postgres


@pytest.fixture(scope="module")
def pg(ctx) -> PostgresServer:
    _install(ctx, "postgres")
    return ctx.addon_state("postgres")


def test_second_postgres_install_is_left_alone(ctx, pg):
    assert _install(ctx, "postgres").action == "present"
    assert ctx.addon_state("postgres") is pg


def _client(ctx, pg: PostgresServer, namespace: str) -> str:
    """A psql client pod on one worker (the PostgreSQL image is loaded into that node only)."""
    kind = Kind()
    nodes = kind.get_nodes(ctx.cluster.name)
    node = next((n for n in nodes if "worker" in n), nodes[0])
    from harness.env.cluster import node_images, normalize_ref

    if normalize_ref(pg.image) not in node_images(ctx.cluster, node):
        kind.load_image(ctx.cluster.name, pg.image, nodes=[node])
    pod = client_pod("psql", namespace, pg.image)
    pod["spec"]["nodeName"] = node
    pod["spec"]["containers"][0]["imagePullPolicy"] = "Never"
    ctx.kubectl.apply([pod])

    def running() -> tuple[bool, str]:
        p = ctx.kubectl.get_json("pod", "-n", namespace, "psql") or {}
        phase = (p.get("status") or {}).get("phase")
        return phase == "Running", f"phase={phase}"

    wait_for(running, timeout=120, interval=1, what=f"psql client pod in {namespace} Running")
    return "psql"


def _wait_outcome(pg: PostgresServer, namespace: str, pod: str, want: tuple[str, ...], timeout: float = 60):
    seen: dict[str, Any] = {}

    def check() -> tuple[bool, str]:
        r = pg.probe_from_pod(namespace, pod, connect_timeout=3)
        seen["r"] = r
        return r.outcome in want, f"{r.outcome}: {r.detail[-160:]}"

    wait_for(check, timeout=timeout, interval=1, what=f"pod-side PostgreSQL probe to be {'/'.join(want)}",
             transient=lambda exc: False)
    return seen["r"]


def test_postgres_is_reachable_from_a_pod(ctx, pg, namespace):
    dsn = pg.create_database(namespace)
    assert dsn.startswith("postgres://") and f"@postgres.{namespace}.svc:5432/" in dsn
    secret = ctx.kubectl.get_json("secret", "-n", namespace, "postgres")
    import base64

    assert base64.b64decode(secret["data"]["dsn"]).decode() == dsn
    pod = _client(ctx, pg, namespace)
    r = _wait_outcome(pg, namespace, pod, ("ok",))
    assert r.detail == "1"
    write = pg.probe_from_pod(namespace, pod, sql="CREATE TABLE t (v text); INSERT INTO t VALUES ('from-pod')")
    assert write.ok, write.detail
    d = pg.databases[namespace]
    assert pg.query("SELECT v FROM t", database=d.database, user=d.user, password=d.password) == "from-pod"


FAULTS = [
    ("stop", "start", ("refused",)),
    ("pause", "unpause", ("timeout",)),
    ("disconnect", "reconnect", ("timeout", "unreachable")),
]


@pytest.mark.parametrize("fault,recover,expected", FAULTS, ids=[f[0] for f in FAULTS])
def test_fault_breaks_pod_connections_and_recovery_restores_them(ctx, pg, namespace, fault, recover, expected):
    pg.create_database(namespace)
    pod = _client(ctx, pg, namespace)
    _wait_outcome(pg, namespace, pod, ("ok",))
    token = secrets.token_hex(4)
    assert pg.probe_from_pod(namespace, pod, sql=f"CREATE TABLE t (v text); INSERT INTO t VALUES ('{token}')").ok
    expected = expected if fault != "stop" or pg.stop_mode == "server" else ("timeout", "unreachable")

    before = len(pg.events)
    getattr(pg, fault)()
    try:
        broken = _wait_outcome(pg, namespace, pod, expected, timeout=60)
        assert broken.seconds < 30, f"the failed connect took {broken.seconds:.1f} s"
    finally:
        getattr(pg, recover)()
    events = [e for _, e in pg.events[before:]]
    assert events[0].startswith({"stop": "stopped", "pause": "paused", "disconnect": "disconnected"}[fault])
    assert len(events) >= 2
    times = [t for t, _ in pg.events[before:]]
    assert times == sorted(times)

    back = _wait_outcome(pg, namespace, pod, ("ok",), timeout=60)
    assert back.ok
    r = pg.probe_from_pod(namespace, pod, sql="SELECT v FROM t")
    assert r.ok and r.detail == token, f"data committed before the fault is gone: {r.detail!r}"


def test_in_cluster_postgres_serves_a_pod(ctx, namespace):
    """The in-cluster option: a StatefulSet with a PVC from the default StorageClass."""
    from harness.env.addons.postgres import Postgres, install_in_cluster

    image = Postgres().image(ctx)
    dsn = install_in_cluster(ctx, namespace, image=image, timeout=180)
    assert dsn.startswith("postgres://app:") and f"@postgres.{namespace}.svc:5432/app" in dsn
    pvc = ctx.kubectl.get_json("pvc", "-n", namespace, "data-postgres-0") or {}
    assert (pvc.get("status") or {}).get("phase") == "Bound"
    ctx.kubectl.apply([client_pod("psql", namespace, image)])  # the image is in every node now

    def answers() -> tuple[bool, str]:
        res = ctx.kubectl("exec", "-n", namespace, "psql", "--", "psql", dsn + "&connect_timeout=3", "-At", "-c",
                          "select 41 + 1", check=False, timeout=40)
        return res.stdout.strip() == "42", (res.stderr or res.stdout).strip()[-160:]

    wait_for(answers, timeout=120, interval=2, what=f"in-cluster PostgreSQL in {namespace} to answer a pod",
             transient=lambda exc: False)
