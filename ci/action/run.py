#!/usr/bin/env python3
"""The steps of the composite action (``action.yml`` at the repository root), one subcommand each, so
a test runs them here with the same inputs the action passes (tests/integration/test_action_script.py).

    python ci/action/run.py install [--dry-run]   # pip install the harness from the action's checkout
    python ci/action/run.py tools [--dry-run]     # pinned kind/helm/helm3/kubectl, then the images
    python ci/action/run.py gate [--dry-run]      # python -m harness gate with the inputs; exits with its code
                                                  # (with INPUT_MERGE: python -m harness report merge instead)
    python ci/action/run.py summary               # report/summary.md appended to $GITHUB_STEP_SUMMARY

Inputs come from the environment, as action.yml maps them: ``INPUT_CHART``,
``INPUT_KUBERNETES_VERSION`` (``v1.36.3``, or a minor ``v1.36`` for its pinned patch release; empty:
the pinned default), ``INPUT_HELM_VERSION`` (``4`` or ``3``, or the pinned version of either; empty:
4), ``INPUT_SCENARIOS`` (comma/space/newline-separated), ``INPUT_EDGE``, ``INPUT_VALUES`` (values
files, comma/newline-separated), ``INPUT_SHARD`` (``i/n``: the gate's ``--shard``, slice i of n of the
plan's scenario tests; ``python -m harness report merge`` joins the slices' reports in a later job).
``INPUT_MERGE`` switches the gate step to merge mode, for that later job: report directories or globs
(``jobs/*/report``, comma/newline-separated, relative to the working directory) whose reports
``python -m harness report merge`` joins into ``report/``; nothing else runs (action.yml skips Go and
the tools), the gate's inputs must be empty, and the step exits with the merge's code. Its outputs:
``artifact-name`` (:data:`MERGED_ARTIFACT`) and ``upload-paths`` (the inputs' job directories, which
the joined report links into). ``ACTION_PATH`` is the harness checkout (default: this file's repository). ``--dry-run`` prints what a
step would run (the gate: ``gate command: <the exact command>``) and runs nothing.

Exit codes: the gate's own (0 pass, 1 a scenario failed, 2 usage, 3 environment: docs/gate.md), or the
merge's (the worst of the joined reports', harness/report/merge.py); 2 a bad
input (one ``harness-action: error: <input>: ...`` line); a failed install or tools step: its code.
"""
from __future__ import annotations

import argparse
import glob
import os
import re
import shlex
import subprocess
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPORT_DIR = "report"
ARTIFACTS_DIR = "artifacts"
SHARD = re.compile(r"^(\d+)/(\d+)$")
MERGED_ARTIFACT = "harness-report-merged"
"""The merged report's artifact name: outside the gate jobs' ``harness-gate-*``, so a download by that
pattern (the merging job's, on a re-run too) never picks it up."""
GATE_INPUTS = ("chart", "kubernetes_version", "scenarios", "edge", "values", "shard")
"""The inputs that belong to a gate job; a merging job leaves them empty (helm-version has a default)."""


class InputError(Exception):
    """A bad action input: one line naming the input."""


@dataclass(frozen=True)
class Inputs:
    """The action's inputs (action.yml), as strings; empty means "not given"."""

    chart: str = ""
    kubernetes_version: str = ""
    helm_version: str = ""
    scenarios: str = ""
    edge: str = ""
    values: str = ""
    shard: str = ""
    merge: str = ""

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Inputs:
        def get(name: str) -> str:
            return env.get(f"INPUT_{name}", "").strip()
        return cls(get("CHART"), get("KUBERNETES_VERSION"), get("HELM_VERSION"), get("SCENARIOS"), get("EDGE"),
                   get("VALUES"), get("SHARD"), get("MERGE"))


def split_list(raw: str) -> list[str]:
    """Items of a list input: separated by commas, spaces or newlines (YAML block scalars give newlines)."""
    return [p for p in re.split(r"[,\s]+", raw) if p]


def resolve_kubernetes(raw: str, supported: list[str]) -> str:
    """``v1.36.3`` as given, or the pinned patch release of a minor (``v1.36``, ``1.36``); empty: "".

    Raises:
        InputError: not a supported version or minor.
    """
    if not raw:
        return ""
    want = raw if raw.startswith("v") else f"v{raw}"
    if want in supported:
        return want
    minors = {".".join(v.split(".")[:2]): v for v in supported}
    if want in minors:
        return minors[want]
    raise InputError(f"kubernetes-version: {raw!r} is not supported; choose one of {', '.join(supported)} "
                     "(or their minor, e.g. v1.36)")


def helm_major(raw: str, pins: Mapping[str, str]) -> str:
    """``4`` (the pinned helm) or ``3`` (the pinned helm3) from ``helm-version``.

    Raises:
        InputError: neither a major nor a pinned version.
    """
    if raw in ("", "4", "v4", pins["HELM_VERSION"], pins["HELM_VERSION"].lstrip("v")):
        return "4"
    if raw in ("3", "v3", pins["HELM3_VERSION"], pins["HELM3_VERSION"].lstrip("v")):
        return "3"
    raise InputError(f"helm-version: {raw!r} is not pinned here; use 4 ({pins['HELM_VERSION']}) or 3 "
                     f"({pins['HELM3_VERSION']})")


def shard_input(raw: str) -> str:
    """``shard`` as the gate's ``--shard`` takes it: ``i/n`` with ``1 <= i <= n`` (spaces dropped).

    Raises:
        InputError: anything else (the gate would refuse it too; here it is said before any setup).
    """
    text = re.sub(r"\s+", "", raw)
    m = SHARD.match(text)
    if not m or not 1 <= int(m.group(1)) <= int(m.group(2)):
        raise InputError(f"shard: {raw!r} is not i/n with 1 <= i <= n (e.g. 1/3: the first of 3 slices)")
    return text


def gate_argv(inputs: Inputs, *, python: str, pins: Mapping[str, str], supported: list[str],
              helm3: Callable[[str], str]) -> list[str]:
    """The exact ``python -m harness gate`` command for ``inputs``.

    Args:
        python: the interpreter. pins: harness/data/versions.env. supported: the supported Kubernetes versions.
        helm3: ``kubernetes version -> path of the pinned helm3`` (harness.tools.binaries.tool_path).

    Raises:
        InputError: no chart; an unsupported Kubernetes or helm version; a shard that is not i/n.
    """
    if not inputs.chart:
        raise InputError("chart: is required (the chart directory, e.g. charts/mychart)")
    argv = [python, "-m", "harness", "gate", "--chart", inputs.chart, "--report-dir", REPORT_DIR,
            "--artifacts-dir", ARTIFACTS_DIR]
    k8s = resolve_kubernetes(inputs.kubernetes_version, supported)
    if k8s:
        argv += ["--kubernetes-version", k8s]
    if helm_major(inputs.helm_version, pins) == "3":
        argv += ["--helm", helm3(k8s or pins["KUBERNETES_VERSION"])]
    if inputs.scenarios:
        argv += ["--scenarios", ",".join(split_list(inputs.scenarios))]
    if inputs.edge:
        argv += ["--edge", inputs.edge]
    for v in split_list(inputs.values):
        argv += ["--values", v]
    if inputs.shard:
        argv += ["--shard", shard_input(inputs.shard)]
    return argv


def merge_dirs(raw: str, *, root: Path) -> list[str]:
    """The report directories the ``merge`` input names, relative to ``root`` (the working directory):
    each item (comma/space/newline-separated) a directory or a glob (``jobs/*/report``), expanded and
    sorted, in the order given; a directory two items name is taken once.

    Raises:
        InputError: no item, or an item that matches no directory (the artifacts were not downloaded).
    """
    found: list[str] = []
    for pattern in split_list(raw):
        hits = sorted(h for h in glob.glob(pattern, root_dir=root) if (root / h).is_dir())
        if not hits:
            raise InputError(f"merge: {pattern!r} matches no directory under {root} (download the gate jobs' "
                             "artifacts first, e.g. actions/download-artifact with path: jobs)")
        found += [h for h in hits if h not in found]
    if not found:
        raise InputError("merge: give the report directories to join, e.g. jobs/*/report")
    return found


def merge_argv(inputs: Inputs, *, python: str, root: Path) -> list[str]:
    """The exact ``python -m harness report merge DIR... --out report`` command of merge mode.

    Raises:
        InputError: a gate input is set as well (:data:`GATE_INPUTS`), or ``merge`` names no directory
            (:func:`merge_dirs`).
    """
    given = [f.replace("_", "-") for f in GATE_INPUTS if getattr(inputs, f)]
    if given:
        raise InputError(f"merge: a merging job runs only python -m harness report merge; leave {', '.join(given)} "
                         "empty (they belong to the gate jobs)")
    return [python, "-m", "harness", "report", "merge", *merge_dirs(inputs.merge, root=root), "--out", REPORT_DIR]


def upload_paths(dirs: list[str]) -> list[str]:
    """What the merging job uploads besides ``report/``: each input's job directory (the parent of its
    ``report/``, holding its ``artifacts/``, which the joined report links into), or the input itself
    when it has no parent below the working directory."""
    out: list[str] = []
    for d in dirs:
        parent = os.path.dirname(os.path.normpath(d))
        path = (parent or os.path.normpath(d)) + "/"
        if path not in out:
            out.append(path)
    return out


def artifact_name(inputs: Inputs, pins: Mapping[str, str], supported: list[str]) -> str:
    """A name for the uploaded report that differs between matrix jobs: chart, Kubernetes, helm, edge, shard."""
    parts = ["harness-gate", Path(inputs.chart.rstrip("/")).name or "chart",
             resolve_kubernetes(inputs.kubernetes_version, supported) or pins["KUBERNETES_VERSION"],
             f"helm{helm_major(inputs.helm_version, pins)}", inputs.edge or "default-edge"]
    if inputs.shard:
        parts.append("shard-" + inputs.shard.replace("/", "-of-"))
    return re.sub(r"[^A-Za-z0-9._-]+", "-", "-".join(parts))


def _output(env: Mapping[str, str], **values: str) -> None:
    """``name=value`` lines into ``$GITHUB_OUTPUT`` (the step's outputs), when it is set."""
    path = env.get("GITHUB_OUTPUT")
    if path:
        with open(path, "a", encoding="utf-8") as f:
            for k, v in values.items():
                f.write(f"{k}={v}\n")


def _output_lines(env: Mapping[str, str], name: str, lines: list[str]) -> None:
    """A multi-line output into ``$GITHUB_OUTPUT`` (``name<<DELIMITER`` ... ``DELIMITER``, GitHub's syntax
    for values with newlines), when it is set."""
    path = env.get("GITHUB_OUTPUT")
    if path:
        delimiter = "HARNESS_EOF"
        while any(delimiter in line for line in lines):
            delimiter += "_"
        with open(path, "a", encoding="utf-8") as f:
            f.write(f"{name}<<{delimiter}\n" + "".join(f"{line}\n" for line in lines) + f"{delimiter}\n")


def _pins() -> tuple[dict[str, str], list[str]]:
    # function-local, as above: `install` runs before the harness is installed
    from harness.core.pins import pinned, supported_kubernetes

    return pinned(), supported_kubernetes()


def _helm3(version: str) -> str:
    from harness.tools.binaries import tool_path

    return tool_path("helm3", version)


def step_merge(env: Mapping[str, str], *, dry_run: bool) -> int:
    """Merge mode of the gate step: ``python -m harness report merge`` over the ``merge`` input's
    directories into ``report/``; exits with its code."""
    inputs = Inputs.from_env(env)
    argv = merge_argv(inputs, python=sys.executable, root=Path.cwd())
    print(f"merge command: {shlex.join(argv)}", flush=True)
    _output(env, **{"artifact-name": MERGED_ARTIFACT})
    _output_lines(env, "upload-paths", upload_paths(argv[5:-2]))
    if dry_run:
        return 0
    rc = subprocess.run(argv, check=False).returncode
    _output(env, **{"exit-code": str(rc)})
    return rc


def step_gate(env: Mapping[str, str], *, dry_run: bool) -> int:
    inputs = Inputs.from_env(env)
    if inputs.merge:
        return step_merge(env, dry_run=dry_run)
    pins, supported = _pins()
    argv = gate_argv(inputs, python=sys.executable, pins=pins, supported=supported, helm3=_helm3)
    print(f"gate command: {shlex.join(argv)}", flush=True)
    _output(env, **{"artifact-name": artifact_name(inputs, pins, supported)})
    if dry_run:
        return 0
    rc = subprocess.run(argv, check=False).returncode
    _output(env, **{"exit-code": str(rc)})
    return rc


def step_summary(env: Mapping[str, str]) -> int:
    """Append ``report/summary.md`` (under a heading naming the job's inputs, or the merged directories)
    to ``$GITHUB_STEP_SUMMARY``; without a report, one line saying so (the job failed before the gate or
    the merge wrote one)."""
    inputs = Inputs.from_env(env)
    target = env.get("GITHUB_STEP_SUMMARY")
    if not target:
        print("harness-action: GITHUB_STEP_SUMMARY is not set; nothing to append to")
        return 0
    what = ", ".join(f"{k} {v}" for k, v in (("Kubernetes", inputs.kubernetes_version), ("helm", inputs.helm_version),
                                              ("edge", inputs.edge), ("shard", inputs.shard)) if v)
    title = f"harness gate {inputs.chart or '(no chart)'}" + (f" ({what})" if what else "")
    if inputs.merge:
        title = f"harness gate, merged: {', '.join(split_list(inputs.merge))}"
    summary = Path(REPORT_DIR) / "summary.md"
    with open(target, "a", encoding="utf-8") as f:
        f.write(f"## {title}\n\n")
        if summary.is_file():
            f.write(summary.read_text(encoding="utf-8").rstrip("\n") + "\n")
        else:
            who = "merge" if inputs.merge else "gate"
            f.write(f"Gate: FAIL — no report ({summary} missing): the job failed before the {who} could write one\n")
    return 0


def step_install(env: Mapping[str, str], *, dry_run: bool) -> int:
    argv = [sys.executable, "-m", "pip", "install", "--quiet", str(_action_path(env))]
    print(f"install command: {shlex.join(argv)}", flush=True)
    return 0 if dry_run else subprocess.run(argv, check=False).returncode


def step_tools(env: Mapping[str, str], *, dry_run: bool) -> int:
    """The pinned tools of the job's Kubernetes version, then its images (images/build-images.sh:
    the node image pulled, ``HARNESS_IMAGE_SOURCE=pull`` unless set; the add-on images)."""
    inputs = Inputs.from_env(env)
    _, supported = _pins()
    k8s = resolve_kubernetes(inputs.kubernetes_version, supported)
    images = _action_path(env) / "images"
    child = {**env, "HARNESS_IMAGE_SOURCE": env.get("HARNESS_IMAGE_SOURCE") or "pull"}
    if k8s:
        child["HARNESS_KUBERNETES_VERSION"] = k8s
    for argv in ([str(images / "build-tools.sh"), *([k8s] if k8s else [])],
                 [str(images / "build-images.sh"), *([k8s] if k8s else [])]):
        print(f"tools command: {shlex.join(argv)}", flush=True)
        if not dry_run:
            rc = subprocess.run(argv, check=False, env=child, stdout=sys.stderr).returncode
            if rc:
                return rc
    return 0


def _action_path(env: Mapping[str, str]) -> Path:
    return Path(env.get("ACTION_PATH") or HERE.parents[1]).resolve()


def main(argv: list[str] | None = None, env: Mapping[str, str] | None = None) -> int:
    env = os.environ if env is None else env
    p = argparse.ArgumentParser(prog="ci/action/run.py", description="the composite action's steps (action.yml)")
    p.add_argument("step", choices=("install", "tools", "gate", "summary"))
    p.add_argument("--dry-run", action="store_true", help="print the command a step would run; run nothing")
    args = p.parse_args(argv)
    try:
        if args.step == "install":
            return step_install(env, dry_run=args.dry_run)
        if args.step == "tools":
            return step_tools(env, dry_run=args.dry_run)
        if args.step == "gate":
            return step_gate(env, dry_run=args.dry_run)
        return step_summary(env)
    except InputError as exc:
        print(f"harness-action: error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # noqa: BLE001 - the harness's own errors (a missing helm3: exit 3) in one line
        code = getattr(exc, "exit_code", 1)
        print(f"harness-action: error: {exc}", file=sys.stderr)
        return int(code)


if __name__ == "__main__":
    sys.exit(main())
