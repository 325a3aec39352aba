"""Chart references and values: what ``--chart``, ``--values`` and ``--set`` may say, parsed and checked
before any tool runs (the syntax is helm's: `helm install --help`, "The format and limitations of --set").
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml

from harness.core.chartfiles import read_packaged
from harness.core.errors import UsageError
from harness.core.imageref import is_loopback

_REPO_REF = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9][A-Za-z0-9_.-]*$")
ChartKind = Literal["dir", "tgz", "repo", "oci", "url"]


@dataclass(frozen=True)
class ChartRef:
    """A chart as helm takes it.

    Attributes:
        ref: what helm gets as its CHART argument: an absolute directory or .tgz path,
            ``repo/name``, an ``oci://`` reference or an http(s) URL of a .tgz.
        kind: ``"dir"``, ``"tgz"``, ``"repo"``, ``"oci"`` or ``"url"``.
        version: ``--version`` (repo and oci charts only); None means the latest.
    """

    ref: str
    kind: ChartKind
    version: str | None = None

    def argv(self) -> list[str]:
        """The CHART argument plus ``--version`` when one is set, and ``--plain-http`` for an OCI
        chart in a registry on loopback (:attr:`plain_http`)."""
        return [self.ref, *(["--version", self.version] if self.version else []),
                *(["--plain-http"] if self.plain_http else [])]

    @property
    def oci_registry(self) -> str:
        """``host[:port]`` of an ``oci://`` chart ("" for other kinds)."""
        return self.ref[len("oci://"):].split("/", 1)[0] if self.kind == "oci" else ""

    @property
    def plain_http(self) -> bool:
        """True for an OCI chart in a registry on 127.0.0.0/8, localhost or [::1]: helm speaks HTTPS to
        every OCI registry unless given ``--plain-http`` (helm pull/show/install/upgrade/template/push,
        https://helm.sh/docs/helm/helm_pull/), while such a loopback registry (kind's local-registry
        recipe, the harness's own, harness/env/registry.py) serves plain HTTP; Docker treats
        127.0.0.0/8 registries the same way without configuration."""
        return self.kind == "oci" and is_loopback(self.oci_registry)

    @property
    def is_local(self) -> bool:
        return self.kind in ("dir", "tgz")

    @property
    def name(self) -> str:
        """The chart's short name (directory name, archive name without version, or last path part)."""
        if self.kind == "dir":
            return Path(self.ref).name
        last = self.ref.rstrip("/").rsplit("/", 1)[-1]
        if self.kind in ("tgz", "url"):
            stem = re.sub(r"\.(tgz|tar\.gz)$", "", last)
            return re.sub(r"-v?\d+\.\d+\.\d+.*$", "", stem)
        return last.split(":", 1)[0]

    def __str__(self) -> str:
        return self.ref + (f"@{self.version}" if self.version else "")

    @classmethod
    def parse(cls, value: str, *, version: str | None = None, base: Path | None = None,
              key: str = "chart") -> ChartRef:
        """Classify ``value`` and check what can be checked without helm.

        Args:
            value: a chart directory, a .tgz path, ``repo/name``, ``oci://host/path/name`` or an
                https URL of a .tgz. Relative paths are resolved against ``base`` (default: cwd).
            version: ``--version`` for repo/oci charts (helm accepts semver constraints too).
            base: directory relative paths are resolved against.
            key: the configuration key named in error messages.

        Raises:
            UsageError: the path does not exist, a directory has no Chart.yaml, a .tgz is not a
                packaged chart (:func:`harness.core.chartfiles.read_packaged`), the value fits no
                form, or a version was given for a local chart.
        """
        value = (value or "").strip()
        base = base or Path.cwd()
        if not value:
            raise UsageError(f"{key}: empty chart reference")
        if value.startswith("oci://"):
            if value.count("/") < 3 or value.endswith("/"):
                raise UsageError(f"{key}: {value!r} is not an OCI chart reference (want oci://registry/path/name)")
            return cls(value, "oci", version)
        if value.startswith(("http://", "https://")):
            return cls(value, "url", version)
        path = Path(value).expanduser()
        path = path if path.is_absolute() else base / path
        looks_like_path = (
            value.startswith((".", "/", "~")) or value.count("/") != 1 or value.endswith((".tgz", ".tar.gz"))
            or (base / value.split("/", 1)[0]).is_dir()
        )
        if path.exists() or looks_like_path:
            if not path.exists():
                raise UsageError(f"{key}: chart path {value} does not exist (resolved to {path})")
            if version:
                raise UsageError(f"{key}: chart-version {version!r} only applies to repo/name and oci:// charts; "
                                 f"{value} is a local chart")
            if path.is_dir():
                if not (path / "Chart.yaml").is_file():
                    raise UsageError(f"{key}: {value} is not a chart directory (no Chart.yaml in {path})")
                return cls(str(path.resolve()), "dir")
            if value.endswith((".tgz", ".tar.gz")):
                read_packaged(path, key=key)  # a file that is not a packaged chart: one line now, not helm's later
                return cls(str(path.resolve()), "tgz")
            raise UsageError(f"{key}: {value} is neither a chart directory nor a .tgz archive")
        if _REPO_REF.match(value):
            return cls(value, "repo", version)
        raise UsageError(f"{key}: {value!r} is not a chart: use a directory, a .tgz, repo/name or oci://...")


def merge_values(*layers: Mapping[str, Any] | None) -> dict[str, Any]:
    """Merge values the way helm coalesces ``-f`` files and ``--set``: later layers win.

    Maps merge recursively; any other value (lists included) replaces the earlier one; a ``None``
    (YAML ``null``) in a later layer deletes the key
    (https://helm.sh/docs/chart_template_guide/values_files/#deleting-a-default-key).

    Returns:
        a new dict; the inputs are not modified.
    """
    out: dict[str, Any] = {}
    for layer in layers:
        if layer:
            _merge_into(out, layer)
    return out


def _merge_into(dst: dict[str, Any], src: Mapping[str, Any]) -> None:
    for key, value in src.items():
        if value is None:
            dst.pop(key, None)
        elif isinstance(value, Mapping) and isinstance(dst.get(key), dict):
            _merge_into(dst[key], value)
        elif isinstance(value, Mapping):
            dst[key] = merge_values(value)
        else:
            dst[key] = value


_INT = re.compile(r"^-?(0|[1-9][0-9]*)$")


def _typed(raw: str) -> Any:
    """--set value typing as helm's strvals does: true/false/null and integers are typed."""
    if raw == "true":
        return True
    if raw == "false":
        return False
    if raw == "null":
        return None
    if _INT.match(raw):
        return int(raw)
    return raw


def parse_set(expr: str) -> dict[str, Any]:
    """Parse one ``--set`` argument into nested values.

    Supports what charts here use from https://helm.sh/docs/intro/using_helm/#the-format-and-limitations-of---set:
    ``a.b=c``, several pairs separated by commas, ``\\,`` and ``\\.`` escapes, list indexes
    (``a[0].b=c``) and typing of ``true``/``false``/``null``/integers.

    Raises:
        UsageError: a pair without ``=`` or an empty key.
    """
    result: dict[str, Any] = {}
    for pair in _split_unescaped(expr, ","):
        if not pair:
            continue
        if "=" not in pair:
            raise UsageError(f"set: {expr!r}: {pair!r} has no '=' (want key=value)")
        key, _, raw = pair.partition("=")
        parts = _split_unescaped(key, ".")
        if not key or any(not p for p in parts):
            raise UsageError(f"set: {expr!r}: empty key in {pair!r}")
        _assign(result, parts, _typed(raw.replace("\\,", ",")))
    return result


def _split_unescaped(text: str, sep: str) -> list[str]:
    out, cur, i = [], "", 0
    while i < len(text):
        if text[i] == "\\" and i + 1 < len(text) and text[i + 1] == sep:
            cur += sep if sep == "." else "\\" + sep
            i += 2
            continue
        if text[i] == sep:
            out.append(cur)
            cur = ""
        else:
            cur += text[i]
        i += 1
    out.append(cur)
    return out


def _assign(node: Any, parts: list[str], value: Any) -> None:
    head, rest = parts[0], parts[1:]
    m = re.match(r"^(.*)\[(\d+)\]$", head)
    if m:
        name, idx = m.group(1), int(m.group(2))
        lst = node.setdefault(name, [])
        while len(lst) <= idx:
            lst.append(None)
        if rest:
            if not isinstance(lst[idx], dict):
                lst[idx] = {}
            _assign(lst[idx], rest, value)
        else:
            lst[idx] = value
        return
    if rest:
        child = node.get(head)
        if not isinstance(child, dict):
            child = node[head] = {}
        _assign(child, rest, value)
    else:
        node[head] = value


def load_values_file(path: Path, *, key: str = "values") -> dict[str, Any]:
    """Read a values file and check it is a YAML mapping (or empty).

    Raises:
        UsageError: missing file, invalid YAML (with line and column) or a non-mapping document.
    """
    path = Path(path)
    if not path.is_file():
        raise UsageError(f"{key}: values file {path} does not exist")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        where = ""
        mark = getattr(exc, "problem_mark", None)
        if mark is not None:
            where = f" at line {mark.line + 1}, column {mark.column + 1}"
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise UsageError(f"{key}: values file {path} is not valid YAML{where}: {problem}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise UsageError(f"{key}: values file {path} must hold a mapping, not a {type(data).__name__}")
    return data
