"""The one way evidence text reaches ``artifacts/`` (and, through the records, ``report/``):
:func:`write_text`, which applies a :class:`harness.core.redact.Redactor` to everything it writes.

Writers of evidence (diagnostics, the scenario context's JSON and text files, ``scenarios.json``)
call :func:`write_text`; :func:`scrub_tree` re-applies a redactor learned later (a failed test's
release, read by diagnostics) to the text files already written under a directory.
"""
from __future__ import annotations

from pathlib import Path

from harness.core.redact import Redactor

BINARY_SUFFIXES = (".png", ".gz", ".tgz", ".tar", ".zip")
"""Files :func:`scrub_tree` leaves alone (images and archives carry no text to search)."""


def write_text(path: Path | str, text: str, redactor: Redactor) -> Path:
    """Write ``redactor.text(text)`` to ``path`` (parents created); returns the path.

    Raises:
        OSError: the file cannot be written.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(redactor.text(text))
    return path


def scrub_tree(root: Path | str, redactor: Redactor) -> list[Path]:
    """Rewrite every UTF-8 text file under ``root`` through ``redactor`` where it changes anything
    (images and archives, :data:`BINARY_SUFFIXES`, and undecodable files are skipped).

    Returns:
        the files rewritten. A missing ``root`` gives []. Unreadable files are skipped.
    """
    root = Path(root)
    if not root.is_dir() or not redactor.secrets:
        return []
    return [p for p in sorted(root.rglob("*")) if p.is_file() and scrub_file(p, redactor)]


def scrub_file(path: Path | str, redactor: Redactor) -> bool:
    """Rewrite one UTF-8 text file through ``redactor`` when that changes it; True if rewritten.
    Images and archives (:data:`BINARY_SUFFIXES`), undecodable and unreadable files are left alone.

    Raises:
        OSError: the file was read but cannot be written back.
    """
    path = Path(path)
    if path.suffix.lower() in BINARY_SUFFIXES or not redactor.secrets:
        return False
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError):
        return False
    clean = redactor.text(text)
    if clean == text:
        return False
    path.write_text(clean)
    return True
