"""Keep secrets out of artifacts and reports: pure functions over text, values and manifests.

Three rules, applied to everything the harness writes as evidence (:mod:`harness.core.artifacts`):

1. **Secret objects** keep their keys and lose their data: each ``data`` / ``stringData`` value
   becomes ``<redacted N bytes>`` (N: the decoded length). Kubernetes stores ``data`` base64-encoded
   and ``stringData`` as plain text merged into ``data`` on write
   (https://kubernetes.io/docs/concepts/configuration/secret/#restriction-names-data).
2. **Values by key**: a string or number whose key (the last path segment; for a list item, the
   key that holds the list) matches :data:`SENSITIVE_KEY` (password, passwd, token, secret, key,
   dsn, credential; case-insensitive, anywhere in the key), or that lies under a path the chart's
   contract lists in ``sensitiveValues`` (``a.b.c``), becomes ``<redacted N bytes>``. Booleans,
   nulls and empty strings are kept: they cannot carry a secret and say how a chart was configured.
3. **By value**: every secret byte string learned from rules 1 and 2 (and from the namespace's
   Secrets) is replaced by ``<redacted>`` wherever it appears in any text: logs, events, describe
   output, error messages. Also replaced: its base64 forms (standard and URL-safe, with and without
   padding), its base64 inside a longer base64 text (the three alignments, for secrets of at least
   :data:`MIN_EMBEDDED_LENGTH` bytes, e.g. an HTTP Basic credential ``user:password``), its JSON
   string escape, and each line of a multi-line secret (a PEM key dumped as a YAML block).
   Secrets shorter than :data:`MIN_SECRET_LENGTH` bytes are not searched for in text (``"1"`` or
   ``"true"`` as Secret data would erase every such character sequence in a log); rules 1 and 2
   still hide them where they are stored. A value whose key names a secret rather than holding one
   (:data:`REFERENCE_KEY`: ``existingSecret``, ``secretName``) is hidden in the values but not
   searched for.

Nothing here reads files or the cluster; :class:`Redactor` is an immutable value.
"""
from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import yaml

SENSITIVE_KEY = re.compile(r"password|passwd|token|secret|key|dsn|credential", re.IGNORECASE)
"""A values key whose value is redacted (searched anywhere in the key: ``apiKey``, ``DB_PASSWORD``)."""
REFERENCE_KEY = re.compile(r"existing|name$|ref$|secretkey$|keyname$", re.IGNORECASE)
"""A sensitive-looking key that names a secret rather than holding one (``existingSecret``,
``secretName``, ``passwordSecretKeyRef``): its value is redacted where it is stored but not searched
for in text (a Secret named ``postgres`` would otherwise erase every "postgres" in the logs)."""
MIN_SECRET_LENGTH = 4
"""Secrets shorter than this (bytes) are not searched for in free text."""
MIN_EMBEDDED_LENGTH = 8
"""Secrets at least this long (bytes) are also found inside a longer base64 text."""
TEXT_MARK = "<redacted>"


def redacted(size: int) -> str:
    """The placeholder of a structured value of ``size`` bytes: ``<redacted N bytes>``."""
    return f"<redacted {size} bytes>"


def sensitive_key(name: Any) -> bool:
    """True when a values key names a secret (:data:`SENSITIVE_KEY`)."""
    return isinstance(name, str) and SENSITIVE_KEY.search(name) is not None


def _size(value: Any) -> int:
    return len(str(value).encode())


def _is_secret_leaf(value: Any) -> bool:
    # booleans, nulls and empty strings say how a chart is configured and hide nothing
    return isinstance(value, str | int | float) and not isinstance(value, bool) and value != ""


# --------------------------------------------------------------------------- values


def _split_paths(paths: Iterable[str]) -> list[tuple[str, ...]]:
    return [tuple(p.split(".")) for p in paths if p]


def _walk_values(value: Any, path: tuple[str, ...], key: Any, paths: list[tuple[str, ...]],
                 found: list[str]) -> Any:
    under_listed = any(path[:len(p)] == p for p in paths)
    if isinstance(value, Mapping):
        return {k: _walk_values(v, (*path, str(k)), k, paths, found) for k, v in value.items()}
    if isinstance(value, list):
        # a list item's "last segment" is the key holding the list; its index is not part of a contract path
        return [_walk_values(v, path, key, paths, found) for v in value]
    if _is_secret_leaf(value) and (under_listed or sensitive_key(key)):
        if under_listed or not (isinstance(key, str) and REFERENCE_KEY.search(key)):
            found.append(str(value))
        return redacted(_size(value))
    return value


def redact_values(values: Any, sensitive_paths: Sequence[str] = ()) -> Any:
    """A copy of a values tree (``helm get values --all``) with the secret leaves replaced (rule 2).

    Args:
        values: a mapping (lists and scalars inside); anything else is returned as it is.
        sensitive_paths: dotted paths (``auth.oidc.clientSecret``) whose whole subtree is secret.
    """
    return _walk_values(values, (), None, _split_paths(sensitive_paths), [])


def sensitive_value_strings(values: Any, sensitive_paths: Sequence[str] = ()) -> set[str]:
    """The strings :func:`redact_values` hides that are searched for in text (rule 3): all of them
    but those under a reference key (:data:`REFERENCE_KEY`) outside the contract's paths."""
    found: list[str] = []
    _walk_values(values, (), None, _split_paths(sensitive_paths), found)
    return set(found)


# --------------------------------------------------------------------------- Secret objects


def is_secret(obj: Any) -> bool:
    """True for a ``v1`` Secret object (a mapping with ``kind: Secret``)."""
    return isinstance(obj, Mapping) and obj.get("kind") == "Secret"


def _b64decode(text: Any) -> bytes:
    try:
        return base64.b64decode(str(text), validate=False)
    except (binascii.Error, ValueError):
        return str(text).encode()


def secret_data(obj: Mapping[str, Any]) -> dict[str, bytes]:
    """The decoded data of a Secret: ``data`` (base64-decoded; undecodable text kept as it is)
    merged with ``stringData`` (UTF-8), as the API server merges them."""
    out: dict[str, bytes] = {}
    for k, v in (obj.get("data") or {}).items():
        if v is not None:
            out[str(k)] = _b64decode(v)
    for k, v in (obj.get("stringData") or {}).items():
        if v is not None:
            out[str(k)] = str(v).encode()
    return out


def redact_secret(obj: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of a Secret with every ``data``/``stringData`` value replaced by ``<redacted N bytes>``
    (N: decoded bytes); keys, metadata and type kept. The last-applied-configuration annotation
    (``kubectl apply`` stores the whole object there) is redacted as well."""
    out = dict(obj)
    if isinstance(obj.get("data"), Mapping):
        out["data"] = {k: redacted(len(_b64decode(v))) if v is not None else v for k, v in obj["data"].items()}
    if isinstance(obj.get("stringData"), Mapping):
        out["stringData"] = {k: redacted(_size(v)) if v is not None else v for k, v in obj["stringData"].items()}
    meta = obj.get("metadata")
    if isinstance(meta, Mapping) and isinstance(meta.get("annotations"), Mapping):
        ann = dict(meta["annotations"])
        for k in ann:
            if k.endswith("last-applied-configuration"):
                ann[k] = redacted(_size(ann[k]))
        out["metadata"] = {**meta, "annotations": ann}
    return out


def redact_objects(obj: Any) -> Any:
    """``obj`` with every Secret inside redacted (:func:`redact_secret`): one object, a ``List``'s
    ``items``, or a list of objects."""
    if is_secret(obj):
        return redact_secret(obj)
    if isinstance(obj, Mapping) and isinstance(obj.get("items"), list):
        return {**obj, "items": [redact_objects(i) for i in obj["items"]]}
    if isinstance(obj, list):
        return [redact_objects(i) for i in obj]
    return obj


def objects_secrets(obj: Any) -> set[bytes]:
    """Every Secret data value in ``obj`` (one object, a ``List``, or a list of objects)."""
    if is_secret(obj):
        return set(secret_data(obj).values())
    if isinstance(obj, Mapping) and isinstance(obj.get("items"), list):
        obj = obj["items"]
    if isinstance(obj, list):
        return {s for i in obj for s in objects_secrets(i)}
    return set()


def _documents(text: str) -> list[Any] | None:
    try:
        return list(yaml.safe_load_all(text))
    except yaml.YAMLError:
        return None


def manifest_secrets(text: str) -> set[bytes]:
    """The Secret data of a multi-document YAML manifest (``helm get manifest``); an unparsable
    manifest gives none (:func:`redact_manifest` then hides it whole)."""
    docs = _documents(text) or []
    return {s for d in docs for s in objects_secrets(d)}


def redact_manifest(text: str) -> str:
    """A multi-document YAML manifest with its Secrets redacted (:func:`redact_secret`), other
    documents unchanged in content (re-dumped in their key order; comments such as Helm's
    ``# Source:`` lines are kept: a document is re-dumped only when it is a Secret).

    A manifest that is not valid YAML is replaced whole by ``<redacted N bytes>`` (it cannot be
    told where its Secrets are)."""
    parts = re.split(r"(?m)^---[ \t]*$", text)
    out = []
    for part in parts:
        docs = _documents(part)
        if docs is None:
            return redacted(_size(text)) + "\n"
        if not any(is_secret(d) or (isinstance(d, Mapping) and d.get("items")) for d in docs):
            out.append(part)
            continue
        comments = "".join(line + "\n" for line in part.splitlines() if line.lstrip().startswith("#"))
        body = yaml.safe_dump_all([redact_objects(d) for d in docs if d is not None], sort_keys=False)
        out.append(("\n" if part.startswith("\n") else "") + comments + body)
    return "---".join(out)


# --------------------------------------------------------------------------- by value


def _b64_forms(raw: bytes) -> set[str]:
    forms = set()
    for enc in (base64.b64encode, base64.urlsafe_b64encode):
        full = enc(raw).decode()
        forms.update({full, full.rstrip("=")})
    if len(raw) >= MIN_EMBEDDED_LENGTH:
        # Inside a longer base64 text the secret starts at byte offset 0, 1 or 2 of a 3-byte group;
        # the characters that encode only its own bytes are the same whatever surrounds it.
        for lead in range(3):
            enc = base64.b64encode(b"\0" * lead + raw).decode()
            start = (lead * 8 + 5) // 6 if lead else 0
            whole = (lead + len(raw)) // 3 * 4  # characters of complete groups
            core = enc[start:whole]
            if len(core) >= MIN_EMBEDDED_LENGTH:
                forms.add(core)
    return forms


def needles(secret: bytes) -> set[str]:
    """Every text form of one secret that :meth:`Redactor.text` replaces (see the module docstring);
    empty for a secret shorter than :data:`MIN_SECRET_LENGTH`."""
    if len(secret) < MIN_SECRET_LENGTH:
        return set()
    out = _b64_forms(secret)
    try:
        plain = secret.decode()
    except UnicodeDecodeError:
        return out
    out.add(plain)
    out.add(json.dumps(plain)[1:-1])
    if "\n" in plain.strip():
        out.update(line.strip() for line in plain.splitlines() if len(line.strip()) >= MIN_EMBEDDED_LENGTH)
    return {n for n in out if len(n) >= MIN_SECRET_LENGTH}


def _as_bytes(value: str | bytes) -> bytes:
    return value if isinstance(value, bytes) else value.encode()


@dataclass(frozen=True)
class Redactor:
    """The secrets of a run (rule 3) and the contract's sensitive values paths (rule 2).

    Attributes:
        secrets: byte strings never to be written.
        sensitive_paths: dotted values paths whose subtree is secret.
    """

    secrets: frozenset[bytes] = frozenset()
    sensitive_paths: tuple[str, ...] = ()

    def with_secrets(self, values: Iterable[str | bytes]) -> Redactor:
        """A Redactor that also hides ``values``."""
        add = frozenset(_as_bytes(v) for v in values if v)
        if add <= self.secrets:
            return self
        return Redactor(self.secrets | add, self.sensitive_paths)

    def merged(self, other: Redactor) -> Redactor:
        """Both redactors' secrets and paths."""
        paths = tuple(dict.fromkeys([*self.sensitive_paths, *other.sensitive_paths]))
        return Redactor(self.secrets | other.secrets, paths)

    @cached_property
    def _needles(self) -> tuple[str, ...]:
        # longest first, so a secret's base64 is replaced whole, not one of its lines
        return tuple(sorted({n for s in self.secrets for n in needles(s)}, key=lambda n: (-len(n), n)))

    def text(self, text: str) -> str:
        """``text`` with every form of every secret replaced by ``<redacted>``."""
        if not text:
            return text
        # substring search per needle runs at C speed; one regex alternation over all of them would
        # try every needle at every position (seconds per megabyte of node logs)
        present = [n for n in self._needles if n in text]
        if not present:
            return text
        return re.compile("|".join(re.escape(n) for n in present)).sub(TEXT_MARK, text)

    def deep(self, obj: Any) -> Any:
        """A copy of a JSON-like tree with :meth:`text` applied to every string (keys included)."""
        if isinstance(obj, str):
            return self.text(obj)
        if isinstance(obj, Mapping):
            return {(self.text(k) if isinstance(k, str) else k): self.deep(v) for k, v in obj.items()}
        if isinstance(obj, list | tuple):
            return [self.deep(v) for v in obj]
        return obj

    def values(self, values: Any) -> Any:
        """A values tree with rule 2, then rule 3, applied."""
        return self.deep(redact_values(values, self.sensitive_paths))

    def objects(self, obj: Any) -> Any:
        """Kubernetes objects with rule 1, then rule 3, applied."""
        return self.deep(redact_objects(obj))

    def manifest(self, text: str) -> str:
        """A multi-document manifest with rule 1, then rule 3, applied."""
        return self.text(redact_manifest(text))


def redactor_for(*, manifests: Iterable[str] = (), objects: Iterable[Any] = (), values: Iterable[Any] = (),
                 sensitive_paths: Sequence[str] = ()) -> Redactor:
    """The :class:`Redactor` of a release: the Secret data of its manifests (``helm get manifest``)
    and of Kubernetes objects (the namespace's Secrets), and the secret leaves of its values
    (``helm get values --all``) by key and by ``sensitive_paths``."""
    found: set[bytes] = set()
    for m in manifests:
        found |= manifest_secrets(m)
    for o in objects:
        found |= objects_secrets(o)
    for v in values:
        found |= {s.encode() for s in sensitive_value_strings(v, sensitive_paths)}
    return Redactor(frozenset(found), tuple(sensitive_paths))


# --------------------------------------------------------------------------- command lines

_SET_FLAGS = ("--set", "--set-string", "--set-json", "--set-file", "--set-literal")


def redact_set(assignments: str) -> str:
    """A helm ``--set`` argument (``a.b=1,auth.password=x``, https://helm.sh/docs/intro/using_helm/#the-format-and-limitations-of---set)
    with the value of each assignment whose key's last segment names a secret replaced
    (``auth.password=<redacted 1 bytes>``). Helm's escaped commas (``\\,``) stay inside a value."""
    parts = re.split(r"(?<!\\),", assignments)
    out = []
    for part in parts:
        key, eq, value = part.partition("=")
        last = re.split(r"[.\[\]]", key.strip())
        last = [seg for seg in last if seg and not seg.isdigit()]  # a list index is not the key
        if eq and last and sensitive_key(last[-1]):
            part = f"{key}={redacted(_size(value))}"
        out.append(part)
    return ",".join(out)


def redact_argv(argv: Sequence[str]) -> list[str]:
    """A command line with every ``--set``-like argument passed through :func:`redact_set`
    (``--set X``, ``--set=X``, the harness's ``--harness-set``)."""
    out: list[str] = []
    take = False
    for a in argv:
        flag, eq, rest = a.partition("=")
        if take:
            out.append(redact_set(a))
            take = False
        elif flag in _SET_FLAGS or flag == "--harness-set":
            if eq:
                out.append(f"{flag}={redact_set(rest)}")
            else:
                out.append(a)
                take = True
        else:
            out.append(a)
    return out
