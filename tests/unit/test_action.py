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
INPUTS = ("chart", "kubernetes-version", "helm-version", "scenarios", "edge", "values", "shard", "merge")
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
    assert run.Inputs.from_env({"INPUT_MERGE": "jobs/*/report\n"}) == run.Inputs(merge="jobs/*/report")


def _action():
    return yaml.safe_load(ACTION.read_text())


def test_action_declares_the_inputs_and_outputs():
    a = _action()
    assert set(INPUTS) <= set(a["inputs"])
    # chart is required by the script unless merge is set (a merging job has no chart)
    assert all(not a["inputs"][n].get("required") for n in INPUTS)
    assert "required unless merge is set" in a["inputs"]["chart"]["description"]
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
    # merge mode adds the jobs' directories the joined report links into (an empty line otherwise)
    assert upload["with"]["path"].splitlines() == ["report/", "artifacts/", "${{ steps.gate.outputs.upload-paths }}"]
    assert "steps.gate.outputs.artifact-name" in upload["with"]["name"]
    for s in steps:
        if "run" in s:
            assert s["shell"] == "bash" and s["env"]["ACTION_PATH"] == "${{ github.action_path }}"
            step = s["run"].split()[-1]
            assert step in ("install", "tools", "gate", "summary")


def test_merge_mode_skips_go_and_the_tools_and_runs_the_rest():
    steps = _action()["runs"]["steps"]
    by_name = {s.get("id") or s["name"]: s for s in steps}
    skipped = {n for n, s in by_name.items() if s.get("if") == "inputs.merge == ''"}
    assert skipped == {"Set up Go (the add-on images are built from their Go modules)", "Pinned tools and images"}
    for name in ("gate", "Summary"):  # the gate step runs the merge; the summary appends it
        assert by_name[name]["env"]["INPUT_MERGE"] == "${{ inputs.merge }}"


# --------------------------------------------------------------------------- merge mode


def _tree(root: Path, *dirs: str) -> Path:
    for d in dirs:
        (root / d).mkdir(parents=True)
    return root


def test_merge_dirs_expands_globs_in_order_once_each(tmp_path):
    root = _tree(tmp_path, "jobs/b-shard-2/report", "jobs/a-shard-1/report", "jobs/a-shard-1/artifacts", "extra/report")
    (root / "jobs" / "c-file").write_text("not a directory")
    assert run.merge_dirs("jobs/*/report", root=root) == ["jobs/a-shard-1/report", "jobs/b-shard-2/report"]
    assert run.merge_dirs("extra/report, jobs/*/report\njobs/a-shard-1/report", root=root) == [
        "extra/report", "jobs/a-shard-1/report", "jobs/b-shard-2/report"]


@pytest.mark.parametrize(("raw", "message"), [
    ("jobs/*/report", "merge: 'jobs/*/report' matches no directory under "),
    ("jobs/c-file", "merge: 'jobs/c-file' matches no directory under "),
    (" , ", "merge: give the report directories to join"),
])
def test_merge_dirs_refuses_what_matches_nothing_in_one_line(tmp_path, raw, message):
    (tmp_path / "jobs").mkdir()
    (tmp_path / "jobs" / "c-file").write_text("x")
    with pytest.raises(run.InputError) as err:
        run.merge_dirs(raw, root=tmp_path)
    assert str(err.value).startswith(message) and "\n" not in str(err.value)


def test_merge_argv_is_the_harness_report_merge_command(tmp_path):
    root = _tree(tmp_path, "jobs/one/report", "jobs/two/report")
    argv = run.merge_argv(run.Inputs(merge="jobs/*/report", helm_version="4"), python="py", root=root)
    assert argv == ["py", "-m", "harness", "report", "merge", "jobs/one/report", "jobs/two/report", "--out", "report"]
    # the harness this action installs takes it (read from its parser, not assumed)
    from harness.__main__ import build_parser

    ns = build_parser().parse_args(argv[3:])
    assert ns.dirs == ["jobs/one/report", "jobs/two/report"] and ns.out == "report"


def test_merge_argv_refuses_the_gate_inputs(tmp_path):
    _tree(tmp_path, "jobs/one/report")
    with pytest.raises(run.InputError) as err:
        run.merge_argv(run.Inputs(merge="jobs/*/report", chart="charts/web", shard="1/2"), python="py", root=tmp_path)
    assert str(err.value) == ("merge: a merging job runs only python -m harness report merge; leave chart, shard "
                              "empty (they belong to the gate jobs)")


def test_upload_paths_are_the_jobs_directories():
    assert run.upload_paths(["jobs/a/report", "jobs/b/report/", "jobs/a/report"]) == ["jobs/a/", "jobs/b/"]
    assert run.upload_paths(["report-1"]) == ["report-1/"]  # no parent below the workspace: the input itself


def test_multiline_output_uses_githubs_delimiter_syntax(tmp_path):
    out = tmp_path / "output"
    run._output_lines({"GITHUB_OUTPUT": str(out)}, "upload-paths", ["jobs/a/", "HARNESS_EOF"])
    assert out.read_text() == "upload-paths<<HARNESS_EOF_\njobs/a/\nHARNESS_EOF\nHARNESS_EOF_\n"
    run._output_lines({}, "x", ["y"])  # no GITHUB_OUTPUT: nothing written, no error
    assert "x<<" not in out.read_text()
