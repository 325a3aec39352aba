"""The one parser of durations the harness takes from people: command-line options, ``HARNESS_*``
variables and ``harness.yaml`` values given in seconds.

Accepted: plain seconds (``300``, ``2.5``, as the harness always took them), or what helm's
``--timeout`` takes, a Go duration (https://pkg.go.dev/time#ParseDuration, helm's flag type):
one or more ``<number><unit>`` parts with units ``h``, ``m``, ``s``, ``ms`` (``90s``, ``5m``, ``1h``,
``1h30m``, ``1.5s``, ``250ms``). Go's ``ns``/``us`` are left out: no harness budget is that short.
"""
from __future__ import annotations

import re

from harness.core.errors import UsageError

ACCEPTED = "seconds (300) or a duration like 90s, 5m, 1h, 1h30m"
"""The accepted forms, as error lines and help texts name them."""

_UNIT_SECONDS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}
_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ms|h|m|s)")
_PLAIN = re.compile(r"^(\d+(?:\.\d*)?|\.\d+)$")


def parse_duration(raw: object, *, option: str, positive: bool = True) -> float:
    """Seconds from ``raw``: a number, plain seconds as text, or a Go-style duration (module docstring).

    Args:
        raw: what the user gave (``"5m"``, ``"300"``, ``300``, ``2.5``).
        option: how the user named the value, for the error line (``--install-timeout``,
            ``install-timeout (env HARNESS_INSTALL_TIMEOUT)``).
        positive: refuse 0 (every harness budget must allow some time).

    Returns:
        the duration in seconds (float).

    Raises:
        UsageError: one line naming ``option``, the value and :data:`ACCEPTED`.
    """
    if isinstance(raw, bool):  # YAML's yes/no are not durations
        raise UsageError(f"{option}: {raw!r} is not a duration; use {ACCEPTED}")
    if isinstance(raw, int | float):
        seconds = float(raw)
    else:
        text = str(raw).strip().lower()
        body = text[1:] if text.startswith("-") else text
        if _PLAIN.match(body):
            seconds = float(body)
        elif body and _PART.sub("", body) == "":
            seconds = sum(float(n) * _UNIT_SECONDS[u] for n, u in _PART.findall(body))
        else:
            raise UsageError(f"{option}: {raw!r} is not a duration; use {ACCEPTED}")
        seconds = -seconds if text.startswith("-") else seconds
    if seconds != seconds or seconds in (float("inf"), float("-inf")):
        raise UsageError(f"{option}: {raw!r} is not a duration; use {ACCEPTED}")
    if seconds < 0 or (positive and seconds == 0):
        raise UsageError(f"{option}: {raw!r} must be more than 0 seconds" if positive
                         else f"{option}: {raw!r} must not be negative")
    return seconds


def argparse_duration(option: str):  # -> Callable[[str], float]
    """An argparse ``type=`` for a duration option: bad input is one ``harness: error:`` line (the
    caller's parser prints it) naming ``option`` and the accepted forms."""
    import argparse  # function-local: core stays free of CLI imports for every other caller

    def convert(text: str) -> float:
        try:
            return parse_duration(text, option=option)
        except UsageError as exc:
            raise argparse.ArgumentTypeError(str(exc).split(": ", 1)[1]) from None

    convert.__name__ = "duration"
    return convert
