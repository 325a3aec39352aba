"""Ctrl-C: the exit-code mapping, the interrupt line, and no thread that could keep an
interrupted process alive (pure: reads the source, starts nothing)."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

from harness.gate.exitcode import exit_code
from harness.plugin.session import EXIT_INTERRUPTED, interrupt_line, is_user_interrupt

ROOT = Path(__file__).resolve().parents[2]


def test_gate_maps_pytests_130_and_a_recorded_interrupt_to_130():
    assert EXIT_INTERRUPTED == 130
    assert exit_code(130, {})[0] == 130
    assert exit_code(130, {"exit": {"kind": "KeyboardInterrupt", "returncode": 130}, "tests": {}})[0] == 130


def test_collection_errors_are_not_an_interrupt():
    code, why, _ = exit_code(2, {"exit": {"kind": "Interrupted", "returncode": 2, "message": "1 error"},
                                 "collect_errors": ["scenarios/x: SyntaxError"], "tests": {}})
    assert code == 3 and "collecting" in why


def test_user_interrupts_are_told_from_pytests_own_stops():
    assert is_user_interrupt(KeyboardInterrupt())
    assert not is_user_interrupt(pytest.Session.Interrupted("1 error during collection"))
    assert not is_user_interrupt(RuntimeError("x"))


def test_xdist_ending_the_run_is_a_user_interrupt_only_when_a_worker_got_the_ctrl_c():
    xdist = pytest.importorskip("xdist.dsession")
    assert not is_user_interrupt(xdist.Interrupted("harness: cluster: kind cluster 'x' could not be created"))
    assert is_user_interrupt(xdist.Interrupted("<WorkerController gw0> received keyboard-interrupt"))


class _Cluster:
    name = "harness"
    kubeconfig = Path("/c/clusters/harness/kubeconfig")


class _External:
    name = ""
    kubeconfig = Path("/k")


def test_the_interrupt_line_names_cluster_kubeconfig_and_clean():
    line = interrupt_line("r1", _Cluster(), created=True)
    assert line.startswith("interrupted: run r1 kept cluster harness (created by this run; kubeconfig "
                           "/c/clusters/harness/kubeconfig)")
    assert "helm-e2e-harness/run-id=r1" in line and line.endswith("python -m harness clean")
    assert "not created by this run" in interrupt_line("r1", _Cluster(), created=False)
    assert "(no cluster was ready)" in interrupt_line("r1", None, created=False)
    assert "(the external cluster)" in interrupt_line("r1", _External(), created=False)
    assert "\n" not in line


def _threads_without_daemon(path: Path) -> list[str]:
    bad = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", "")) == "Thread":
            daemon = [k for k in node.keywords if k.arg == "daemon"]
            if not daemon or not (isinstance(daemon[0].value, ast.Constant) and daemon[0].value.value is True):
                bad.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    return bad


def test_every_harness_thread_is_a_daemon():
    """A non-daemon thread (a prober, a stream reader) would keep an interrupted run alive at exit."""
    bad = [b for p in sorted((ROOT / "harness").rglob("*.py")) for b in _threads_without_daemon(p)]
    assert bad == []


def test_the_daemon_check_fails_on_a_plain_thread(tmp_path, monkeypatch):
    monkeypatch.setattr(Path, "relative_to", lambda self, other: self.name)
    src = tmp_path / "t.py"
    src.write_text("import threading\nthreading.Thread(target=print)\nthreading.Thread(target=print, daemon=True)\n")
    assert _threads_without_daemon(src) == ["t.py:2"]
