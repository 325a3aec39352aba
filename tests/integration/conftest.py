"""Shared fixtures for the unit tests: a tiny chart, the pinned helm."""
from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from harness.core.errors import EnvironmentNotReady


@pytest.fixture
def helm_bin() -> str:
    """The pinned helm binary (skips with the reason when `make setup` has not run)."""
    from harness.tools.binaries import tool_path

    try:
        return tool_path("helm")
    except EnvironmentNotReady as exc:
        pytest.skip(str(exc))


def write_chart(root: Path, name: str = "tiny", version: str = "0.1.0") -> Path:
    chart = root / name
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text(textwrap.dedent(f"""\
        apiVersion: v2
        name: {name}
        version: {version}
        appVersion: "1.0"
        """))
    (chart / "values.yaml").write_text("message: hello\nreplicas: 1\nextra: {}\n")
    (chart / "templates" / "configmap.yaml").write_text(textwrap.dedent("""\
        apiVersion: v1
        kind: ConfigMap
        metadata:
          name: {{ .Release.Name }}-cm
        data:
          message: {{ .Values.message | quote }}
          replicas: {{ .Values.replicas | quote }}
        """))
    return chart


@pytest.fixture
def make_chart():
    """``make_chart(root, name="tiny", version="0.1.0") -> Path``: write a minimal chart."""
    return write_chart


@pytest.fixture
def tiny_chart(tmp_path: Path) -> Path:
    """A minimal valid chart (a ConfigMap from .Values.message/.Values.replicas) in tmp_path."""
    return write_chart(tmp_path / "charts")
