"""A packaged chart (``.tgz``) read without helm: is it a chart, and the files it carries.

``helm package`` writes a gzip-compressed tar archive whose entries all sit under one directory
named for the chart, ``<name>/Chart.yaml`` first (https://helm.sh/docs/topics/charts/#the-chart-file-structure,
https://helm.sh/docs/helm/helm_package/). The harness reads two things from it without helm: that
the archive is a chart (so a wrong file is one line before any tool runs), and the
``<name>/harness-contract.yaml`` and ``<name>/ci/*-values.yaml`` a maintainer may package with it
(the demo charts' ``.helmignore`` leaves their contract out; then ``--contract PATH`` names one).
"""
from __future__ import annotations

import hashlib
import os
import shutil
import tarfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import yaml

from harness.core.errors import UsageError
from harness.core.pins import cache_dir


@dataclass(frozen=True)
class PackagedChart:
    """What a .tgz says of itself.

    Attributes:
        path: the archive (absolute). top: the directory its entries sit under (the chart's name).
        name, version: ``name`` and ``version`` of its Chart.yaml.
    """

    path: Path
    top: str
    name: str
    version: str


def read_packaged(path: Path | str, *, key: str = "chart") -> PackagedChart:
    """Check that ``path`` is a packaged chart and read its Chart.yaml.

    Args:
        path: the .tgz file. key: the configuration key named in errors.

    Raises:
        UsageError: one line: missing file, not a gzip tar archive, no ``<dir>/Chart.yaml`` entry,
            or a Chart.yaml without ``name`` and ``version``.
    """
    path = Path(path)
    if not path.is_file():
        raise UsageError(f"{key}: packaged chart {path} does not exist")
    try:
        with tarfile.open(path, "r:gz") as archive:
            charts = [m for m in archive.getmembers() if m.isfile() and len(PurePosixPath(m.name).parts) == 2
                      and PurePosixPath(m.name).name == "Chart.yaml"]
            if not charts:
                raise UsageError(f"{key}: {path} is not a packaged chart (no <chart>/Chart.yaml in the archive; "
                                 "`helm package DIR` makes one)")
            handle = archive.extractfile(charts[0])
            text = handle.read().decode("utf-8", "replace") if handle else ""
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise UsageError(f"{key}: {path} is not a packaged chart (not a gzip-compressed tar archive: "
                         f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__})") from None
    try:
        meta = yaml.safe_load(text)
    except yaml.YAMLError:
        meta = None
    if not isinstance(meta, dict) or not meta.get("name") or not meta.get("version"):
        raise UsageError(f"{key}: {path}: {charts[0].name} has no name and version")
    return PackagedChart(path.resolve(), PurePosixPath(charts[0].name).parts[0], str(meta["name"]),
                         str(meta["version"]))


def extract_packaged(path: Path | str, *, key: str = "chart", root: Path | None = None) -> Path:
    """Unpack the chart's regular files into the harness cache and return the chart's directory there.

    The directory is keyed by the archive's sha256 (``<cache>/packaged-charts/<digest>/<chart>``),
    so a contract packaged with the chart reads its relative paths (values overlays, ``ci/``) from
    the same archive's files, and a second run reuses the first one's files. Only regular files
    under the chart's directory are written (no links, no absolute or ``..`` names).

    Args:
        path: the .tgz. key: the configuration key named in errors. root: where to unpack
            (default ``<cache_dir>/packaged-charts``).

    Raises:
        UsageError: as :func:`read_packaged`.
    """
    chart = read_packaged(path, key=key)
    digest = hashlib.sha256(chart.path.read_bytes()).hexdigest()[:16]
    dest = (root or cache_dir() / "packaged-charts") / digest
    out = dest / chart.top
    if (out / "Chart.yaml").is_file():
        return out
    tmp = dest.with_name(f"{digest}.tmp{os.getpid()}")
    with tarfile.open(chart.path, "r:gz") as archive:
        for m in archive.getmembers():
            parts = PurePosixPath(m.name).parts
            if not m.isfile() or not parts or parts[0] != chart.top or ".." in parts or m.name.startswith("/"):
                continue
            target = tmp.joinpath(*parts)
            target.parent.mkdir(parents=True, exist_ok=True)
            handle = archive.extractfile(m)
            target.write_bytes(handle.read() if handle else b"")
    try:
        tmp.rename(dest)
    except OSError:  # another run unpacked the same archive first: theirs is identical
        shutil.rmtree(tmp, ignore_errors=True)
    return out
