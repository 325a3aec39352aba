"""Ctrl-C in a harness run (harness/plugin/session.py): exit 130, one line saying what was kept and
how to remove it, no slow teardown; pytest's own stops keep their codes. pytest subprocesses with a
fake harness.env.cluster (no kind, no Docker); one run gets a real SIGINT."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from test_plugin import FAKE_CLUSTER, FAKE_KUBE, PLUGIN, ROOT

HOOK = "def ensure_cluster(cfg, owner=None):\n"
assert HOOK in FAKE_CLUSTER
INTERRUPT_AT_CREATE = FAKE_CLUSTER.replace(HOOK, HOOK + (
    "    if os.environ.get('FAKE_CLUSTER_INTERRUPT'):\n"
    "        record(call='ensure-interrupted', name=cfg.cluster_name, run_id=owner.run_id, pid=owner.pid)\n"
    "        raise KeyboardInterrupt\n"))


def sigint_default() -> None:
    """In the child, before exec: SIGINT back to its default. A run started in the background by a
    non-interactive shell (``cmd &``, as CI may be) inherits SIGINT ignored, and Python then installs
    no KeyboardInterrupt handler: the Ctrl-C under test would be ignored (while helm, which asks for
    SIGINT itself, still stops)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.fixture
def env(tmp_path, monkeypatch):
    """Environment of the pytest subprocesses: the checkout importable, a cache of their own."""
    for name in list(os.environ):
        if name.startswith("HARNESS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    cache = tmp_path / "harness-cache"
    monkeypatch.setenv("HARNESS_CACHE", str(cache))
    return cache


def calls_of(path: Path) -> list[dict]:
    log = path / "cluster-calls.jsonl"
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def interrupt_lines(text: str) -> list[str]:
    return [ln for ln in text.splitlines() if ln.startswith("[harness] interrupted:")]


def test_ctrl_c_during_cluster_creation_exits_130_with_one_line(pytester, env, monkeypatch):
    pytester.makeconftest(INTERRUPT_AT_CREATE)
    pytester.makepyfile("def test_x(cluster): pass")
    monkeypatch.setenv("FAKE_CLUSTER_INTERRUPT", "1")
    result = pytester.runpytest_subprocess(*PLUGIN, "-p", "no:cacheprovider", "--harness-cluster-name=fake")
    assert result.ret == 130
    out = result.stdout.str() + result.stderr.str()
    (line,) = interrupt_lines(out)
    assert "(no cluster was ready)" in line and "python -m harness clean" in line
    (call,) = calls_of(pytester.path)
    assert call["call"] == "ensure-interrupted"
    # the run's record stays for `clean` (its pid is gone now)
    record = json.loads((env / "runs" / call["run_id"] / "owner.json").read_text())
    assert record["pid"] == call["pid"] and record["kept"] is False


def test_ctrl_c_mid_test_keeps_cluster_and_namespace_and_says_how_to_reach_them(pytester, env):
    pytester.makeconftest(FAKE_CLUSTER + FAKE_KUBE)
    pytester.makepyfile(test_scn=textwrap.dedent("""\
        def test_first(cluster, namespace):
            pass

        def test_interrupted(cluster, namespace):
            raise KeyboardInterrupt

        def test_never_runs(cluster):
            pass
        """))
    result = pytester.runpytest_subprocess(*PLUGIN, "-p", "no:cacheprovider", "--harness-cluster-name=fake",
                                           "--harness-keep-cluster=never")
    assert result.ret == 130
    kinds = [c["call"] for c in calls_of(pytester.path)]
    # the first test's namespace went as usual; after Ctrl-C nothing is deleted, collected or exported
    assert kinds == ["ensure", "ns-create", "ns-delete", "ns-create"]
    out = result.stdout.str() + result.stderr.str()
    (line,) = interrupt_lines(out)
    assert "kept cluster fake (created by this run; kubeconfig " in line
    assert str(pytester.path / "kubeconfig") in line and "python -m harness clean" in line


def test_a_normal_run_removes_its_run_directory(pytester, env):
    pytester.makeconftest(FAKE_CLUSTER + FAKE_KUBE)
    pytester.makepyfile("def test_x(cluster, namespace): pass")
    result = pytester.runpytest_subprocess(*PLUGIN, "-p", "no:cacheprovider", "--harness-cluster-name=fake")
    assert result.ret == 0
    assert not (env / "runs").exists() or not any((env / "runs").iterdir())
    assert not interrupt_lines(result.stdout.str() + result.stderr.str())


def test_a_kept_failure_marks_the_run_kept(pytester, env):
    pytester.makeconftest(FAKE_CLUSTER + FAKE_KUBE)
    pytester.makepyfile("def test_x(cluster, namespace): assert False")
    result = pytester.runpytest_subprocess(*PLUGIN, "-p", "no:cacheprovider", "--harness-cluster-name=fake")
    assert result.ret == 1
    (run_dir,) = list((env / "runs").iterdir())
    assert json.loads((run_dir / "owner.json").read_text())["kept"] is True


def test_pytests_own_stops_keep_their_codes(pytester, env):
    # a run that does not use the harness: pytest's 2 for Ctrl-C, no harness line
    pytester.makepyfile(test_plain="def test_x():\n    raise KeyboardInterrupt\n")
    result = pytester.runpytest_subprocess(*PLUGIN, "-p", "no:cacheprovider")
    assert result.ret == 2 and not interrupt_lines(result.stdout.str() + result.stderr.str())
    # collection errors stop a harness run with pytest's "Interrupted: 1 error during collection": 2, not 130
    pytester.makeconftest(FAKE_CLUSTER)
    pytester.makepyfile(test_plain="import pytest\n\n@pytest.mark.harness\ndef test_x(cluster): pass\n",
                        test_broken="def broken(:\n")
    result = pytester.runpytest_subprocess(*PLUGIN, "-p", "no:cacheprovider", "--harness-cluster-name=fake")
    assert result.ret == 2 and not interrupt_lines(result.stdout.str() + result.stderr.str())


def test_a_real_sigint_mid_test_stops_within_seconds_with_130(pytester, env):
    pytester.makeconftest(FAKE_CLUSTER + FAKE_KUBE)
    pytester.makepyfile(test_slow=textwrap.dedent("""\
        import threading, time
        from harness.core import progress

        def test_slow(cluster, namespace):
            # a daemon thread still running, like a prober mid-scenario
            threading.Thread(target=time.sleep, args=(600,), daemon=True).start()
            progress.say("scenario running")
            time.sleep(600)
        """))
    argv = [sys.executable, "-m", "pytest", *PLUGIN, "-p", "no:cacheprovider", "--harness-cluster-name=fake",
            "--harness-keep-cluster=never", "test_slow.py"]
    proc = subprocess.Popen(argv, cwd=pytester.path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            preexec_fn=sigint_default)
    seen = []
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            seen.append(line)
            if "[harness] scenario running" in line:
                break
        assert any("scenario running" in ln for ln in seen), "".join(seen)
        sent = time.monotonic()
        proc.send_signal(signal.SIGINT)
        rest, _ = proc.communicate(timeout=20)
        took = time.monotonic() - sent
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, "".join(seen) + rest
    assert took < 10
    (line,) = interrupt_lines("".join(seen) + rest)
    assert "kept cluster fake" in line
    assert "delete" not in [c["call"] for c in calls_of(pytester.path)]
