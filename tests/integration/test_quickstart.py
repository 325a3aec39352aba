"""README.md's quick start for one's own chart works verbatim (issue 11, Docs): a chart made with
``helm create`` in a temporary directory outside the repository, the README's files written as they
stand, its ``python -m harness check`` exits 0, and its scenario command, collected only, collects
the upgrade test of the chart and exits 0. How each step is followed: tests/quickstart.py. The
scenario itself, on a cluster: tests/cluster/test_quickstart_cluster.py."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from docblocks import commands
from quickstart import ROOT, follow


@pytest.fixture
def work(tmp_path: Path) -> Path:
    assert not tmp_path.resolve().is_relative_to(ROOT.resolve())  # outside the repository, as a user's
    return tmp_path / "repo"


@pytest.mark.parametrize("own_image", [False, True], ids=["scaffold-image", "own-image"])
def test_the_quick_start_checks_clean_and_collects_its_scenario(work, helm_bin, own_image):
    qs = follow(work, helm_bin, own_image=own_image)
    assert (work / "released" / "mychart-0.1.0.tgz").is_file()
    contract = yaml.safe_load((work / "charts/mychart/harness-contract.yaml").read_text())
    assert contract["apiVersion"] == "harness/v2"
    if own_image:
        assert contract["images"] == ["harness/static-site:1.0.0", "harness/static-site:1.1.0"]

    run = commands(qs.block("run"))
    assert any(c.startswith("python -m harness check ") for c in run)
    r = qs.run("set -e\n" + "\n".join(run))
    assert r.returncode == 0, r.stdout
    assert "harness-contract.yaml" in (work / "charts/mychart/.helmignore").read_text().splitlines()
    checked = [ln for ln in r.stdout.splitlines() if ln.startswith("checked mychart:")]
    assert checked and "Ingress host mychart.test (class nginx)" in checked[0], r.stdout
    assert "released 0.1.0" in checked[0] and "1 chart clean" in r.stdout, r.stdout

    [scenario] = commands(qs.block("cluster"))
    assert scenario.startswith("pytest ")
    r = qs.run(f"{scenario} --collect-only -q -p no:cacheprovider")
    assert r.returncode == 0, r.stdout
    collected = [ln for ln in r.stdout.splitlines() if "::" in ln]
    assert collected == ["test_upgrade.py::test_upgrade[mychart-default]"], r.stdout
    assert "1 test collected" in r.stdout, r.stdout


def test_a_quick_start_chart_without_the_ingress_values_is_refused_in_one_line(work, helm_bin):
    """The check is what makes the quick start's values necessary: without them the scaffold's
    Ingress is off, and the check says so (exit 2), instead of a run waiting for the host."""
    qs = follow(work, helm_bin)
    contract = work / "charts/mychart/harness-contract.yaml"
    text = contract.read_text()
    assert "values: [ci/harness-values.yaml]" in text
    contract.write_text(text.replace("values: [ci/harness-values.yaml]", "values: []"))
    (work / "charts/mychart/ci/harness-values.yaml").unlink()  # else it is a ci/*-values.yaml variant of its own
    [check] = [c for c in commands(qs.block("run")) if c.startswith("python -m harness check ")]
    r = qs.run(check)
    assert r.returncode == 2, r.stdout
    problems = [ln for ln in r.stdout.splitlines() if ln.startswith("harness: check: mychart")]
    assert problems and all("mychart.test" in ln for ln in problems), r.stdout
