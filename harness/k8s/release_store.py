"""Read a Helm release from its storage Secrets through the Kubernetes API, without a helm process.

Helm 3 (and Helm 4, whose release format is still ``helm.sh/release.v1``) keeps every revision of a
release in a Secret named ``sh.helm.release.v1.<release>.v<revision>`` in the release namespace, of
type ``helm.sh/release.v1``, labelled ``owner=helm``, ``name=<release>``, ``version=<revision>`` and
``status=<status>`` (helm's pkg/storage/driver/secrets.go, ``newSecretsObject``). Its data key
``release`` holds the release encoded by helm (pkg/storage/driver/util.go, ``encodeRelease``): the
release as JSON, gzipped, then base64 (standard alphabet). Kubernetes base64-encodes Secret data once
more on the wire, so the client sees base64(base64(gzip(json))). Releases stored before helm added
compression lack the gzip magic bytes and are plain JSON (``decodeRelease``).

Helm rewrites the same Secret when a revision's status changes (``pending-upgrade`` -> ``deployed``
-> ``superseded``), so the status comes from the labels, read fresh each time; the manifest of a
revision never changes, so each revision is decoded once and everything derived from its manifest
(objects, workloads, selectors, probe bounds) is cached per revision. ``helm get manifest`` and
``helm status`` without ``--revision`` read the highest revision (``storage.Last``); so does this.
"""
from __future__ import annotations

import base64
import binascii
import gzip
import json
import threading
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import yaml
from kubernetes import client

from harness.core.errors import HarnessError
from harness.k8s.client import REQUEST_TIMEOUT, api_status

GZIP_MAGIC = b"\x1f\x8b\x08"
SECRET_PREFIX = "sh.helm.release.v1."
PARTIAL_METADATA = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json"
"""Accept header for a metadata-only list (labels without the release payload); servers that do not
know it answer with the full list, which has the same ``items[].metadata``
(https://kubernetes.io/docs/reference/using-api/api-concepts/#alternate-representations-of-resources)."""


class ReleaseReadError(HarnessError):
    """A release could not be read from its storage Secrets (the message names release and namespace)."""


class ReleaseNotFound(ReleaseReadError):
    """No storage Secret of the release (or of the asked revision) exists in the namespace."""


class ReleaseDecodeError(ReleaseReadError):
    """A storage Secret's payload is not base64(gzip(JSON)) as helm writes it."""


def secret_name(release: str, revision: int) -> str:
    """``sh.helm.release.v1.<release>.v<revision>`` (helm's ``makeKey``)."""
    return f"{SECRET_PREFIX}{release}.v{revision}"


def decode_release(payload: str | bytes, *, where: str = "release") -> dict[str, Any]:
    """Decode helm's release encoding (base64 of gzip of JSON; or base64 of JSON for old releases).

    Args:
        payload: the text helm stored, i.e. the Secret's ``data.release`` with the Kubernetes base64
            layer already removed (see :func:`unwrap_secret_data`).
        where: names the Secret in error messages.

    Returns:
        the release dict: ``name``, ``namespace``, ``version`` (int revision), ``info`` (``status``,
        ...), ``manifest`` (the rendered YAML stream), ``chart``, ``config``, ``hooks``.

    Raises:
        ReleaseDecodeError: not base64, a broken gzip stream, or not a JSON object.
    """
    try:
        raw = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ReleaseDecodeError(f"{where}: the release payload is not base64 ({exc})") from None
    if raw[:3] == GZIP_MAGIC:
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as exc:
            raise ReleaseDecodeError(f"{where}: the release payload is not a valid gzip stream ({exc})") from None
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ReleaseDecodeError(f"{where}: the release payload is not JSON ({exc})") from None
    if not isinstance(data, dict):
        raise ReleaseDecodeError(f"{where}: the release payload is JSON but not an object")
    return data


def unwrap_secret_data(value: str | bytes, *, where: str = "release") -> str:
    """Remove the Kubernetes base64 layer from a Secret ``data`` value (the API serves ``data`` as base64).

    Raises:
        ReleaseDecodeError: the value is not base64 or not ASCII text inside.
    """
    try:
        return base64.b64decode(value, validate=True).decode("ascii")
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise ReleaseDecodeError(f"{where}: the Secret's data.release is not base64 text ({exc})") from None


@dataclass(frozen=True)
class StoredRevision:
    """One storage Secret as its labels describe it: ``revision``, ``status``, and the Secret's ``uid``."""

    revision: int
    status: str
    uid: str
    name: str


@dataclass(frozen=True)
class ReleaseRevision:
    """A decoded revision: ``name``, ``namespace``, ``revision``, ``manifest`` (YAML text), ``objects``
    (its parsed documents), ``chart`` (``name-version``), ``app_version``, ``raw`` (the release dict),
    ``apply_method``: Helm 4's ``apply_method`` field of the stored release (``"ssa"`` server-side or
    ``"csa"`` client-side apply, helm.sh/helm/v4 ``pkg/release/v1/release.go``, ``omitempty``); ""
    when absent, as in every release Helm 3 wrote (Helm 4 treats absent as client-side,
    ``pkg/action/upgrade.go`` ``isReleaseApplyMethodClientSideApply``).
    ``status_at_decode`` is the status inside the payload when it was decoded; the current status is
    :meth:`ReleaseStore.status` (helm rewrites the Secret in place when it changes)."""

    name: str
    namespace: str
    revision: int
    manifest: str
    objects: tuple[dict[str, Any], ...]
    chart: str
    app_version: str
    status_at_decode: str
    raw: dict[str, Any] = field(repr=False, compare=False)
    apply_method: str = ""


class SecretReader(Protocol):
    """Where the store reads Secrets from (the Kubernetes API; unit tests pass a fake)."""

    def list_revisions(self, namespace: str, release: str) -> list[StoredRevision]: ...

    def read_payload(self, namespace: str, name: str) -> str | None:
        """The Secret's ``data.release`` as the API serves it (base64), or None when the Secret is gone."""
        ...


class ApiSecretReader:
    """:class:`SecretReader` through a ``kubernetes.client.ApiClient``: one metadata-only list
    (``labelSelector=owner=helm,name=<release>``) per :meth:`list_revisions`, one GET per decoded revision."""

    def __init__(self, api: Any):
        self.api = api

    def list_revisions(self, namespace: str, release: str) -> list[StoredRevision]:

        core = client.CoreV1Api(self.api)
        resp = core.list_namespaced_secret(namespace, label_selector=f"owner=helm,name={release}",
                                           _preload_content=False, _headers={"Accept": PARTIAL_METADATA},
                                           _request_timeout=REQUEST_TIMEOUT)
        try:
            body = json.loads(resp.data)
        finally:
            resp.release_conn()
        return revisions_from_items(body.get("items") or [])

    def read_payload(self, namespace: str, name: str) -> str | None:

        try:
            sec = client.CoreV1Api(self.api).read_namespaced_secret(name, namespace, _request_timeout=REQUEST_TIMEOUT)
        except Exception as exc:
            if api_status(exc) == 404:
                return None
            raise
        return (sec.data or {}).get("release")


def revisions_from_items(items: list[dict[str, Any]]) -> list[StoredRevision]:
    """The helm storage Secrets among list ``items`` (plain JSON), lowest revision first; items whose
    ``version`` label is not a number are not helm's and are left out."""
    out = []
    for item in items:
        md = item.get("metadata") or {}
        labels = md.get("labels") or {}
        if labels.get("owner") != "helm":
            continue
        try:
            rev = int(labels.get("version", ""))
        except ValueError:
            continue
        out.append(StoredRevision(rev, str(labels.get("status", "")), str(md.get("uid", "")), str(md.get("name", ""))))
    return sorted(out, key=lambda r: r.revision)


class ReleaseStore:
    """One release's revisions, read from its storage Secrets and decoded once per revision.

    Args:
        api: a ``kubernetes.client.ApiClient`` (ignored when ``reader`` is given).
        namespace: the release namespace.
        release: the release name.
        reader: a :class:`SecretReader` (default :class:`ApiSecretReader` over ``api``).

    Thread-safe: a scenario's observer threads and its main thread may read at once.
    """

    def __init__(self, api: Any, namespace: str, release: str, *, reader: SecretReader | None = None):
        self.namespace = namespace
        self.release = release
        self.reader: SecretReader = reader or ApiSecretReader(api)
        self._lock = threading.Lock()
        self._decoded: dict[tuple[int, str], ReleaseRevision] = {}
        self._derived: dict[tuple[int, str, str], Any] = {}
        self.decode_count = 0

    def revisions(self) -> list[StoredRevision]:
        """Every stored revision, lowest first (one metadata-only API list; no payload is decoded).

        Raises:
            ReleaseNotFound: the release has no storage Secret in the namespace.
        """
        revs = self.reader.list_revisions(self.namespace, self.release)
        if not revs:
            raise ReleaseNotFound(f"release {self.release} not found in namespace {self.namespace} "
                                  f"(no Secret labelled owner=helm,name={self.release})")
        return revs

    def status(self) -> tuple[str, int]:
        """``(status, revision)`` of the latest revision, as ``helm status`` reports them
        (``("deployed", 2)``), from the Secret labels: one API list, no decoding.

        Raises:
            ReleaseNotFound: no such release.
        """
        last = self.revisions()[-1]
        return last.status, last.revision

    def history(self) -> list[dict[str, Any]]:
        """Every revision, oldest first, shaped like ``helm history -o json``: ``{"revision": int,
        "updated": str, "status": str, "chart": str, "app_version": str, "description": str}``.

        Read fresh (one GET per revision, not cached): helm rewrites a revision's Secret when its
        status and description change (``Upgrade "x" failed: ...``, ``superseded``).

        Raises:
            ReleaseNotFound, ReleaseDecodeError: as :meth:`get`.
        """
        out = []
        for stored in self.revisions():
            data = self._read(stored)
            info = data.get("info") or {}
            meta = (data.get("chart") or {}).get("metadata") or {}
            out.append({"revision": int(data.get("version", stored.revision) or stored.revision),
                        "updated": str(info.get("last_deployed", "")),
                        "status": str(info.get("status", stored.status)),
                        "chart": f"{meta.get('name', '')}-{meta.get('version', '')}" if meta else "",
                        "app_version": str(meta.get("appVersion", "") or ""),
                        "description": str(info.get("description", ""))})
        return out

    def get(self, revision: int | None = None) -> ReleaseRevision:
        """The decoded ``revision`` (default: the latest), decoded at most once per revision.

        Raises:
            ReleaseNotFound: no such release or revision.
            ReleaseDecodeError: the payload is not what helm writes.
        """
        return self._resolve(revision)[1]

    def manifest(self, revision: int | None = None) -> str:
        """The rendered manifest (YAML stream) of ``revision`` (default latest), like ``helm get manifest``."""
        return self.get(revision).manifest

    def objects(self, revision: int | None = None) -> list[dict[str, Any]]:
        """The manifest's documents (dicts) of ``revision`` (default latest); a fresh list of the cached dicts
        (callers must not modify the dicts)."""
        return list(self.get(revision).objects)

    def derived(self, key: str, fn: Callable[[list[dict[str, Any]]], Any], revision: int | None = None) -> Any:
        """``fn(objects)`` for ``revision`` (default latest), computed once per revision and ``key``
        (e.g. ``"workloads"``, ``"probe_bounds"``); a new revision computes it again."""
        stored, rev = self._resolve(revision)
        cache_key = (stored.revision, stored.uid, key)
        with self._lock:
            if cache_key in self._derived:
                return self._derived[cache_key]
        value = fn(list(rev.objects))
        with self._lock:
            self._derived[cache_key] = value
        return value

    def _resolve(self, revision: int | None) -> tuple[StoredRevision, ReleaseRevision]:
        revs = self.revisions()
        if revision is None:
            stored = revs[-1]
        else:
            match = [r for r in revs if r.revision == revision]
            if not match:
                raise ReleaseNotFound(f"release {self.release} has no revision {revision} in namespace "
                                      f"{self.namespace} (stored: {', '.join(str(r.revision) for r in revs)})")
            stored = match[0]
        key = (stored.revision, stored.uid)
        with self._lock:
            cached = self._decoded.get(key)
        if cached is not None:
            return stored, cached
        decoded = self._decode(stored)
        with self._lock:
            self._decoded.setdefault(key, decoded)
            return stored, self._decoded[key]

    def _read(self, stored: StoredRevision) -> dict[str, Any]:
        name = stored.name or secret_name(self.release, stored.revision)
        where = f"Secret {self.namespace}/{name}"
        value = self.reader.read_payload(self.namespace, name)
        if value is None:
            raise ReleaseNotFound(f"release {self.release} revision {stored.revision}: {where} is gone")
        data = decode_release(unwrap_secret_data(value, where=where), where=where)
        with self._lock:
            self.decode_count += 1
        return data

    def _decode(self, stored: StoredRevision) -> ReleaseRevision:
        where = f"Secret {self.namespace}/{stored.name or secret_name(self.release, stored.revision)}"
        data = self._read(stored)
        text = str(data.get("manifest") or "")
        try:
            objs = tuple(d for d in yaml.safe_load_all(text) if isinstance(d, dict))
        except yaml.YAMLError as exc:
            raise ReleaseDecodeError(f"{where}: the release manifest is not YAML ({str(exc).splitlines()[0]})") from None
        meta = (data.get("chart") or {}).get("metadata") or {}
        return ReleaseRevision(
            name=str(data.get("name", self.release)), namespace=str(data.get("namespace", self.namespace)),
            revision=int(data.get("version", stored.revision) or stored.revision), manifest=text, objects=objs,
            chart=f"{meta.get('name', '')}-{meta.get('version', '')}" if meta else "",
            app_version=str(meta.get("appVersion", "") or ""),
            status_at_decode=str((data.get("info") or {}).get("status", "")), raw=data,
            apply_method=str(data.get("apply_method", "") or ""))
