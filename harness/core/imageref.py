"""Image references, parsed the way Docker and containerd read them (pure: no I/O).

A reference ``[registry/]path[:tag][@digest]`` names the registry only when its first part has a
``.`` or a ``:`` or is ``localhost``; otherwise the registry is Docker Hub (``docker.io``), and a
one-part Docker Hub path gains ``library/`` (the grammar of github.com/distribution/reference,
``ParseNormalizedNamed``; https://docs.docker.com/reference/cli/docker/image/tag/#description).
Docker Hub's registry API is served by ``registry-1.docker.io``
(https://distribution.github.io/distribution/spec/api/, "Docker Hub" is the registry named
``docker.io`` in references).
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from harness.core.errors import UsageError

DOCKER_HUB = "docker.io"
DOCKER_HUB_API = "registry-1.docker.io"
_DIGEST = re.compile(r"^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[0-9a-fA-F]{32,}$")
_TAG = re.compile(r"^[\w][\w.-]{0,127}$")
_PATH = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$")
LOOPBACK_HOSTS = ("127.", "localhost", "[::1]")


@dataclass(frozen=True)
class ImageRef:
    """One image reference, normalised.

    Attributes:
        registry: the registry as references name it (``docker.io``, ``quay.io``, ``127.0.0.1:5001``).
        path: the repository path in that registry (``library/postgres``, ``kindest/node``).
        tag: the tag ("" when the reference has only a digest; ``latest`` when it has neither).
        digest: ``sha256:...`` or "".
    """

    registry: str
    path: str
    tag: str = "latest"
    digest: str = ""

    @property
    def reference(self) -> str:
        """What the registry API's ``/v2/<path>/manifests/<reference>`` takes: the digest when there
        is one (it is what a pull resolves), else the tag."""
        return self.digest or self.tag

    @property
    def api_host(self) -> str:
        """The host:port serving the registry API (``registry-1.docker.io`` for Docker Hub)."""
        return DOCKER_HUB_API if self.registry == DOCKER_HUB else self.registry

    @property
    def loopback(self) -> bool:
        """True for a registry on this machine's loopback (plain HTTP, as Docker allows for 127.0.0.0/8)."""
        return is_loopback(self.registry)

    @property
    def repository(self) -> str:
        """``registry/path``, the fully qualified repository (``docker.io/library/postgres``)."""
        return f"{self.registry}/{self.path}"

    def __str__(self) -> str:
        return self.repository + (f":{self.tag}" if self.tag else "") + (f"@{self.digest}" if self.digest else "")

    def on(self, registry: str) -> ImageRef:
        """The same repository path, tag and digest in another ``registry`` (a mirror: pushed there
        under the upstream path, so ``postgres:16`` is ``127.0.0.1:5001/library/postgres:16``)."""
        return ImageRef(registry, self.path, self.tag, self.digest)

    def pushed_name(self) -> str:
        """``registry/path:tag`` without the digest (what ``docker tag``/``docker push`` take)."""
        return f"{self.repository}:{self.tag or 'latest'}"


def is_loopback(host: str) -> bool:
    """True when ``host`` (``host[:port]``) is 127.0.0.0/8, ``localhost`` or ``[::1]``."""
    return host.startswith(LOOPBACK_HOSTS)


def parse_image(ref: str) -> ImageRef:
    """Parse and normalise an image reference (see the module docstring).

    Raises:
        UsageError: an empty reference, an invalid repository path, tag or digest (one line naming it).
    """
    text = (ref or "").strip()
    if not text:
        raise UsageError("empty image reference")
    name, _, digest = text.partition("@")
    if digest and not _DIGEST.match(digest):
        raise UsageError(f"image {ref!r}: {digest!r} is not a digest (algorithm:hex)")
    first, slash, rest = name.partition("/")
    if slash and ("." in first or ":" in first or first == "localhost"):
        registry, remainder = first, rest
    else:
        registry, remainder = DOCKER_HUB, name
    path, tag = remainder, ""
    last_slash = remainder.rfind("/")
    colon = remainder.rfind(":")
    if colon > last_slash:
        path, tag = remainder[:colon], remainder[colon + 1:]
        if not _TAG.match(tag):
            raise UsageError(f"image {ref!r}: {tag!r} is not a valid tag")
    if registry == DOCKER_HUB and "/" not in path:
        path = f"library/{path}"
    if not _PATH.match(path):
        raise UsageError(f"image {ref!r}: {path!r} is not a valid repository path (lowercase, [a-z0-9._-/])")
    if not tag and not digest:
        tag = "latest"
    return ImageRef(registry, path, tag, digest)
