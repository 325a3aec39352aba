"""The composite action: action.yml's structure (read as YAML; actionlint runs in
tests/integration/test_gate_workflow_actionlint.py) and ci/action/run.py's pure functions (the script
itself runs in tests/integration/test_action_script.py)."""
from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
ACTION = ROOT / "action.yml"
INPUTS = ("chart", "kubernetes-version", "helm-version", "scenarios", "edge", "values", "shard")
CURRENT_MAJORS = {"actions/setup-python": 7, "actions/setup-go": 7, "actions/upload-artifact": 7}
"""The majors the nightly workflow uses (tests/unit/test_gate_workflow.py keeps those on Node 24)."""


def _module():
    spec = importlib.util.spec_from_file_location("action_run", ROOT / "ci" / "action" / "run.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # dataclasses look their module up while the class is made
    spec.loader.exec_module(mod)
    return mod


run = _module()
PINS = {"HELM_VERSION": "v4.3.2", "HELM3_VERSION": "v3.22.0", "KUBERNETES_VERSION": "v1.37.2"}
SUPPORTED = ["v1.35.4", "v1.36.3", "v1.37.2"]


def argv(**inputs: str) -> list[str]:
    return run.gate_argv(run.Inputs(**inputs), python="py", pins=PINS, supported=SUPPORTED,
                         helm3=lambda v: f"/tools/{v}/helm3")


def test_gate_argv_maps_every_input():
    assert argv(chart="c") == ["py", "-m", "harness", "gate", "--chart", "c", "--report-dir", "report",
                               "--artifacts-dir", "artifacts"]
    got = argv(chart="c", kubernetes_version="1.35", helm_version="3", scenarios="upgrade drain\nsse",
               edge="traefik-nginx", values="a.yaml, b.yaml", shard="2/3")
    assert got[10:] == ["--kubernetes-version", "v1.35.4", "--helm", "/tools/v1.35.4/helm3",
                        "--scenarios", "upgrade,drain,sse", "--edge", "traefik-nginx",
                        "--values", "a.yaml", "--values", "b.yaml", "--shard", "2/3"]
    assert argv(chart="c", helm_version="v4.3.2") == argv(chart="c")
    assert argv(chart="c", helm_version="3")[-1] == "/tools/v1.37.2/helm3"  # the default version's helm3


@pytest.mark.parametrize(("inputs", "message"), [
    ({}, "chart: is required"),
    ({"chart": "c", "kubernetes_version": "v1.34"}, "kubernetes-version: 'v1.34' is not supported; choose one of "
                                                    "v1.35.4, v1.36.3, v1.37.2 (or their minor, e.g. v1.36)"),
    ({"chart": "c", "helm_version": "2"}, "helm-version: '2' is not pinned here; use 4 (v4.3.2) or 3 (v3.22.0)"),
    ({"chart": "c", "shard": "0/4"}, "shard: '0/4' is not i/n with 1 <= i <= n"),
    ({"chart": "c", "shard": "5/4"}, "shard: '5/4' is not i/n"),
    ({"chart": "c", "shard": "x"}, "shard: 'x' is not i/n"),
])
def test_gate_argv_refuses_bad_inputs_in_one_line(inputs, message):
    with pytest.raises(run.InputError) as err:
        argv(**inputs)
    assert str(err.value).startswith(message) and "\n" not in str(err.value)


def test_shard_passes_to_the_gates_shard_option():
    assert argv(chart="c", shard=" 1 / 2 ")[-2:] == ["--shard", "1/2"]
    # the gate this action installs takes it (read from its parser, not assumed)
    from harness.__main__ import build_parser

    ns = build_parser().parse_args(["gate", "--chart", "c", *argv(chart="c", shard="2/3")[-2:]])
    assert str(ns.shard) == "2/3"


def test_artifact_names_differ_across_a_matrix():
    names = {run.artifact_name(run.Inputs(chart="charts/web/", kubernetes_version=k, helm_version=h, shard=s),
                               PINS, SUPPORTED)
             for k in ("", "v1.36") for h in ("4", "3") for s in ("", "1/2")}
    assert len(names) == 8
    assert run.artifact_name(run.Inputs(chart="charts/web", shard="1/2"), PINS, SUPPORTED) == (
        "harness-gate-web-v1.37.2-helm4-default-edge-shard-1-of-2")
    assert all(re.fullmatch(r"[A-Za-z0-9._-]+", n) for n in names)


def test_inputs_from_env():
    env = {"INPUT_CHART": " charts/web ", "INPUT_KUBERNETES_VERSION": "v1.36", "INPUT_SHARD": "", "OTHER": "x"}
    assert run.Inputs.from_env(env) == run.Inputs(chart="charts/web", kubernetes_version="v1.36")


def _action():
    return yaml.safe_load(ACTION.read_text())


def test_action_declares_the_inputs_and_outputs():
    a = _action()
    assert set(INPUTS) <= set(a["inputs"]) and a["inputs"]["chart"]["required"] is True
    assert all(not a["inputs"][n].get("required") for n in INPUTS if n != "chart")
    assert set(a["outputs"]) == {"exit-code", "artifact-name"}
    assert a["runs"]["using"] == "composite"


def test_action_steps_run_the_script_with_every_input():
    steps = _action()["runs"]["steps"]
    uses = {s["uses"].split("@")[0]: int(s["uses"].split("@v")[1]) for s in steps if "uses" in s}
    assert uses == CURRENT_MAJORS
    names = [s.get("id") or s["name"] for s in steps]
    assert names.index("Install the harness") < names.index("Pinned tools and images") < names.index("gate")
    gate = next(s for s in steps if s.get("id") == "gate")
    assert gate["run"] == 'python "$ACTION_PATH/ci/action/run.py" gate' and "if" not in gate
    for name in INPUTS:  # every input reaches the script under the name run.py reads
        assert gate["env"][f"INPUT_{name.upper().replace('-', '_')}"] == f"${{{{ inputs.{name} }}}}"
    summary = next(s for s in steps if s["name"] == "Summary")
    upload = next(s for s in steps if s["name"] == "Upload report and artifacts")
    assert summary["if"] == "always()" and upload["if"] == "always()"
    assert upload["with"]["path"].split() == ["report/", "artifacts/"]
    assert "steps.gate.outputs.artifact-name" in upload["with"]["name"]
    for s in steps:
        if "run" in s:
            assert s["shell"] == "bash" and s["env"]["ACTION_PATH"] == "${{ github.action_path }}"
            step = s["run"].split()[-1]
            assert step in ("install", "tools", "gate", "summary")
