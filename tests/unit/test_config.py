"""Configuration: precedence CLI > HARNESS_* env > config file > default, validation messages."""
from __future__ import annotations

from pathlib import Path

import pytest
from support import make_chart_tgz

from harness.core.config import OPTIONS, format_config, load_config
from harness.core.errors import UsageError

ROOT = Path(__file__).resolve().parents[2]


def cfg(tmp_path, cli=None, env=None, file_text=None, **kw):
    if file_text is not None:
        (tmp_path / "harness.yaml").write_text(file_text)
    return load_config(cli or {}, env=env or {}, rootdir=tmp_path, cwd=tmp_path, **kw)


def test_defaults(tmp_path):
    c = cfg(tmp_path)
    assert c.cluster_name == "harness"
    assert c.keep_cluster == "on-failure"
    assert c.image_source == "auto"
    assert c.reuse_cluster is False
    assert c.kubernetes_version.startswith("v1.")
    assert c.artifacts_dir == tmp_path / "artifacts"
    assert c.timeouts.install == 300 and c.timeouts.rollout == 180
    assert c.addons == ("traefik", "cert-manager", "postgres")
    assert all(s == "default" for s in c.sources.values())


def test_precedence_cli_over_env_over_file_over_default(tmp_path):
    file_text = "cluster-name: from-file\nkeep_cluster: always\nwait-timeout: 11\nimage-source: pull\n"
    env = {"HARNESS_CLUSTER_NAME": "from-env", "HARNESS_KEEP_CLUSTER": "never"}
    c = cfg(tmp_path, cli={"cluster-name": "from-cli"}, env=env, file_text=file_text)
    assert c.cluster_name == "from-cli" and c.sources["cluster-name"] == "option"
    assert c.keep_cluster == "never" and c.sources["keep-cluster"] == "env HARNESS_KEEP_CLUSTER"
    assert c.timeouts.wait == 11 and c.sources["wait-timeout"].startswith("file ")
    assert c.image_source == "pull"
    assert c.reuse_cluster is False and c.sources["reuse-cluster"] == "default"


def test_pytest_dest_names_are_accepted_and_none_means_not_given(tmp_path):
    c = cfg(tmp_path, cli={"harness_cluster_name": None, "harness_keep_cluster": "always"},
            env={"HARNESS_CLUSTER_NAME": "envname"})
    assert c.cluster_name == "envname"
    assert c.keep_cluster == "always"


def test_list_from_highest_source_wins_whole(tmp_path):
    c = cfg(tmp_path, env={"HARNESS_ADDONS": "postgres,cert-manager"}, file_text="addons: [traefik]\n")
    assert c.addons == ("postgres", "cert-manager")
    c = cfg(tmp_path, cli={"addons": ["ingress-nginx"]}, env={"HARNESS_ADDONS": "postgres"})
    assert c.addons == ("ingress-nginx",)
    assert cfg(tmp_path, env={"HARNESS_ADDONS": "none"}).addons == ()


def test_bool_parsing(tmp_path):
    assert cfg(tmp_path, env={"HARNESS_REUSE_CLUSTER": "yes"}).reuse_cluster is True
    assert cfg(tmp_path, cli={"reuse-cluster": True}, env={"HARNESS_REUSE_CLUSTER": "0"}).reuse_cluster is True
    with pytest.raises(UsageError, match=r"reuse-cluster \(env HARNESS_REUSE_CLUSTER\): 'maybe' is not a boolean"):
        cfg(tmp_path, env={"HARNESS_REUSE_CLUSTER": "maybe"})


@pytest.mark.parametrize(("cli", "env", "message"), [
    ({"keep-cluster": "sometimes"}, {},
     "keep-cluster (option): 'sometimes' is not one of never, on-failure, always"),
    ({}, {"HARNESS_IMAGE_SOURCE": "docker"},
     "image-source (env HARNESS_IMAGE_SOURCE): 'docker' is not one of auto, pull, local"),
    ({"install-timeout": "0"}, {}, "install-timeout (option): '0' must be more than 0 seconds"),
    ({"rollout-timeout": "soon"}, {}, "rollout-timeout (option): 'soon' is not a duration; use seconds (300) or a duration like 90s, 5m, 1h, 1h30m"),
    ({"addons": ["traefik", "nginx"]}, {},
     "addons (option): 'nginx' is not one of traefik, ingress-nginx, cert-manager, postgres"),
    ({"cluster-name": "My_Cluster"}, {}, "cluster-name (option): 'My_Cluster' must be lowercase"),
    ({"kubernetes-version": "1.33"}, {}, "kubernetes-version (option): '1.33' is not a version like v1.37.2"),
    ({"set": ["replicas"]}, {}, "set (option): 'replicas': 'replicas' has no '='"),
])
def test_invalid_values_name_key_source_and_allowed(tmp_path, cli, env, message):
    with pytest.raises(UsageError) as err:
        cfg(tmp_path, cli=cli, env=env)
    assert message in str(err.value)
    assert err.value.exit_code == 2
    assert "\n" not in str(err.value)


def test_unknown_config_file_key_suggests(tmp_path):
    with pytest.raises(UsageError, match=r"unknown key 'keep-clustr'; did you mean 'keep-cluster'\?"):
        cfg(tmp_path, file_text="keep-clustr: always\n")


def test_config_file_invalid_yaml_names_line(tmp_path):
    with pytest.raises(UsageError, match=r"harness.yaml is not valid YAML at line 2"):
        cfg(tmp_path, file_text="cluster-name: a\n  bad: [\n")


def test_explicit_config_file_missing(tmp_path):
    with pytest.raises(UsageError, match=r"config file .*nope.yaml does not exist"):
        cfg(tmp_path, config_file=tmp_path / "nope.yaml")


def test_config_file_from_env_and_relative_paths_resolve_against_it(tmp_path):
    sub = tmp_path / "conf"
    sub.mkdir()
    (sub / "kind.yaml").write_text("kind: Cluster\n")
    (sub / "v.yaml").write_text("a: 1\n")
    (sub / "my.yaml").write_text("kind-config: kind.yaml\nvalues: [v.yaml]\nartifacts-dir: out\n")
    c = cfg(tmp_path, env={"HARNESS_CONFIG": str(sub / "my.yaml")})
    assert c.config_file == sub / "my.yaml"
    assert c.kind_config == sub / "kind.yaml"
    assert c.values == (sub / "v.yaml",)
    assert c.artifacts_dir == sub / "out"


def test_missing_files_are_reported(tmp_path):
    with pytest.raises(UsageError, match=r"kind-config \(option\): file .*missing.yaml does not exist"):
        cfg(tmp_path, cli={"kind-config": "missing.yaml"})
    with pytest.raises(UsageError, match=r"kubeconfig \(env HARNESS_KUBECONFIG\): file .* does not exist"):
        cfg(tmp_path, env={"HARNESS_KUBECONFIG": str(tmp_path / "kc")})


def test_kubeconfig_conflicts_with_kind_settings(tmp_path):
    (tmp_path / "kc").write_text("apiVersion: v1\n")
    with pytest.raises(UsageError, match=r"kubeconfig \(option\) and reuse-cluster \(env HARNESS_REUSE_CLUSTER\) "
                                         r"conflict"):
        cfg(tmp_path, cli={"kubeconfig": "kc"}, env={"HARNESS_REUSE_CLUSTER": "true"})
    assert cfg(tmp_path, cli={"kubeconfig": "kc"}).external_cluster


def test_charts_forms_and_errors(tmp_path):
    chart = tmp_path / "charts-under-test" / "web"
    chart.mkdir(parents=True)
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: web\nversion: 0.1.0\n")
    make_chart_tgz(tmp_path / "web-0.1.0.tgz")
    c = cfg(tmp_path, cli={"chart": ["charts-under-test/web", "web-0.1.0.tgz", "harness-charts/realtime",
                                     "oci://registry.test/charts/web"], "chart-version": "1.0.0"})
    kinds = [(r.kind, r.version) for r in c.charts]
    assert kinds == [("dir", None), ("tgz", None), ("repo", "1.0.0"), ("oci", "1.0.0")]
    assert c.charts[0].ref == str(chart)
    assert c.charts[2].argv() == ["harness-charts/realtime", "--version", "1.0.0"]
    # A mistyped local path is not taken for repo/name when its first part is a local directory.
    with pytest.raises(UsageError, match=r"chart \(option\): chart path charts-under-test/wbe does not exist"):
        cfg(tmp_path, cli={"chart": ["charts-under-test/wbe"]})
    with pytest.raises(UsageError, match=r"is not a chart directory \(no Chart.yaml"):
        cfg(tmp_path, cli={"chart": ["charts-under-test"]})
    with pytest.raises(UsageError, match=r"chart-version \(option\): '2.0.0' needs a repo/name or oci:// chart"):
        cfg(tmp_path, cli={"chart": ["charts-under-test/web"], "chart-version": "2.0.0"})


def test_invalid_values_yaml_is_one_clear_line(tmp_path):
    (tmp_path / "bad.yaml").write_text("image:\n  tag: [1.0\n")
    (tmp_path / "list.yaml").write_text("- a\n- b\n")
    with pytest.raises(UsageError) as err:
        cfg(tmp_path, cli={"values": ["bad.yaml"]})
    assert "values (option): values file" in str(err.value) and "is not valid YAML at line 3" in str(err.value)
    assert "\n" not in str(err.value)
    with pytest.raises(UsageError, match=r"must hold a mapping, not a list"):
        cfg(tmp_path, cli={"values": ["list.yaml"]})


def test_format_config_lists_every_key_with_source(tmp_path):
    c = cfg(tmp_path, cli={"cluster-name": "x"}, env={"HARNESS_WAIT_TIMEOUT": "5"})
    text = format_config(c)
    for o in OPTIONS:
        assert any(line.startswith(o.key + " ") for line in text.splitlines()), o.key
    assert any(line.startswith("cluster-name") and line.endswith("(option)") for line in text.splitlines())
    assert any(line.startswith("wait-timeout") and "5" in line and "(env HARNESS_WAIT_TIMEOUT)" in line
               for line in text.splitlines())


def test_addon_names_match_the_addon_registry():
    catalog = pytest.importorskip("harness.env.addons.catalog")
    from harness.core.config import KNOWN_ADDONS

    assert sorted(KNOWN_ADDONS) == catalog.names()


def test_every_option_documented():
    doc = (ROOT / "docs" / "configuration.md").read_text()
    for o in OPTIONS:
        assert f"`--{o.key}`" in doc and f"`{o.env}`" in doc, o.key


def test_an_unsupported_kubernetes_version_is_one_line_naming_the_supported_ones(tmp_path):
    from harness.core.pins import supported_kubernetes

    with pytest.raises(UsageError) as err:
        cfg(tmp_path, cli={"kubernetes_version": "v1.33.1"})
    assert str(err.value) == ("kubernetes-version (option): v1.33.1 is not supported; choose one of "
                              + ", ".join(supported_kubernetes()))
    kubeconfig = tmp_path / "kc"
    kubeconfig.write_text("apiVersion: v1\n")
    assert cfg(tmp_path, cli={"kubernetes_version": "v1.33.1", "kubeconfig": kubeconfig}).kubernetes_version == "v1.33.1"
