"""`python -m harness init`: the detection functions over dict manifests (harness/scenario/survey.py)
and the contract text they become (harness/gate/init.py), without helm."""
from __future__ import annotations

import argparse
from pathlib import Path

import pytest
import yaml

from harness.core import contract as contract_mod
from harness.core.errors import UsageError
from harness.core.values import ChartRef
from harness.gate import init
from harness.scenario import survey as sv

LABELS = {"app": "web"}


def deployment(name="web", replicas=3, *, labels=LABELS, env=(), readiness="/ready", hook=None, image="ex/web:1.1.0"):
    c = {"name": "app", "image": image, "ports": [{"name": "http", "containerPort": 8080}], "env": list(env)}
    if readiness:
        c["readinessProbe"] = {"httpGet": {"path": readiness, "port": "http"}}
        c["livenessProbe"] = {"tcpSocket": {"port": "http"}}
    o = {"kind": "Deployment", "metadata": {"name": name},
         "spec": {"template": {"metadata": {"labels": dict(labels)}, "spec": {"containers": [c]}}}}
    if replicas is not None:
        o["spec"]["replicas"] = replicas
    if hook:
        o["metadata"]["annotations"] = {"helm.sh/hook": hook}
    return o


def ingress(name="web", host="web.test", cls="nginx", paths=("/",), annotations=None):
    o = {"kind": "Ingress", "metadata": {"name": name, "annotations": dict(annotations or {})},
         "spec": {"rules": [{"host": host, "http": {"paths": [{"path": p, "pathType": "Prefix"} for p in paths]}}]}}
    if cls:
        o["spec"]["ingressClassName"] = cls
    return o


def pdb(name="web", selector=LABELS, min_available=1):
    return {"kind": "PodDisruptionBudget", "metadata": {"name": name},
            "spec": {"minAvailable": min_available, "selector": {"matchLabels": dict(selector)}}}


def job(name="migrate", hook="pre-install,pre-upgrade", env=()):
    return {"kind": "Job", "metadata": {"name": name, "annotations": {"helm.sh/hook": hook}},
            "spec": {"template": {"spec": {"containers": [{"name": "m", "image": "ex/web:1.1.0", "env": list(env)}]}}}}


DSN = {"name": "DATABASE_URL", "valueFrom": {"secretKeyRef": {"name": "web-db", "key": "dsn"}}}


def test_routes_read_ingress_and_httproute():
    objs = [ingress(annotations={sv.BUFFERING_OFF: "off"}, paths=("/", "/events")),
            {"kind": "HTTPRoute", "metadata": {"name": "r"},
             "spec": {"hostnames": ["web.test"], "parentRefs": [{"name": "gw", "namespace": "edge", "sectionName": "web"}],
                      "rules": [{"matches": [{"path": {"type": "PathPrefix", "value": "/api"}}]}]}},
            ingress("legacy", cls=None, annotations={"kubernetes.io/ingress.class": "traefik"})]
    rs = sv.routes(objs)
    assert rs[0] == sv.Route("Ingress", "web", ("web.test",), ("/", "/events"), "nginx", buffering_off=True)
    assert rs[1] == sv.Route("HTTPRoute", "r", ("web.test",), ("/api",), None, ("edge/gw/web",))
    assert rs[2].ingress_class == "traefik" and not rs[2].buffering_off


def test_workloads_replicas_hpa_and_daemonset():
    objs = [deployment("a", 3), deployment("b", None), deployment("c", None),
            {"kind": "HorizontalPodAutoscaler", "metadata": {"name": "c"},
             "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "c"}, "minReplicas": 2}},
            {"kind": "DaemonSet", "metadata": {"name": "d"}, "spec": {"template": {"spec": {"containers": []}}}},
            deployment("hooked", 1, hook="pre-upgrade")]
    got = {w.name: (w.replicas, w.min_replicas) for w in sv.workloads(objs)}
    assert got == {"a": (3, 3), "b": (None, 1), "c": (None, 2), "d": (None, None)}


def test_pdbs_cover_the_workloads_they_select():
    objs = [deployment("web"), deployment("other", labels={"app": "other"}), pdb(), pdb("none", {"app": "x"})]
    loads = sv.workloads(objs)
    got = sv.pdbs(objs, loads)
    assert [(p.name, p.covers) for p in got] == [("web", ("Deployment web",)), ("none", ())]
    assert got[0].describe() == "PodDisruptionBudget web (minAvailable 1)"


def test_hooks_mark_migrations_and_leave_chart_tests_out():
    objs = [job(), job("seed", "post-install"),
            {"kind": "Pod", "metadata": {"name": "t", "annotations": {"helm.sh/hook": "test"}}}]
    got = sv.hooks(objs)
    assert [(h.name, h.migration) for h in got] == [("migrate", True), ("seed", False)]


def test_database_settings_from_env_names():
    env = [DSN, {"name": "PGHOST", "value": "db"}, {"name": "CACHE_DSN", "value": "x"}, {"name": "PORT", "value": "1"},
           {"name": "DATABASE_POOL", "value": "5"}]
    got = sv.database_settings([deployment(env=env), job(env=[DSN])])
    assert [(d.name, d.secret, d.key) for d in got] == [
        ("DATABASE_URL", "web-db", "dsn"), ("PGHOST", None, None), ("CACHE_DSN", None, None),
        ("DATABASE_POOL", None, None), ("DATABASE_URL", "web-db", "dsn")]
    assert got[0].where == "Deployment web container app" and got[-1].where == "Job migrate container m"
    assert sv.database_settings([deployment(env=[{"name": "LOG_LEVEL", "value": "x"}])]) == []


def test_survey_collects_everything():
    s = sv.survey([deployment(env=[DSN]), ingress(), pdb(), job(env=[DSN]),
                   {"kind": "Service", "metadata": {"name": "web"}, "spec": {"ports": [{"port": 80}]}}])
    assert s.images == ("ex/web:1.1.0",)
    assert [(p.kind, p.handler, p.path) for p in s.probes] == [("readiness", "httpGet", "/ready"),
                                                                ("liveness", "tcpSocket", None)]
    assert s.services == (sv.ServiceInfo("web", "ClusterIP", ("80",)),)
    assert len(s.database) == 2 and len(s.hooks) == 1 and len(s.pdbs) == 1


HA_VALUES = {"database": {"existingSecret": "", "existingSecretKey": "dsn", "readyTimeoutMs": 1000},
             "sse": {"heartbeatSeconds": 15}, "ingress": {"enabled": True, "className": "nginx"},
             "podDisruptionBudget": {"enabled": True}}
CREATE_VALUES = {"ingress": {"enabled": False, "className": "", "hosts": [{"host": "chart-example.local"}]},
                 "replicaCount": 1}


def test_values_hints():
    h = sv.values_hints(HA_VALUES)
    assert (h.db_secret, h.db_secret_key, h.db_secret_key_default) == ("database.existingSecret",
                                                                       "database.existingSecretKey", "dsn")
    assert h.db_keys == ("database.readyTimeoutMs",)
    assert h.stream_keys == ("sse.heartbeatSeconds",)
    assert (h.ingress_enabled, h.ingress_class, h.pdb_enabled) == ("ingress.enabled", "ingress.className",
                                                                   "podDisruptionBudget.enabled")
    odd = sv.values_hints({"database": {"my.secret": {"existingSecret": ""}, "existingSecret": "",
                                         "existingSecretKey": "k"}})
    assert (odd.db_secret, odd.db_secret_key, odd.db_secret_key_default) == (
        "database.existingSecret", "database.existingSecretKey", "k")  # a key with a dot is not a values path
    h = sv.values_hints(CREATE_VALUES)
    assert h == sv.ValuesHints(ingress_enabled="ingress.enabled", ingress_class="ingress.className")


@pytest.mark.parametrize(("objs", "ok", "why"), [
    ([deployment(replicas=3), pdb()], True, "PodDisruptionBudget web (minAvailable 1) covers Deployment web (at least 3 replicas)"),
    ([deployment(replicas=3)], False, "no PodDisruptionBudget rendered"),
    ([deployment(replicas=1), pdb()], False, "Deployment web runs 1 replica"),
    ([deployment(replicas=3), pdb(selector={"app": "x"})], False, "selects no workload's pods"),
    ([pdb()], False, "no Deployment, StatefulSet or DaemonSet rendered"),
])
def test_drain_needs_a_pdb_over_more_than_one_replica(objs, ok, why):
    got_ok, got_why = sv.drain_ready(sv.survey(objs))
    assert got_ok is ok and why in got_why


def _by_name(proposals):
    return {p.scenario: p for p in proposals}


def test_propose_everything_that_applies():
    s = sv.survey([deployment(env=[DSN]), ingress(paths=("/", "/events")), pdb(), job(env=[DSN])])
    got = _by_name(sv.propose({"default": s}, sv.values_hints(HA_VALUES), released="web 1.0.0"))
    assert list(got) == list(contract_mod.SCENARIOS)
    assert all(p.applies for p in got.values())
    assert "pre-upgrade hook Job migrate" in got["upgrade"].why and "across" in got["rollback"].why
    assert got["sse"].why == "route path /events names a stream (sse.path)"
    assert "database.existingSecret / database.existingSecretKey" in got["db_outage"].why


def test_propose_says_what_to_fill_in():
    s = sv.survey([deployment(replicas=1, env=[DSN]), ingress(annotations={sv.BUFFERING_OFF: "off"})])
    other = sv.survey([deployment(replicas=3), ingress(), pdb()])
    got = _by_name(sv.propose({"default": s, "ha": other}, sv.ValuesHints(stream_keys=("sse.x",)), released=None))
    assert [p.applies for p in got.values()] == [False] * 5
    assert got["upgrade"].why.startswith("fill in: released") and got["rollback"].why == got["upgrade"].why
    assert got["drain"].why.endswith("no PodDisruptionBudget rendered (variant default)")
    assert got["sse"].why.startswith("fill in: sse.path") and "Ingress web turns proxy buffering off" in got["sse"].why
    assert got["db_outage"].why.startswith("fill in: postgres.secretValue") and "env DATABASE_URL" in got["db_outage"].why


def test_propose_nothing_to_test():
    got = _by_name(sv.propose({"default": sv.survey([ingress()])}, sv.ValuesHints(), released="web 1.0.0"))
    assert not got["upgrade"].applies and "no Deployment" in got["upgrade"].why
    assert got["sse"].why.startswith("no sign of an event stream")
    assert got["db_outage"].why.startswith("no database setting found")


# --------------------------------------------------------------------------- the contract text


def _scaffold(tmp_path, objs, hints=sv.ValuesHints(), *, released=True, images=None, sets=()):
    repo = tmp_path / "repo"
    repo.mkdir(exist_ok=True)
    (repo / "index.yaml").write_text("apiVersion: v1\nentries: {}\n")
    chart = tmp_path / "web"
    chart.mkdir(exist_ok=True)
    surveys = {"default": sv.survey(objs)}
    found = init.ReleasedFound("1.0.0", repo) if released else None
    proposals = sv.propose(surveys, hints, released="web 1.0.0" if released else None)
    imgs = sorted(images if images is not None else {i for s in surveys.values() for i in s.images})
    return init.Scaffold("web", "1.1.0", chart / contract_mod.CONTRACT_FILE, ["default"], surveys, hints, proposals,
                         imgs, list(sets), [], found, ("nginx",), chart)


def _write_and_load(sc):
    sc.out.write_text(init.contract_text(sc))
    return contract_mod.load(sc.out), yaml.safe_load(sc.out.read_text())


def test_contract_text_validates_and_enables_what_applies(tmp_path):
    objs = [deployment(env=[DSN]), ingress(paths=("/", "/events")), pdb(), job(env=[DSN])]
    c, raw = _write_and_load(_scaffold(tmp_path, objs, sv.values_hints(HA_VALUES)))
    assert c.scenarios == contract_mod.SCENARIOS and c.api_version == "harness/v2"
    assert contract_mod.schema_problems(raw) == []
    assert (c.probe.host, c.probe.via, c.probe.probe_path, c.probe.ready_path) == ("web.test", "ingress", "/", "/ready")
    assert c.released.chart == "released/web" and c.released.version == "1.0.0"
    assert c.released.repository == tmp_path / "repo"
    assert c.sse.path == "/events"
    assert (c.postgres.secret_value, c.postgres.secret_key_value, c.postgres.secret_key, c.postgres.migration_job) == (
        "database.existingSecret", "database.existingSecretKey", "dsn", True)
    assert c.images == ("ex/web:1.1.0",)
    text = c.path.read_text()
    for name in contract_mod.SCENARIOS:  # one comment per scenario
        assert any(ln.strip().startswith(f"- {name} ") and "#" in ln for ln in text.splitlines())


def test_contract_text_comments_out_what_needs_filling_in(tmp_path):
    objs = [deployment(replicas=1, image="ex/web"), ingress(cls="traefik")]
    sc = _scaffold(tmp_path, objs, released=False, sets=[("image.tag=1", "given to init with --set")])
    c, raw = _write_and_load(sc)
    assert c.scenarios == () and raw["scenarios"] == []
    assert c.released is None and c.sets == ("image.tag=1",)
    text = c.path.read_text()
    assert "# released:" in text and "#   - upgrade" not in text
    lines = text.splitlines()
    assert any(ln.startswith("  # - drain ") and "fill in" not in ln and "1 replica" in ln for ln in lines)
    assert any(ln.startswith("  # - upgrade ") and "fill in: released" in ln for ln in lines)
    assert "# fill in: image ex/web has no tag" in text and c.images == ()
    assert any(ln.startswith("probe:") and "fill in: Ingress web has class traefik" in ln for ln in lines)


def test_contract_text_without_any_route_names_a_placeholder_host(tmp_path):
    c, _ = _write_and_load(_scaffold(tmp_path, [deployment(readiness=None)], released=False))
    assert c.probe.host == "web.test" and c.probe.ready_path == "/"
    assert "fill in: the chart renders no Ingress or HTTPRoute" in c.path.read_text()


def test_release_prefix():
    assert init.release_prefix("My_Chart.v2") == "my-chart-v2"
    assert len(init.release_prefix("x" * 80)) == contract_mod.RELEASE_PREFIX_MAX
    assert init.release_prefix("___") == "release"


def test_released_from_index_picks_the_newest_older_version():
    index = {"entries": {"web": [{"version": "1.0.0"}, {"version": "1.2.0"}, {"version": "0.9.1"},
                                 {"version": "1.1.0"}, {"version": "garbage"}], "other": [{"version": "1.0.5"}]}}
    assert init.released_from_index(index, "web", "1.2.0") == "1.1.0"
    assert init.released_from_index(index, "web", "0.9.0") is None
    assert init.released_from_index(index, "nope", "1.0.0") is None


def test_find_released_looks_beside_the_chart(tmp_path):
    (tmp_path / "web").mkdir()
    (tmp_path / "repo").mkdir()
    assert init.find_released(tmp_path / "web", "web", "1.1.0") is None
    (tmp_path / "repo" / "index.yaml").write_text(yaml.safe_dump({"entries": {"web": [{"version": "1.0.0"}]}}))
    assert init.find_released(tmp_path / "web", "web", "1.1.0") == init.ReleasedFound("1.0.0", tmp_path / "repo")


class _Cfg:
    def __init__(self, charts):
        self.charts = charts


def test_init_refuses_to_overwrite_without_force(tmp_path, monkeypatch):
    chart = tmp_path / "web"
    chart.mkdir()
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: web\nversion: 1.0.0\n")
    (chart / contract_mod.CONTRACT_FILE).write_text("release: web\n")
    args = argparse.Namespace(out=None, force=False)
    with pytest.raises(UsageError) as err:
        init.cmd_init(args, _Cfg((ChartRef(str(chart), "dir"),)))
    assert str(err.value) == (f"init: {chart / contract_mod.CONTRACT_FILE} exists; pass --force to overwrite it "
                              "(or --out FILE to write elsewhere)")
    assert err.value.exit_code == 2
    assert (chart / contract_mod.CONTRACT_FILE).read_text() == "release: web\n"


@pytest.mark.parametrize(("charts", "message"), [
    ((), "init: pass exactly one --chart DIR (a chart directory); got none"),
    ((ChartRef("repo/web", "repo"),), "init: --chart repo/web is not a chart directory"),
])
def test_init_needs_one_chart_directory(charts, message):
    with pytest.raises(UsageError, match=message.replace("(", r"\(").replace(")", r"\)")):
        init.cmd_init(argparse.Namespace(out=None, force=False), _Cfg(charts))


def test_init_names_a_directory_without_chart_yaml(tmp_path):
    with pytest.raises(UsageError, match=r"has no Chart.yaml"):
        init.cmd_init(argparse.Namespace(out=None, force=False), _Cfg((ChartRef(str(tmp_path), "dir"),)))
    assert Path(tmp_path).is_dir()
