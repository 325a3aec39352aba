"""Named errors the harness raises. Each message is one readable line first; detail follows."""
from __future__ import annotations

from collections.abc import Sequence


class HarnessError(Exception):
    """Base class: a problem the user can act on. The CLI and plugin print it without a traceback."""

    exit_code = 1


class UsageError(HarnessError):
    """Bad input: an unknown option value, a missing file, an invalid config. Exit code 2."""

    exit_code = 2


class EnvironmentNotReady(HarnessError):
    """The machine cannot run a cluster: Docker, a tool, or an image is missing. Exit code 3."""

    exit_code = 3


class CommandError(HarnessError):
    """A subprocess exited non-zero.

    Attributes:
        argv: the command as run.
        returncode: its exit code.
        stdout, stderr: its captured output (text).
    """

    def __init__(self, argv: Sequence[str], returncode: int, stdout: str = "", stderr: str = "", hint: str = ""):
        self.argv = list(argv)
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr
        self.hint = hint
        lines = [line.strip() for line in (stderr or stdout).strip().splitlines() if line.strip()]
        # Go tools end a failure with a stack trace; the line that says what failed starts with ERROR.
        marked = [line for line in lines if line.startswith(("ERROR:", "Error:", "error:"))]
        tail = marked[-1] if marked else (lines[-1] if lines else "(no output)")
        msg = f"`{' '.join(self.argv)}` exited {returncode}: {tail}"
        if hint:
            msg += f" ({hint})"
        super().__init__(msg)


class CommandTimeout(CommandError):
    """A subprocess ran longer than its time budget and was killed."""

    def __init__(self, argv: Sequence[str], timeout: float, stdout: str = "", stderr: str = ""):
        super().__init__(argv, -9, stdout, stderr, hint=f"killed after {timeout:.0f} s")
        self.timeout = timeout


class WaitTimeout(HarnessError):
    """A wait ran out of time. The message says what was awaited, the budget, and what was seen last."""

    def __init__(self, what: str, timeout: float, last_state: str = "", hint: str = ""):
        self.what = what
        self.timeout = timeout
        self.last_state = last_state
        self.hint = hint
        msg = f"timed out after {timeout:.0f} s waiting for {what}"
        if last_state:
            msg += f"; last seen: {last_state}"
        if hint:
            msg += f" ({hint})"
        super().__init__(msg)


class WaitFailed(HarnessError):
    """A wait gave up early because its target can no longer succeed (CrashLoopBackOff, failed Job)."""


class ScenarioSkipped(HarnessError):
    """A scenario cannot run for this target here (e.g. a TLS variant without cert-manager).

    The scenario library raises it instead of calling ``pytest.skip`` (it knows nothing of pytest);
    the pytest layer turns it into a skip with the same reason, printed.
    """
