"""A real OCI registry on loopback, standing in for Docker Hub, quay.io, registry.k8s.io and ghcr.io.

The CNCF distribution registry (``harness/registry:<REGISTRY_VERSION>``, built by
images/build-registry.sh from its Go module) runs as a Docker container:

* its port 5000 is published on ``127.0.0.1:<port>`` only, so the host's Docker pushes and pulls
  ``127.0.0.1:<port>/<path>`` over plain HTTP (Docker treats registries on 127.0.0.0/8 as insecure
  without configuration: https://docs.docker.com/reference/cli/dockerd/#insecure-registries), and
  helm pushes and pulls ``oci://127.0.0.1:<port>/...`` with ``--plain-http``;
* it joins the ``kind`` Docker network (now when the network exists, else :func:`attach` after
  ``kind create cluster``), where the nodes' containerd reaches it by container name,
  ``http://<name>:5000``: 127.0.0.1 inside a node is the node's own loopback, not the host's.
  This is kind's own local-registry recipe (https://kind.sigs.k8s.io/docs/user/local-registry/);
* its storage is a temporary directory on the host, removed by :func:`stop` with the container;
* it is labelled like the add-ons' containers (add-on ``registry``, run id, pid, host), so
  ``python -m harness clean`` removes one a killed run left.

Images are pushed under their upstream repository path (``postgres:16`` is
``<registry>/library/postgres:16``, ``kindest/node:v1.37.0`` is ``<registry>/kindest/node:v1.37.0``):
one registry serves the paths of every upstream registry, the way a pull-through mirror does.
A cluster is routed to it by :func:`mirrored_kind_config` (containerd's ``hosts.toml`` per upstream
registry, https://github.com/containerd/containerd/blob/main/docs/hosts.md); the host's Docker is
routed by reference (:meth:`harness.core.imageref.ImageRef.on`), since Docker's own mirror setting
covers Docker Hub only and needs a daemon restart.

The registry's log (JSON, one ``response completed`` entry per request) is what a test reads to
assert that pulls came through it (:func:`requests`, :func:`manifest_pulls`).
"""
from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from harness.core import progress, runs
from harness.core.errors import CommandError, EnvironmentNotReady, UsageError
from harness.core.imageref import (
    DOCKER_HUB,
    DOCKER_HUB_API,
    UPSTREAM_REGISTRIES,
    ImageRef,
    parse_image,
)
from harness.core.pins import pinned
from harness.env.addons.postgres import LABEL_ADDON, LABEL_RUN, owner_labels
from harness.k8s.namespaces import new_run_id
from harness.tools.exec import run as _run

KIND_NETWORK = "kind"
CONTAINER_PORT = 5000
ADDON_NAME = "registry"
"""The upstream registries a mirrored cluster pulls through the loopback registry."""
CERTS_DIR = "/etc/containerd/certs.d"
"""Where the nodes' containerd looks for ``<registry>/hosts.toml`` (its ``config_path``)."""
CONFIG_IN_CONTAINER = "/etc/distribution/config.yml"
STORAGE_IN_CONTAINER = "/var/lib/registry"
HTPASSWD_IN_CONTAINER = "/var/lib/registry/htpasswd"
LABEL_BY_HAND = "io.helm-e2e-harness.registry.by-hand"
"""Set on a registry ``python -m harness registry up`` started: the only ones ``registry down`` removes."""
LABEL_STAMP = "io.helm-e2e-harness.pushed-for"
"""Set on an image pushed with ``push(stamp=...)``: whose push it is, which gives it a digest no Docker
store has seen."""


@dataclass
class Registry:
    """A running loopback registry.

    Attributes:
        name: the container's name, also its DNS name on the kind network.
        port: the host port on 127.0.0.1.
        storage: the host directory holding its data and config (removed by :func:`stop`).
        image: the registry image it runs.
        run_id: the run that owns it (its labels).
        auth: True when it requires htpasswd credentials (every anonymous request answers 401).
        networks: the Docker networks it is attached to besides Docker's default bridge.
    """

    name: str
    port: int
    storage: Path
    image: str
    run_id: str = ""
    auth: bool = False
    networks: list[str] = field(default_factory=list)

    @property
    def address(self) -> str:
        """``127.0.0.1:<port>``: the registry as the host's Docker and helm name it."""
        return f"127.0.0.1:{self.port}"

    @property
    def in_network(self) -> str:
        """``<name>:5000``: the registry as the kind nodes reach it."""
        return f"{self.name}:{CONTAINER_PORT}"

    @property
    def url(self) -> str:
        return f"http://{self.address}"

    def ref(self, upstream: str) -> str:
        """The loopback name of upstream image ``upstream`` (``postgres:16`` ->
        ``127.0.0.1:<port>/library/postgres:16``; a digest stays)."""
        return str(parse_image(upstream).on(self.address))

    def chart_url(self, path: str = "charts") -> str:
        """``oci://127.0.0.1:<port>/<path>``: where ``helm push`` puts charts."""
        return f"oci://{self.address}/{path.strip('/')}"


# --------------------------------------------------------------------------- pure parts


def config_yaml(*, auth: bool = False) -> str:
    """The registry's configuration (https://distribution.github.io/distribution/about/configuration/).

    JSON log at level info: one ``response completed`` entry per request with its method, URI,
    status, remote address and user agent (what :func:`parse_requests` reads); the access log
    (Apache combined lines) is off, since it says the same less precisely. Deletes are enabled so a
    test can remove a tag. ``auth``: htpasswd authentication; distribution creates the file with
    one random ``admin`` password when it does not exist (registry/auth/htpasswd/access.go), so
    every anonymous request answers 401 without the harness writing bcrypt hashes.
    """
    cfg: dict[str, Any] = {
        "version": 0.1,
        "log": {"level": "info", "formatter": "json", "accesslog": {"disabled": True},
                "fields": {"service": "harness-registry"}},
        "storage": {"filesystem": {"rootdirectory": STORAGE_IN_CONTAINER}, "delete": {"enabled": True},
                    "maintenance": {"uploadpurging": {"enabled": False}}},
        "http": {"addr": f":{CONTAINER_PORT}", "secret": secrets.token_hex(16)},
    }
    if auth:
        cfg["auth"] = {"htpasswd": {"realm": "harness-registry", "path": HTPASSWD_IN_CONTAINER}}
    return yaml.safe_dump(cfg, sort_keys=False)


def hosts_toml(upstream: str, mirror: str) -> str:
    """containerd's ``hosts.toml`` for ``upstream`` (``docker.io``...): pull and resolve from
    ``http://<mirror>`` first, the upstream registry after it
    (https://github.com/containerd/containerd/blob/main/docs/hosts.md, "server" and "host")."""
    server = f"https://{DOCKER_HUB_API if upstream == DOCKER_HUB else upstream}"
    return (f'server = "{server}"\n\n'
            f'[host."http://{mirror}"]\n'
            f'  capabilities = ["pull", "resolve"]\n')


def containerd_patch(config_version: int) -> str:
    """The ``containerdConfigPatches`` entry that makes the CRI plugin read ``hosts.toml`` files from
    :data:`CERTS_DIR`: the images plugin ``io.containerd.cri.v1.images`` in containerd's config
    version 3 (this project's node image), ``io.containerd.grpc.v1.cri`` in version 2 (kindest/node
    of kind v0.33; containerd's docs/cri/config.md and docs/hosts.md, "CRI").

    Raises:
        UsageError: a config version other than 2 or 3.
    """
    if config_version == 3:
        section = 'plugins."io.containerd.cri.v1.images".registry'
    elif config_version == 2:
        section = 'plugins."io.containerd.grpc.v1.cri".registry'
    else:
        raise UsageError(f"containerd config version {config_version} is not supported (2 or 3)")
    return f'[{section}]\n  config_path = "{CERTS_DIR}"\n'


def containerd_config_version(config_toml: str) -> int:
    """The ``version = N`` of a containerd config (1 when absent, as containerd reads it)."""
    for line in config_toml.splitlines():
        key, sep, value = line.partition("=")
        if sep and key.strip() == "version":
            try:
                return int(value.split("#", 1)[0].strip())
            except ValueError:
                break
    return 1


def mirrored_kind_config(kind_config: str, hosts_dir: Path | str, config_version: int) -> str:
    """``kind_config`` (kind's ``Cluster`` YAML, e.g. :func:`harness.env.cluster.render_kind_config`)
    with every node pulling through the registry whose ``hosts.toml`` files are in ``hosts_dir``.

    Adds :func:`containerd_patch` to ``containerdConfigPatches`` and mounts ``hosts_dir`` read-only
    at :data:`CERTS_DIR` in every node (kind ``extraMounts``;
    https://kind.sigs.k8s.io/docs/user/configuration/#extra-mounts): containerd reads the hosts
    directory at each pull, so nothing is written into a node after it starts. Other keys are kept.

    Raises:
        UsageError: ``kind_config`` is not a kind Cluster with a ``nodes`` list (a config without
            ``nodes`` gets the one control-plane node kind would create).
    """
    cfg = yaml.safe_load(kind_config) or {}
    if not isinstance(cfg, dict) or cfg.get("kind") != "Cluster":
        raise UsageError("kind config: not a kind Cluster (kind: Cluster, apiVersion: kind.x-k8s.io/v1alpha4)")
    nodes = cfg.get("nodes") or [{"role": "control-plane"}]
    if not isinstance(nodes, list):
        raise UsageError("kind config: nodes must be a list")
    mount = {"hostPath": str(hosts_dir), "containerPath": CERTS_DIR, "readOnly": True}
    for node in nodes:
        mounts = [m for m in node.get("extraMounts") or [] if m.get("containerPath") != CERTS_DIR]
        node["extraMounts"] = [*mounts, mount]
    cfg["nodes"] = nodes
    cfg["containerdConfigPatches"] = [*(cfg.get("containerdConfigPatches") or []), containerd_patch(config_version)]
    return yaml.safe_dump(cfg, sort_keys=False)


@dataclass(frozen=True)
class Request:
    """One request the registry served (a ``response completed`` log entry).

    Attributes:
        method: ``GET``, ``HEAD``, ``PUT``...
        uri: the request URI (path and query).
        status: the HTTP status sent.
        user_agent: the client (``docker/...``, ``containerd/...``, ``Helm/...``).
        remote: the client's address as the registry saw it (``ip:port``).
    """

    method: str
    uri: str
    status: int
    user_agent: str = ""
    remote: str = ""

    @property
    def path(self) -> str:
        return self.uri.split("?", 1)[0]

    @property
    def manifest(self) -> tuple[str, str] | None:
        """``(repository path, tag or digest)`` for a manifest request, else None."""
        path = self.path
        if not path.startswith("/v2/") or "/manifests/" not in path:
            return None
        repo, _, ref = path[len("/v2/"):].rpartition("/manifests/")
        return repo, ref


def parse_requests(log_text: str) -> list[Request]:
    """The requests in the registry's JSON log (``msg: response completed`` entries); other lines
    (startup, plain text) are skipped."""
    out = []
    for line in log_text.splitlines():
        line = line.strip()
        if not line.startswith("{"):
            continue
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if entry.get("msg") != "response completed":
            continue
        try:
            status = int(entry.get("http.response.status", 0))
        except (TypeError, ValueError):
            status = 0
        out.append(Request(str(entry.get("http.request.method", "")), str(entry.get("http.request.uri", "")), status,
                           str(entry.get("http.request.useragent", "")), str(entry.get("http.request.remoteaddr", ""))))
    return out


def pulls_of(requests: Iterable[Request], *, agent: str = "") -> list[tuple[str, str]]:
    """``(repository path, tag or digest)`` of each manifest request answered 200 (GET or HEAD: a
    client that already holds a manifest by digest, Docker for one, only resolves it with HEAD), in
    order; ``agent`` keeps those whose user agent contains it (``containerd``: the nodes' pulls)."""
    return [r.manifest for r in requests if r.method in ("GET", "HEAD") and r.status == 200 and r.manifest
            and agent.lower() in r.user_agent.lower()]


# --------------------------------------------------------------------------- the container


def default_image() -> str:
    """``REGISTRY_IMAGE`` of harness/data/versions.env."""
    image = pinned().get("REGISTRY_IMAGE")
    if not image:
        raise EnvironmentNotReady("REGISTRY_IMAGE is not set in harness/data/versions.env")
    return image


def start(port: int = 0, *, run_id: str = "", image: str | None = None, network: str = KIND_NETWORK,
          auth: bool = False, cluster: str = "", by_hand: bool = False, timeout: float = 30.0,
          runner: Callable[..., Any] = _run) -> Registry:
    """Start the registry on ``127.0.0.1:<port>`` and wait until its API answers; image references
    an earlier registry at the same address left in the host's Docker are removed first
    (:func:`forget_host_pulls`), so every pull through this one reaches it.

    Args:
        port: the host port; 0: a free one, chosen by Docker when the registry joins ``network`` now,
            else by :func:`free_loopback_port` (:attr:`Registry.port` says which).
        run_id: the owning run (labels); default a new one.
        image: the registry image (default :func:`default_image`).
        network: the Docker network of the kind nodes; joined now when it exists (else :func:`attach`).
        auth: require credentials (htpasswd): every anonymous request answers 401.
        cluster: the kind cluster it serves, for its labels ("" when not yet known).
        by_hand: started by ``registry up`` to outlive the command (:data:`LABEL_BY_HAND`).
        timeout: seconds to wait for ``GET /v2/`` to answer.
        runner: harness.tools.exec.run-compatible process runner.

    Returns:
        the running :class:`Registry`.

    Raises:
        EnvironmentNotReady: the image is missing (``images/build-registry.sh``), the port is taken,
            or the registry did not answer within ``timeout`` (its last log lines in the message).
    """
    image = image or default_image()
    if runner(["docker", "image", "inspect", image], timeout=30, check=False).returncode != 0:
        raise EnvironmentNotReady(f"registry image {image} is not in the local Docker store; "
                                  "build it with `images/build-registry.sh` (or `make images`)")
    run_id = run_id or new_run_id()
    storage = Path(tempfile.mkdtemp(prefix="harness-registry-"))
    (storage / "data").mkdir()
    (storage / "config.yml").write_text(config_yaml(auth=auth))
    os.chmod(storage, 0o755)
    name = f"{CONTAINER_PREFIX}{run_id}"[:55] + "-" + secrets.token_hex(2)
    labels = owner_labels(runs.owner_now(run_id), addon=ADDON_NAME, cluster=cluster)
    if by_hand:
        labels[LABEL_BY_HAND] = "true"
    networks = [network] if network and _network_exists(network, runner) else []
    chosen = not port and not networks
    if chosen:
        # joined to the kind network later (attach, or ensure_cluster after kind made it): dockerd 20.10
        # gives a port it chose itself (-p 127.0.0.1::5000) a new number when the container joins a
        # network, and the registry's address would move under everything that named it; a port
        # given to `docker run` stays
        port = free_loopback_port()
    argv = ["docker", "run", "-d", "--name", name, "--user", f"{os.getuid()}:{os.getgid()}",
            "-p", f"127.0.0.1:{port or ''}:{CONTAINER_PORT}",
            "-v", f"{storage / 'data'}:{STORAGE_IN_CONTAINER}",
            "-v", f"{storage / 'config.yml'}:{CONFIG_IN_CONTAINER}:ro",
            *[a for k, v in labels.items() for a in ("--label", f"{k}={v}")],
            *(["--network", networks[0]] if networks else []), image]
    reg = Registry(name, port, storage, image, run_id=run_id, auth=auth, networks=networks)
    try:
        runner(argv, timeout=60)
        reg.port = port or _published_port(name, runner)
        # Docker hands out ports in order from the same start after each daemon restart, so an earlier
        # registry may have had this address; image references it left under it would make a pull
        # through this one a no-op (kind and `docker pull` skip an image they already hold)
        forget_host_pulls(reg, runner=runner)
        _wait_answering(reg, timeout, runner)
    except CommandError as exc:
        stop(reg, runner=runner)
        text = f"{exc} {exc.stderr}"
        taken = "address already in use" in text or "port is already allocated" in text
        if taken and chosen:
            raise EnvironmentNotReady(f"registry: the free port 127.0.0.1:{port} it chose was taken before "
                                      "Docker bound it; run the command again") from None
        if taken:
            raise EnvironmentNotReady(f"registry: host port 127.0.0.1:{port} is already in use; "
                                      "choose another (REGISTRY_PORT=... make registry)") from None
        raise EnvironmentNotReady(f"registry container {name} did not start: {text.splitlines()[0]}") from None
    except BaseException:
        stop(reg, runner=runner)
        raise
    progress.say(f"registry {reg.image} at {reg.address} (container {name}"
                 f"{', network ' + networks[0] if networks else ''}; storage {storage})")
    return reg


def free_loopback_port() -> int:
    """A TCP port free on 127.0.0.1 now (the kernel's choice for a bind to port 0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def attach(reg: Registry, network: str = KIND_NETWORK, *, runner: Callable[..., Any] = _run) -> None:
    """Join ``network`` (after ``kind create cluster`` made it) so the nodes reach ``reg.in_network``.
    Nothing happens when already attached.

    Raises:
        EnvironmentNotReady: the network does not exist.
    """
    if network in reg.networks:
        return
    if not _network_exists(network, runner):
        raise EnvironmentNotReady(f"Docker network {network!r} does not exist; create the kind cluster first")
    runner(["docker", "network", "connect", network, reg.name], timeout=60)
    reg.networks.append(network)


def stop(reg: Registry, *, runner: Callable[..., Any] = _run) -> None:
    """Remove the container, its storage directory and the host's image references under its
    address (``127.0.0.1:<port>/library/postgres:16``, a node image by digest: what the host's Docker
    pulled through it; they name a port nothing answers on any more, the images behind them stay
    while another name holds them). Safe to call twice."""
    runner(["docker", "rm", "-f", "-v", reg.name], timeout=60, check=False)
    shutil.rmtree(reg.storage, ignore_errors=True)
    forget_host_pulls(reg, runner=runner)


def forget_host_pulls(reg: Registry, *, runner: Callable[..., Any] = _run) -> None:
    """Remove the host's image references under ``reg``'s address (:func:`local_refs_under`), so a
    later pull through it pulls again; the images stay while another name holds them."""
    listed = runner(["docker", "images", "--digests", "--format", "{{.Repository}}\t{{.Tag}}\t{{.Digest}}"],
                    timeout=60, check=False)
    refs = local_refs_under(reg.address, listed.stdout if listed.returncode == 0 else "")
    if refs:
        runner(["docker", "rmi", *refs], timeout=120, check=False)


def local_refs_under(address: str, images_table: str) -> list[str]:
    """The references in ``docker images --digests`` output (repository, tag, digest per line,
    tab-separated) whose repository is on registry ``address``: ``repo:tag`` for tagged ones,
    ``repo@digest`` for those pulled by digest only."""
    refs = []
    for line in images_table.splitlines():
        repo, tag, digest = (line.split("\t") + ["", "", ""])[:3]
        if not repo.startswith(f"{address}/"):
            continue
        if tag and tag != "<none>":
            refs.append(f"{repo}:{tag}")
        elif digest and digest != "<none>":
            refs.append(f"{repo}@{digest}")
    return refs


def find(*, by_hand: bool = False, runner: Callable[..., Any] = _run) -> list[tuple[str, int]]:
    """The running harness registries: ``(container name, host port)`` each; ``by_hand``: only those
    ``registry up`` started (``make registry-stop`` leaves the registries of test runs alone)."""
    filters = ["--filter", f"label={LABEL_ADDON}={ADDON_NAME}"]
    if by_hand:
        filters += ["--filter", f"label={LABEL_BY_HAND}=true"]
    out = runner(["docker", "ps", *filters, "--format", "{{.Names}}"], timeout=30).stdout
    return [(n, _published_port(n, runner)) for n in out.split()]


CONTAINER_PREFIX = "harness-registry-"


def inspect_container(name: str, *, runner: Callable[..., Any] = _run) -> tuple[Path | None, str]:
    """``(storage directory, run id)`` of registry container ``name`` from ``docker inspect``: the
    host directory :func:`start` made (the parent of the one mounted at the registry's storage
    path, named ``harness-registry-*``) or None, and its run-id label ("" when gone or unlabelled)."""
    res = runner(["docker", "inspect", "-f", "{{json .Mounts}}\t{{json .Config.Labels}}", name], timeout=30,
                 check=False)
    mounts_json, _, labels_json = (res.stdout.strip() if res.returncode == 0 else "").partition("\t")
    try:
        mounts = json.loads(mounts_json or "[]") or []
        run_id = str((json.loads(labels_json or "{}") or {}).get(LABEL_RUN, ""))
    except ValueError:
        return None, ""
    for m in mounts:
        src = Path(str(m.get("Source", "")))
        if m.get("Destination") == STORAGE_IN_CONTAINER and src.name == "data" and \
                src.parent.name.startswith(CONTAINER_PREFIX):
            return src.parent, run_id
    return None, run_id


def remove(name: str, *, runner: Callable[..., Any] = _run) -> str:
    """Remove registry container ``name`` and the storage directory it mounted.

    Returns:
        the run id its labels named ("" when it had none or was gone).
    """
    storage, run_id = inspect_container(name, runner=runner)
    runner(["docker", "rm", "-f", "-v", name], timeout=60, check=False)
    if storage is not None:
        shutil.rmtree(storage, ignore_errors=True)
    return run_id


def push(reg: Registry, local_image: str, upstream_name: str, *, stamp: str = "",
         runner: Callable[..., Any] = _run, timeout: float = 900.0) -> ImageRef:
    """Push ``local_image`` to the registry under ``upstream_name``'s repository path and tag
    (``docker tag`` + ``docker push`` to ``127.0.0.1:<port>/<path>:<tag>``; the extra tag is removed
    from the local store afterwards, so a later ``docker pull`` really pulls).

    Args:
        local_image: an image in the local Docker store (``harness/postgres:15``).
        upstream_name: the name users pull (``postgres:16``); a digest in it is ignored (a local
            build cannot match an upstream digest: the returned reference carries the pushed one).
        stamp: when set, push a copy of ``local_image`` whose config carries the label
            ``LABEL_STAMP=stamp`` (``docker build`` of ``FROM`` + ``LABEL``: the same layers, a new
            config) instead of the image itself. Its digest is then new to the host's Docker: since
            20.10, dockerd pulling by digest takes a manifest it already holds in its content store
            (moby ``distribution/manifest.go``, ``manifestStore.Get``) and an image config it already
            has; once that content records this ``address/repository`` as a source, the pull sends
            the registry nothing but ``GET /v2/`` (seen on 20.10.24: a HEAD the first time through an
            address, nothing after). Docker reuses host ports after a restart, so a pull of an image
            pulled before on this machine can leave no trace in the registry's log.

    Returns:
        the pushed reference, with the digest the registry gave it.

    Raises:
        EnvironmentNotReady: the local image is missing, or the push failed (one line).
    """
    upstream = parse_image(upstream_name)
    target = upstream.on(reg.address).pushed_name()
    try:
        if stamp:
            runner(["docker", "build", "-q", "-t", target, "-"], timeout=300,
                   input=f"FROM {local_image}\nLABEL {LABEL_STAMP}={json.dumps(stamp)}\n")
        else:
            runner(["docker", "tag", local_image, target], timeout=60)
    except CommandError as exc:
        made = "build a labelled copy of" if stamp else "tag"
        raise EnvironmentNotReady(f"cannot {made} {local_image} as {target}: {str(exc).splitlines()[0]}") from None
    try:
        out = runner(["docker", "push", target], timeout=timeout).stdout
    except CommandError as exc:
        raise EnvironmentNotReady(f"docker push {target} to the loopback registry failed: "
                                  f"{str(exc).splitlines()[0]}") from None
    finally:
        runner(["docker", "rmi", target], timeout=60, check=False)
    digest = pushed_digest(out)
    if not digest:
        raise EnvironmentNotReady(f"docker push {target} printed no digest: {out.strip()[-200:]!r}")
    return ImageRef(reg.address, upstream.path, upstream.tag or "latest", digest)


def pushed_digest(push_output: str) -> str:
    """The ``sha256:...`` of ``docker push``'s last ``<tag>: digest: sha256:... size: N`` line ("" if none)."""
    digest = ""
    for line in push_output.splitlines():
        _, sep, rest = line.partition("digest: ")
        if sep:
            digest = rest.split()[0]
    return digest


def log_text(reg: Registry, *, runner: Callable[..., Any] = _run) -> str:
    """The registry's log so far (``docker logs``, both streams)."""
    res = runner(["docker", "logs", reg.name], timeout=60, check=False)
    return res.stdout + res.stderr


def requests(reg: Registry, *, runner: Callable[..., Any] = _run) -> list[Request]:
    """Every request the registry served so far, oldest first (:func:`parse_requests`)."""
    return parse_requests(log_text(reg, runner=runner))


def manifest_pulls(reg: Registry, *, agent: str = "", runner: Callable[..., Any] = _run) -> list[tuple[str, str]]:
    """The pulls it served (:func:`pulls_of`): ``agent="containerd"`` for the kind nodes' pulls."""
    return pulls_of(requests(reg, runner=runner), agent=agent)


def write_hosts_dir(reg: Registry, registries: Sequence[str] = UPSTREAM_REGISTRIES) -> Path:
    """Write ``<storage>/certs.d/<upstream>/hosts.toml`` for each of ``registries``, all pointing at
    ``reg.in_network``; return the ``certs.d`` directory (what :func:`mirrored_kind_config` mounts)."""
    root = reg.storage / "certs.d"
    for upstream in registries:
        d = root / upstream
        d.mkdir(parents=True, exist_ok=True)
        (d / "hosts.toml").write_text(hosts_toml(upstream, reg.in_network))
    os.chmod(reg.storage, 0o755)
    return root


def node_containerd_config_version(node_image: str, *, runner: Callable[..., Any] = _run) -> int:
    """The containerd config version inside kind node image ``node_image`` (2 for kindest/node of
    kind v0.33, 3 for this project's node image), read from its /etc/containerd/config.toml.

    Raises:
        EnvironmentNotReady: the image cannot be run (not pulled yet?).
    """
    try:
        text = runner(["docker", "run", "--rm", "--entrypoint", "cat", node_image, "/etc/containerd/config.toml"],
                      timeout=120).stdout
    except CommandError as exc:
        raise EnvironmentNotReady(f"cannot read containerd's config in {node_image}: {str(exc).splitlines()[0]}") \
            from None
    return containerd_config_version(text)


def _network_exists(network: str, runner: Callable[..., Any]) -> bool:
    return runner(["docker", "network", "inspect", network], timeout=30, check=False).returncode == 0


def _published_port(name: str, runner: Callable[..., Any]) -> int:
    out = runner(["docker", "port", name, f"{CONTAINER_PORT}/tcp"], timeout=30).stdout
    for line in out.splitlines():
        if line.strip().startswith("127.0.0.1:"):
            return int(line.strip().rsplit(":", 1)[1])
    raise EnvironmentNotReady(f"registry container {name} publishes no 127.0.0.1 port ({out.strip()!r})")


def _wait_answering(reg: Registry, timeout: float, runner: Callable[..., Any]) -> None:
    """Poll ``GET /v2/`` until it answers 200 (401 with auth), at most ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    last = ""
    while True:
        try:
            with urllib.request.urlopen(f"{reg.url}/v2/", timeout=2) as resp:
                if resp.status == 200:
                    return
                last = f"HTTP {resp.status}"
        except urllib.error.HTTPError as exc:
            if exc.code == 401 and reg.auth:
                return
            last = f"HTTP {exc.code}"
        except OSError as exc:
            last = str(exc)
        if time.monotonic() >= deadline:
            tail = " | ".join(log_text(reg, runner=runner).strip().splitlines()[-3:])
            raise EnvironmentNotReady(f"registry {reg.name} at {reg.address} did not answer GET /v2/ within "
                                      f"{timeout:.0f} s (last: {last}); log: {tail[-400:]}")
        time.sleep(0.2)
