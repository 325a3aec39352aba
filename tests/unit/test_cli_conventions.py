"""CLI conventions of ``python -m harness``: durations (one parser, harness/core/durations.py),
``--version``, ``--kube-context`` beside ``--kubeconfig``, and ``prog`` as invoked."""
from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from harness.__main__ import SUBCOMMANDS, build_parser, invoked_prog, main
from harness.core.config import load_config
from harness.core.durations import ACCEPTED, argparse_duration, parse_duration
from harness.core.errors import CommandError, EnvironmentNotReady, UsageError
from harness.core.pins import pinned, version_text
from harness.env import cluster as cluster_mod


@pytest.mark.parametrize(("raw", "seconds"), [
    ("90s", 90.0), ("5m", 300.0), ("1h", 3600.0), ("1h30m", 5400.0), ("2m30s", 150.0), ("250ms", 0.25),
    ("1.5s", 1.5), ("300", 300.0), ("2.5", 2.5), (" 5M ", 300.0), (120, 120.0), (0.5, 0.5),
])
def test_durations_accept_seconds_and_helm_style(raw, seconds):
    assert parse_duration(raw, option="--x") == seconds


@pytest.mark.parametrize("raw", ["5x", "soon", "", "m", "1h 30m", "5m-", "1d", "s5", "1e3", "nan", True])
def test_a_bad_duration_is_one_line_naming_the_option_and_the_forms(raw):
    with pytest.raises(UsageError) as err:
        parse_duration(raw, option="install-timeout (option)")
    assert str(err.value) == f"install-timeout (option): {raw!r} is not a duration; use {ACCEPTED}"
    assert err.value.exit_code == 2


@pytest.mark.parametrize("raw", ["0", "0s", "-5", "-1m", 0])
def test_a_duration_must_be_positive(raw):
    with pytest.raises(UsageError, match=r"must be more than 0 seconds$"):
        parse_duration(raw, option="wait-timeout (option)")
    assert parse_duration("0s", option="x", positive=False) == 0.0
    with pytest.raises(UsageError, match=r"^x: '-1s' must not be negative$"):
        parse_duration("-1s", option="x", positive=False)


def test_config_takes_durations_from_every_source(tmp_path):
    (tmp_path / "harness.yaml").write_text("rollout-timeout: 3m\n")
    cfg = load_config({"install-timeout": "1h30m"}, env={"HARNESS_WAIT_TIMEOUT": "90s"}, rootdir=tmp_path, cwd=tmp_path)
    assert (cfg.timeouts.install, cfg.timeouts.rollout, cfg.timeouts.wait, cfg.timeouts.upgrade) == (5400, 180, 90, 300)
    with pytest.raises(UsageError) as err:
        load_config({}, env={"HARNESS_UPGRADE_TIMEOUT": "5 minutes"}, rootdir=tmp_path, cwd=tmp_path)
    assert str(err.value).startswith("upgrade-timeout (env HARNESS_UPGRADE_TIMEOUT): '5 minutes' is not a duration")


def test_argparse_duration_reports_through_the_parser(capsys):
    p = argparse.ArgumentParser(prog="x")
    p.add_argument("--gate-heartbeat", type=argparse_duration("--gate-heartbeat"))
    assert p.parse_args(["--gate-heartbeat", "2m"]).gate_heartbeat == 120.0
    with pytest.raises(SystemExit) as exc:
        p.parse_args(["--gate-heartbeat", "later"])
    assert exc.value.code == 2
    assert f"'later' is not a duration; use {ACCEPTED}" in capsys.readouterr().err


@pytest.mark.parametrize("command", [[], *[[name] for name, *_ in SUBCOMMANDS]])
def test_version_on_the_program_and_every_subcommand(capsys, command):
    with pytest.raises(SystemExit) as exc:
        main([*command, "--version"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    v = pinned()
    assert out == version_text() + "\n"
    assert out.startswith("helm-e2e-harness ")
    for pin in (v["HELM_VERSION"], v["HELM3_VERSION"], v["KIND_VERSION"], v["KUBERNETES_VERSION"]):
        assert pin in out


def test_version_text_names_each_pin():
    values = {"HELM_VERSION": "v9.0.0", "HELM3_VERSION": "v3.1.0", "KUBERNETES_VERSION": "v1.40.1",
              "K8S_1_40": "v1.40.1 kind=v0.40.0 etcd=1 coredns=1 pause=1 containerd=debian runc=debian"}
    second = version_text(values).splitlines()[1]
    assert second == ("pinned: helm v9.0.0 (helm3 v3.1.0), kind v0.40.0, kubectl v1.40.1, Kubernetes v1.40.1 "
                      "(supported: v1.40.1)")


@pytest.mark.parametrize(("argv0", "prog"), [
    ("/venv/lib/python3.12/site-packages/harness/__main__.py", "python -m harness"),
    ("/venv/bin/harness", "harness"), ("", "python -m harness"), ("-m", "python -m harness"),
])
def test_prog_names_the_program_as_invoked(argv0, prog):
    assert invoked_prog(argv0) == prog


def test_help_and_errors_name_the_subcommand_as_invoked(capsys):
    parser = build_parser(prog="harness")
    with pytest.raises(SystemExit):
        parser.parse_args(["gate", "--help"])
    assert capsys.readouterr().out.startswith("usage: harness gate ")
    for name in ("gate", "check", "config", "clean"):
        with pytest.raises(SystemExit) as exc:
            build_parser(prog="python -m harness").parse_args([name, "--bogus"])
        assert exc.value.code == 2
        assert capsys.readouterr().err == (f"harness: error: {name}: unrecognized arguments: --bogus "
                                           f"(see: python -m harness {name} --help)\n")
    with pytest.raises(SystemExit) as exc:
        build_parser(prog="harness").parse_args([])
    assert exc.value.code == 2
    assert capsys.readouterr().err.splitlines() == [
        "harness: error: the following arguments are required: COMMAND (see: harness --help)"]


def test_kube_context_needs_kubeconfig(tmp_path):
    kc = tmp_path / "kubeconfig"
    kc.write_text("apiVersion: v1\nkind: Config\n")
    cfg = load_config({"kubeconfig": str(kc), "kube-context": "staging"}, env={}, rootdir=tmp_path, cwd=tmp_path)
    assert cfg.kube_context == "staging"
    assert cluster_mod.spec_from_config(cfg).kube_context == "staging"
    assert load_config({"kubeconfig": str(kc)}, env={}, rootdir=tmp_path, cwd=tmp_path).kube_context is None
    with pytest.raises(UsageError) as err:
        load_config({}, env={"HARNESS_KUBE_CONTEXT": "staging"}, rootdir=tmp_path, cwd=tmp_path)
    assert str(err.value).startswith("kube-context (env HARNESS_KUBE_CONTEXT): needs kubeconfig")


class _Done:
    def __init__(self, stdout: str = "") -> None:
        self.stdout = stdout


def test_external_cluster_uses_the_given_context(tmp_path, monkeypatch):
    kc = tmp_path / "kubeconfig"
    kc.write_text("x")
    calls: list[list[str]] = []

    def fake_run(argv, **kw):
        calls.append([str(a) for a in argv])
        return _Done("kind-a\nstaging\n" if "get-contexts" in argv else "kind-a\n")

    monkeypatch.setattr(cluster_mod, "run", fake_run)
    monkeypatch.setattr(cluster_mod, "_tool", lambda name, v=None: "/bin/kubectl")
    c = cluster_mod.ensure_cluster(cluster_mod.ClusterSpec(kubeconfig=kc, kube_context="staging"))
    assert (c.name, c.context, c.created) == ("", "staging", False)
    assert calls[-1] == ["/bin/kubectl", "--kubeconfig", str(kc), "--context", "staging", "--request-timeout=10s",
                         "get", "--raw", "/readyz"]
    assert not any("current-context" in a for a in calls)
    # without one: the kubeconfig's current context, still passed explicitly
    calls.clear()
    c = cluster_mod.ensure_cluster(cluster_mod.ClusterSpec(kubeconfig=kc))
    assert c.context == "kind-a" and calls[-1][3:5] == ["--context", "kind-a"]
    with pytest.raises(UsageError) as err:
        cluster_mod.ensure_cluster(cluster_mod.ClusterSpec(kubeconfig=kc, kube_context="prod"))
    assert str(err.value) == f"kube-context: 'prod' is not a context of kubeconfig {kc} (it has: kind-a, staging)"

    def unreachable(argv, **kw):
        if "/readyz" in argv:
            raise CommandError(["kubectl"], 1, "connection refused")
        return _Done("staging\n")

    monkeypatch.setattr(cluster_mod, "run", unreachable)
    with pytest.raises(EnvironmentNotReady):
        cluster_mod.ensure_cluster(cluster_mod.ClusterSpec(kubeconfig=kc, kube_context="staging"))


def test_the_gate_forwards_kube_context_and_durations_to_pytest(tmp_path):
    # the gate hands every harness option to its pytest as --harness-<key> (harness/gate/plan.py)
    from harness.gate.plan import make_plan
    kc = tmp_path / "kubeconfig"
    kc.write_text("x")
    chart = Path(__file__).resolve().parents[2] / "charts-under-test" / "realtime"
    args = build_parser(prog="python -m harness").parse_args(
        ["gate", "--chart", str(chart), "--kubeconfig", str(kc), "--kube-context", "staging", "--wait-timeout", "2m"])
    plan = make_plan(args, cwd=tmp_path, env={})
    assert "--harness-kube-context=staging" in plan.forwarded
    assert "--harness-wait-timeout=2m" in plan.forwarded
    assert plan.cfg.timeouts.wait == 120.0
