"""harness.tools.kubectl argv construction and error messages (fake runner)."""
from __future__ import annotations

import pytest

from harness.tools.exec import Result
from harness.tools.kubectl import Kubectl, KubectlError


class Fake:
    def __init__(self, rc=0, stderr=""):
        self.rc, self.stderr, self.calls = rc, stderr, []

    def __call__(self, argv, *, timeout=300.0, check=True, input=None, env=None, hint=""):
        self.calls.append({"argv": list(argv), "timeout": timeout, "input": input, "env": env})
        return Result(list(argv), self.rc, "", self.stderr)


def test_every_call_is_bound_and_bounded(tmp_path):
    f = Fake()
    k = Kubectl(tmp_path / "kc", context="kind-harness", binary="kubectl", runner=f)
    k.drain("harness-worker", timeout=90)
    argv = f.calls[-1]["argv"]
    assert argv[:5] == ["kubectl", "drain", "harness-worker", "--ignore-daemonsets", "--delete-emptydir-data"]
    assert "--timeout=90s" in argv and "--request-timeout=30s" in argv
    assert argv[argv.index("--kubeconfig") + 1] == str(tmp_path / "kc")
    assert argv[argv.index("--context") + 1] == "kind-harness"
    assert f.calls[-1]["timeout"] == 150 and f.calls[-1]["env"] == {"KUBECONFIG": str(tmp_path / "kc")}
    k.apply("kind: ConfigMap\n", namespace="ns1")
    assert f.calls[-1]["input"] == "kind: ConfigMap\n" and "--namespace" in f.calls[-1]["argv"]


def test_drain_blocked_by_pdb_is_a_clear_error(tmp_path):
    stderr = ("evicting pod ns/web-1\nerror when evicting pods/\"web-1\" -n \"ns\" (will retry after 5s): Cannot evict "
              "pod as it would violate the pod's disruption budget.\n"
              "error: unable to drain node \"harness-worker\" due to error: global timeout reached: 90s\n")
    with pytest.raises(KubectlError) as err:
        Kubectl(tmp_path / "kc", binary="kubectl", runner=Fake(rc=1, stderr=stderr)).drain("harness-worker", timeout=90)
    assert str(err.value) == ('kubectl drain failed (exit 1): error: unable to drain node "harness-worker" due to '
                              'error: global timeout reached: 90s')
    assert err.value.stderr == stderr
