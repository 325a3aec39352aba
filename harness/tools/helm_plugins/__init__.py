"""The harness's Helm 4 plugins, installed into the harness's private plugin directory.

Helm 4's ``--post-renderer`` takes the name of a ``postrenderer/v1`` plugin found in
``$HELM_PLUGINS`` instead of an executable path (https://helm.sh/docs/plugins/migrate,
"Breaking change for post-renderers"). Helm finds plugins as ``$HELM_PLUGINS/*/plugin.yaml``
(helm.sh/helm/v4 ``internal/plugin/loader.go``, ``LoadAllDir``), so installing one is copying its
directory there; ``helm plugin install`` is not needed (and would symlink a local directory).
"""
from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from harness.core.errors import EnvironmentNotReady

POSTRENDER_PLUGIN = "harness-postrender"
"""The plugin's name (``name:`` in its plugin.yaml): the value of Helm 4's ``--post-renderer``."""
POSTRENDER_PYTHON_ENV = "HARNESS_POSTRENDER_PYTHON"
"""Environment variable the plugin's command is read from: the Python that runs postrender.py."""
POSTRENDER_SOURCE = Path(__file__).resolve().parent / "postrender"
POSTRENDER_SCRIPT = Path(__file__).resolve().parents[1] / "postrender.py"


def postrender_plugin_files() -> dict[str, bytes]:
    """The installed plugin's files: ``{file name: content}`` (its plugin.yaml and postrender.py)."""
    return {"plugin.yaml": (POSTRENDER_SOURCE / "plugin.yaml").read_bytes(),
            "postrender.py": POSTRENDER_SCRIPT.read_bytes()}


def _installed(target: Path, files: dict[str, bytes]) -> bool:
    try:
        return all((target / name).read_bytes() == data for name, data in files.items())
    except OSError:
        return False


def install_postrender_plugin(plugins_dir: Path | str) -> Path:
    """Install the post-renderer plugin as ``<plugins_dir>/harness-postrender`` unless it is there.

    Idempotent: when the installed files equal the shipped ones nothing is written (so a read-only
    plugin directory that already holds it is fine). Otherwise the files are written to a fresh
    directory beside it and renamed into place, so helm never sees half a plugin and concurrent
    runs sharing a helm home do not corrupt each other.

    Args:
        plugins_dir: the helm plugin directory (``HELM_PLUGINS``); created when missing.

    Returns:
        the installed plugin directory.

    Raises:
        EnvironmentNotReady: the plugin directory cannot be written (one line with the fix).
    """
    plugins_dir = Path(plugins_dir)
    target = plugins_dir / POSTRENDER_PLUGIN
    files = postrender_plugin_files()
    if _installed(target, files):
        return target
    staging: Path | None = None
    try:
        plugins_dir.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{POSTRENDER_PLUGIN}.", dir=plugins_dir))
        staging.chmod(0o755)  # mkdtemp makes it private; the plugin is as readable as a helm install
        for name, data in files.items():
            (staging / name).write_bytes(data)
        (staging / "postrender.py").chmod(0o755)
        if target.exists() or target.is_symlink():
            stale = Path(tempfile.mkdtemp(prefix=f".{POSTRENDER_PLUGIN}.old.", dir=plugins_dir))
            target.rename(stale / "plugin")
            shutil.rmtree(stale, ignore_errors=True)
        staging.rename(target)
        staging = None
    except OSError as exc:
        if _installed(target, files):  # a concurrent run installed the same files first
            return target
        reason = exc.strerror or type(exc).__name__
        raise EnvironmentNotReady(
            f"helm plugin directory {plugins_dir} is not writable ({reason}): the harness installs its "
            f"post-renderer plugin {POSTRENDER_PLUGIN} there for Helm 4; make the directory writable "
            "or give the harness another helm home") from None
    finally:
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
    return target


__all__ = ["POSTRENDER_PLUGIN", "POSTRENDER_PYTHON_ENV", "install_postrender_plugin", "postrender_plugin_files"]
