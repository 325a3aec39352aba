"""The ``gate`` subcommand's options: every harness option plus the gate's own, with option errors
as one line and exit 2."""
from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

from harness.core.errors import UsageError
from harness.gate.plan import REPORT_DIR_ENV
from harness.gate.shard import Shard, parse_shard


class OneLineErrors(argparse.ArgumentParser):
    """A subcommand's parser (every ``python -m harness`` subcommand uses it): any option error is
    one line, ``harness: error: <subcommand>: <message> (see: <prog> --help)``, and exit 2 (argparse
    prints the usage too), including unknown options, which argparse otherwise reports from the
    top-level parser. ``<prog>`` is the program as it was invoked (``python -m harness gate``)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        sub = self.prog.rsplit(" ", 1)[-1]
        sys.stderr.write(f"harness: error: {sub}: {message} (see: {self.prog} --help)\n")
        sys.exit(2)

    def parse_known_args(self, args: Any = None, namespace: Any = None) -> Any:  # type: ignore[override]
        ns, extra = super().parse_known_args(args, namespace)
        if extra:
            self.error(f"unrecognized arguments: {' '.join(extra)}")
        return ns, extra


def _shard(text: str) -> Shard:
    """argparse's ``type`` for ``--shard``: a bad value is the parser's one-line error (exit 2)."""
    try:
        return parse_shard(text)
    except UsageError as exc:
        raise argparse.ArgumentTypeError(str(exc).removeprefix("--shard: ")) from None


def add_arguments(p: argparse.ArgumentParser, add_config_arguments: Callable[[argparse.ArgumentParser], None]) -> None:
    """The gate's options: every harness option (``add_config_arguments``, the same names as under
    pytest) plus its own."""
    p.__class__ = OneLineErrors  # one-line option errors (see the class)
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.epilog = ("exit codes: 0 every scenario passed; 1 a scenario failed; 2 usage error (option, chart path, "
                "contract, helm lint); 3 the environment could not be set up (Docker, tools, images, cluster); "
                "130 interrupted. docs/gate.md has the details.")
    add_config_arguments(p)
    p._option_string_actions["--rootdir"].help = ("project root (default: the harness checkout this package runs from; an installed package: "
                                                       "the current directory)")
    g = p.add_argument_group("gate")
    g.add_argument("--scenarios", action="append", metavar="NAME[,NAME]",
                   help="run only these of the scenarios the contract enables (repeatable or comma-separated)")
    g.add_argument("--controls", action="store_true",
                   help="also run the contract's negative controls (each must make its scenario FAIL)")
    g.add_argument("--broken", metavar="NAME",
                   help="apply the contract's broken entry NAME as a values overlay and run its scenario: "
                        "the gate must then exit 1")
    g.add_argument("--shard", metavar="I/N", type=_shard, default=None,
                   help="run only slice I of N of the selected scenario tests (sorted, dealt round-robin: every "
                        "test in exactly one slice); join the slices' reports with python -m harness report merge")
    g.add_argument("--report-dir", metavar="DIR", default=None,
                   help=f"where the report goes (default: report/ in the harness root) [env {REPORT_DIR_ENV}]")
    g.add_argument("--report-only", action="store_true",
                   help="rebuild the report from the artifacts directory of the last run; run nothing")
    g.add_argument("pytest_args", nargs="*", metavar="-- PYTEST_ARGS",
                   help="after --: passed on to pytest (e.g. -- -x -k realtime)")
