"""A local chart repository: a directory with index.yaml served over HTTP on 127.0.0.1.

A helm chart repository is just ``index.yaml`` plus the packaged charts it lists, fetched over
HTTP (https://helm.sh/docs/topics/chart_repository/). ``helm repo add harness-charts
http://127.0.0.1:PORT`` then works like against any hosted repository, with no network.

    with ChartRepo(Path("charts-under-test/repo")) as repo:
        helm.repo_add("harness-charts", repo.url)
"""
from __future__ import annotations

import functools
import logging
import os
import sys
import threading
from collections.abc import Mapping
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import yaml

from harness.core.errors import UsageError

log = logging.getLogger("harness.tools.chartrepo")

DEFAULT_REPO_NAME = "harness-charts"


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        log.debug("chart repo: " + format, *args)

    def end_headers(self) -> None:
        # helm caches index files itself; stale HTTP caches only confuse repeated runs.
        self.send_header("Cache-Control", "no-store")
        super().end_headers()


class ChartRepo:
    """Serve ``directory`` on ``http://127.0.0.1:<free port>`` from a background thread.

    Args:
        directory: holds ``index.yaml`` and the .tgz files it lists.
        name: the repository name callers pass to ``helm repo add`` (default ``harness-charts``).
        host: bind address (loopback only by default).

    Attributes (while running): ``url``, ``port``.

    Raises (on start):
        UsageError: the directory or its index.yaml is missing.
    """

    def __init__(self, directory: Path | str, *, name: str = DEFAULT_REPO_NAME, host: str = "127.0.0.1"):
        self.directory = Path(directory).resolve()
        self.name = name
        self.host = host
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("chart repository is not running")
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> ChartRepo:
        """Bind a free port and serve; returns self."""
        if not (self.directory / "index.yaml").is_file():
            raise UsageError(f"chart repository {self.directory} has no index.yaml; "
                             "package the released charts and run `helm repo index` there")
        handler = functools.partial(_QuietHandler, directory=str(self.directory))
        self._server = ThreadingHTTPServer((self.host, 0), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name=f"chart repo {self.url}",
                                        daemon=True)
        self._thread.start()
        log.info("serving chart repository %s at %s", self.directory, self.url)
        return self

    def stop(self) -> None:
        """Stop serving and release the port (idempotent)."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> ChartRepo:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        where = self.url if self._server else "stopped"
        return f"<ChartRepo {self.name} {self.directory} {where}>"


def helm_repositories_file(env: Mapping[str, str] | None = None) -> Path:
    """The user's own helm repositories file: ``$HELM_REPOSITORY_CONFIG``, else helm's default,
    ``$XDG_CONFIG_HOME/helm/repositories.yaml`` (``~/.config`` without it; ``~/Library/Preferences``
    on macOS) as https://helm.sh/docs/helm/helm/ lists it."""
    env = os.environ if env is None else env
    if env.get("HELM_REPOSITORY_CONFIG"):
        return Path(env["HELM_REPOSITORY_CONFIG"]).expanduser()
    home = Path(env.get("HOME") or Path.home())
    if env.get("XDG_CONFIG_HOME"):
        base = Path(env["XDG_CONFIG_HOME"])
    elif sys.platform == "darwin":
        base = home / "Library" / "Preferences"
    else:
        base = home / ".config"
    return base / "helm" / "repositories.yaml"


def user_repository(name: str, env: Mapping[str, str] | None = None) -> str | None:
    """The URL of the helm repository ``name`` in the user's repositories file (``helm repo add``),
    or None when it is not there (or the file is missing or unreadable). The harness runs helm
    with a private home, so a ``repo/name`` chart's repository is added there from this URL;
    credentials are not copied (a private repository is named in the contract's ``released.repository``
    or pulled to a .tgz first)."""
    try:
        data = yaml.safe_load(helm_repositories_file(env).read_text()) or {}
    except (OSError, yaml.YAMLError):
        return None
    entries = data.get("repositories") if isinstance(data, dict) else None
    for entry in entries or []:
        if isinstance(entry, dict) and entry.get("name") == name and entry.get("url"):
            return str(entry["url"])
    return None


def repository_source(name: str, *, released: Any = None, rootdir: Path | None = None,
                      env: Mapping[str, str] | None = None) -> Path | str:
    """Where the helm repository ``name`` of a ``repo/name`` chart comes from: the contract's
    ``released.repository`` when the released chart is in the same repository; the project's
    ``charts-under-test/repo`` for ``harness-charts``; else the user's helm configuration.

    Returns:
        a local directory with index.yaml (to serve with :class:`ChartRepo`) or a URL.

    Raises:
        UsageError: the repository is nowhere; the message says how to make it known.
    """
    if released is not None and getattr(released, "kind", None) == "repo" and released.repo_name == name \
            and released.repository is not None:
        return released.repository
    local = (rootdir / "charts-under-test" / "repo") if rootdir is not None else None
    if name == DEFAULT_REPO_NAME and local is not None and (local / "index.yaml").is_file():
        return local
    url = user_repository(name, env)
    if url:
        return url
    raise UsageError(f"helm repository {name!r} is unknown: `helm repo add {name} URL` first (the harness reads "
                     f"{helm_repositories_file(env)}), or name it in the contract's released.repository")
