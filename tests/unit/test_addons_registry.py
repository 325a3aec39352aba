"""The add-on registry, the model's input checks and the idempotency decision (no cluster)."""
from __future__ import annotations

import pytest

from harness.core import runs
from harness.core.errors import EnvironmentNotReady, UsageError
from harness.env.addons import catalog
from harness.env.addons.engine import (
    ChartSource,
    decide_release,
    pending_recovery,
    run_is_over,
)


def test_builtin_addons_are_registered():
    assert {"traefik", "ingress-nginx", "cert-manager", "postgres"} <= set(catalog.names())
    for name in catalog.names():
        a = catalog.get(name)
        assert a.name == name
        assert a.summary, f"{name} has no summary"


def test_unknown_name_suggests_the_closest():
    with pytest.raises(UsageError, match=r"unknown add-on 'trafik'; did you mean 'traefik'\?"):
        catalog.get("trafik")


def test_unknown_name_without_close_match_lists_known_ones():
    with pytest.raises(UsageError, match=r"unknown add-on 'zzz'; known add-ons: cert-manager, ingress-nginx"):
        catalog.get("zzz")


def test_resolve_keeps_order_and_accepts_none():
    assert [a.name for a in catalog.resolve(["postgres", "traefik"])] == ["postgres", "traefik"]
    assert catalog.resolve(["none"]) == []
    assert catalog.resolve([]) == []


def test_resolve_rejects_a_name_twice():
    with pytest.raises(UsageError, match="'traefik' is listed twice"):
        catalog.resolve(["traefik", "postgres", "traefik"])


def test_resolve_rejects_two_ingress_controllers():
    with pytest.raises(UsageError, match="traefik and ingress-nginx are both ingress controllers"):
        catalog.resolve(["traefik", "ingress-nginx"])


@pytest.mark.parametrize("kind,location,msg", [
    ("git", "x", "kind must be repo, oci or dir"),
    ("oci", "registry.example/charts/x", "must start with oci://"),
    ("repo", "charts.example", "must be an http"),
])
def test_chart_source_rejects_bad_input(kind, location, msg):
    with pytest.raises(UsageError, match=msg):
        ChartSource(kind, location, "x", "1.0.0")


def test_chart_source_needs_a_version():
    with pytest.raises(UsageError, match="a pinned version is required"):
        ChartSource("repo", "https://charts.example", "x", "")


def test_chart_source_describes_itself():
    assert ChartSource("repo", "https://charts.jetstack.io", "cert-manager", "v1.21.2").describe() == \
        "chart cert-manager v1.21.2 from https://charts.jetstack.io"
    assert ChartSource("oci", "oci://r.example/c/x", "x", "1.2.3").describe() == "chart oci://r.example/c/x:1.2.3"


# --------------------------------------------------------------------------- idempotency

ROW = {"name": "traefik", "namespace": "harness-traefik", "status": "deployed", "chart": "harness-traefik-0.1.0"}
VALUES = {"image": {"repository": "harness/traefik", "tag": "v3.6.12"}}


def test_absent_release_is_installed():
    assert decide_release(None, "harness-traefik-0.1.0", VALUES, None) == "install"


def test_same_version_and_values_is_left_alone():
    same = {"image": {"tag": "v3.6.12", "repository": "harness/traefik"}}  # key order does not matter
    assert decide_release(ROW, "harness-traefik-0.1.0", VALUES, same) == "present"


def test_other_chart_version_is_upgraded():
    assert decide_release(ROW, "harness-traefik-0.2.0", VALUES, VALUES) == "upgrade"


def test_other_values_are_upgraded():
    other = {"image": {"repository": "harness/traefik", "tag": "v3.6.11"}}
    assert decide_release(ROW, "harness-traefik-0.1.0", VALUES, other) == "upgrade"


def test_failed_release_is_upgraded():
    assert decide_release({**ROW, "status": "failed"}, "harness-traefik-0.1.0", VALUES, None) == "upgrade"


def test_pending_release_is_a_clear_error():
    with pytest.raises(EnvironmentNotReady, match=r"traefik: release traefik in namespace harness-traefik is "
                                                  r"pending-install .*helm rollback traefik -n harness-traefik"):
        decide_release({**ROW, "status": "pending-install"}, "harness-traefik-0.1.0", VALUES, None, name="traefik")


PENDING = {**ROW, "namespace": "harness-traefik", "revision": "4", "status": "pending-upgrade"}


def test_a_pending_upgrade_a_dead_run_left_is_rolled_back():
    assert pending_recovery("traefik", PENDING, "20261130-1-abcd", run_over=True) == "rollback"
    assert pending_recovery("traefik", {**PENDING, "status": "pending-rollback"}, "r", run_over=True) == "rollback"


def test_a_pending_install_a_dead_run_left_is_uninstalled():
    assert pending_recovery("traefik", {**PENDING, "status": "pending-install", "revision": "1"}, "r",
                            run_over=True) == "uninstall"


def test_a_pending_release_of_a_live_run_is_left_alone_with_the_command_that_frees_it():
    with pytest.raises(EnvironmentNotReady, match=r"^traefik: release traefik in namespace harness-traefik is "
                                                  r"pending-upgrade \(harness run r1 is still running it\); wait .*"
                                                  r"`helm rollback traefik -n harness-traefik`$"):
        pending_recovery("traefik", PENDING, "r1", run_over=False)


def test_a_pending_release_no_harness_run_labelled_is_left_alone():
    with pytest.raises(EnvironmentNotReady, match=r"no harness run labelled it.*`helm uninstall traefik -n "
                                                  r"harness-traefik`"):
        pending_recovery("traefik", {**PENDING, "status": "pending-install"}, None, run_over=True)


def test_a_run_is_over_when_its_record_is_gone_or_its_pid_is_dead(tmp_path, monkeypatch):
    import os
    monkeypatch.setenv("HARNESS_CACHE", str(tmp_path))
    assert run_is_over("20261130-000000-gone")
    assert not (runs.runs_root() / "20261130-000000-gone").exists(), "asking must not leave a directory behind"
    runs.write_owner(runs.run_dir("20261130-000000-live") / runs.OWNER_FILE, runs.owner_now("20261130-000000-live"))
    assert not run_is_over("20261130-000000-live")  # this process
    dead = runs.Owner("20261130-000000-dead", pid=2 ** 22 + 12345, host=runs.this_host())
    runs.write_owner(runs.run_dir(dead.run_id) / runs.OWNER_FILE, dead)
    assert run_is_over(dead.run_id)
    assert os.getpid() != dead.pid
