"""A failed `kind create cluster` is an environment failure: one line and exit 3 from the pytest plugin
(the real harness.env.cluster.ensure_cluster, with a kind that fails; no Docker, no kind)."""
from __future__ import annotations

import os
import textwrap
from importlib.metadata import entry_points
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PLUGIN = [] if any(ep.value == "harness.plugin" for ep in entry_points(group="pytest11")) else ["-p", "harness.plugin"]

FAILING_KIND = textwrap.dedent("""\
    import harness.env.cluster as c
    from harness.core.errors import CommandError

    class FailingKind:
        deleted = []

        def __init__(self, binary=""):
            pass

        def get_clusters(self):
            return []

        def create(self, name, **kwargs):
            raise CommandError(["kind", "create", "cluster", "--name", name], 1,
                               stderr="Creating cluster ...\\nERROR: failed to create cluster: could not find a log line")

        def delete(self, name, **kwargs):
            (__import__("pathlib").Path(__file__).parent / "deleted").write_text(name)

    c.Kind = FailingKind
    c.binaries.tool_path = lambda name, version=None: name
    c.docker.require_engine = lambda: None
    c.docker.images_matching = lambda repository: []
    c.check_ports_free = lambda ports: None
    """)


def test_a_failed_kind_create_exits_3_with_one_line(pytester, monkeypatch, tmp_path):
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    for name in list(os.environ):
        if name.startswith("HARNESS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("HARNESS_CACHE", str(tmp_path / "cache"))
    pytester.makeconftest(FAILING_KIND)
    pytester.makepyfile("def test_x(cluster): pass\n")
    result = pytester.runpytest_subprocess(*PLUGIN, "-p", "no:cacheprovider", "--harness-cluster-name", "exit3")
    out = result.stdout.str() + result.stderr.str()
    assert result.ret == 3, out
    hits = [ln for ln in out.splitlines() if "could not be created" in ln]
    assert len(hits) == 1, out
    assert "kind cluster 'exit3' could not be created" in hits[0]
    assert "ERROR: failed to create cluster: could not find a log line" in hits[0]
    assert "Traceback" not in out
    assert (pytester.path / "deleted").read_text() == "exit3"
