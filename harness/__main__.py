"""``python -m harness`` (also the ``harness`` script): a thin CLI, one function per subcommand.

Subcommands register in :data:`SUBCOMMANDS` as ``(name, help, add_arguments, run)``; ``run(args)``
returns the exit code. A HarnessError prints ``harness: error: <message>`` (no traceback) and
exits with its exit code (2 bad input, 3 environment, 1 otherwise). A reader that closes the pipe
early (``| head``) ends the command quietly with 141 (128 + SIGPIPE, as a shell reports it).

    python -m harness config [--format text|yaml|json] [any pytest --harness option]
    python -m harness check --chart PATH [--values F] [--set k=v] [any harness option]
    python -m harness init --chart DIR [--out FILE] [--force]
    python -m harness gate --chart PATH [--scenarios ...] [--from-version X] [any harness option]
    python -m harness matrix [--scenarios "upgrade rollback"] [--kubernetes "v1.35 v1.37"] [--helms "4 3"]
    python -m harness report merge DIR... [--out DIR]
    python -m harness clean [--dry-run] [--include-kept]
    python -m harness registry up [--port N] | down

Ctrl-C exits 130 (128 + SIGINT) with one ``harness: interrupted`` line.
"""
from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import yaml

from harness.core import runs
from harness.core.config import (
    add_arguments as add_config_options,
)
from harness.core.config import (
    cli_values,
    config_as_dict,
    format_config,
    load_config,
)
from harness.core.errors import HarnessError
from harness.core.fmt import duration
from harness.core.pins import version_text
from harness.env import clean as clean_mod
from harness.env import cluster as cluster_mod
from harness.env import registry as registry_mod
from harness.gate import matrix
from harness.gate.check import cmd_check
from harness.gate.cli import OneLineErrors
from harness.gate.cli import add_arguments as add_gate_arguments
from harness.gate.command import cmd_gate as run_gate
from harness.gate.init import cmd_init
from harness.k8s.namespaces import new_run_id
from harness.report.merge import merge_reports
from harness.tools import docker
from harness.tools.kind import Kind


def add_config_arguments(p: argparse.ArgumentParser) -> None:
    """The same options the pytest plugin takes, plus --harness-config and --format."""

    p.add_argument("--harness-config", dest="harness_config_file", metavar="PATH", default=None,
                   help="config file (default: harness.yaml in --rootdir) [env HARNESS_CONFIG]")
    p.add_argument("--rootdir", default=None, metavar="DIR", help="project root (default: the current directory)")
    add_config_options(p.add_argument)


def load_from_args(args: argparse.Namespace):  # -> HarnessConfig
    """Resolve the configuration from parsed CLI args (same precedence as under pytest)."""

    return load_config(cli_values(args), config_file=args.harness_config_file, rootdir=args.rootdir)


def cmd_config(args: argparse.Namespace) -> int:
    """Print the resolved configuration: each key, its value and where the value came from."""

    cfg = load_from_args(args)
    if args.format == "json":
        print(json.dumps(config_as_dict(cfg), indent=2))
    elif args.format == "yaml":
        print(yaml.safe_dump(config_as_dict(cfg), sort_keys=False), end="")
    else:
        print(format_config(cfg))
    return 0


def _config_parser(p: argparse.ArgumentParser) -> None:
    add_config_arguments(p)
    p.add_argument("--format", choices=("text", "yaml", "json"), default="text",
                   help="text (with sources), or yaml/json (a harness.yaml-shaped document)")


def _check_parser(p: argparse.ArgumentParser) -> None:
    add_config_arguments(p)
    p.add_argument("--no-lint", action="store_true", help="render and check without helm lint")


INIT_OPTIONS = ("--chart", "--values", "--set", "--helm", "--kubernetes-version")
"""The harness options ``init`` takes: what it renders and with which helm (the cluster's are not its business)."""


def _init_parser(p: argparse.ArgumentParser) -> None:
    p.add_argument("--harness-config", dest="harness_config_file", metavar="PATH", default=None,
                   help="config file (default: harness.yaml in --rootdir) [env HARNESS_CONFIG]")
    p.add_argument("--rootdir", default=None, metavar="DIR", help="project root (default: the current directory)")
    add_config_options(lambda flag, **kw: p.add_argument(flag, **kw) if flag in INIT_OPTIONS else None)
    p.add_argument("--out", metavar="FILE", default=None,
                   help="where the contract goes (default: harness-contract.yaml in the --chart directory)")
    p.add_argument("--force", action="store_true", help="overwrite --out when it exists")


def _run_init(args: argparse.Namespace) -> int:
    """`init`: harness/gate/init.py (a commented contract scaffolded from the rendered chart; exit 0
    written, 2 bad input or an existing file without --force, 3 no helm)."""
    return cmd_init(args, load_from_args(args))


def _run_check(args: argparse.Namespace) -> int:
    """`check`: harness/gate/check.py (no cluster; exit 0 clean, 2 problems)."""
    return cmd_check(args, load_from_args(args))


def cmd_cluster(args: argparse.Namespace) -> int:
    """`cluster up`: create (or with --reuse-cluster, reuse) the configured kind cluster and print how
    to reach it; `cluster down`: delete it (a missing cluster is not an error)."""


    cfg = load_from_args(args)
    name = cfg.cluster_name
    if args.action == "down":
        docker.require_engine()  # `kind get clusters` without Docker fails; that is the environment (exit 3)
        if name not in Kind().get_clusters():
            print(f"cluster {name}: not present")
            return 0
        start = time.monotonic()
        cluster_mod.delete_cluster(cluster_mod.Cluster(name, cluster_mod.kubeconfig_path(name), f"kind-{name}", True))
        print(f"cluster {name}: deleted in {duration(time.monotonic() - start)}")
        return 0
    spec = cluster_mod.spec_from_config(cfg)
    print(f"==> cluster {name}: node image {cluster_mod.resolve_node_image(spec)}", flush=True)
    start = time.monotonic()
    # owned by this command and kept on purpose: `clean` removes it only with --include-kept
    c = cluster_mod.ensure_cluster(spec, owner=runs.owner_now(new_run_id(), kept=True))
    verb = "created" if c.created else "reused"
    print(f"cluster {name}: {verb} in {duration(time.monotonic() - start)}")
    print(f"  kubeconfig: {c.kubeconfig}\n  context:    {c.context}")
    print(f"  use it:     kubectl --kubeconfig {c.kubeconfig} get nodes")
    print(f"  delete it:  make cluster-down CLUSTER={name}   (or: kind delete cluster --name {name})")
    return 0


def _cluster_parser(p: argparse.ArgumentParser) -> None:
    p.add_argument("action", choices=("up", "down"))
    add_config_arguments(p)


def _gate_parser(p: argparse.ArgumentParser) -> None:

    add_gate_arguments(p, add_config_arguments)


def cmd_gate(args: argparse.Namespace) -> int:
    """`gate`: every scenario the chart's contract enables, a report, and an exit code CI can act on
    (0 pass, 1 a scenario failed, 2 usage, 3 environment); see harness/gate/command.py and docs/gate.md."""

    return run_gate(args)


def _matrix_parser(p: argparse.ArgumentParser) -> None:
    p.add_argument("--scenarios", default="", metavar="NAMES",
                   help="scenario folders to run, space- or comma-separated (default: upgrade rollback) [make: MATRIX_SCENARIOS]")
    p.add_argument("--kubernetes", default="", metavar="VERSIONS",
                   help="Kubernetes versions: minors (v1.36) or pinned versions (default: every supported one) "
                        "[make: MATRIX_K8S]")
    p.add_argument("--helms", default="", metavar="HELMS",
                   help="helms: 4 (pinned helm), 3 (pinned helm3), 3to4 (helm3 installs, helm 4 upgrades: "
                        "the upgrade's from-helm3 row) (default: 4 3) [make: MATRIX_HELM]")
    p.add_argument("--artifacts-dir", default="artifacts/matrix", metavar="DIR",
                   help="each cell's artifacts go to DIR/<cell> (default: artifacts/matrix)")
    p.add_argument("--report-dir", default="report", metavar="DIR", help="where matrix.md and matrix.json go")
    p.add_argument("--no-cluster-tests", action="store_true",
                   help="skip the cluster basics each version's cluster runs first (tests/cluster/test_cluster_basics.py)")
    p.add_argument("--dry-run", action="store_true", help="print the cells and their pytest commands; run nothing")
    p.add_argument("pytest_args", nargs="*", metavar="-- PYTEST_ARGS", help="after --: passed on to every cell's pytest")


def cmd_matrix(args: argparse.Namespace) -> int:
    """`matrix`: the scenario set across Kubernetes versions x helms, one cluster per version in turn,
    one row per scenario record in report/matrix.md and report/matrix.json (harness/gate/matrix.py)."""
    scenarios = matrix.scenario_names(args.scenarios)
    cells = matrix.plan_cells(matrix.kubernetes_versions(args.kubernetes), matrix.helm_majors(args.helms))
    root = Path(args.artifacts_dir).resolve()
    if args.dry_run:
        for c in cells:
            print(f"{c.name} on cluster {c.cluster_name}: " + " ".join(matrix.pytest_argv(
                c, scenarios, artifacts=root / c.name, helm_binary=f"<pinned {'helm3' if c.helm == '3' else 'helm'}>",
                extra=args.pytest_args)))
        return 0
    tests = matrix.CLUSTER_TESTS
    tests = None if args.no_cluster_tests or tests is None or not tests.is_file() else tests
    rc, _ = matrix.run_matrix(cells, scenarios, artifacts_root=root, report_dir=Path(args.report_dir).resolve(),
                              extra=args.pytest_args, cluster_tests=tests)
    return rc


def _report_parser(p: argparse.ArgumentParser) -> None:
    p.add_argument("action", choices=("merge",), help="merge: join several gate reports into one")
    p.add_argument("dirs", nargs="+", metavar="DIR", help="gate report directories (each with its gate.json)")
    p.add_argument("--out", default="report", metavar="DIR", help="where the joined report goes (default: report)")


def cmd_report(args: argparse.Namespace) -> int:
    """`report merge DIR...`: the gate reports of several jobs (``gate --shard I/N``) joined into one,
    with one verdict line and the worst exit code (harness/report/merge.py); a missing or unreadable
    directory is one line and exit 2."""
    prog = ["python", "-m", "harness"] if invoked_prog() == "python -m harness" else [invoked_prog()]
    command = shlex.join([*prog, "report", args.action, *args.dirs, "--out", args.out])
    return merge_reports(args.dirs, args.out, command=command, say=lambda line: print(line, flush=True))


def _clean_parser(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dry-run", action="store_true", help="print what would be removed and kept; remove nothing")
    p.add_argument("--include-kept", action="store_true",
                   help="also remove what a finished run kept on purpose (keep-cluster always/on-failure, cluster up)")


def cmd_clean(args: argparse.Namespace) -> int:
    """`clean`: remove the clusters, containers, namespaces and run directories of runs that are over
    (pid gone, or another host); never a live run's, and a kept one only with --include-kept
    (harness/env/clean.py). One line per thing found, saying why."""
    return clean_mod.clean(dry_run=args.dry_run, include_kept=args.include_kept,
                           say=lambda line: print(line, flush=True))


def _registry_parser(p: argparse.ArgumentParser) -> None:
    p.add_argument("action", choices=("up", "down"))
    p.add_argument("--port", type=int, default=0, metavar="N",
                   help="host port on 127.0.0.1 (default: one Docker chooses) [make: REGISTRY_PORT]")


def cmd_registry(args: argparse.Namespace) -> int:
    """`registry up`: the loopback OCI registry (harness/env/registry.py) for use by hand, kept until
    `registry down` (its run is recorded as kept, so `python -m harness clean` leaves it unless
    --include-kept); `registry down` removes those (not the registries of test runs) with their storage."""
    if args.action == "down":
        found = registry_mod.find(by_hand=True)
        for name, port in found:
            run_id = registry_mod.remove(name)
            if run_id:  # the kept run record `registry up` wrote
                shutil.rmtree(runs.runs_root() / run_id, ignore_errors=True)
            print(f"removed registry {name} (127.0.0.1:{port})")
        if not found:
            print("no registry started by `registry up` is running")
        return 0
    docker.require_engine()
    run_id = new_run_id()
    runs.write_owner(runs.runs_root() / run_id / runs.OWNER_FILE, runs.owner_now(run_id, kept=True))
    reg = registry_mod.start(args.port, run_id=run_id, by_hand=True)
    print(f"registry {reg.image} at {reg.address} (container {reg.name}, storage {reg.storage})")
    print(f"  push an image: docker tag IMAGE {reg.address}/PATH:TAG && docker push {reg.address}/PATH:TAG")
    print(f"  push a chart:  helm push CHART.tgz {reg.chart_url()} --plain-http")
    print(f"  kind nodes reach it as {reg.in_network} (network {', '.join(reg.networks) or 'none yet'})")
    print("  stop it:       make registry-stop   (or: python -m harness registry down)")
    return 0


SUBCOMMANDS: list[tuple[str, str, Callable[[argparse.ArgumentParser], None], Callable[[argparse.Namespace], int]]] = [
    ("config", "print the resolved configuration", _config_parser, cmd_config),
    ("check", "render and lint each chart's variants without a cluster; check the probe host, images, probes",
     _check_parser, _run_check),
    ("init", "write a commented harness-contract.yaml for a chart (--chart DIR) from its rendered manifests: "
     "the scenarios that apply and why, what to fill in", _init_parser, _run_init),
    ("cluster", "create (up) or delete (down) the kind cluster", _cluster_parser, cmd_cluster),
    ("gate", "release gate: run the scenarios a chart's contract enables, write report/, exit 0/1/2/3",
     _gate_parser, cmd_gate),
    ("matrix", "run a scenario set across Kubernetes versions x helms; report/matrix.md and matrix.json",
     _matrix_parser, cmd_matrix),
    ("report", "merge: join the reports of several gate jobs (gate --shard I/N) into one, with one exit code",
     _report_parser, cmd_report),
    ("clean", "remove what interrupted or killed runs left (clusters, containers, namespaces, run directories)",
     _clean_parser, cmd_clean),
    ("registry", "start (up) or remove (down) the loopback OCI registry for images and charts",
     _registry_parser, cmd_registry),
]


def invoked_prog(argv0: str | None = None) -> str:
    """The program as it was invoked, for ``--help`` and error lines: ``python -m harness`` when run
    as a module (``sys.argv[0]`` is then the path of this ``__main__.py``), else the script's name
    (``harness``, the console script ``pyproject.toml`` installs)."""
    argv0 = sys.argv[0] if argv0 is None else argv0
    name = os.path.basename(argv0 or "")
    if not name or name in ("__main__.py", "-c", "-m") or name.endswith(".py"):
        return "python -m harness"
    return name


class _TopLevel(argparse.ArgumentParser):
    """The program's own parser: an error (no or an unknown subcommand) is one line and exit 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        sys.stderr.write(f"harness: error: {message} (see: {self.prog} --help)\n")
        sys.exit(2)


class _Version(argparse.Action):
    """``--version``: the harness's version and the pinned helm, kind, kubectl and Kubernetes versions
    (harness/core/pins.py ``version_text``), then exit 0, on every subcommand as on the program."""

    def __init__(self, option_strings: Sequence[str], dest: str = argparse.SUPPRESS, **kwargs: object) -> None:
        super().__init__(option_strings, dest=dest, nargs=0, default=argparse.SUPPRESS,
                         help="print the harness version and the pinned helm, kind, kubectl and Kubernetes versions")

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: object,
                 option_string: str | None = None) -> None:
        print(version_text())
        parser.exit(0)


def build_parser(prog: str | None = None) -> argparse.ArgumentParser:
    """The CLI's parser; ``prog`` defaults to :func:`invoked_prog` (each subcommand's is ``<prog> <name>``)."""
    parser = _TopLevel(prog=prog or invoked_prog(), description="helm e2e harness")
    parser.add_argument("--version", action=_Version)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True, parser_class=OneLineErrors)
    for name, help_text, add, run in SUBCOMMANDS:
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.add_argument("--version", action=_Version)
        add(p)
        p.set_defaults(_run=run)
    return parser


EXIT_BROKEN_PIPE = 141
"""Exit code when the reader of stdout went away (``python -m harness config | head -1``): 128 + SIGPIPE,
what a shell reports for a writer that SIGPIPE ended. Not Python docs' 1, which here means a failed scenario."""


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        rc = int(args._run(args) or 0)
        # Output to a pipe is block-buffered: flush here, so a reader that already left shows up as
        # BrokenPipeError below and not as a traceback from the interpreter's flush at exit.
        sys.stdout.flush()
        return rc
    except BrokenPipeError:
        # What Python's docs recommend (https://docs.python.org/3/library/signal.html#note-on-sigpipe):
        # point stdout at devnull, so the flush at exit has nowhere to fail, and stop quietly.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
        return EXIT_BROKEN_PIPE
    except HarnessError as exc:
        print(f"harness: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("harness: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
