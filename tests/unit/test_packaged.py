"""What ships in the package (harness/core/packaged.py) and what an installed package does without
the repository's build scripts (harness/tools/binaries.py). The wheel itself, installed outside the
repository: tests/integration/test_wheel_install.py."""
from __future__ import annotations

from pathlib import Path

import pytest

from harness.core.errors import EnvironmentNotReady
from harness.core.packaged import checkout_root, package_path
from harness.core.pins import pinned
from harness.tools import binaries

ROOT = Path(__file__).resolve().parents[2]


def test_runtime_files_live_in_the_package():
    assert package_path() == ROOT / "harness"
    for parts in (("data", "versions.env"), ("env", "addons", "charts", "traefik", "Chart.yaml"),
                  ("scenarios", "upgrade", "test_upgrade.py"), ("report", "templates", "report.html"),
                  ("tools", "helm_plugins", "postrender", "plugin.yaml")):
        assert package_path(*parts).is_file(), "/".join(parts)
    for name in ("upgrade", "rollback", "drain", "sse", "db_outage"):
        assert (package_path("scenarios", name) / "__init__.py").is_file(), name


def test_the_checkout_is_recognised_and_its_scenarios_are_the_gates():
    from harness.gate import run

    assert checkout_root() == ROOT
    assert run.SCENARIOS_DIR == ROOT / "scenarios"


def test_a_missing_tool_says_what_to_do_in_a_checkout_and_in_an_installed_package(tmp_path, monkeypatch):
    monkeypatch.setenv("HARNESS_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    monkeypatch.setattr(binaries, "PROJECT_TOOLS", None)  # as installed: no .tools/bin
    with pytest.raises(EnvironmentNotReady) as err:
        binaries.tool_path("helm")
    msg = str(err.value)
    assert msg == (f"helm not found; put helm {pinned()['HELM_VERSION']} on PATH or in {binaries.tools_dir()} "
                   "(the installed package does not build tools; a checkout of the harness repository does: "
                   "`make setup`)")
    assert binaries.missing_tool_message("kind", checkout=True) == (
        "kind not found; run `make setup` to install the pinned tools")
    # a helm on PATH is what an installed package uses
    (tmp_path / "bin").mkdir()
    helm = tmp_path / "bin" / "helm"
    helm.write_text("#!/bin/sh\n")
    helm.chmod(0o755)
    assert binaries.tool_path("helm") == str(helm)
    # and the versioned cache directory comes first
    cached = binaries.tools_dir() / "helm"
    cached.parent.mkdir(parents=True)
    cached.write_text("#!/bin/sh\n")
    assert binaries.tool_path("helm") == str(cached)
