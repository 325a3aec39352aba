"""README.md's "Quick start for your own chart", followed the way a user follows it, in a directory
outside the repository (tests/ is on sys.path through pyproject's ``pythonpath``). Used by
tests/integration/test_quickstart.py (the steps that need no cluster) and
tests/cluster/test_quickstart_cluster.py (the scenario step on the session's cluster).

What is verbatim: every ``file`` block is written as it stands, every ``run`` and ``cluster``
command runs as it stands (in bash, from the work directory). What stands in for a step:
- ``install``: the harness is already installed in the interpreter running the tests (its
  ``bin`` directory goes first on PATH, so ``python`` and ``pytest`` are that installation's);
- ``download`` (``helm pull`` from the user's chart repository, which this machine cannot reach):
  the scaffolded chart, packaged with ``helm package`` under the name and into the directory the
  pull names, before anything else is written into it: the version users run today is the chart
  as ``helm create`` made it.
The chart itself is made as the README says it was: ``helm create mychart`` with the pinned helm."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from docblocks import Block, blocks, commands, merge_yaml, of_kind, write_files

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
PREFIX = "quickstart"


@dataclass(frozen=True)
class Followed:
    """A work directory set up by :func:`follow`: ``work`` (cwd of every command), ``env`` (PATH with
    the harness's interpreter and the pinned helm first), the README's ``blocks``."""
    work: Path
    env: dict[str, str]
    blocks: list[Block]

    def block(self, kind: str) -> Block:
        [b] = of_kind(self.blocks, kind)
        return b

    def run(self, command: str, timeout: float = 300) -> subprocess.CompletedProcess:
        """``command`` in bash from the work directory; stdout and stderr together in ``stdout``."""
        return subprocess.run(["bash", "-c", command], cwd=self.work, env=self.env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, timeout=timeout, check=False)


def env_for(helm: str) -> dict[str, str]:
    """The environment of the README's commands: this session's settings (``HARNESS_*``) dropped
    but for the tool cache, the harness's interpreter and the pinned helm first on PATH."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HARNESS_", "PYTHON"))}
    if os.environ.get("HARNESS_CACHE"):
        env["HARNESS_CACHE"] = os.environ["HARNESS_CACHE"]
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), str(Path(helm).parent), env.get("PATH", "")])
    return env


def _download(block: Block) -> tuple[str, str, str]:
    """``(chart name, version, destination)`` of the README's ``helm pull`` line."""
    [cmd] = commands(block)
    m = re.fullmatch(r"helm pull (?P<name>\S+) --repo \S+ --version (?P<version>\S+) --destination (?P<dest>\S+)", cmd)
    assert m, f"README.md:{block.line}: the download step is no longer `helm pull NAME --repo URL --version V " \
              f"--destination DIR`: {cmd}"
    return m["name"], m["version"], m["dest"]


def follow(work: Path, helm: str, *, own_image: bool = False) -> Followed:
    """Set ``work`` up as the README's reader would, up to (not including) the ``run`` commands.

    Args:
        work: an empty directory outside the repository.
        helm: the pinned helm binary.
        own_image: also apply the ``own-image`` block (its keys replace the contract's): the chart
            then runs the harness's static-site image, which a cluster here can load.

    Raises:
        AssertionError: the README changed shape, or ``helm create`` / ``helm package`` failed.
    """
    found = blocks(README, PREFIX)
    env = env_for(helm)
    name, version, dest = _download(of_kind(found, "download")[0])
    (work / "charts").mkdir(parents=True)
    for args in (["create", name], ["package", name, "--version", version, "--destination", str(work / dest)]):
        r = subprocess.run([helm, *args], cwd=work / "charts", env=env, capture_output=True, text=True,
                           timeout=120, check=False)
        assert r.returncode == 0, f"helm {' '.join(args)}: {r.stdout}{r.stderr}"
    write_files(found, work)
    if own_image:
        [b] = of_kind(found, "own-image")
        target = work / b.arg
        target.write_text(merge_yaml(target.read_text(), b.text))
    return Followed(work, env, found)
