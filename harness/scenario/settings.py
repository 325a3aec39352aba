"""The scenarios' knobs, read once from ``HARNESS_SCENARIO_*`` environment variables (docs/scenarios.md)."""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from harness.core.durations import parse_duration
from harness.core.errors import HarnessError


def _env_float(name: str, default: float, *, seconds: bool = False) -> float:
    """``name`` from the environment as a number (``default`` when unset or empty). A ``seconds``
    knob also takes a duration like helm's (``2m``, ``90s``, ``1h30m``: harness/core/durations.py)."""
    raw = os.environ.get(name, "")
    if not raw:
        return default
    if seconds:
        return parse_duration(raw, option=name, positive=False)
    try:
        value = float(raw)
    except ValueError:
        raise HarnessError(f"{name}={raw!r} is not a number") from None
    if value < 0:
        raise HarnessError(f"{name}={raw!r} must not be negative")
    return value


SECONDS = frozenset({"sse_hold", "sse_margin", "sse_reconnect_bound", "drain_budget", "drain_blocked_after",
                     "outage_min", "outage_margin", "recovery_margin", "rollback_fail_timeout", "settle",
                     "probe_baseline"})
"""The knobs in seconds (the others are a rate and counts)."""


@dataclass(frozen=True)
class Settings:
    """The scenarios' knobs; each is ``HARNESS_SCENARIO_<NAME>`` in the environment (upper case).

    Attributes:
        probe_rate: prober requests per second. probe_concurrency: requests in flight at most.
        sse_streams: streams per chart. sse_hold: seconds the streams are held before the rollout
            (>= 120: events 90 s apart must be seen to be missed). sse_margin: a stream must carry
            a byte at least every ``proxy read timeout - margin`` seconds. sse_reconnect_bound:
            longest acceptable reconnect during the rollout.
        drain_budget: seconds for one drain. drain_blocked_after: seconds of refusals by a PDB that
            can never allow before the drain gives up early.
        outage_min: shortest database outage. outage_margin: added to the liveness budget when
            computing the outage length and to the readiness bound. recovery_margin: added to the
            readiness period for the recovery bound.
        rollback_fail_timeout: helm ``--timeout`` of the upgrade that must fail (its new pods never
            become Ready, so helm waits this long).
        settle: seconds the prober keeps running after a rollout finished.
        probe_baseline: seconds the prober runs before the disruption starts (the baseline).
    """

    probe_rate: float = 20.0
    probe_concurrency: int = 16
    sse_streams: int = 3
    sse_hold: float = 120.0
    sse_margin: float = 5.0
    sse_reconnect_bound: float = 10.0
    drain_budget: float = 120.0
    drain_blocked_after: float = 15.0
    outage_min: float = 25.0
    outage_margin: float = 5.0
    recovery_margin: float = 10.0
    rollback_fail_timeout: float = 40.0
    settle: float = 3.0
    probe_baseline: float = 2.0

    @classmethod
    def from_env(cls) -> Settings:
        kwargs: dict[str, Any] = {}
        for f in cls.__dataclass_fields__.values():
            name = "HARNESS_SCENARIO_" + f.name.upper()
            default = f.default
            v = _env_float(name, float(default), seconds=f.name in SECONDS)  # type: ignore[arg-type]
            kwargs[f.name] = int(v) if isinstance(default, int) and not isinstance(default, bool) else v
        return cls(**kwargs)
