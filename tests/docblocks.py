"""Code blocks of a Markdown document that tests follow verbatim (tests/ is on sys.path through
pyproject's ``pythonpath``).

A block is marked by an HTML comment on the line before its opening fence, invisible when rendered:

    <!-- quickstart:file charts/mychart/harness-contract.yaml -->
    ```yaml
    ...
    ```

``quickstart`` is the marker's prefix (README.md uses ``quickstart``, docs/charts-under-test.md
``contract-example``), ``file`` its kind, and what follows the kind its argument (here the path the
block's text is written to). Only blank lines may stand between the comment and the fence. Pure: it
reads text, so unit tests use it too; the tests that run the blocks' commands live in
tests/integration (no cluster) and tests/cluster (the scenario step)."""
from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass
from pathlib import Path

import yaml

_MARK = re.compile(r"^<!--\s*(?P<prefix>[\w-]+):(?P<kind>[\w-]+)(?:\s+(?P<arg>[^\s>]+))?\s*-->\s*$")
_FENCE = re.compile(r"^(?P<fence>```+|~~~+)\s*(?P<lang>[\w-]*)\s*$")


@dataclass(frozen=True)
class Block:
    """One marked fenced block: ``kind`` and ``arg`` from the marker, ``lang`` from the fence,
    ``text`` its content (ending in a newline), ``line`` the 1-based line of the marker."""
    kind: str
    arg: str | None
    lang: str
    text: str
    line: int


def blocks(path: Path | str, prefix: str) -> list[Block]:
    """The blocks of ``path`` marked ``<!-- <prefix>:<kind> [arg] -->``, in document order.

    Raises:
        AssertionError: a marker not followed by a fenced block, or a fence never closed: the
            document changed shape, and a test following it must say where.
    """
    lines = Path(path).read_text().splitlines()
    out: list[Block] = []
    i = 0
    while i < len(lines):
        m = _MARK.match(lines[i].strip())
        if not m or m["prefix"] != prefix:
            i += 1
            continue
        mark_line = i + 1
        i += 1
        while i < len(lines) and not lines[i].strip():
            i += 1
        f = _FENCE.match(lines[i]) if i < len(lines) else None
        assert f, f"{path}:{mark_line}: marker {prefix}:{m['kind']} is not followed by a fenced code block"
        body: list[str] = []
        i += 1
        while i < len(lines) and not lines[i].startswith(f["fence"]):
            body.append(lines[i])
            i += 1
        assert i < len(lines), f"{path}:{mark_line}: the code block after {prefix}:{m['kind']} is never closed"
        out.append(Block(m["kind"], m["arg"], f["lang"], textwrap.dedent("\n".join(body)) + "\n", mark_line))
        i += 1
    return out


def of_kind(found: list[Block], kind: str) -> list[Block]:
    return [b for b in found if b.kind == kind]


def files(found: list[Block]) -> dict[str, str]:
    """``{relative path: text}`` of the ``file`` blocks, in document order."""
    return {b.arg: b.text for b in of_kind(found, "file") if b.arg}


def commands(block: Block) -> list[str]:
    """A shell block's commands: one per line, comments (`` # ...`` to the end) and blank lines
    dropped. The quick start keeps one command a line (no continuations, no here-documents)."""
    out = []
    for ln in block.text.splitlines():
        cmd = re.sub(r"(^|\s)#.*$", "", ln).strip()
        if cmd:
            out.append(cmd)
    return out


def write_files(found: list[Block], root: Path) -> list[Path]:
    """Write every ``file`` block under ``root`` (parents created); returns the paths written."""
    written = []
    for rel, text in files(found).items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
        written.append(p)
    return written


def merge_yaml(text: str, overlay: str) -> str:
    """``text`` (a YAML mapping) with ``overlay``'s top-level keys put in place of its own: what a
    reader does who is told to add (or change) these lines in a file."""
    base = yaml.safe_load(text)
    base.update(yaml.safe_load(overlay))
    return yaml.safe_dump(base, sort_keys=False)
