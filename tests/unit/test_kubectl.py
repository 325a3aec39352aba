"""harness.tools.kubectl: argv construction, results and error messages (fake runner)."""
from __future__ import annotations

import pytest
import yaml

from harness.core.config import REQUEST_TIMEOUT
from harness.core.errors import CommandError
from harness.tools.exec import Result
from harness.tools.kubectl import FIELD_MANAGER, Kubectl, KubectlError


class Fake:
    def __init__(self, rc=0, stdout="", stderr=""):
        self.rc, self.stdout, self.stderr, self.calls = rc, stdout, stderr, []

    def __call__(self, argv, *, timeout=300.0, check=True, input=None, env=None, hint=""):
        self.calls.append({"argv": list(argv), "timeout": timeout, "input": input, "env": env, "check": check})
        return Result(list(argv), self.rc, self.stdout, self.stderr)


def kubectl(tmp_path, fake, **kw) -> Kubectl:
    return Kubectl(tmp_path / "kc", binary="kubectl", runner=fake, **kw)


def test_global_flags_come_before_the_subcommand_and_its_arguments(tmp_path):
    f = Fake()
    kubectl(tmp_path, f, context="kind-harness")("exec", "-n", "ns", "psql", "--", "psql", "-c", "select 1")
    assert f.calls[-1]["argv"] == [
        "kubectl", "--kubeconfig", str(tmp_path / "kc"), "--context", "kind-harness",
        f"--request-timeout={int(REQUEST_TIMEOUT)}s", "exec", "-n", "ns", "psql", "--", "psql", "-c", "select 1"]
    assert f.calls[-1]["env"] == {"KUBECONFIG": str(tmp_path / "kc")}


def test_namespace_and_request_timeout(tmp_path):
    f = Fake()
    kubectl(tmp_path, f, request_timeout=4.5)("get", "pods", namespace="ns1")
    assert f.calls[-1]["argv"][1:] == ["--kubeconfig", str(tmp_path / "kc"), "--request-timeout=5s",
                                       "--namespace", "ns1", "get", "pods"]


def test_drain_is_bounded_and_a_blocked_drain_is_a_clear_error(tmp_path):
    f = Fake()
    kubectl(tmp_path, f).drain("harness-worker", timeout=90)
    argv = f.calls[-1]["argv"]
    assert argv[argv.index("drain"):] == ["drain", "harness-worker", "--ignore-daemonsets", "--delete-emptydir-data",
                                          "--timeout=90s"]
    assert f.calls[-1]["timeout"] == 150
    stderr = ("evicting pod ns/web-1\nerror when evicting pods/\"web-1\" -n \"ns\" (will retry after 5s): Cannot evict "
              "pod as it would violate the pod's disruption budget.\n"
              "error: unable to drain node \"harness-worker\" due to error: global timeout reached: 90s\n")
    with pytest.raises(KubectlError) as err:
        kubectl(tmp_path, Fake(rc=1, stderr=stderr)).drain("harness-worker", timeout=90)
    assert str(err.value) == ('kubectl drain failed (exit 1): error: unable to drain node "harness-worker" due to '
                              'error: global timeout reached: 90s')
    assert err.value.stderr == stderr and isinstance(err.value, CommandError)


def test_check_false_returns_the_failed_result(tmp_path):
    res = kubectl(tmp_path, Fake(rc=1, stderr="error: x\n"))("exec", "p", "--", "false", check=False)
    assert res.returncode == 1 and res.stderr == "error: x\n"


def test_apply_is_server_side_from_objects_or_text(tmp_path):
    f = Fake()
    k = kubectl(tmp_path, f)
    k.apply([{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}}], namespace="ns1")
    argv = f.calls[-1]["argv"]
    assert argv[argv.index("apply"):] == ["apply", "--server-side", "--force-conflicts",
                                          f"--field-manager={FIELD_MANAGER}", "-f", "-"]
    assert argv[argv.index("--namespace") + 1] == "ns1"
    assert yaml.safe_load(f.calls[-1]["input"])["metadata"] == {"name": "a"}
    k.apply("kind: ConfigMap\n")
    assert f.calls[-1]["input"] == "kind: ConfigMap\n"


def test_get_json_parses_and_treats_not_found_as_none(tmp_path):
    f = Fake(stdout='{"kind": "Pod"}')
    assert kubectl(tmp_path, f).get_json("pod", "p") == {"kind": "Pod"}
    assert f.calls[-1]["argv"][-4:] == ["pod", "p", "-o", "json"]
    missing = Fake(rc=1, stderr='Error from server (NotFound): pods "p" not found\n')
    assert kubectl(tmp_path, missing).get_json("pod", "p") is None
    with pytest.raises(KubectlError, match=r"kubectl get failed \(exit 1\): error: forbidden"):
        kubectl(tmp_path, Fake(rc=1, stderr="error: forbidden\n")).get_json("pod", "p")


def test_delete_ignores_missing_objects_and_does_not_wait(tmp_path):
    f = Fake()
    kubectl(tmp_path, f).delete("-n", "ns", "secret", "s")
    argv = f.calls[-1]["argv"]
    assert argv[argv.index("delete"):] == ["delete", "-n", "ns", "secret", "s", "--ignore-not-found", "--wait=false"]


def test_the_pinned_binary_is_looked_up_at_the_first_call(tmp_path, monkeypatch):
    from harness.tools import binaries

    looked: list[str] = []
    monkeypatch.setattr(binaries, "tool_path", lambda name: looked.append(name) or f"/pinned/{name}")
    f = Fake()
    k = Kubectl(tmp_path / "kc", runner=f)
    assert looked == []
    k("version", "--client")
    assert looked == ["kubectl"] and f.calls[-1]["argv"][0] == "/pinned/kubectl"
