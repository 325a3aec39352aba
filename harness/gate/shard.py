"""``gate --shard I/N``: a deterministic slice of the gate's tests, so a CI matrix can spread one
gate over N jobs and ``python -m harness report merge`` joins their reports.

The unit of work is one scenario test as the gate runs it: scenario x chart x variant (x fault for
db_outage) x negative control, through one edge. Every pytest run of the gate (one per edge)
collects the same tests in every job, because every job gets the same options except ``--shard``;
the gate's pytest half (harness/gate/plugin.py) names each selected test by :func:`unit_key`, and
:func:`assign` deals the sorted names round-robin over the N shards. So, for any N:

* every test lands in exactly one shard (a pure function of the sorted list, the same in every job);
* the shards differ in size by at most one test (hashing would leave some empty for small plans);
* a test runs through each edge in the same shard (each edge's run sorts the same names), so a
  shard's own report still has its migration diff.

Shared runs (sse, db_outage: one long phase for many targets, harness/scenario/shared.py) take
their targets from the session's selected items (harness/plugin/shared_run.py), so a shard's
shared run holds exactly the shard's targets of that scenario; a target whose faults fall in two
shards is prepared in each.
"""
from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from harness.core.errors import UsageError

_SHARD = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")


@dataclass(frozen=True)
class Shard:
    """Slice ``index`` (1-based) of ``count``."""

    index: int
    count: int

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


def parse_shard(text: str) -> Shard:
    """``"2/3"`` -> ``Shard(2, 3)``.

    Raises:
        UsageError: not ``I/N`` with ``1 <= I <= N`` (one line naming the value).
    """
    m = _SHARD.match(text or "")
    if not m:
        raise UsageError(f"--shard: {text!r} is not I/N (e.g. 1/3: the first of 3 slices)")
    index, count = int(m.group(1)), int(m.group(2))
    if count < 1 or not 1 <= index <= count:
        raise UsageError(f"--shard: {text!r}: I must be between 1 and N (1/{max(count, 1)} .. {max(count, 1)}/"
                         f"{max(count, 1)})")
    return Shard(index, count)


def unit_key(scenario: str, target: str, fault: str | None = None, *, control: bool = False) -> str:
    """The stable name of one scenario test within an edge's run: ``scenario/target[/fault][/control]``
    (the target id is ``<chart>-<variant>`` or ``<chart>-broken-<control>``, harness/scenario/targets.py)."""
    parts = [scenario, target]
    if fault is not None:
        parts.append(str(fault))
    if control:
        parts.append("control")
    return "/".join(parts)


def assign(keys: Iterable[str], count: int) -> dict[str, int]:
    """``{key: shard index (1-based)}``: the distinct keys sorted, dealt round-robin over ``count`` shards.

    Raises:
        ValueError: ``count`` below 1.
    """
    if count < 1:
        raise ValueError(f"shard count must be at least 1, not {count}")
    return {k: i % count + 1 for i, k in enumerate(sorted(set(keys)))}


def select(keys: Iterable[str], shard: Shard) -> set[str]:
    """The keys that belong to ``shard`` (:func:`assign`)."""
    return {k for k, i in assign(keys, shard.count).items() if i == shard.index}


__all__ = ["Shard", "assign", "parse_shard", "select", "unit_key"]
