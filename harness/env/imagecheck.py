"""Registry faults found before a scenario starts: for each image, one HEAD request to its registry.

A pod whose image cannot be pulled waits in ``ImagePullBackOff`` until helm's timeout (minutes) and
then says little. The registry API answers the same question in one request
(https://distribution.github.io/distribution/spec/api/, "Existing Manifests":
``HEAD /v2/<name>/manifests/<reference>``; the OCI distribution spec, "Checking if content exists
in the registry"): 200 the image is there, 404 the tag (or digest) is not, 401/403 the registry
wants credentials the pull will not have, no answer the registry is unreachable. Each fault
becomes one line naming the image and the registry, raised as EnvironmentNotReady (exit 3).

Token authentication (Docker Hub, ghcr.io, quay.io): a 401 carrying
``WWW-Authenticate: Bearer realm=...,service=...`` is followed by an anonymous token request for
``repository:<name>:pull`` and the HEAD again with it
(https://distribution.github.io/distribution/spec/auth/token/), as ``docker pull`` does; only
a refusal after that is a fault. Credentials from ``docker login`` (``auths.<registry>.auth`` in
``$DOCKER_CONFIG/config.json``) are sent when present; when a credential helper holds them instead,
the harness cannot see them, and a 401 is reported as unknown rather than as a fault.

Registries on loopback (127.0.0.0/8, localhost) are spoken to over plain HTTP, the others over
HTTPS, as Docker does without configuration.
"""
from __future__ import annotations

import base64
import json
import os
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from harness.core.errors import EnvironmentNotReady
from harness.core.imageref import ImageRef, parse_image

Outcome = Literal["ok", "missing", "unauthorized", "unreachable", "unknown"]
FAULTS = ("missing", "unauthorized", "unreachable")
"""The outcomes that stop a run (exit 3); ``unknown`` (an answer the check cannot judge) does not."""
MANIFEST_TYPES = (
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
)
"""Accepted manifest media types: without them a registry may answer 404 for an index it holds
(distribution v3: "OCI index found, but accept header does not support OCI indexes")."""
_CHALLENGE = re.compile(r'(\w+)="([^"]*)"')


@dataclass(frozen=True)
class ImageCheck:
    """What the registry said about one image.

    Attributes:
        image: the image as the chart or add-on names it.
        asked: the registry asked (``host:port``; the mirror when the image is mirrored).
        upstream: the image's own registry (``docker.io``...).
        outcome: ``ok``, ``missing``, ``unauthorized``, ``unreachable`` or ``unknown``.
        detail: the status or error seen (``HTTP 404``, ``connection refused``...).
        seconds: how long the check took.
    """

    image: str
    asked: str
    upstream: str
    outcome: Outcome
    detail: str
    seconds: float = 0.0


def outcome_of(status: int) -> Outcome:
    """The outcome of a manifest HEAD's final HTTP status (after any token exchange)."""
    if 200 <= status < 300:
        return "ok"
    if status == 404:
        return "missing"
    if status in (401, 403):
        return "unauthorized"
    return "unknown"


def problem_line(check: ImageCheck) -> str | None:
    """One line for a fault (None for ``ok``/``unknown``): names the image, the registry asked and
    what to do."""
    ref = parse_image(check.image)
    where = check.asked if check.asked == check.upstream else f"{check.asked} (standing in for {check.upstream})"
    what = f"digest {ref.digest}" if ref.digest else f"tag {ref.tag}"
    if check.outcome == "missing":
        return (f"image {check.image}: {what} not found in registry {where} ({check.detail}); "
                "check the image name and tag in the chart's values, or push the image")
    if check.outcome == "unauthorized":
        return (f"image {check.image}: registry {where} refused access ({check.detail}); "
                f"the image is private or the name is wrong: `docker login {check.asked}` or an imagePullSecret")
    if check.outcome == "unreachable":
        return (f"image {check.image}: registry {where} is unreachable ({check.detail}); "
                "check the network, a proxy, or that the registry is running")
    return None


def parse_challenge(header: str) -> tuple[str, dict[str, str]]:
    """``WWW-Authenticate: Bearer realm="...",service="..."`` -> ``("bearer", {"realm": ..., ...})``."""
    scheme, _, rest = (header or "").strip().partition(" ")
    return scheme.lower(), dict(_CHALLENGE.findall(rest))


def docker_auth(registry: str, config: dict | None = None) -> tuple[str | None, bool]:
    """``(basic credentials "user:pass" or None, a credential helper holds them)`` for ``registry``
    from Docker's config.json (``auths``, ``credsStore``, ``credHelpers``;
    https://docs.docker.com/reference/cli/docker/login/#credential-stores)."""
    if config is None:
        path = Path(os.environ.get("DOCKER_CONFIG") or Path.home() / ".docker") / "config.json"
        try:
            config = json.loads(path.read_text())
        except (OSError, ValueError):
            config = {}
    keys = [registry, f"https://{registry}", f"http://{registry}"]
    if registry == "docker.io":
        keys += ["https://index.docker.io/v1/", "index.docker.io", "registry-1.docker.io"]
    auths = config.get("auths") or {}
    for k in keys:
        entry = auths.get(k) or {}
        if entry.get("auth"):
            try:
                return base64.b64decode(entry["auth"]).decode(), False
            except (ValueError, UnicodeDecodeError):
                return None, False
    helpers = config.get("credHelpers") or {}
    helper = any(k in helpers for k in keys) or (bool(config.get("credsStore")) and any(k in auths for k in keys))
    return None, helper


def manifest_url(ref: ImageRef, host: str) -> str:
    scheme = "http" if ref.on(host).loopback else "https"
    return f"{scheme}://{host}/v2/{ref.path}/manifests/{ref.reference}"


def check_image(image: str, *, mirror: str | None = None, mirrored: Iterable[str] = (), timeout: float = 10.0,
                docker_config: dict | None = None,
                opener: Callable[..., object] = urllib.request.urlopen) -> ImageCheck:
    """Ask ``image``'s registry (or ``mirror`` when its registry is one of ``mirrored``) whether the
    image exists: ``HEAD /v2/<path>/manifests/<tag or digest>``, with an anonymous (or ``docker
    login``) token when the registry asks for one.

    Args:
        image: an image reference (parsed by :func:`harness.core.imageref.parse_image`).
        mirror: ``host:port`` of a registry standing in for the ``mirrored`` ones (the loopback
            registry of harness/env/registry.py), or None.
        mirrored: the upstream registries the mirror serves (``docker.io``, ``quay.io``...).
        timeout: seconds for each HTTP request (at most three: HEAD, token, HEAD).
        docker_config: Docker's config.json as a dict (default: read it); for tests.
        opener: ``urllib.request.urlopen``-compatible; for tests.

    Returns:
        the :class:`ImageCheck`; never raises for a registry's answer.

    Raises:
        UsageError: ``image`` is not a valid reference.
    """
    start = time.monotonic()
    ref = parse_image(image)
    host = mirror if mirror and ref.registry in set(mirrored) else ref.api_host
    asked = host if host != ref.api_host else ref.registry
    creds, helper = docker_auth(ref.registry, docker_config)

    def done(outcome: Outcome, detail: str) -> ImageCheck:
        return ImageCheck(image, asked, ref.registry, outcome, detail, round(time.monotonic() - start, 3))

    url = manifest_url(ref, host)
    headers = {"Accept": ", ".join(MANIFEST_TYPES)}
    if creds and host == ref.api_host:
        basic = {"Authorization": "Basic " + base64.b64encode(creds.encode()).decode()}
    else:
        basic = {}
    status, challenge, error = _head(opener, url, {**headers, **basic}, timeout)
    if error:
        return done("unreachable", error)
    if status == 401 and challenge:
        scheme, params = parse_challenge(challenge)
        if scheme == "bearer" and params.get("realm"):
            token, error = _token(opener, params, ref.path, basic, timeout)
            if error:
                return done("unreachable" if error.startswith("token service unreachable") else "unauthorized", error)
            status, _, error = _head(opener, url, {**headers, "Authorization": f"Bearer {token}"}, timeout)
            if error:
                return done("unreachable", error)
    outcome = outcome_of(status)
    if outcome == "unauthorized" and helper and not creds:
        return done("unknown", f"HTTP {status}; credentials are in a Docker credential helper")
    return done(outcome, f"HTTP {status} for HEAD /v2/{ref.path}/manifests/{ref.reference}")


def require_images(images: Sequence[str], *, mirror: str | None = None, mirrored: Iterable[str] = (),
                   timeout: float = 10.0, check: Callable[..., ImageCheck] = check_image,
                   notes: Mapping[str, str] | None = None) -> list[ImageCheck]:
    """Check every image (each once); raise when any is missing, refused or unreachable.

    ``notes``: image -> what else is known about it, appended to its line (:func:`partial_note`:
    the nodes that already hold it).

    Returns:
        one :class:`ImageCheck` per distinct image, in order.

    Raises:
        EnvironmentNotReady: one line per faulty image (:func:`problem_line`), the first line
            saying how many (exit 3: the environment, not the chart, is at fault).
        UsageError: an image reference is invalid.
    """
    mirrored = tuple(mirrored)
    checks = [check(i, mirror=mirror, mirrored=mirrored, timeout=timeout) for i in dict.fromkeys(images)]
    notes = notes or {}
    lines = [f"{line}; {notes[c.image]}" if notes.get(c.image) else line
             for c in checks if (line := problem_line(c))]
    if len(lines) == 1:
        raise EnvironmentNotReady(lines[0])
    if lines:
        raise EnvironmentNotReady(f"{len(lines)} images cannot be pulled:\n" + "\n".join(f"  {ln}" for ln in lines))
    return checks


def partial_note(holders: Sequence[str], nodes: Sequence[str]) -> str:
    """What to add to an image's fault line when some nodes of the cluster hold it already (a
    ``kind load --nodes`` by hand, a pull before the tag moved): "" when none or all of them do.
    The kubelet pulls only on the others, so only pods scheduled there would wait in
    ImagePullBackOff, which is the kind of failure that comes and goes with scheduling."""
    if not holders or set(nodes) <= set(holders):
        return ""
    lacking = [n for n in nodes if n not in holders]
    return (f"only node{'s' if len(holders) != 1 else ''} {', '.join(holders)} hold{'s' if len(holders) == 1 else ''} "
            f"it already, so pods scheduled on {', '.join(lacking)} would wait in ImagePullBackOff")


def _head(opener: Callable[..., object], url: str, headers: dict[str, str],
          timeout: float) -> tuple[int, str, str]:
    """``(status, WWW-Authenticate, error)``: error is "" when the registry answered at all."""
    req = urllib.request.Request(url, method="HEAD", headers=headers)
    try:
        with opener(req, timeout=timeout) as resp:  # type: ignore[attr-defined]
            return int(resp.status), "", ""
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers.get("WWW-Authenticate", "") if exc.headers else "", ""
    except (urllib.error.URLError, OSError, ValueError) as exc:
        return 0, "", _reason(exc)


def _token(opener: Callable[..., object], params: dict[str, str], path: str, basic: dict[str, str],
           timeout: float) -> tuple[str, str]:
    """``(token, error)`` from the token service of a Bearer challenge, for pulling ``path``."""
    query = {"scope": f"repository:{path}:pull"}
    if params.get("service"):
        query["service"] = params["service"]
    url = params["realm"] + ("&" if "?" in params["realm"] else "?") + urllib.parse.urlencode(query)
    try:
        with opener(urllib.request.Request(url, headers=basic), timeout=timeout) as resp:  # type: ignore[attr-defined]
            body = json.loads(resp.read() or b"{}")
    except urllib.error.HTTPError as exc:
        return "", f"token service {params['realm']} answered HTTP {exc.code}"
    except (urllib.error.URLError, OSError) as exc:
        return "", f"token service unreachable: {_reason(exc)}"
    except ValueError:
        return "", f"token service {params['realm']} sent no JSON"
    token = body.get("token") or body.get("access_token")
    return (str(token), "") if token else ("", f"token service {params['realm']} sent no token")


def _reason(exc: BaseException) -> str:
    reason = getattr(exc, "reason", exc)
    text = str(getattr(reason, "strerror", None) or reason).strip()
    if isinstance(reason, TimeoutError) or "timed out" in text:
        return "timed out"
    return text.splitlines()[0] if text else type(exc).__name__

