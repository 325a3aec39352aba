"""The project's shell scripts (images/, ci/, charts-under-test/, .ci/run) and the Makefile: no
early-exiting reader in a pipeline (every script runs under ``set -o pipefail``; see tests/scripts.py
for why that fails by timing). A finding names file:line. Pure: reads the files, starts nothing
(``bash -n`` and shellcheck over the same scripts are in tests/integration/test_build_scripts_bash.py)."""
from __future__ import annotations

from pathlib import Path

import pytest
from scripts import ROOT, checked_files, early_readers, shell_scripts


def test_every_script_is_found():
    names = {str(p.relative_to(ROOT)) for p in shell_scripts()}
    for expected in ("images/lib.sh", "images/build-addons.sh", "ci/provision-docker.sh", "ci/provision-host.sh",
                     "charts-under-test/lint-charts.sh", "images/postgres/harness-pg", ".ci/run",
                     "images/build/kubernetes/new-wrapper.sh", "images/build-cert-manager.sh",
                     "images/vendor-cert-manager-chart.sh"):
        assert expected in names


def test_no_early_exiting_reader_in_a_pipeline():
    findings = [str(f) for p in checked_files() for f in early_readers(p.read_text(), p)]
    assert findings == [], "capture the output first (out=$(cmd)), then test it:\n" + "\n".join(findings)


@pytest.mark.parametrize("line", [
    'docker images | grep -q "^v1"',
    "traefik version | grep --quiet v3",
    "file -L /bin/busybox 2>/dev/null | grep -q 'statically linked'",
    "traefik version | head -3",
    "kind get clusters | grep -qx harness && echo 1",
    "kind get clusters | grep -m1 harness",
    "kind get clusters | grep --max-count=1 harness",
    "ls | grep -l x",
    "kind get clusters | grep -x harness >/dev/null",
    "cmd | sed 1q",
    "cmd | sed -n '/x/{p;q}'",
    "cmd | awk '/x/ {print; exit}'",
    "cmd | read -r first",
])
def test_the_detector_catches_early_readers(line):
    assert [f.line for f in early_readers(f"set -o pipefail\n{line}\n")] == [2]


@pytest.mark.parametrize("line", [
    "got=$(kubeadm version -o short)",
    'docker images x --format "{{.Tag}}" | grep -vx "$tag" | xargs -r docker rmi',
    "existed=$(kind get clusters | grep -x harness || true)",
    "key=$(cat go.mod | sha256sum | cut -c1-10)",
    "mod=$(go mod download -json x | sed -n 's/.*\"Dir\": \"\\(.*\\)\".*/\\1/p')",
    "docker image inspect -f '{{.Size}}' x | awk '{printf \"%.1f MB\", $1/1e6}'",
    "a || head -1 file",
    "# a comment: cmd | grep -q x",
    "grep -q x file",
    '[[ "$got" =~ Version:\\ *v3($\'\\n\'|$) ]]',
])
def test_the_detector_passes_full_readers(line):
    assert early_readers(f"set -o pipefail\n{line}\n") == []


def test_a_reader_on_a_continuation_line_is_reported_at_the_pipeline_start():
    text = "set -o pipefail\nx=1\ndocker images \\\n  | grep -q foo\ndocker ps |\n  head -1\n"
    assert [f.line for f in early_readers(text, Path("t.sh"))] == [3, 5]
    assert str(early_readers(text, Path("t.sh"))[0]).startswith("t.sh:3: docker images")
