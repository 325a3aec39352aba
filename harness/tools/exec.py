"""The one place the harness starts processes: argv lists, never a shell, bounded in time."""
from __future__ import annotations

import logging
import os
import shutil
import subprocess
import threading
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from harness.core.errors import CommandError, CommandTimeout, EnvironmentNotReady

log = logging.getLogger("harness.tools.exec")

# Processes started by run(), per tool. Process-wide on purpose: it answers "did anything start a
# helm process during this window?" (take two snapshots and compare), whoever started it.
_started: Counter[str] = Counter()
_started_lock = threading.Lock()


def started() -> dict[str, int]:
    """Processes :func:`run` has started so far in this Python process, per tool: ``{"helm": 12, ...}``
    keyed by the basename of ``argv[0]`` (a copy; thread-safe). Compare two snapshots with
    :func:`started_since`."""
    with _started_lock:
        return dict(_started)


def started_since(before: Mapping[str, int]) -> dict[str, int]:
    """Processes started since the snapshot ``before`` (from :func:`started`), per tool; tools with none
    are left out."""
    now = started()
    return {k: v - before.get(k, 0) for k, v in now.items() if v - before.get(k, 0) > 0}


def _count(argv0: str, n: int = 1) -> None:
    with _started_lock:
        _started[os.path.basename(argv0)] += n


@dataclass(frozen=True)
class Result:
    """What a finished command returned: ``argv``, ``returncode``, ``stdout`` and ``stderr`` (text)."""

    argv: list[str]
    returncode: int
    stdout: str
    stderr: str


def which(tool: str, hint: str) -> str:
    """Return the absolute path of ``tool`` on PATH.

    Raises:
        EnvironmentNotReady: the tool is not installed; ``hint`` says how to get it.
    """
    path = shutil.which(tool)
    if not path:
        raise EnvironmentNotReady(f"{tool} not found on PATH; {hint}")
    return path


def run(
    argv: Sequence[str],
    *,
    timeout: float = 300.0,
    check: bool = True,
    input: str | None = None,
    env: Mapping[str, str] | None = None,
    cwd: str | None = None,
    hint: str = "",
) -> Result:
    """Run ``argv`` and capture its output.

    Args:
        argv: executable and arguments; no shell is involved.
        timeout: seconds before the process is killed (raises CommandTimeout).
        check: raise CommandError on a non-zero exit.
        input: text fed to standard input.
        env: variables added to (not replacing) the current environment.
        cwd: working directory.
        hint: appended to the error message, e.g. what the user can do about a failure.

    Returns:
        Result with the exit code and decoded output.

    Raises:
        CommandError: non-zero exit with ``check``.
        CommandTimeout: the process outlived ``timeout``.
        EnvironmentNotReady: the executable does not exist.
    """
    argv = [str(a) for a in argv]
    full_env = {**os.environ, **env} if env else None
    log.debug("run: %s", " ".join(argv))
    _count(argv[0])  # counted when it starts, so a snapshot taken meanwhile already includes it
    try:
        proc = subprocess.run(
            argv, input=input, capture_output=True, text=True, timeout=timeout, env=full_env, cwd=cwd
        )
    except FileNotFoundError as exc:
        _count(argv[0], -1)  # counted on the way in, but no process started
        raise EnvironmentNotReady(f"{argv[0]} not found; run `make setup` to install the pinned tools") from exc
    except subprocess.TimeoutExpired as exc:
        raise CommandTimeout(argv, timeout, _text(exc.stdout), _text(exc.stderr)) from None
    result = Result(argv, proc.returncode, proc.stdout, proc.stderr)
    if check and proc.returncode != 0:
        raise CommandError(argv, proc.returncode, proc.stdout, proc.stderr, hint=hint)
    return result


def _text(data: bytes | str | None) -> str:
    if data is None:
        return ""
    return data if isinstance(data, str) else data.decode(errors="replace")
