"""Where the cluster gets created: kind config, node image choice, create/reuse/delete, image loading.

Environment functions in the style of e2e-framework's envfuncs (CreateCluster, LoadImageToCluster,
ExportClusterLogs, DestroyCluster): small, sharing the cluster through a `Cluster` value.
"""
from __future__ import annotations

import logging
import os
import socket
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.core import progress, runs
from harness.core.errors import (
    CommandError,
    EnvironmentNotReady,
    HarnessError,
    UsageError,
    WaitTimeout,
)
from harness.core.imageref import parse_image
from harness.core.pins import KubernetesPins, cache_dir, kubernetes_pins, pinned
from harness.env import containers
from harness.tools import (
    binaries,  # a module: tests replace tool_path
    docker,
)
from harness.tools.exec import run
from harness.tools.kind import Kind

log = logging.getLogger("harness.env.cluster")

LOCAL_NODE_REPOSITORY = "harness/kind-node"
UPSTREAM_NODE_REPOSITORY = "kindest/node"


@dataclass(frozen=True)
class Cluster:
    """A cluster the session uses.

    Attributes:
        name: kind cluster name ("" for an external cluster given by kubeconfig).
        kubeconfig: private kubeconfig file (mode 0600), never ~/.kube/config.
        context: the context to use in it.
        created: True when this session created the cluster (False: reused or external).
        node_image: the node image it runs ("" when unknown).
        kubernetes_version: the pinned version it was created or reused for ("" for an external
            cluster: the default version's tools are used).
    """

    name: str
    kubeconfig: Path
    context: str
    created: bool
    node_image: str = ""
    kubernetes_version: str = ""


@dataclass(frozen=True)
class ClusterSpec:
    """What ensure_cluster needs, taken from HarnessConfig by `spec_from_config`.

    Ports are host ports published on 127.0.0.1 only: ``http_port``/``https_port`` reach the
    ingress controller (containerPorts 80/443 of the node labelled ``ingress-ready=true``) and
    ``nodeport_port`` reaches NodePort ``nodeport_port`` of that node. ``port_mappings=False``
    publishes none of them (a second cluster beside one that holds the ports).
    ``kubernetes_version`` (None: KUBERNETES_VERSION) selects the node image, kind and kubectl.
    """

    name: str = "harness"
    kubernetes_version: str | None = None
    workers: int = 2
    kind_config: Path | None = None
    node_image: str | None = None
    image_source: str = "auto"  # auto | pull | local
    registry_mirror: str | None = None  # HOST:PORT the host's Docker pulls the node image through
    reuse: bool = False
    kubeconfig: Path | None = None  # an existing cluster: no kind at all
    kube_context: str | None = None  # that kubeconfig's context to use (None: its current context)
    http_port: int = 18080
    https_port: int = 18443
    nodeport_port: int = 30080
    port_mappings: bool = True
    create_timeout: float = 600.0
    extra: dict[str, Any] = field(default_factory=dict)


def spec_from_config(cfg: Any) -> ClusterSpec:
    """Build a ClusterSpec from a HarnessConfig (fields missing there keep their defaults)."""
    names = {f for f in ClusterSpec.__dataclass_fields__ if f != "extra"}
    mapping = {"cluster_name": "name", "reuse_cluster": "reuse", "cluster_workers": "workers",
               "ingress_http_port": "http_port", "ingress_https_port": "https_port"}
    values: dict[str, Any] = {}
    for attr in dir(cfg):
        key = mapping.get(attr, attr)
        if key in names and not attr.startswith("_"):
            value = getattr(cfg, attr)
            if value is not None:
                values[key] = value
    if values.get("kind_config"):
        values["kind_config"] = Path(values["kind_config"])
    if values.get("kubeconfig"):
        values["kubeconfig"] = Path(values["kubeconfig"])
    return ClusterSpec(**values)


def host_cgroup_v1(mountinfo: str | None = None) -> bool:
    """True when this host runs cgroup v1: /sys/fs/cgroup is not a cgroup2 mount.

    On a hybrid host (cgroup v1 controllers, cgroup2 only at /sys/fs/cgroup/unified, as on this
    project's CI machines) and a pure v1 host the answer is True; on a unified host False. kind's
    nodes share the Docker host's cgroups, so the host of the Docker engine is what counts (the
    harness talks to a local engine).

    Args:
        mountinfo: text of /proc/self/mountinfo (default: read it); for tests.
    """
    if mountinfo is None:
        try:
            mountinfo = Path("/proc/self/mountinfo").read_text()
        except OSError:
            return False
    for line in mountinfo.splitlines():
        # mountinfo(5): fields ... mount point (5th) ... " - " fstype source options
        pre, sep, post = line.partition(" - ")
        fields = pre.split()
        if sep and len(fields) >= 5 and fields[4] == "/sys/fs/cgroup":
            fstype = post.split()[0] if post.split() else ""
            return fstype != "cgroup2"
    return False


def render_kind_config(spec: ClusterSpec, *, cgroup_v1: bool | None = None) -> str:
    """The default kind config: 1 control-plane (ingress-ready, host ports) + ``spec.workers`` workers.

    The API server and every host port listen on 127.0.0.1 only
    (https://kind.sigs.k8s.io/docs/user/configuration/#extra-port-mappings); no host ports at all
    when ``spec.port_mappings`` is False.

    On a cgroup v1 host (``cgroup_v1``; default :func:`host_cgroup_v1`), the kubelet gets
    ``failCgroupV1: false`` through a kubeadm config patch: from Kubernetes 1.35 the kubelet refuses
    to start on cgroup v1 unless told so (KubeletConfiguration ``failCgroupV1``, KEP-5573; kept through
    1.37). Set only there, since on cgroup v2 the field has no business being set. kind applies
    ``kubeadmConfigPatches`` to the KubeletConfiguration it generates
    (https://kind.sigs.k8s.io/docs/user/configuration/#kubeadm-config-patches), which kubeadm
    uploads once for every node of the cluster.
    """
    cgroup_v1 = host_cgroup_v1() if cgroup_v1 is None else cgroup_v1
    workers = "".join("  - role: worker\n" for _ in range(spec.workers))
    ports = ""
    if spec.port_mappings:
        ports = textwrap.indent(textwrap.dedent(f"""\
            extraPortMappings:
              - {{containerPort: 80, hostPort: {spec.http_port}, listenAddress: "127.0.0.1", protocol: TCP}}
              - {{containerPort: 443, hostPort: {spec.https_port}, listenAddress: "127.0.0.1", protocol: TCP}}
              - {{containerPort: {spec.nodeport_port}, hostPort: {spec.nodeport_port}, listenAddress: "127.0.0.1", protocol: TCP}}
            """), "    ")
    patches = ""
    if cgroup_v1:
        patches = textwrap.dedent("""\
            kubeadmConfigPatches:
              - |
                kind: KubeletConfiguration
                failCgroupV1: false
            """)
    head = textwrap.dedent("""\
        kind: Cluster
        apiVersion: kind.x-k8s.io/v1alpha4
        networking:
          apiServerAddress: "127.0.0.1"
        """)
    nodes = textwrap.dedent("""\
        nodes:
          - role: control-plane
            labels:
              ingress-ready: "true"
        """)
    return head + patches + nodes + ports + workers


def local_node_image(version: str) -> str | None:
    """The newest locally built node image ``harness/kind-node:<version>-<key>``, if any."""
    for ref in docker.images_matching(LOCAL_NODE_REPOSITORY):
        if ref.split(":", 1)[1].startswith(version + "-"):
            return ref
    return None


def effective_image_source(image_source: str, node_image: str | None, kubernetes_version: str | None) -> str:
    """``local`` or ``pull``: where the nodes get their images. ``auto`` follows the node image, the
    one given or else the one :func:`resolve_node_image` would choose (a locally built
    ``harness/kind-node`` means no registry: the images are loaded with kind load).

    Args:
        image_source: ``auto``, ``pull`` or ``local``.
        node_image: the cluster's node image ("" or None: not known, e.g. a reused cluster).
        kubernetes_version: ``vX.Y.Z`` (None: versions.env's default).

    Raises:
        UsageError: an unknown ``image_source``.
    """
    if image_source in ("local", "pull"):
        return image_source
    if image_source != "auto":
        raise UsageError(f"image-source must be auto, pull or local, not {image_source!r}")
    if node_image:
        return "local" if node_image.startswith("harness/") else "pull"
    try:
        return "local" if local_node_image(kubernetes_version or pinned()["KUBERNETES_VERSION"]) else "pull"
    except HarnessError:
        return "pull"


def configured_image_source(cfg: Any) -> str:
    """:func:`effective_image_source` of a configuration: a HarnessConfig, or any object with
    ``image_source``, ``node_image`` and ``kubernetes_version`` (a missing one counts as auto / not given).

    Raises:
        UsageError: an unknown ``image_source``.
    """
    return effective_image_source(getattr(cfg, "image_source", "auto") or "auto", getattr(cfg, "node_image", None),
                                  getattr(cfg, "kubernetes_version", None))


def upstream_node_image(pins: KubernetesPins) -> str:
    """The ``kindest/node`` image pulling machines use for ``pins``' minor version.

    versions.env's ``pull=`` entry when the row has one (kind publishes its own patch releases and
    asks users to pin them by digest: https://kind.sigs.k8s.io/docs/user/quick-start/#creating-a-cluster),
    else ``kindest/node:<version>``.
    """
    return pins.pull or f"{UPSTREAM_NODE_REPOSITORY}:{pins.version}"


def resolve_node_image(spec: ClusterSpec, *, pins: KubernetesPins | None = None) -> str:
    """Choose the node image: explicit ``node_image``; else by ``image_source`` for ``kubernetes_version``.

    ``local`` needs a node image built by `images/build-node-image.sh <version>`; ``pull`` uses
    the row's ``pull`` image (kindest/node); ``auto`` prefers the local build and falls back to pulling.
    ``pins``: the version's pins (default: versions.env's row); the loopback registry's pull path
    (harness/env/pullpath.py) passes a row whose ``pull`` image names the registry and the pushed digest.
    With ``registry_mirror`` the pulled image is named on the mirror (``kindest/node:v1.37.0@sha256:…``
    -> ``HOST:PORT/kindest/node:v1.37.0@sha256:…``).

    Raises:
        EnvironmentNotReady: ``local`` was asked for and no local node image exists.
        UsageError: unknown image_source, or a Kubernetes version without a row in versions.env
            (one line listing the supported versions).
    """
    if spec.node_image:
        return spec.node_image
    if spec.image_source not in ("auto", "pull", "local"):
        raise UsageError(f"image_source must be auto, pull or local, not {spec.image_source!r}")
    pins = pins or kubernetes_pins(spec.kubernetes_version)
    local = local_node_image(pins.version) if spec.image_source != "pull" else None
    if local:
        return local
    if spec.image_source == "local":
        raise EnvironmentNotReady(
            f"no local node image {LOCAL_NODE_REPOSITORY}:{pins.version}-*; "
            f"run `images/build-node-image.sh {pins.version}`"
        )
    image = upstream_node_image(pins)
    if spec.registry_mirror:  # kind has the host's Docker pull it: through the mirror, same path and digest
        return str(parse_image(image).on(spec.registry_mirror))
    return image


def kubeconfig_path(name: str) -> Path:
    """The private kubeconfig file of kind cluster ``name`` (its directory is mode 0700)."""
    d = cache_dir() / "clusters" / name
    d.mkdir(parents=True, exist_ok=True)
    os.chmod(d, 0o700)
    return d / "kubeconfig"


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.chmod(path, 0o600)


def check_ports_free(ports: list[int]) -> None:
    """Raise UsageError naming the first of ``ports`` already bound on 127.0.0.1."""
    for port in ports:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                raise UsageError(
                    f"host port 127.0.0.1:{port} is already in use; free it (another kind cluster? "
                    "`kind get clusters`), or pass --kind-config with a kind config whose extraPortMappings "
                    "publish the node's ports 80/443 on other 127.0.0.1 ports (README: Cluster lifecycle)"
                ) from None


def ensure_cluster(spec: Any, kind: Kind | None = None, *, owner: runs.Owner | None = None) -> Cluster:
    """Create the kind cluster described by ``spec``, reuse it, or adopt an external kubeconfig.

    ``spec`` is a ClusterSpec, or a HarnessConfig (converted by `spec_from_config`).

    - ``spec.kubeconfig`` set: no kind; the kubeconfig's current context is used (checked reachable).
    - a cluster named ``spec.name`` exists: reused when ``spec.reuse`` or when its owner record names
      this run (``owner.run_id``: another pytest-xdist worker of the same run made it; ``created``
      False here, so only the run's controller deletes it, harness/plugin/parallel.py); else, when its owner record
      (``<cache>/clusters/<name>/owner.json``) says a dead run made it and did not keep it (a run
      killed before its teardown), deleted and made again; else UsageError.
    - otherwise created; a failed create is deleted again so nothing half-made stays behind.

    ``owner`` (the calling run, :func:`harness.core.runs.owner_now`) is written as the cluster's
    owner record before ``kind create cluster`` starts, so a run killed during creation still
    leaves a record ``python -m harness clean`` can act on. None: no record (the cluster is never
    cleaned).

    Returns:
        Cluster with a private kubeconfig.

    Raises:
        EnvironmentNotReady: Docker not answering, node image missing, `kind create cluster` failed or
            the new (or reused) cluster did not get Ready (one line: the command's last output line).
        UsageError: name taken without reuse, host port in use, kind config file missing.
    """
    if not isinstance(spec, ClusterSpec):
        spec = spec_from_config(spec)
    if spec.kubeconfig:
        return _external(spec.kubeconfig, spec.kube_context)
    version = kubernetes_pins(spec.kubernetes_version).version  # UsageError first, before any work
    kind = kind or Kind(_tool("kind", version))
    docker.require_engine()
    kubeconfig = kubeconfig_path(spec.name)
    existing = kind.get_clusters()
    if spec.name in existing and not spec.reuse and _left_by_dead_run(spec.name, owner):
        containers.delete_kind_cluster(kind, spec.name)
        existing = [n for n in existing if n != spec.name]
    if spec.name in existing:
        if not spec.reuse and not _made_by_this_run(spec.name, owner):
            raise UsageError(
                f"a kind cluster named {spec.name!r} already exists; pass --reuse-cluster to use it, "
                f"or delete it: kind delete cluster --name {spec.name}"
            )
        _write_private(kubeconfig, kind.get_kubeconfig(spec.name))
        reused = Cluster(spec.name, kubeconfig, f"kind-{spec.name}", created=False, kubernetes_version=version)
        try:
            wait_ready(reused, timeout=120)
        except CommandError as exc:
            raise EnvironmentNotReady(f"kind cluster {spec.name!r} exists but is not Ready: {exc}") from exc
        return reused

    if spec.kind_config:
        if not spec.kind_config.is_file():
            raise UsageError(f"kind config {spec.kind_config} does not exist; fix --kind-config")
        config_path = spec.kind_config
    else:
        if spec.port_mappings:
            check_ports_free([spec.http_port, spec.https_port, spec.nodeport_port])
        config_path = kubeconfig.parent / "kind-config.yaml"
        config_path.write_text(render_kind_config(spec))
    image = resolve_node_image(spec)
    log.info("creating kind cluster %s (node image %s)", spec.name, image)
    if owner is not None:
        runs.write_owner(runs.cluster_owner_path(spec.name), owner)
    try:
        kind.create(spec.name, config=config_path, image=image, kubeconfig=kubeconfig, timeout=spec.create_timeout)
        os.chmod(kubeconfig, 0o600)
        if getattr(spec, "registry_mirror", None):  # the loopback registry, if it serves the mirror: on the kind network
            containers.join_registry_serving(spec.registry_mirror)
        made = Cluster(spec.name, kubeconfig, f"kind-{spec.name}", created=True, node_image=image,
                       kubernetes_version=version)
        wait_ready(made, timeout=spec.create_timeout)
    except BaseException as exc:
        # kind --retain=false cleans its own failures; this also covers our timeout, a cluster that
        # never got Ready, and Ctrl-C.
        try:
            # after Ctrl-C the interrupted `kind create` may still have a node container on its way
            # out of dockerd: removed once dockerd has made it (harness/env/containers.py). The owner
            # record stays even so: a `docker run` killed before dockerd listed its container makes
            # one that no listing here can see; `python -m harness clean` removes it once this run is gone
            containers.delete_kind_cluster(kind, spec.name)
            if not isinstance(exc, KeyboardInterrupt):
                runs.cluster_owner_path(spec.name).unlink(missing_ok=True)
        except (CommandError, WaitTimeout):
            pass
        if isinstance(exc, CommandError):
            raise creation_failed(spec.name, exc) from exc
        raise
    return made


def _made_by_this_run(name: str, owner: runs.Owner | None) -> bool:
    """True when kind cluster ``name``'s owner record names the run ``owner`` belongs to."""
    recorded = runs.read_owner(runs.cluster_owner_path(name))
    return owner is not None and recorded is not None and recorded.run_id == owner.run_id


def _left_by_dead_run(name: str, owner: runs.Owner | None) -> bool:
    """True when kind cluster ``name`` was made by a harness run that is over and did not keep it
    (:func:`harness.core.runs.decide`), and this call has an owner of its own (a run, not a library
    call); says so in a progress line."""
    if owner is None:
        return False
    recorded = runs.read_owner(runs.cluster_owner_path(name))
    if recorded is None or recorded.run_id == owner.run_id:
        return False
    pids = [recorded.pid] if runs.pid_alive(recorded.pid) else []
    decision = runs.decide([runs.Resource("cluster", name, recorded)], live_pids=pids, host=runs.this_host())[0]
    if decision.remove:
        progress.say(f"deleting kind cluster {name} left by an interrupted run: {decision.why}")
    return decision.remove


def creation_failed(name: str, exc: CommandError) -> EnvironmentNotReady:
    """The error for a kind cluster that could not be created or never got Ready: the environment's
    fault, not a scenario's (exit code 3 in the CLI, the pytest plugin and the gate), in one line
    (the failed command's last output line is in ``exc``'s message)."""
    return EnvironmentNotReady(f"kind cluster {name!r} could not be created: {exc}")


def wait_ready(cluster: Cluster, timeout: float = 300.0) -> None:
    """Wait until every node is Ready and every kube-system pod (CNI, CoreDNS, kube-proxy) is Ready.

    `kind create cluster` returns once kubeadm has joined the nodes, before they are Ready
    (kind's --wait covers the control plane only), and a workload scheduled then lands on
    whichever node happens to be Ready first.

    Raises:
        CommandError / CommandTimeout: a node or system pod did not become Ready within ``timeout`` seconds.
    """
    kubectl = [_tool("kubectl", cluster.kubernetes_version or None), "--kubeconfig", str(cluster.kubeconfig)]
    budget = f"{int(timeout)}s"
    run([*kubectl, "wait", "--for=condition=Ready", "nodes", "--all", f"--timeout={budget}"], timeout=timeout + 30,
        hint="nodes not Ready: see `kubectl describe nodes` and `kind export logs`")
    run([*kubectl, "-n", "kube-system", "wait", "--for=condition=Ready", "pods", "--all", f"--timeout={budget}"],
        timeout=timeout + 30, hint="kube-system pods not Ready: see `kubectl -n kube-system get pods`")


def _external(path: Path, context: str | None = None) -> Cluster:
    """The existing cluster of kubeconfig ``path``: ``context`` (kubectl ``--context``) or the
    kubeconfig's current context, checked to exist and answer ``/readyz``.

    Raises:
        UsageError: the file or the context does not exist (one line listing the contexts it has).
        EnvironmentNotReady: the cluster does not answer.
    """
    if not path.is_file():
        raise UsageError(f"kubeconfig {path} does not exist; fix --kubeconfig")
    try:
        kubectl = _tool("kubectl")
        if context:
            names = run([kubectl, "--kubeconfig", str(path), "config", "get-contexts", "-o", "name"],
                        timeout=20).stdout.split()
            if context not in names:
                raise UsageError(f"kube-context: {context!r} is not a context of kubeconfig {path} "
                                 f"(it has: {', '.join(names) or 'none'})")
        else:
            context = run([kubectl, "--kubeconfig", str(path), "config", "current-context"], timeout=20).stdout.strip()
        run([kubectl, "--kubeconfig", str(path), "--context", context, "--request-timeout=10s", "get", "--raw",
             "/readyz"], timeout=30)
    except CommandError as exc:
        raise EnvironmentNotReady(f"the cluster in {path} is not reachable: {exc}") from exc
    return Cluster("", path, context, created=False)


def _tool(name: str, kubernetes_version: str | None = None) -> str:
    return binaries.tool_path(name, kubernetes_version)


def _kind_for(cluster: Cluster) -> Kind:
    """The pinned kind of the cluster's Kubernetes version (the default one for unknown versions)."""
    return Kind(_tool("kind", cluster.kubernetes_version or None))


def delete_cluster(cluster: Cluster, kind: Kind | None = None) -> None:
    """Delete a cluster this session created (kind delete, then any node container kind missed:
    :func:`harness.env.containers.delete_kind_cluster`), the PostgreSQL add-on containers that served
    it (:func:`harness.env.containers.remove_postgres_of`; a run that kept its server on a reused
    cluster leaves one), its private kubeconfig and owner record.

    Raises:
        CommandError: kind or docker failed.
        WaitTimeout: a node container is still listed after the removal's time budget.
    """
    if not cluster.name:
        return
    containers.delete_kind_cluster(kind or _kind_for(cluster), cluster.name)
    containers.remove_postgres_of(cluster.name)
    cluster.kubeconfig.unlink(missing_ok=True)
    runs.cluster_owner_path(cluster.name).unlink(missing_ok=True)


def node_images(cluster: Cluster, node: str) -> set[str]:
    """Image references present in ``node``'s containerd (k8s.io namespace)."""
    out = run(["docker", "exec", node, "ctr", "--namespace=k8s.io", "images", "list", "-q"], timeout=60).stdout
    return set(out.split())


def normalize_ref(ref: str) -> str:
    """containerd's full name for an image reference (docker.io/library/ for bare names)."""
    first = ref.split("/", 1)[0]
    if "/" not in ref:
        return f"docker.io/library/{ref}"
    if "." in first or ":" in first or first == "localhost":
        return ref
    return f"docker.io/{ref}"


def image_holders(cluster: Cluster, images: Sequence[str], kind: Kind | None = None) -> tuple[list[str], dict[str, list[str]]]:
    """``(nodes, {image: the nodes whose containerd holds it})`` of a kind cluster."""
    nodes = (kind or _kind_for(cluster)).get_nodes(cluster.name)
    present = {n: node_images(cluster, n) for n in nodes}
    return nodes, {image: [n for n in nodes if normalize_ref(image) in present[n]] for image in images}


def load_images(cluster: Cluster, images: list[str], kind: Kind | None = None) -> list[str]:
    """Load ``images`` from the local Docker store into the nodes that lack them.

    Returns:
        The images that were loaded (empty when every node had them all).

    Raises:
        EnvironmentNotReady: an image is not in the local Docker store (build it first).
    """
    kind = kind or _kind_for(cluster)
    loaded = []
    nodes, holders = image_holders(cluster, images, kind)
    for image in images:
        missing = [n for n in nodes if n not in holders[image]]
        if not missing:
            continue
        if not docker.image_exists(image):
            raise EnvironmentNotReady(f"image {image} is not in the local Docker store; build or pull it first")
        kind.load_image(cluster.name, image, nodes=missing)
        if holders[image]:  # a node lacking what the others hold: say so, it explains an earlier flaky run
            progress.say(f"image {image} was missing on {', '.join(missing)} only (held by "
                         f"{', '.join(holders[image])}); loaded it there")
        loaded.append(image)
    return loaded


def export_logs(cluster: Cluster, dest: Path, kind: Kind | None = None) -> None:
    """`kind export logs` of the cluster into ``dest`` (skipped for external clusters).

    kind exits non-zero when any one collector fails (on the registry-less node image, the
    `crictl images` listing: crictl is absent) after writing everything else; that partial
    export is kept, and only an export that wrote nothing raises.

    Raises:
        CommandError: kind wrote nothing into ``dest``.
    """
    if not cluster.name:
        return
    dest.mkdir(parents=True, exist_ok=True)
    try:
        (kind or _kind_for(cluster)).export_logs(cluster.name, dest)
    except CommandError:
        if not any(p.is_file() for p in dest.rglob("*")):
            raise
        log.warning("kind export logs was partial (see %s)", dest)
