"""The ``helm`` configuration key: ``--helm PATH`` / ``HARNESS_HELM`` / ``helm:`` select the helm binary."""
from __future__ import annotations

from pathlib import Path

import pytest

from harness.core.config import load_config
from harness.core.errors import UsageError


def fake_helm(path: Path, mode: int = 0o755) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\necho v4.3.2\n")
    path.chmod(mode)
    return path


def test_default_is_the_pinned_helm(tmp_path):
    c = load_config({}, env={}, rootdir=tmp_path, cwd=tmp_path)
    assert c.helm is None and c.sources["helm"] == "default"


def test_option_env_and_file_select_the_binary_with_precedence(tmp_path):
    opt, env, file = (fake_helm(tmp_path / d / "helm") for d in ("opt", "env", "file"))
    (tmp_path / "harness.yaml").write_text("helm: file/helm\n")
    c = load_config({"helm": "opt/helm"}, env={"HARNESS_HELM": str(env)}, rootdir=tmp_path, cwd=tmp_path)
    assert (c.helm, c.sources["helm"]) == (opt, "option")
    c = load_config({}, env={"HARNESS_HELM": str(env)}, rootdir=tmp_path, cwd=tmp_path)
    assert (c.helm, c.sources["helm"]) == (env, "env HARNESS_HELM")
    c = load_config({}, env={}, rootdir=tmp_path, cwd=tmp_path)
    assert c.helm == file and c.sources["helm"] == f"file {tmp_path / 'harness.yaml'}"


def test_missing_helm_is_one_line(tmp_path):
    with pytest.raises(UsageError) as err:
        load_config({}, env={"HARNESS_HELM": "/nowhere/helm"}, rootdir=tmp_path, cwd=tmp_path)
    assert str(err.value) == ("helm (env HARNESS_HELM): /nowhere/helm does not exist; "
                              "give the path of a helm v4 or v3 binary")
    assert err.value.exit_code == 2


@pytest.mark.parametrize("make", ["not-executable", "directory"])
def test_not_an_executable_file_is_one_line(tmp_path, make):
    if make == "directory":
        path = tmp_path / "helmdir"
        path.mkdir()
    else:
        path = fake_helm(tmp_path / "helm", mode=0o644)
    with pytest.raises(UsageError, match=rf"^helm \(option\): {path} is not an executable file; give the path"):
        load_config({"harness_helm": str(path)}, env={}, rootdir=tmp_path, cwd=tmp_path)
