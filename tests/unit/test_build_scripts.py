"""The image build scripts: syntax, and no early-exiting reader in a pipeline under `set -o pipefail`.

`cmd | grep -q X` and `cmd | head` close the pipe early; the writer then dies of SIGPIPE and pipefail
turns a match into a failure, depending on timing. The scripts capture output first instead.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = sorted([*ROOT.glob("images/*.sh"), ROOT / "images/build/kubernetes/new-wrapper.sh", ROOT / "ci/provision-host.sh"])
EARLY_READER = re.compile(r"\|\s*(grep\s+(-\w*q\w*|--quiet)|head)\b")


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_early_exiting_reader_in_a_pipeline(script):
    code = [line for line in script.read_text().splitlines() if not line.lstrip().startswith("#")]
    offending = [line.strip() for line in code if EARLY_READER.search(line)]
    assert offending == []


def test_the_detector_catches_the_pattern():
    assert EARLY_READER.search('docker images | grep -q "^v1"')
    assert EARLY_READER.search("traefik version | head -3")
    assert not EARLY_READER.search('got=$(kubeadm version -o short)')
