"""The project's shell scripts and the early-exiting-reader check (pure: reads files, starts nothing).

Shared by tests/unit/test_build_scripts.py (the pattern check) and
tests/integration/test_build_scripts_bash.py (``bash -n`` and shellcheck over the same list).

Why the pattern matters: under ``set -o pipefail`` a pipeline fails when any member fails. A reader
that stops reading early (``grep -q`` at its first match, ``head``, ``grep -m1``...) closes the pipe;
the writer, if it still has output to write, dies of SIGPIPE (exit 141), and pipefail turns the
match into a failure, by timing (issue 14: ``traefik version | grep -q ...`` failed a cold build
once in a while). Every script here runs under pipefail, directly or through images/lib.sh, so every
pipeline counts; the scripts capture the output first (``out=$(cmd)``) and test the variable.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRIPT_DIRS = ("images", "ci", "charts-under-test", "addon-charts")
EXTRA_SCRIPTS = (".ci/run",)
_SHEBANG = re.compile(rb"^#!\s*(/usr/bin/env\s+)?(/bin/|/usr/bin/)?(ba)?sh\b")


def shell_scripts(root: Path = ROOT) -> list[Path]:
    """Every shell script of the project: ``*.sh`` and files with a sh/bash shebang under
    :data:`SCRIPT_DIRS`, plus ``.ci/run``. Sorted; paths are absolute."""
    found: set[Path] = set()
    for top in SCRIPT_DIRS:
        for p in (root / top).rglob("*"):
            if not p.is_file() or any(part.startswith(".") for part in p.relative_to(root).parts):
                continue
            if p.suffix == ".sh":
                found.add(p)
            elif p.suffix in ("", ".bash"):
                with p.open("rb") as f:
                    if _SHEBANG.match(f.read(64)):
                        found.add(p)
    found.update(root / s for s in EXTRA_SCRIPTS if (root / s).is_file())
    return sorted(found)


def checked_files(root: Path = ROOT) -> list[Path]:
    """What the early-reader check reads: the shell scripts and the Makefile (its recipes are bash)."""
    return [*shell_scripts(root), root / "Makefile"]


# A pipe (not ||) followed by a reader that may exit before its input ends:
#   grep with -q/--quiet/--silent, -m N/--max-count, -l/-L (files-with(out)-match): stop at the first match;
#   grep whose stdout is /dev/null: GNU grep then behaves like -q (it stops at the first match);
#   head; sed with a q/Q command; awk with exit; read (reads one line, the writer may have more).
_PIPE = r"(?<![|])\|(?![|])\s*"
_GREP_EARLY = r"grep\b(?=[^|;&]*?(\s-[a-zA-Z]*[qmlL]|\s--(quiet|silent|max-count|files-with(out)?-match)|>\s*/dev/null))"
_READERS = (
    _GREP_EARLY,
    r"head\b",
    r"sed\b[^|;&]*?(\d+[qQ]\b|[;/{]\s*[qQ]\b|'[qQ]\d*'|-e\s*'?[qQ]\b)",
    r"awk\b[^|]*\bexit\b",
    r"read\b",
)
EARLY_READER = re.compile(_PIPE + "(" + "|".join(_READERS) + ")")


@dataclass(frozen=True)
class Finding:
    """One early-exiting reader: ``file:line: text``."""

    path: Path
    line: int
    text: str

    def __str__(self) -> str:
        try:
            where = self.path.relative_to(ROOT)
        except ValueError:
            where = self.path
        return f"{where}:{self.line}: {self.text}"


def _logical_lines(text: str) -> list[tuple[int, str]]:
    """(first line number, text) of each logical line: backslash continuations and lines ending in a
    pipe are joined (a reader on the next physical line still reads that pipe); comment lines dropped."""
    out: list[tuple[int, str]] = []
    buf, start = "", 0
    for n, raw in enumerate(text.splitlines(), 1):
        stripped = raw.strip()
        if stripped.startswith("#") and not buf:
            continue
        if not buf:
            start = n
        buf += " " + stripped.removesuffix("\\")
        if stripped.endswith("\\") or (stripped.endswith("|") and not stripped.endswith("||")):
            continue
        out.append((start, buf.strip()))
        buf = ""
    if buf:
        out.append((start, buf.strip()))
    return out


def early_readers(text: str, path: Path = Path("<text>")) -> list[Finding]:
    """The pipelines in ``text`` (a shell script or Makefile) whose reader may exit early.

    Returns:
        one :class:`Finding` per offending logical line, with the line number where it starts.
    """
    return [Finding(path, n, line) for n, line in _logical_lines(text) if EARLY_READER.search(line)]
