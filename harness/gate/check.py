"""``python -m harness check``: the chart check without a cluster (harness/scenario/preflight.py),
as a command: what was checked on stdout, one ``harness: check: <problem>`` line per problem on
stderr, exit 0 clean or 2 (usage) with problems. The gate's preflight and the pytest plugin run the
same check before any cluster work."""
from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from harness.core.contract import resolve_charts_under_test
from harness.core.fmt import duration
from harness.scenario.preflight import check_charts


def cmd_check(args: argparse.Namespace, cfg: Any) -> int:
    """`check`: every variant of each chart under test (its contract's values, the released chart,
    each broken overlay) rendered and linted without a cluster, and checked for what the harness
    needs (harness/scenario/preflight.py): what was checked on stdout, one ``harness: check:`` line
    per problem on stderr; 0 clean, 2 problems (or a bad option or contract), 3 no helm.

    Args:
        args: ``no_lint`` (bool). cfg: the resolved HarnessConfig (``--chart``, ``--values``, ``--set``...).

    Raises:
        UsageError: a bad contract or chart reference. EnvironmentNotReady: helm is missing.
    """
    charts = resolve_charts_under_test(cfg)
    start = time.monotonic()
    report = check_charts(charts, cfg, lint=not args.no_lint)
    for line in report.checked:
        print(f"checked {line}")
    for line in report.problems:
        print(f"harness: check: {line}", file=sys.stderr)
    n = len(report.problems)
    took = duration(time.monotonic() - start)
    if n:
        print(f"check: {n} problem{'s' if n != 1 else ''} in {len(charts)} chart{'s' if len(charts) != 1 else ''} "
              f"({took}); the scenarios cannot run until they are fixed")
        return 2
    print(f"check: {len(charts)} chart{'s' if len(charts) != 1 else ''} clean ({took})")
    return 0
