"""``postgres``: PostgreSQL outside the cluster, reachable from pods by a stable in-cluster name.

The server is a container started by testcontainers on the kind Docker network (``kind``), so the
nodes, and through them the pods, reach it directly. Each test namespace gets

* its own database and login role (:meth:`PostgresServer.create_database`),
* a Service ``postgres`` without selector plus an EndpointSlice pointing at the container's IP on
  the kind network (pods use ``postgres.<ns>.svc:5432``; no DNS outside the cluster involved),
* a Secret ``postgres`` with ``dsn`` (``postgres://user:pass@postgres.<ns>.svc:5432/db?sslmode=disable``),
  ``host``, ``port``, ``user``, ``password``, ``database``.

Image: ``harness/postgres:15`` (images/build-addons.sh, Debian's package) where images cannot be
pulled, ``postgres:16`` otherwise; both honour POSTGRES_USER / POSTGRES_PASSWORD / POSTGRES_DB.
testcontainers' reaper (Ryuk) is disabled where its image cannot be pulled; every container is
labelled with the cluster and run id and removed by :meth:`PostgresServer.remove` (and leftovers
of killed runs by :func:`remove_leftovers`).

Fault controls (each returns once the fault is in effect and appends ``(time.time(), event)`` to
:attr:`PostgresServer.events`); data committed before a fault is still there after recovery:

=====================  ============================================  ===========================
control                what happens                                   a client in a pod sees
=====================  ============================================  ===========================
``stop()/start()``     the server process stops; container and IP     ``connection refused``
                       stay (harness image; other images: the whole   (other images: timeout /
                       container stops, see :attr:`stop_mode`)        no route to host)
``pause()/unpause()``  ``docker pause``: every process frozen         connect succeeds, startup
                                                                      hangs -> client timeout
``disconnect()/``      container leaves the kind network; reconnect   timeout or ``no route to
``reconnect()``        restores the same IP (``--ip``) or, when       host``
                       Docker cannot pin it, re-points the
                       EndpointSlices at the new one
=====================  ============================================  ===========================
"""
from __future__ import annotations

import base64
import hashlib
import json
import logging
import re
import secrets
import shlex
import time
from dataclasses import dataclass
from typing import Any, ClassVar, Literal
from urllib.parse import quote

from harness.core import progress, runs
from harness.core.errors import CommandError, EnvironmentNotReady, UsageError
from harness.env import cluster as kind_cluster  # a module: tests replace its functions
from harness.env import containers
from harness.env.addons.engine import Addon, AddonContext, check_images, pinned
from harness.k8s.wait import wait_for
from harness.tools.exec import run as _run

log = logging.getLogger("harness.env.addons.postgres")

KIND_NETWORK = "kind"
SERVICE_NAME = "postgres"
SECRET_NAME = "postgres"
ENDPOINTSLICE_NAME = "postgres-external"
PORT = 5432
LABEL_ADDON = containers.ADDON_LABEL
LABEL_CLUSTER = containers.ADDON_CLUSTER_LABEL
LABEL_RUN = "io.helm-e2e-harness.run-id"
LABEL_PID = "io.helm-e2e-harness.pid"
LABEL_HOST = "io.helm-e2e-harness.host"
CONTROL_LABEL = "io.helm-e2e-harness.postgres.control"
ADMIN_USER = "harness"
ADMIN_DB = "harness"

ProbeOutcome = Literal["ok", "refused", "timeout", "unreachable", "dns", "auth", "error"]


def default_image(source: str) -> str:
    """``harness/postgres:15`` for ``local``, ``postgres:16`` for ``pull`` (harness/data/versions.env)."""
    v = pinned()
    return v.get("POSTGRES_IMAGE", "harness/postgres:15") if source == "local" else v.get("POSTGRES_PULL_IMAGE",
                                                                                         "postgres:16")


def pg_ident(prefix: str, namespace: str) -> str:
    """A PostgreSQL identifier ``<prefix>_<namespace>`` (``-`` -> ``_``), at most 63 bytes; a long
    namespace keeps its start plus an 8-character hash so distinct namespaces stay distinct."""
    base = re.sub(r"[^a-z0-9_]", "_", namespace.lower())
    ident = f"{prefix}_{base}"
    if len(ident) > 63:
        digest = hashlib.sha1(namespace.encode()).hexdigest()[:8]
        ident = ident[: 63 - 9] + "_" + digest
    return ident


def dsn_for(user: str, password: str, host: str, database: str, port: int = PORT) -> str:
    """``postgres://user:password@host:port/database?sslmode=disable`` (password URL-quoted)."""

    return f"postgres://{quote(user, safe='')}:{quote(password, safe='')}@{host}:{port}/{database}?sslmode=disable"


def service_host(namespace: str) -> str:
    return f"{SERVICE_NAME}.{namespace}.svc"


def namespace_objects(namespace: str, ip: str, *, user: str, password: str, database: str,
                      labels: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """Service (no selector) + EndpointSlice -> ``ip``:5432 + Secret with the DSN, for one namespace."""

    labels = {"app.kubernetes.io/managed-by": "helm-e2e-harness", "app.kubernetes.io/name": "postgres",
              **(labels or {})}
    host = service_host(namespace)
    secret = {"dsn": dsn_for(user, password, host, database), "host": host, "port": str(PORT),
              "user": user, "password": password, "database": database}
    return [
        {"apiVersion": "v1", "kind": "Service",
         "metadata": {"name": SERVICE_NAME, "namespace": namespace, "labels": labels},
         "spec": {"type": "ClusterIP",
                  "ports": [{"name": "postgres", "port": PORT, "targetPort": PORT, "protocol": "TCP"}]}},
        endpointslice(namespace, ip, labels=labels),
        {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
         "metadata": {"name": SECRET_NAME, "namespace": namespace, "labels": labels},
         "data": {k: base64.b64encode(v.encode()).decode() for k, v in secret.items()}},
    ]


def endpointslice(namespace: str, ip: str, *, labels: dict[str, str] | None = None) -> dict[str, Any]:
    """The EndpointSlice of Service ``postgres``: the container's IP on the kind network.

    ``endpointslice.kubernetes.io/managed-by`` names the harness, so the EndpointSlice controller
    leaves it alone (it only manages slices labelled as its own).
    """
    return {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"name": ENDPOINTSLICE_NAME, "namespace": namespace,
                         "labels": {**(labels or {}), "kubernetes.io/service-name": SERVICE_NAME,
                                    "endpointslice.kubernetes.io/managed-by": "helm-e2e-harness"}},
            "addressType": "IPv4",
            "ports": [{"name": "postgres", "port": PORT, "protocol": "TCP"}],
            "endpoints": [{"addresses": [ip], "conditions": {"ready": True}}]}


@dataclass(frozen=True)
class Database:
    """One namespace's database: ``dsn`` as pods use it, plus its parts."""

    namespace: str
    database: str
    user: str
    password: str
    dsn: str


@dataclass(frozen=True)
class ProbeResult:
    """A client's attempt to query the database: ``outcome`` and the client's own words."""

    outcome: ProbeOutcome
    detail: str
    seconds: float

    @property
    def ok(self) -> bool:
        return self.outcome == "ok"


def classify_client_error(text: str) -> ProbeOutcome:
    """Map a psql/libpq error message to refused / timeout / unreachable / dns / auth / error."""
    t = text.lower()
    if "connection refused" in t:
        return "refused"
    if "timeout expired" in t or "timed out" in t:
        return "timeout"
    if "no route to host" in t or "network is unreachable" in t or "host is unreachable" in t:
        return "unreachable"
    if "could not translate host name" in t or "name or service not known" in t or "temporary failure in name" in t:
        return "dns"
    if "password authentication failed" in t or "no pg_hba.conf entry" in t:
        return "auth"
    return "error"


class PostgresServer:
    """One PostgreSQL container for the session, on the kind network.

    Args:
        image: e.g. ``harness/postgres:15`` or ``postgres:16``.
        cluster_name: the kind cluster (labels; the container is named ``harness-pg-<cluster>-<run>-<random>``).
        run_id: labels the container so a cleanup can find it.
        kubectl: harness.tools.kubectl.Kubectl of the cluster (namespace objects).
        network: the Docker network of the kind nodes.
        runner: harness.tools.exec.run-compatible process runner (docker CLI).
    """

    def __init__(self, image: str, *, cluster_name: str, run_id: str, kubectl: Any, network: str = KIND_NETWORK,
                 runner: Any = _run, disable_ryuk: bool = True):
        self.image = image
        self.cluster_name = cluster_name
        self.run_id = run_id
        self.kubectl = kubectl
        self.network = network
        self.runner = runner
        self.disable_ryuk = disable_ryuk
        # unique per server: two contexts of one run (the plugin's and a test's) may each start one
        self.name = f"harness-pg-{cluster_name or 'external'}-{run_id}"[:58] + "-" + secrets.token_hex(2)
        self.admin_password = secrets.token_urlsafe(18)
        self.events: list[tuple[float, str]] = []
        self.databases: dict[str, Database] = {}
        self._container: Any = None
        self._ip = ""
        self.stop_mode: Literal["server", "container"] = "container"

    # ------------------------------------------------------------------ lifecycle

    def launch(self, *, timeout: float = 120.0) -> PostgresServer:
        """Start the container (testcontainers) on the kind network and wait until it answers.

        Raises:
            EnvironmentNotReady: the kind network does not exist (no kind cluster) or the
                container did not become ready (its last log lines in the message).
        """
        if self.runner(["docker", "network", "inspect", self.network], timeout=30, check=False).returncode != 0:
            raise EnvironmentNotReady(f"Docker network {self.network!r} does not exist; the postgres add-on needs a "
                                      "kind cluster (its nodes are on that network)")
        try:
            from testcontainers.community.postgres import PostgresContainer
        except ImportError:  # testcontainers < 4.10
            from testcontainers.postgres import PostgresContainer  # type: ignore[no-redef]
        from testcontainers.core.config import testcontainers_config

        if self.disable_ryuk:
            # the reaper's image (testcontainers/ryuk) cannot be pulled here; remove() cleans up
            testcontainers_config.ryuk_disabled = True
        labels = owner_labels(runs.owner_now(self.run_id), addon="postgres", cluster=self.cluster_name)
        container = PostgresContainer(self.image, username=ADMIN_USER, password=self.admin_password,
                                      dbname=ADMIN_DB, driver=None)
        container.with_name(self.name)
        container.ports = {f"{PORT}/tcp": ("127.0.0.1", None)}  # published on loopback only
        container.with_kwargs(network=self.network, labels=labels)
        progress.say(f"starting PostgreSQL ({self.image}) as container {self.name} on network {self.network}")
        try:
            container.start()
        except Exception as exc:  # noqa: BLE001 - docker/testcontainers errors come in many types
            logs = self._logs_tail()
            self._force_remove()
            raise EnvironmentNotReady(f"PostgreSQL container {self.name} ({self.image}) did not start: "
                                      f"{str(exc).strip().splitlines()[0] if str(exc).strip() else exc!r}"
                                      f"{'; last log lines: ' + logs if logs else ''}") from None
        self._container = container
        self.stop_mode = "server" if self._label(CONTROL_LABEL) else "container"
        self._ip = self._current_ip()
        if not self._ip:
            raise EnvironmentNotReady(f"container {self.name} has no IP on network {self.network}")
        self._event(f"started at {self._ip} (stop mode: {self.stop_mode})")
        return self

    def remove(self) -> None:
        """Remove the container (and its anonymous volumes). Safe to call twice."""
        self._force_remove()
        self._container = None
        self._event("removed")

    def _force_remove(self) -> None:
        self.runner(["docker", "rm", "-f", "-v", self.name], timeout=60, check=False)

    # ------------------------------------------------------------------ facts

    @property
    def ip(self) -> str:
        """The container's IPv4 address on the kind network (what the EndpointSlices point at)."""
        return self._ip

    @property
    def host_port(self) -> int:
        """The port on 127.0.0.1 that reaches the server from the host."""
        out = self.runner(["docker", "port", self.name, f"{PORT}/tcp"], timeout=30).stdout
        for line in out.splitlines():
            if line.startswith("127.0.0.1:"):
                return int(line.rsplit(":", 1)[1])
        raise EnvironmentNotReady(f"container {self.name} does not publish {PORT} on 127.0.0.1 ({out.strip()!r})")

    def _inspect(self) -> dict[str, Any]:
        out = self.runner(["docker", "inspect", self.name], timeout=30).stdout
        return json.loads(out)[0]

    def _label(self, key: str) -> str:
        return str(((self._inspect().get("Config") or {}).get("Labels") or {}).get(key) or "")

    def _current_ip(self) -> str:
        nets = ((self._inspect().get("NetworkSettings") or {}).get("Networks") or {})
        return str((nets.get(self.network) or {}).get("IPAddress") or "")

    def state(self) -> dict[str, Any]:
        """``docker inspect``'s State (Running, Paused ...)."""
        return self._inspect().get("State") or {}

    def _logs_tail(self, n: int = 5) -> str:
        res = self.runner(["docker", "logs", "--tail", str(n), self.name], timeout=30, check=False)
        return " | ".join(ln.strip() for ln in (res.stdout + res.stderr).splitlines() if ln.strip())[-600:]

    def _event(self, what: str) -> None:
        self.events.append((time.time(), what))
        log.info("postgres %s: %s", self.name, what)

    # ------------------------------------------------------------------ SQL

    def query(self, sql: str, *, database: str = ADMIN_DB, user: str = ADMIN_USER, password: str | None = None,
              timeout: float = 30.0) -> str:
        """Run ``sql`` with psql inside the container over TCP to 127.0.0.1 with password auth.

        Returns:
            psql's unaligned, tuples-only output (``-At``).

        Raises:
            CommandError: psql failed (its error in the message).
        """
        pw = self.admin_password if password is None else password
        argv = ["docker", "exec", "-e", f"PGPASSWORD={pw}", "-e", "PGCONNECT_TIMEOUT=5", self.name,
                "psql", "-h", "127.0.0.1", "-p", str(PORT), "-U", user, "-d", database, "-v", "ON_ERROR_STOP=1",
                "-At", "-c", sql]
        return self.runner(argv, timeout=timeout).stdout.strip()

    def _admin(self, *statements: str, timeout: float = 60.0) -> None:
        argv = ["docker", "exec", "-e", f"PGPASSWORD={self.admin_password}", self.name, "psql", "-h", "127.0.0.1",
                "-p", str(PORT), "-U", ADMIN_USER, "-d", ADMIN_DB, "-v", "ON_ERROR_STOP=1", "-q"]
        for s in statements:  # separate -c: CREATE DATABASE cannot run inside a transaction block
            argv += ["-c", s]
        self.runner(argv, timeout=timeout)

    def is_ready(self) -> bool:
        """True when the server accepts a password-authenticated query over TCP."""
        try:
            return self.query("select 1", timeout=15) == "1"
        except CommandError:
            return False

    def wait_ready(self, *, timeout: float = 60.0) -> None:
        wait_for(lambda: (self.is_ready(), "not accepting queries"), timeout=timeout, interval=0.5,
                 what=f"PostgreSQL {self.name} to accept queries", transient=lambda exc: False)

    # ------------------------------------------------------------------ per-namespace databases

    def create_database(self, namespace: str) -> str:
        """A database and login role for ``namespace``, plus Service/EndpointSlice/Secret ``postgres`` in it.

        Idempotent per namespace within the session.

        Returns:
            the DSN pods use: ``postgres://<user>:<pass>@postgres.<ns>.svc:5432/<db>?sslmode=disable``.
        """
        if namespace in self.databases:
            self.apply_namespace(namespace)
            return self.databases[namespace].dsn
        db = pg_ident("db", namespace)
        user = pg_ident("u", namespace)
        password = secrets.token_urlsafe(18)
        self._admin(
            f"DROP DATABASE IF EXISTS \"{db}\"",
            f"DROP ROLE IF EXISTS \"{user}\"",
            f"CREATE ROLE \"{user}\" LOGIN PASSWORD '{password}'",
            f"CREATE DATABASE \"{db}\" OWNER \"{user}\"",
            f"REVOKE CONNECT ON DATABASE \"{db}\" FROM PUBLIC",
        )
        dsn = dsn_for(user, password, service_host(namespace), db)
        self.databases[namespace] = Database(namespace, db, user, password, dsn)
        self.apply_namespace(namespace)
        self._event(f"database {db} for namespace {namespace}")
        return dsn

    def apply_namespace(self, namespace: str) -> None:
        """(Re)write the namespace's Service, EndpointSlice and Secret (after an IP change, too)."""
        d = self.databases[namespace]
        self.kubectl.apply(namespace_objects(namespace, self._ip, user=d.user, password=d.password,
                                             database=d.database))

    def drop_database(self, namespace: str) -> None:
        """Drop the namespace's database and role (the namespace's objects go with the namespace)."""
        d = self.databases.pop(namespace, None)
        if d is None:
            return
        self._admin(f"DROP DATABASE IF EXISTS \"{d.database}\" WITH (FORCE)", f"DROP ROLE IF EXISTS \"{d.user}\"")

    def _repoint(self) -> None:
        """After the container's IP changed: point every namespace's EndpointSlice at the new one."""
        new_ip = self._current_ip()
        if new_ip and new_ip != self._ip:
            self._event(f"ip changed {self._ip} -> {new_ip}; EndpointSlices updated")
            self._ip = new_ip
            for ns in list(self.databases):
                self.kubectl.apply([endpointslice(ns, new_ip)])

    # ------------------------------------------------------------------ fault controls

    def stop(self) -> None:
        """Take the server down: clients get "connection refused" (harness image) while the
        container keeps its IP; with other images the container stops (clients time out)."""
        if self.stop_mode == "server":
            self.runner(["docker", "exec", self.name, "harness-pg", "stop"], timeout=60)
        else:
            self.runner(["docker", "stop", "-t", "30", self.name], timeout=90)
        self._event(f"stopped ({self.stop_mode})")

    def start(self, *, timeout: float = 60.0) -> None:
        """Undo :meth:`stop`; returns when the server accepts queries again."""
        if self.stop_mode == "server":
            self.runner(["docker", "exec", self.name, "harness-pg", "start"], timeout=timeout + 10)
        else:
            self.runner(["docker", "start", self.name], timeout=60)
            self._repoint()
        self.wait_ready(timeout=timeout)
        self._event("started")

    def pause(self) -> None:
        """``docker pause``: the server freezes; TCP connects may complete but nothing answers."""
        self.runner(["docker", "pause", self.name], timeout=60)
        if not self.state().get("Paused"):
            raise EnvironmentNotReady(f"docker pause {self.name} returned but the container is not paused")
        self._event("paused")

    def unpause(self, *, timeout: float = 60.0) -> None:
        """Undo :meth:`pause`; returns when the server accepts queries again."""
        self.runner(["docker", "unpause", self.name], timeout=60)
        self.wait_ready(timeout=timeout)
        self._event("unpaused")

    def disconnect(self) -> None:
        """Take the container off the kind network: packets to its IP go nowhere."""
        self.runner(["docker", "network", "disconnect", self.network, self.name], timeout=60)
        if self._current_ip():
            raise EnvironmentNotReady(f"{self.name} still has an address on {self.network} after disconnect")
        self._event("disconnected")

    def reconnect(self, *, timeout: float = 60.0) -> None:
        """Put the container back on the kind network at its old IP when Docker allows pinning it
        (a network with a user-configured IPv4 subnet); otherwise re-point the EndpointSlices."""
        res = self.runner(["docker", "network", "connect", "--ip", self._ip, self.network, self.name],
                          timeout=60, check=False)
        if res.returncode != 0:
            if "user configured subnets" not in res.stderr:
                raise CommandError(res.argv, res.returncode, res.stdout, res.stderr)
            self.runner(["docker", "network", "connect", self.network, self.name], timeout=60)
        self._repoint()
        self.wait_ready(timeout=timeout)
        self._event(f"reconnected at {self._ip}")

    # ------------------------------------------------------------------ from a pod

    def probe_from_pod(self, namespace: str, pod: str, *, connect_timeout: int = 3, sql: str = "select 1",
                       container: str | None = None, dsn: str | None = None) -> ProbeResult:
        """Query the namespace's database from ``pod`` with psql over the Service (the pod needs psql:
        run :func:`client_pod` with the PostgreSQL image).

        Returns:
            ProbeResult with ``ok`` / ``refused`` / ``timeout`` / ``unreachable`` / ``dns`` / ``auth`` / ``error``.
        """
        target = dsn or self.databases[namespace].dsn
        target += ("&" if "?" in target else "?") + f"connect_timeout={connect_timeout}"
        args = ["exec", "-n", namespace, pod, *(["-c", container] if container else []), "--",
                "psql", target, "-At", "-v", "ON_ERROR_STOP=1", "-c", sql]
        start = time.monotonic()
        res = self.kubectl(*args, timeout=connect_timeout + 30, check=False)
        seconds = time.monotonic() - start
        if res.returncode == 0:
            return ProbeResult("ok", res.stdout.strip(), seconds)
        return ProbeResult(classify_client_error(res.stderr + res.stdout), (res.stderr or res.stdout).strip(), seconds)


def client_pod(name: str, namespace: str, image: str) -> dict[str, Any]:
    """A pod that idles with the PostgreSQL image (it has psql), for :meth:`PostgresServer.probe_from_pod`."""
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": namespace,
                         "labels": {"app.kubernetes.io/name": "psql-client",
                                    "app.kubernetes.io/managed-by": "helm-e2e-harness"}},
            "spec": {"terminationGracePeriodSeconds": 0,
                     "containers": [{"name": "psql", "image": image, "imagePullPolicy": "IfNotPresent",
                                     "command": ["sleep", "infinity"]}]}}


def in_cluster_objects(namespace: str, image: str, *, password: str, user: str = "app", database: str = "app",
                       storage: str = "1Gi", storage_class: str | None = None) -> list[dict[str, Any]]:
    """In-cluster PostgreSQL for charts that expect one: StatefulSet ``postgres`` (1 replica, a PVC
    from the default StorageClass unless ``storage_class``), Service ``postgres`` and Secret
    ``postgres`` (same keys as the external one, ``dsn`` included)."""

    labels = {"app.kubernetes.io/name": "postgres", "app.kubernetes.io/managed-by": "helm-e2e-harness"}
    host = service_host(namespace)
    secret = {"dsn": dsn_for(user, password, host, database), "host": host, "port": str(PORT), "user": user,
              "password": password, "database": database}
    claim: dict[str, Any] = {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": storage}}}
    if storage_class:
        claim["storageClassName"] = storage_class
    env = [{"name": "POSTGRES_USER", "value": user}, {"name": "POSTGRES_DB", "value": database},
           {"name": "POSTGRES_PASSWORD", "valueFrom": {"secretKeyRef": {"name": SECRET_NAME, "key": "password"}}},
           # a subdirectory: the volume's root may hold lost+found
           {"name": "PGDATA", "value": "/var/lib/postgresql/data/pgdata"}]
    ready = {"exec": {"command": ["pg_isready", "-h", "127.0.0.1", "-p", str(PORT)]}, "periodSeconds": 2}
    return [
        {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
         "metadata": {"name": SECRET_NAME, "namespace": namespace, "labels": labels},
         "data": {k: base64.b64encode(v.encode()).decode() for k, v in secret.items()}},
        {"apiVersion": "v1", "kind": "Service",
         "metadata": {"name": SERVICE_NAME, "namespace": namespace, "labels": labels},
         "spec": {"selector": {"app.kubernetes.io/name": "postgres"},
                  "ports": [{"name": "postgres", "port": PORT, "targetPort": "postgres"}]}},
        {"apiVersion": "apps/v1", "kind": "StatefulSet",
         "metadata": {"name": "postgres", "namespace": namespace, "labels": labels},
         "spec": {"serviceName": SERVICE_NAME, "replicas": 1,
                  "selector": {"matchLabels": {"app.kubernetes.io/name": "postgres"}},
                  "template": {"metadata": {"labels": labels},
                               "spec": {"terminationGracePeriodSeconds": 30,
                                        "containers": [{"name": "postgres", "image": image,
                                                        "imagePullPolicy": "IfNotPresent", "env": env,
                                                        "ports": [{"name": "postgres", "containerPort": PORT}],
                                                        "readinessProbe": ready,
                                                        "volumeMounts": [{"name": "data",
                                                                          "mountPath": "/var/lib/postgresql/data"}]}]}},
                  "volumeClaimTemplates": [{"metadata": {"name": "data"}, "spec": claim}]}},
    ]


def install_in_cluster(ctx: AddonContext, namespace: str, *, image: str | None = None,
                       timeout: float | None = None) -> str:
    """Run PostgreSQL inside the cluster in ``namespace`` (see :func:`in_cluster_objects`); returns
    the DSN once the StatefulSet's pod is Ready. The image is loaded into the nodes first."""

    image = image or Postgres().image(ctx)
    if ctx.is_kind:
        kind_cluster.load_images(ctx.cluster, [image])
    password = secrets.token_urlsafe(18)
    objs = in_cluster_objects(namespace, image, password=password)
    ctx.kubectl.apply(objs)

    def ready() -> tuple[bool, str]:
        sts = ctx.kubectl.get_json("statefulset", "-n", namespace, "postgres") or {}
        n = (sts.get("status") or {}).get("readyReplicas") or 0
        return n >= 1, f"readyReplicas={n}"

    wait_for(ready, timeout=timeout or ctx.timeout, interval=2.0, what=f"in-cluster PostgreSQL in {namespace} Ready",
             hint=f"kubectl -n {namespace} describe pod postgres-0; kubectl -n {namespace} get pvc")
    return dsn_for("app", password, service_host(namespace), "app")


def owner_labels(owner: runs.Owner, *, addon: str, cluster: str) -> dict[str, str]:
    """The Docker labels of a container an add-on starts: add-on, cluster, and the owning run
    (run id, pid, host), which ``python -m harness clean`` reads (harness/core/runs.py)."""
    return {LABEL_ADDON: addon, LABEL_CLUSTER: cluster, LABEL_RUN: owner.run_id, LABEL_PID: str(owner.pid),
            LABEL_HOST: owner.host}


def remove_leftovers(cluster_name: str, *, keep_run: str = "", runner: Any = _run,
                     alive: Any = runs.pid_alive) -> list[str]:
    """Remove PostgreSQL containers of ``cluster_name`` left by other runs that are over.

    A container whose labels name a run still alive on this host (``alive(pid)``) stays, and so
    does one of ``keep_run``; one without an owner pid (made before pids were recorded) is removed.

    Returns:
        the removed container names.
    """
    fmt = "{{.Names}} {{.Label \"" + LABEL_RUN + "\"}} {{.Label \"" + LABEL_PID + "\"}} {{.Label \"" + LABEL_HOST + "\"}}"
    out = runner(["docker", "ps", "-a", "--filter", f"label={LABEL_ADDON}=postgres",
                  "--filter", f"label={LABEL_CLUSTER}={cluster_name}", "--format", fmt], timeout=30).stdout
    host = runs.this_host()
    removed = []
    for line in out.splitlines():
        parts = line.split()
        if not parts or (keep_run and len(parts) > 1 and parts[1] == keep_run):
            continue
        if len(parts) > 3 and parts[2].isdigit() and parts[3] == host and alive(int(parts[2])):
            continue  # a live run's server (two runs on one reused cluster)
        runner(["docker", "rm", "-f", "-v", parts[0]], timeout=60, check=False)
        removed.append(parts[0])
    return removed


class Postgres(Addon):
    name: ClassVar[str] = "postgres"
    summary: ClassVar[str] = ("PostgreSQL outside the cluster (testcontainers on the kind network); one database "
                              "and Secret 'postgres' per test namespace; stop/pause/disconnect faults")

    def image(self, ctx: AddonContext) -> str:
        return ctx.setting("postgres", "image") or default_image(ctx.effective_image_source())

    def version(self, ctx: AddonContext) -> str:
        return self.image(ctx)

    def host_images(self, ctx: AddonContext) -> list[str]:
        # the server is a plain Docker container: nothing to load into the nodes (a psql client pod
        # with this image loads it itself, see client_pod); checked as the host's Docker pulls it
        return [ctx.host_pull_name(self.image(ctx))]

    def offline_hint(self) -> str:
        return "build it with `make images` (images/build-addons.sh postgres)"

    def preflight(self, ctx: AddonContext) -> None:
        if not ctx.is_kind:
            raise UsageError("postgres: the add-on runs PostgreSQL on the kind Docker network; it cannot serve an "
                             "external cluster (--kubeconfig); remove postgres from addons")
        check_images(ctx, [self])

    def decide(self, ctx: AddonContext) -> Any:
        server = ctx.state.get(self.name)
        return "present" if server is not None and server.state().get("Running") else "install"

    def install(self, ctx: AddonContext) -> None:
        removed = remove_leftovers(ctx.cluster.name, keep_run=ctx.run_id, runner=ctx.runner)
        if removed:
            progress.say(f"removed PostgreSQL containers left by earlier runs: {', '.join(removed)}")
        # the host's Docker pulls it (through the registry mirror when one is set); Ryuk, testcontainers'
        # reaper, is an image of its own that neither a registry-less machine nor a mirror holding only
        # the run's images has: the owner labels and `python -m harness clean` cover what it would reap
        server = PostgresServer(ctx.host_pull_name(self.image(ctx)), cluster_name=ctx.cluster.name,
                                run_id=ctx.run_id, kubectl=ctx.kubectl, runner=ctx.runner,
                                disable_ryuk=ctx.effective_image_source() == "local" or bool(ctx.registry_mirror))
        server.launch(timeout=ctx.wait_timeout)
        ctx.state[self.name] = server

    def ready(self, ctx: AddonContext) -> None:
        ctx.state[self.name].wait_ready(timeout=ctx.wait_timeout)

    def smoke(self, ctx: AddonContext) -> None:
        """Data written through the admin connection reads back (the in-cluster path is tested by
        tests/cluster/test_addons.py, which needs a namespace of its own)."""
        server: PostgresServer = ctx.state[self.name]
        token = secrets.token_hex(4)
        got = server.query(f"CREATE TABLE IF NOT EXISTS harness_smoke (v text); INSERT INTO harness_smoke "
                           f"VALUES ('{token}'); SELECT v FROM harness_smoke WHERE v = '{token}'")
        if got.splitlines()[-1:] != [token]:
            raise EnvironmentNotReady(f"postgres smoke check: wrote {token!r}, read back {got!r}")

    def teardown(self, ctx: AddonContext, *, keep: bool) -> None:
        server = ctx.state.get(self.name)
        if server is None:
            return
        if keep:
            progress.say(f"keeping PostgreSQL container {server.name} (remove: docker rm -f {shlex.quote(server.name)})")
            return
        server.remove()
        ctx.state.pop(self.name, None)
