"""What a chart must render for the harness to reach and measure it: pure checks over rendered
manifests (``helm template`` output split into objects), one problem per line.

:mod:`harness.scenario.preflight` renders every variant of a chart and runs these; ``python -m
harness check``, the gate's preflight and the pytest plugin report what they return.

- :func:`probe_target_problems`: the contract's probe host is served by the harness's edge: an
  Ingress with that host whose class the edge serves (``via: ingress``), with a path that covers
  the probe path, or an HTTPRoute with that hostname attached (``parentRefs``) to a Gateway the
  harness provides (``via: httproute``; :func:`harness.core.edges.parent_ref_problems`).
- :func:`image_problems`: the contract's ``images`` and the images the rendered workloads run
  agree (kind preloads only the listed ones; a registry-less cluster cannot pull the others).
- :func:`pull_policy_problems`: under a local build (image-source ``local``: kind loads the images,
  no registry has them) no container of a listed image asks the kubelet to pull it anyway
  (``imagePullPolicy: Always``, or no policy on a ``:latest`` tag, which defaults to Always).
- :func:`tls_secret_problems`: an Ingress TLS entry and the cert-manager Certificate the chart
  renders for the same host name the same Secret (else the edge serves no certificate for it).
- :func:`probe_bound_problems`: every workload container's readiness/liveness probes have a
  handler and sane numbers, and every container the Service sends traffic to has a readiness
  probe (without one, a pod receives requests before it can serve them).
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from harness.core.edges import ADDON_GATEWAY, GatewayRef, parent_ref_problems
from harness.core.errors import UsageError
from harness.core.imageref import parse_image

POD_OWNER_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job")
SERVING_KINDS = ("Deployment", "StatefulSet", "DaemonSet")
PROBE_HANDLERS = ("httpGet", "exec", "tcpSocket", "grpc")
CLASS_ANNOTATION = "kubernetes.io/ingress.class"
PERIOD_MAX = 300        # seconds; a probe rarer than every 5 minutes notices nothing in a scenario
FAILURE_MAX = 30        # readiness/liveness failures before acting; more hides an outage for minutes


def _meta(o: Mapping[str, Any]) -> Mapping[str, Any]:
    return o.get("metadata") or {}


def _name(o: Mapping[str, Any]) -> str:
    return f"{o.get('kind')} {_meta(o).get('name', '?')}"


def _pod_spec(o: Mapping[str, Any]) -> Mapping[str, Any]:
    spec = o.get("spec") or {}
    if o.get("kind") == "Pod":
        return spec
    if o.get("kind") == "CronJob":
        spec = ((spec.get("jobTemplate") or {}).get("spec")) or {}
    return ((spec.get("template") or {}).get("spec")) or {}


def _path_covers(rule_path: str, path_type: str, probe_path: str) -> bool:
    """An Ingress path (``Prefix``/``ImplementationSpecific`` by element, ``Exact``) covers the
    probe path (query string ignored); https://kubernetes.io/docs/concepts/services-networking/ingress/#path-types."""
    want = probe_path.split("?", 1)[0] or "/"
    if path_type == "Exact":
        return want == rule_path
    prefix = rule_path.rstrip("/")
    return not prefix or want == prefix or want.startswith(prefix + "/")


def ingress_class(o: Mapping[str, Any]) -> str | None:
    """The class an Ingress asks for: ``spec.ingressClassName``, else the legacy
    ``kubernetes.io/ingress.class`` annotation, else None."""
    cls = (o.get("spec") or {}).get("ingressClassName")
    if cls:
        return str(cls)
    ann = _meta(o).get("annotations") or {}
    return str(ann[CLASS_ANNOTATION]) if ann.get(CLASS_ANNOTATION) else None


def _host_matches(pattern: str, host: str) -> bool:
    """``host`` equals ``pattern``, or ``pattern`` is ``*.<suffix>`` and ``host`` is one label more."""
    if pattern.startswith("*."):
        suffix = pattern[1:]
        return host.endswith(suffix) and "." not in host[: -len(suffix)]
    return pattern == host


def probe_target_problems(objs: Sequence[Mapping[str, Any]], *, host: str, via: str, path: str,
                          classes: Iterable[str | None],
                          gateways: Sequence[GatewayRef] = (ADDON_GATEWAY,)) -> list[str]:
    """Problems reaching ``host`` + ``path`` through the harness's edge in one rendered manifest.

    Args:
        objs: the rendered objects. host, via, path: the contract's probe.
        classes: the Ingress classes the edge serves (``nginx``); None in it means an Ingress
            with no class is served too.
        gateways: the Gateways the harness provides (``via="httproute"``).

    Returns:
        ``[]`` when an Ingress of a served class routes ``host`` and a path covering ``path`` (for
        ``via="httproute"``: an HTTPRoute with hostname ``host`` whose parentRefs name one of
        ``gateways``); else one line saying what was found instead.
    """
    served = set(classes)
    if via == "httproute":
        routes = [o for o in objs if o.get("kind") == "HTTPRoute"]
        hits = [o for o in routes if any(_host_matches(str(h), host) for h in (o.get("spec") or {}).get("hostnames") or [])]
        if not hits:
            seen = "; ".join(f"{_name(o)} ({', '.join(map(str, (o.get('spec') or {}).get('hostnames') or [])) or 'no hostnames'})"
                             for o in routes) or "none rendered"
            return [f"no HTTPRoute has hostname {host} (HTTPRoutes: {seen}); enable or point the chart's route "
                    "with the contract's values/set"]
        problems: list[str] = []
        for o in hits:
            found = parent_ref_problems(o, None, gateways)
            if not found:
                return []  # one route attached to the harness's Gateway is enough
            problems += found
        return problems
    ingresses = [o for o in objs if o.get("kind") == "Ingress"]
    with_host = []
    for o in ingresses:
        rules = [r for r in (o.get("spec") or {}).get("rules") or [] if r.get("host") and _host_matches(str(r["host"]), host)]
        if rules:
            with_host.append((o, rules))
    if not with_host:
        seen = "; ".join(f"{_name(o)} ({', '.join(str(r.get('host') or '*') for r in (o.get('spec') or {}).get('rules') or []) or 'no rules'})"
                         for o in ingresses) or "none rendered"
        return [f"no Ingress has host {host} (Ingresses: {seen}); enable the chart's Ingress and set its host "
                "with the contract's values/set"]
    named = " or ".join(sorted(str(c) for c in served if c)) or "none"
    wrong = []
    for o, rules in with_host:
        cls = ingress_class(o)
        if cls not in served:
            wrong.append(f"{_name(o)} for host {host} has "
                         + (f"class {cls!r}" if cls else "no class (ingressClassName unset)")
                         + f"; the harness's edge serves class {named}: set the class with the contract's values/set")
            continue
        paths = [(str(p.get("path") or "/"), str(p.get("pathType") or "ImplementationSpecific"))
                 for r in rules for p in ((r.get("http") or {}).get("paths") or [])]
        if paths and not any(_path_covers(rp, pt, path) for rp, pt in paths):
            wrong.append(f"{_name(o)} for host {host} routes {', '.join(rp for rp, _ in paths)}, not the probe "
                         f"path {path}")
            continue
        return []  # one Ingress that serves the probe is enough
    return wrong


def _normal_image(ref: str) -> str:
    """``docker.io/library/nginx:1`` and ``nginx:1`` as one name (Docker's short-name rules)."""
    for prefix in ("docker.io/library/", "docker.io/", "index.docker.io/library/", "index.docker.io/"):
        if ref.startswith(prefix):
            rest = ref[len(prefix):]
            return rest[len("library/"):] if rest.startswith("library/") else rest
    return ref[len("library/"):] if ref.startswith("library/") else ref


def is_test_hook(o: Mapping[str, Any]) -> bool:
    """Whether ``o`` is a chart test (annotation ``helm.sh/hook: test``, or Helm 2's
    ``test-success``/``test-failure``) and nothing else: ``helm install`` and ``helm upgrade`` never
    create it, only ``helm test`` does (Helm docs, "Chart Tests"), and the harness never runs
    ``helm test``. A resource that is also another hook (``pre-upgrade,test``) is installed."""
    hooks = [h.strip() for h in str((_meta(o).get("annotations") or {}).get("helm.sh/hook", "")).split(",")]
    return all(h in ("test", "test-success", "test-failure") for h in hooks)


def manifest_images(objs: Iterable[Mapping[str, Any]]) -> set[str]:
    """Every container image (init and ephemeral containers included) of the pod-owning objects
    (Pod, Deployment, StatefulSet, DaemonSet, ReplicaSet, Job, CronJob) in rendered manifests,
    except chart tests (:func:`is_test_hook`: ``helm create``'s busybox Pod is never installed)."""
    out: set[str] = set()
    for o in objs:
        if o.get("kind") not in (*POD_OWNER_KINDS, "Pod", "CronJob") or is_test_hook(o):
            continue
        spec = _pod_spec(o)
        for key in ("initContainers", "containers", "ephemeralContainers"):
            for c in spec.get(key) or []:
                if c.get("image"):
                    out.add(str(c["image"]))
    return out


def image_problems(contract_images: Iterable[str], rendered: Mapping[str, Iterable[str]]) -> list[str]:
    """The contract's ``images`` against the images the rendered manifests run.

    Args:
        contract_images: the contract's ``images``.
        rendered: ``{variant label: images}`` for every rendered variant (released and candidate).

    Returns:
        one line per image a manifest runs that the contract does not list (kind would not
        preload it), then one per listed image no manifest runs.
    """
    listed = {_normal_image(i): i for i in contract_images}
    used: dict[str, list[str]] = {}
    for label, images in rendered.items():
        for img in images:
            used.setdefault(_normal_image(img), []).append(label)
    out = [f"image {img} (rendered by {', '.join(dict.fromkeys(labels))}) is not in the contract's images, "
           "so it is not loaded into the cluster's nodes" for img, labels in sorted(used.items()) if img not in listed]
    out += [f"contract image {listed[img]} is run by no rendered manifest (released or candidate)"
            for img in sorted(listed) if img not in used]
    return out


def effective_pull_policy(container: Mapping[str, Any]) -> str:
    """The container's ``imagePullPolicy``, or the API server's default when it has none: ``Always``
    for a ``:latest`` tag or no tag (and no digest), else ``IfNotPresent``
    (https://kubernetes.io/docs/concepts/containers/images/#imagepullpolicy-defaulting)."""
    policy = str(container.get("imagePullPolicy") or "")
    if policy:
        return policy
    try:
        ref = parse_image(str(container.get("image") or ""))
    except UsageError:
        return "IfNotPresent"  # the kubelet refuses an invalid reference before any pull
    return "Always" if ref.tag == "latest" and not ref.digest else "IfNotPresent"


def _canonical(ref: str) -> str:
    """One name for one image (``web``, ``web:latest`` and ``docker.io/library/web:latest`` alike)."""
    try:
        return str(parse_image(ref))
    except UsageError:
        return ref


def pull_policy_problems(objs: Iterable[Mapping[str, Any]], loaded_images: Iterable[str]) -> list[str]:
    """Containers that would make the kubelet pull an image the harness loads into the nodes itself.

    Under image-source ``local`` the contract's images are loaded with ``kind load`` and no registry
    the nodes reach has them; a container with ``imagePullPolicy: Always`` (explicit, or the default
    for ``:latest``) asks the registry on every start anyway and waits in ErrImagePull /
    ImagePullBackOff (https://kubernetes.io/docs/concepts/containers/images/#image-pull-policy).

    Args:
        objs: one variant's rendered objects.
        loaded_images: the images the harness loads (the contract's ``images``).

    Returns:
        one line per such container: ``container web of Deployment/x: image harness/demo:1 ...``
        naming the image, the registry the kubelet would ask, and the fix.
    """
    loaded = {_canonical(i) for i in loaded_images}
    out = []
    for o in objs:
        if o.get("kind") not in (*POD_OWNER_KINDS, "Pod", "CronJob") or is_test_hook(o):
            continue
        spec = _pod_spec(o)
        for key in ("initContainers", "containers"):
            for c in spec.get(key) or []:
                image = str(c.get("image") or "")
                if _canonical(image) not in loaded:
                    continue
                policy = effective_pull_policy(c)
                if policy != "Always":
                    continue
                try:
                    registry = parse_image(image).registry
                except UsageError:
                    registry = "its registry"
                why = "imagePullPolicy Always" if c.get("imagePullPolicy") else \
                    "no imagePullPolicy on a :latest tag, which defaults to Always"
                out.append(f"container {c.get('name')} of {_name(o)}: image {image} would be "
                           f"pulled from {registry} ({why}), but image-source local loads it into the nodes with "
                           "kind load and no registry has it, so its pods would wait in ImagePullBackOff; set the "
                           "chart's pull policy to IfNotPresent in the variant's values, or run with "
                           "--harness-image-source pull and a registry that has the image")
    return out


def tls_secret_problems(objs: Sequence[Mapping[str, Any]]) -> list[str]:
    """Ingress TLS entries whose Secret no Certificate of the same host writes.

    An Ingress ``spec.tls[].secretName`` names the Secret the edge reads the certificate from
    (https://kubernetes.io/docs/concepts/services-networking/ingress/#tls); a cert-manager
    Certificate writes its certificate to ``spec.secretName``
    (https://cert-manager.io/docs/usage/certificate/). When the chart renders a Certificate whose
    ``dnsNames`` cover a TLS host but none of those Certificates writes the Secret the Ingress names,
    the Secret never appears and HTTPS for that host gets the edge's default certificate (or none).
    An Ingress with only the ingress-shim annotation (no Certificate rendered) is fine: the shim
    creates the Certificate with the Ingress's own secretName.

    Returns:
        one line per (Ingress, TLS entry) naming the host, both Secret names and the fix.
    """
    certs = [o for o in objs if o.get("kind") == "Certificate" and str(o.get("apiVersion", "")).startswith("cert-manager.io/")]
    out = []
    for ing in (o for o in objs if o.get("kind") == "Ingress"):
        for entry in (ing.get("spec") or {}).get("tls") or []:
            secret = str(entry.get("secretName") or "")
            hosts = [str(h) for h in entry.get("hosts") or []]
            covering = [c for c in certs if any(_host_matches(str(d), h)
                                                for d in (c.get("spec") or {}).get("dnsNames") or [] for h in hosts)]
            if not covering or not secret or any((c.get("spec") or {}).get("secretName") == secret for c in covering):
                continue
            writes = ", ".join(f"Certificate {(c.get('metadata') or {}).get('name')} writes Secret "
                               f"{(c.get('spec') or {}).get('secretName')}" for c in covering)
            out.append(f"Ingress {(ing.get('metadata') or {}).get('name')}: TLS for {', '.join(hosts)} reads Secret "
                       f"{secret}, but {writes} (spec.secretName): the Secret the Ingress names never appears and "
                       "HTTPS serves the edge's default certificate; use one name for both")
    return out


def _labels_match(selector: Mapping[str, Any], labels: Mapping[str, Any]) -> bool:
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def _serving_containers(workload: Mapping[str, Any], services: Sequence[Mapping[str, Any]]) -> set[str]:
    """Names of ``workload``'s containers some Service of the manifest sends traffic to (a
    selector matching the pod template's labels and a targetPort among the container's ports)."""
    labels = (((workload.get("spec") or {}).get("template") or {}).get("metadata") or {}).get("labels") or {}
    out: set[str] = set()
    for svc in services:
        spec = svc.get("spec") or {}
        if not _labels_match(spec.get("selector") or {}, labels):
            continue
        targets = {str(p.get("targetPort", p.get("port"))) for p in spec.get("ports") or []}
        for c in _pod_spec(workload).get("containers") or []:
            ports = {str(p.get(k)) for p in c.get("ports") or [] for k in ("containerPort", "name") if p.get(k) is not None}
            if targets & ports:
                out.add(str(c.get("name")))
    return out


def _probe_lines(where: str, kind: str, p: Any, port_names: set[str]) -> list[str]:
    if not isinstance(p, Mapping):
        return [f"{where}: {kind}Probe is not a mapping"]
    handlers = [h for h in PROBE_HANDLERS if p.get(h) is not None]
    out = []
    if len(handlers) != 1:
        out.append(f"{where}: {kind}Probe has " + (f"{len(handlers)} handlers ({', '.join(handlers)})" if handlers
                                                   else "no handler") + f"; want one of {', '.join(PROBE_HANDLERS)}")
    for h in ("httpGet", "tcpSocket"):
        port = (p.get(h) or {}).get("port") if isinstance(p.get(h), Mapping) else None
        if h in handlers and port is None:
            out.append(f"{where}: {kind}Probe {h} has no port")
        elif h in handlers and isinstance(port, str) and not port.isdigit() and port not in port_names:
            out.append(f"{where}: {kind}Probe {h} port {port!r} is not a port the container declares")
    period = p.get("periodSeconds", 10)
    timeout = p.get("timeoutSeconds", 1)
    failures = p.get("failureThreshold", 3)
    nums = {"periodSeconds": period, "timeoutSeconds": timeout, "failureThreshold": failures}
    bad = [k for k, v in nums.items() if isinstance(v, bool) or not isinstance(v, int) or v < 1]
    if bad:
        out.append(f"{where}: {kind}Probe " + ", ".join(f"{k} {nums[k]!r}" for k in bad) + " (want integers >= 1)")
        return out
    if period > PERIOD_MAX:
        out.append(f"{where}: {kind}Probe periodSeconds {period} > {PERIOD_MAX}")
    if timeout > period:
        out.append(f"{where}: {kind}Probe timeoutSeconds {timeout} > periodSeconds {period} (probes would overlap)")
    if failures > FAILURE_MAX:
        out.append(f"{where}: {kind}Probe failureThreshold {failures} > {FAILURE_MAX} "
                   f"({failures * period} s of failures before Kubernetes acts)")
    if kind == "liveness" and p.get("successThreshold", 1) != 1:
        out.append(f"{where}: livenessProbe successThreshold must be 1 (Kubernetes rejects others)")
    return out


def probe_bound_problems(objs: Sequence[Mapping[str, Any]]) -> list[str]:
    """Readiness and liveness probes of every Deployment/StatefulSet/DaemonSet container.

    Each probe has exactly one handler (httpGet, exec, tcpSocket or grpc; an httpGet/tcpSocket
    port the container declares when named), integer ``periodSeconds``/``timeoutSeconds``/
    ``failureThreshold`` >= 1 (Kubernetes defaults 10/1/3 when unset), ``timeoutSeconds`` <=
    ``periodSeconds``, ``periodSeconds`` <= :data:`PERIOD_MAX`, ``failureThreshold`` <=
    :data:`FAILURE_MAX`; and every container a Service of the manifest sends traffic to has a
    readiness probe (https://kubernetes.io/docs/concepts/configuration/liveness-readiness-startup-probes/).

    Returns:
        one line per problem, naming ``<Kind> <name> container <c>``.
    """
    services = [o for o in objs if o.get("kind") == "Service"]
    out: list[str] = []
    for o in objs:
        if o.get("kind") not in SERVING_KINDS:
            continue
        serving = _serving_containers(o, services)
        for c in _pod_spec(o).get("containers") or []:
            where = f"{_name(o)} container {c.get('name')}"
            port_names = {str(p["name"]) for p in c.get("ports") or [] if p.get("name")}
            for kind in ("readiness", "liveness"):
                if c.get(f"{kind}Probe") is not None:
                    out += _probe_lines(where, kind, c[f"{kind}Probe"], port_names)
            if c.get("name") in serving and c.get("readinessProbe") is None:
                out.append(f"{where}: no readinessProbe, yet a Service sends it traffic (a pod would get requests "
                           "before it can serve them)")
    return out
