"""Where the harness's own files are: inside the installed package, and (only when it runs from one)
the repository checkout.

Everything a run needs ships in the package and is found with :mod:`importlib.resources`, so a
wheel installed anywhere needs nothing from this repository: the pinned versions
(``harness/data/versions.env``), the add-on charts (``harness/env/addons/charts/``), the scenario
test modules (``harness/scenarios/<name>/``), the report's templates and the helm post-renderer.
Only what builds tools and images from source (``images/*.sh``, ``make setup``) stays in the
repository; :func:`checkout_root` says whether the package runs from one.
"""
from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from harness.core.errors import EnvironmentNotReady


def package_path(*parts: str) -> Path:
    """The path of ``harness/<parts...>`` inside the imported package (installed or editable).

    Args:
        parts: path components below the ``harness`` package, e.g. ``("data", "versions.env")``.

    Returns:
        a filesystem path (it may not exist; callers check what they need).

    Raises:
        EnvironmentNotReady: the package is not on a filesystem (imported from a zip archive), so
            helm could not read a chart directory from it; install the wheel with pip instead.
    """
    node = files("harness").joinpath(*parts)
    if not isinstance(node, Path):
        raise EnvironmentNotReady(f"the harness package is not installed on a filesystem ({node}); "
                                  "install the wheel with pip (its data files must be readable by helm)")
    return node


def checkout_root() -> Path | None:
    """The repository checkout the package runs from (an editable install or ``python -m`` from the
    checkout), or None for an installed wheel. A checkout is the ``harness`` package's parent
    directory holding ``pyproject.toml`` and ``images/lib.sh`` (the image build scripts)."""
    root = package_path().parent
    return root if (root / "pyproject.toml").is_file() and (root / "images" / "lib.sh").is_file() else None
