"""Every hint names something that exists (issue 14, item 5).

``HARNESS_*`` variables anywhere in harness/ and the docs must be read by the harness: a
configuration key's variable (harness/core/config.py), the config-file variable, a scenario knob
(harness/scenario/settings.py), or one of the few other variables listed here with the file that
reads it. ``--options`` in the harness's messages (exceptions, hints, printed lines) and in the docs
must be options of the harness (the config schema, the CLI, the gate's pytest half, the ci/ scripts)
or a listed option of an external program. ``make TARGET VAR=...`` in messages and docs must name a
Makefile target and a variable the Makefile defines; "config key `x`" in the docs a key of the schema.
Pure: reads files, starts nothing.
"""
from __future__ import annotations

import argparse
import ast
import re
from pathlib import Path

import pytest

from harness.__main__ import build_parser
from harness.core.config import CONFIG_FILE_ENV, OPTIONS
from harness.core.flags import option_strings
from harness.scenario.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
DOCS = sorted([*ROOT.glob("docs/*.md"), ROOT / "README.md"])
HARNESS_TEXT = sorted(p for p in (ROOT / "harness").rglob("*") if p.is_file() and p.suffix in (".py", ".yaml", ".md", ".sh"))

ENV_TOKEN = re.compile(r"\bHARNESS_[A-Z0-9_]*[A-Z0-9]\b")
FLAG_TOKEN = re.compile(r"(?<![\w-])--[a-z][a-z0-9-]*[a-z0-9]")
MAKE_TOKEN = re.compile(r"(?:^\s*|`)make ([a-z][a-z0-9-]*)((?: [A-Z][A-Z0-9_]*=\S*)*)")

# Variables the harness or its scripts read besides the config keys and scenario knobs: name -> a file
# that reads it (checked below, so an entry cannot outlive its reader).
OTHER_ENV = {
    "HARNESS_CACHE": "harness/core/pins.py",                   # the build cache (images/lib.sh too)
    "HARNESS_REPORT_DIR": "harness/gate/plan.py",              # the gate's report directory
    "HARNESS_POSTRENDER_PYTHON": "harness/tools/helm_plugins/__init__.py",  # set for helm's plugin
    "HARNESS_TEST_HELM_BINARIES": "tests/integration/real_helm.py",         # the harness's own tests
}

# Options of other programs the docs and messages mention: option -> the program.
EXTERNAL_FLAGS = {
    "--timeout": "helm, kubectl", "--wait": "helm", "--wait-for-jobs": "helm", "--strict": "helm lint",
    "--version": "helm", "--short": "helm version", "--server-side": "kubectl/helm apply",
    "--name": "kind", "--config": "kind create cluster", "--image": "kind create cluster",
    "--ip": "docker network connect", "--junitxml": "pytest", "--collect-only": "pytest",
    "--providers": "traefik", "--experimental": "traefik", "--serverstransport": "traefik",
    "--body-file": "gh pr comment", "--pyargs": "pytest", "--accesslog": "traefik",
    "--repo": "helm pull", "--destination": "helm pull/package", "--bogus": "docs/gate.md's example of an unknown option",
    "--context": "kubectl (the harness passes --kube-context to it as --context)",
    "--plain-http": "helm push/pull/show/install for a registry on loopback",
    "--dist": "pytest-xdist", "--tx": "pytest-xdist", "--numprocesses": "pytest-xdist",
    # docs/design.md: the pytest plugins read and not used, and the commands they run
    "--no-deps": "pip download", "--kind-image": "pytest-kind", "--kind-bin": "pytest-kind",
    "--kind-kubectl-bin": "pytest-kind", "--k8s-cluster-name": "pytest-kubernetes", "--k8s-provider": "pytest-kubernetes",
    "--k8s-version": "pytest-kubernetes", "--k8s-provider-config": "pytest-kubernetes",
    "--k8s-kubeconfig": "pytest-kubernetes", "--k8s-kubeconfig-override": "pytest-kubernetes",
    "--driver": "minikube start", "--embed-certs": "minikube start",
    "--nodes": "kind load docker-image (docs/cluster.md)",
    "--headless": "chromium", "--dump-dom": "chromium",
}

# Calls whose string arguments are messages a user reads.
MESSAGE_CALLS = {"UsageError", "EnvironmentNotReady", "HarnessError", "WaitTimeout", "WaitFailed", "ScenarioSkipped",
                 "HelmError", "CommandError", "print", "say", "exit", "skip", "fail", "warning", "info", "error",
                 "write_line", "SystemExit"}
MESSAGE_KEYWORDS = {"hint", "msg", "message", "reason", "help"}


def _argparse_flags(parser: argparse.ArgumentParser) -> set[str]:
    flags: set[str] = set()
    for action in parser._actions:
        flags.update(o for o in action.option_strings if o.startswith("--"))
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                flags |= _argparse_flags(sub)
    return flags


def known_env() -> set[str]:
    return ({o.env for o in OPTIONS} | {CONFIG_FILE_ENV} | set(OTHER_ENV)
            | {"HARNESS_SCENARIO_" + f.upper() for f in Settings.__dataclass_fields__})


def known_flags() -> set[str]:
    flags = (_argparse_flags(build_parser()) | {o.flag for o in OPTIONS} | {"--harness-config"}
             | {f for o in OPTIONS for f in option_strings(o.key)} | {"--harness"})  # "--harness-<key>" in prose
    # the gate's pytest half and the ci/ scripts declare theirs in their source
    for path in [ROOT / "harness/gate/plugin.py", *ROOT.glob("ci/*.py"), *ROOT.glob("ci/*.sh")]:
        flags |= set(re.findall(r"""(?:addoption|add_argument)\(\s*["'](--[a-z][a-z0-9-]*)""", path.read_text()))
    for path in ROOT.glob("harness/plugin/*.py"):  # every option string of the plugin's own addoption calls
        for call in re.findall(r"addoption\(([^)]*)\)", path.read_text()):
            flags |= set(re.findall(r"""["'](--[a-z][a-z0-9-]*)["']""", call))
    flags |= {"--allow-empty"}  # ci/pytest.sh's first argument
    return flags | set(EXTERNAL_FLAGS)


def makefile_names() -> tuple[set[str], set[str]]:
    """(targets, variables) of the Makefile: a variable is one it defines or reads (``$(CHART)``)."""
    text = (ROOT / "Makefile").read_text()
    targets = set(re.findall(r"^([a-z][a-z0-9-]*):", text, re.M))
    variables = set(re.findall(r"^([A-Z][A-Z0-9_]*)\s*[?:]?=", text, re.M)) | set(re.findall(r"\$\(([A-Z][A-Z0-9_]*)\)", text))
    return targets, variables


def message_strings(path: Path) -> list[tuple[int, str]]:
    """(line, text) of the string constants in ``path``'s message calls and hint= keywords."""
    out: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text())):
        if not isinstance(node, ast.Call):
            continue
        name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", "")
        parts = list(node.args) if name in MESSAGE_CALLS else []
        parts += [k.value for k in node.keywords if k.arg in MESSAGE_KEYWORDS]
        for part in parts:
            out += _texts(part)
    return out


def _texts(node: ast.AST) -> list[tuple[int, str]]:
    """The strings in an expression; an f-string is one text with ``{}`` for each value."""
    if isinstance(node, ast.JoinedStr):
        return [(node.lineno, "".join(v.value if isinstance(v, ast.Constant) else "{}" for v in node.values))]
    if isinstance(node, ast.Constant):
        return [(node.lineno, node.value)] if isinstance(node.value, str) else []
    return [t for child in ast.iter_child_nodes(node) for t in _texts(child)]


def _where(path: Path, line: int) -> str:
    return f"{path.relative_to(ROOT)}:{line}"


def test_every_harness_variable_mentioned_exists():
    known = known_env()
    unknown = [f"{_where(p, n)}: {tok}" for p in [*HARNESS_TEXT, *DOCS]
               for n, line in enumerate(p.read_text().splitlines(), 1) for tok in ENV_TOKEN.findall(line)
               if tok not in known]
    assert unknown == []


def test_every_option_in_a_message_or_doc_exists():
    known = known_flags()
    unknown = [f"{_where(p, n)}: {tok}" for p in DOCS for n, line in enumerate(p.read_text().splitlines(), 1)
               for tok in FLAG_TOKEN.findall(line) if tok not in known]
    unknown += [f"{_where(p, n)}: {tok}" for p in HARNESS_TEXT if p.suffix == ".py"
                for n, text in message_strings(p) for tok in FLAG_TOKEN.findall(text) if tok not in known]
    assert unknown == []


def test_every_make_command_in_a_message_or_doc_exists():
    targets, variables = makefile_names()
    texts = [(p, n, line) for p in DOCS for n, line in enumerate(p.read_text().splitlines(), 1)]
    texts += [(p, n, text) for p in HARNESS_TEXT if p.suffix == ".py" for n, text in message_strings(p)]
    bad = []
    for p, n, text in texts:
        for target, assignments in MAKE_TOKEN.findall(text):
            names = [a.split("=", 1)[0] for a in assignments.split()]
            if target not in targets or any(v not in variables for v in names):
                bad.append(f"{_where(p, n)}: make {target}{assignments}")
        # option help in the CLI: "[make: MATRIX_K8S]"
        bad += [f"{_where(p, n)}: make variable {v}" for v in re.findall(r"\[make: ([A-Z][A-Z0-9_]*)\]", text)
                if v not in variables]
    assert bad == []


CONFIG_KEY_TOKEN = re.compile(r"(?:config(?:uration)?|config-file|harness\.yaml) keys? `([a-z][a-z0-9_-]*)`")


def test_every_config_key_named_in_the_docs_exists():
    keys = {o.key for o in OPTIONS}
    bad = [f"{_where(p, n)}: {k}" for p in DOCS for n, line in enumerate(p.read_text().splitlines(), 1)
           for k in CONFIG_KEY_TOKEN.findall(line) if k.replace("_", "-") not in keys]
    assert bad == []
    assert CONFIG_KEY_TOKEN.findall("the configuration key `addon_values` and config key `from-version`") == [
        "addon_values", "from-version"]


def test_the_other_variables_are_read_where_listed():
    for name, reader in OTHER_ENV.items():
        assert name in (ROOT / reader).read_text(), f"{name} is not read in {reader}"


@pytest.mark.parametrize("text, found", [
    ("set HARNESS_KEEP_CLUSTER=always", []),
    ("set HARNESS_INGRESS_HTTP_PORT", ["HARNESS_INGRESS_HTTP_PORT"]),
    ("HARNESS_SCENARIO_SSE_HOLD=10", []),
])
def test_the_variable_check_can_fail(text, found):
    assert [t for t in ENV_TOKEN.findall(text) if t not in known_env()] == found


def test_the_message_scan_sees_exceptions_and_hints(tmp_path):
    src = tmp_path / "m.py"
    src.write_text('raise UsageError(f"bad {x}; pass --no-such-option")\nrun(argv, hint="see --kind-config")\n'
                   'argv = ["--not-a-message"]\n')
    assert [(n, FLAG_TOKEN.findall(t)) for n, t in message_strings(src)] == [
        (1, ["--no-such-option"]), (2, ["--kind-config"])]
