"""The PostgreSQL add-on without Docker or a cluster: names, DSNs, the per-namespace objects,
client error classification, fault-control commands and cleanup (a fake process runner)."""
from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from harness.core.errors import UsageError
from harness.env.addons import postgres
from harness.env.addons.engine import AddonContext
from harness.env.addons.postgres import (
    PostgresServer,
    classify_client_error,
    dsn_for,
    namespace_objects,
    pg_ident,
    remove_leftovers,
)
from harness.tools.exec import Result


def test_pg_ident_is_a_valid_identifier():
    assert pg_ident("db", "test-upgrade-x1y2z3") == "db_test_upgrade_x1y2z3"
    long_ns = "a" * 60 + "-b1"
    ident = pg_ident("db", long_ns)
    assert len(ident) <= 63
    assert ident != pg_ident("db", "a" * 60 + "-b2"), "long namespaces stay distinct"


def test_dsn_quotes_the_password():
    assert dsn_for("u", "p@ss/w:rd", "postgres.ns.svc", "db") == \
        "postgres://u:p%40ss%2Fw%3Ard@postgres.ns.svc:5432/db?sslmode=disable"


def test_namespace_objects_point_a_selectorless_service_at_the_container():
    svc, eps, secret = namespace_objects("ns1", "172.18.0.9", user="u_ns1", password="pw", database="db_ns1")
    assert svc["kind"] == "Service" and "selector" not in svc["spec"]
    assert svc["spec"]["ports"][0] == {"name": "postgres", "port": 5432, "targetPort": 5432, "protocol": "TCP"}
    assert eps["kind"] == "EndpointSlice"
    assert eps["metadata"]["labels"]["kubernetes.io/service-name"] == "postgres"
    assert eps["metadata"]["labels"]["endpointslice.kubernetes.io/managed-by"] != "endpointslice-controller.k8s.io"
    assert eps["endpoints"] == [{"addresses": ["172.18.0.9"], "conditions": {"ready": True}}]
    assert eps["ports"][0]["name"] == svc["spec"]["ports"][0]["name"], "slice port must match the service port name"
    data = {k: base64.b64decode(v).decode() for k, v in secret["data"].items()}
    assert data["dsn"] == "postgres://u_ns1:pw@postgres.ns1.svc:5432/db_ns1?sslmode=disable"
    assert data["host"] == "postgres.ns1.svc" and data["port"] == "5432"


@pytest.mark.parametrize("text,want", [
    ('psql: error: connection to server at "postgres.ns.svc" (10.96.0.5), port 5432 failed: Connection refused',
     "refused"),
    ('psql: error: connection to server at "postgres.ns.svc" (10.96.0.5), port 5432 failed: timeout expired',
     "timeout"),
    ("psql: error: connection to server at ... failed: No route to host", "unreachable"),
    ('psql: error: could not translate host name "postgres.x.svc" to address: Name or service not known', "dns"),
    ('FATAL:  password authentication failed for user "u"', "auth"),
    ("something else", "error"),
])
def test_client_errors_are_classified(text, want):
    assert classify_client_error(text) == want


def test_default_images_come_from_the_pins():
    assert postgres.default_image("local") == "harness/postgres:15"
    assert postgres.default_image("pull") == "postgres:16"


def test_postgres_cannot_serve_an_external_cluster():
    from types import SimpleNamespace

    external = SimpleNamespace(name="", kubeconfig=Path("/x/kubeconfig"), context="ctx", node_image="")
    c = AddonContext(cluster=external, run_id="r")
    with pytest.raises(UsageError, match="postgres: the add-on runs PostgreSQL on the kind Docker network"):
        postgres.Postgres().preflight(c)


# --------------------------------------------------------------------------- fault controls


class FakeDocker:
    """A fake runner that answers docker inspect from a mutable state and records every argv."""

    def __init__(self, ip="172.18.0.5", pinnable=False, labels=None):
        self.calls: list[list[str]] = []
        self.ip = ip
        self.next_ip = ip
        self.pinnable = pinnable
        self.paused = False
        self.labels = labels or {}

    def __call__(self, argv, *, timeout=0, check=True, input=None, env=None, **kw):
        argv = list(argv)
        self.calls.append(argv)
        out, rc, err = "", 0, ""
        if argv[:2] == ["docker", "inspect"]:
            nets = {"kind": {"IPAddress": self.ip}} if self.ip else {}
            out = json.dumps([{"State": {"Running": True, "Paused": self.paused},
                               "Config": {"Labels": self.labels}, "NetworkSettings": {"Networks": nets}}])
        elif argv[:2] == ["docker", "pause"]:
            self.paused = True
        elif argv[:3] == ["docker", "network", "disconnect"]:
            self.ip = ""
        elif argv[:3] == ["docker", "network", "connect"]:
            if "--ip" in argv and not self.pinnable:
                rc, err = 1, ("Error response from daemon: user specified IP address is supported only when "
                              "connecting to networks with user configured subnets")
            else:
                self.ip = argv[argv.index("--ip") + 1] if "--ip" in argv else self.next_ip
        elif argv[:2] == ["docker", "exec"] and "select 1" in argv:
            out = "1\n"
        if check and rc:
            from harness.core.errors import CommandError

            raise CommandError(argv, rc, out, err)
        return Result(argv, rc, out, err)


class FakeKubectl:
    def __init__(self):
        self.applied: list[dict] = []

    def apply(self, objs):
        self.applied.extend(objs)


def server(docker: FakeDocker, kubectl: FakeKubectl | None = None) -> PostgresServer:
    s = PostgresServer("harness/postgres:15", cluster_name="harness", run_id="r1", kubectl=kubectl or FakeKubectl(),
                       runner=docker)
    s._ip = docker.ip
    s._container = object()
    return s


def test_reconnect_pins_the_ip_when_docker_allows_it():
    d = FakeDocker(pinnable=True)
    s = server(d)
    s.disconnect()
    s.reconnect(timeout=5)
    assert ["docker", "network", "connect", "--ip", "172.18.0.5", "kind", s.name] in d.calls
    assert s.ip == "172.18.0.5"
    assert [e for _, e in s.events] == ["disconnected", "reconnected at 172.18.0.5"]


def test_reconnect_repoints_endpointslices_when_the_ip_changes():
    d, k = FakeDocker(), FakeKubectl()
    s = server(d, k)
    s.databases["ns1"] = postgres.Database("ns1", "db_ns1", "u_ns1", "pw", "dsn")
    s.databases["ns2"] = postgres.Database("ns2", "db_ns2", "u_ns2", "pw", "dsn")
    s.disconnect()
    d.next_ip = "172.18.0.7"
    s.reconnect(timeout=5)
    assert s.ip == "172.18.0.7"
    slices = [o for o in k.applied if o["kind"] == "EndpointSlice"]
    assert {o["metadata"]["namespace"] for o in slices} == {"ns1", "ns2"}
    assert all(o["endpoints"][0]["addresses"] == ["172.18.0.7"] for o in slices)
    assert any("ip changed 172.18.0.5 -> 172.18.0.7" in e for _, e in s.events)


def test_stop_uses_the_server_control_of_the_harness_image():
    d = FakeDocker()
    s = server(d)
    s.stop_mode = "server"
    s.stop()
    s.start(timeout=5)
    assert ["docker", "exec", s.name, "harness-pg", "stop"] in d.calls
    assert ["docker", "exec", s.name, "harness-pg", "start"] in d.calls
    assert [e for _, e in s.events] == ["stopped (server)", "started"]


def test_stop_stops_the_container_for_other_images():
    d = FakeDocker()
    s = server(d)
    s.stop()
    s.start(timeout=5)
    assert ["docker", "stop", "-t", "30", s.name] in d.calls and ["docker", "start", s.name] in d.calls


def test_pause_returns_once_paused_and_records_times():
    d = FakeDocker()
    s = server(d)
    s.pause()
    s.unpause(timeout=5)
    (t1, e1), (t2, e2) = s.events
    assert (e1, e2) == ("paused", "unpaused") and t1 <= t2


def test_leftovers_of_other_runs_are_removed():
    listing = "harness-pg-harness-old r0\nharness-pg-harness-r1 r1\n"
    calls = []

    def runner(argv, **kw):
        calls.append(list(argv))
        return Result(list(argv), 0, listing if argv[1] == "ps" else "", "")

    assert remove_leftovers("harness", keep_run="r1", runner=runner) == ["harness-pg-harness-old"]
    assert ["docker", "rm", "-f", "-v", "harness-pg-harness-old"] in calls
    assert "label=io.helm-e2e-harness.env.cluster=harness" in calls[0]


def test_leftovers_of_a_live_run_stay():
    from harness.core import runs

    host = runs.this_host()
    listing = f"harness-pg-harness-a r0 41 {host}\nharness-pg-harness-b r2 42 {host}\nharness-pg-harness-c r3 41 elsewhere\n"
    calls = []

    def runner(argv, **kw):
        calls.append(list(argv))
        return Result(list(argv), 0, listing if argv[1] == "ps" else "", "")

    removed = remove_leftovers("harness", keep_run="r1", runner=runner, alive=lambda pid: pid == 41)
    assert removed == ["harness-pg-harness-b", "harness-pg-harness-c"]


def test_in_cluster_objects_wire_the_secret_into_the_statefulset():
    secret, svc, sts = postgres.in_cluster_objects("ns1", "harness/postgres:15", password="pw")
    data = {k: base64.b64decode(v).decode() for k, v in secret["data"].items()}
    assert data["dsn"] == "postgres://app:pw@postgres.ns1.svc:5432/app?sslmode=disable"
    assert svc["spec"]["selector"] == sts["spec"]["selector"]["matchLabels"]
    c = sts["spec"]["template"]["spec"]["containers"][0]
    env = {e["name"]: e for e in c["env"]}
    assert env["POSTGRES_PASSWORD"]["valueFrom"]["secretKeyRef"] == {"name": "postgres", "key": "password"}
    assert env["PGDATA"]["value"].startswith("/var/lib/postgresql/data/")
    claim = sts["spec"]["volumeClaimTemplates"][0]["spec"]
    assert "storageClassName" not in claim, "the default StorageClass is used unless one is named"
