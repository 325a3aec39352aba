"""Secrets never reach artifacts: Secret objects keep keys and lose data, values are redacted by key
and by contract path, and every secret (raw, base64, embedded in base64, JSON-escaped) is replaced
wherever it appears in text; diagnostics write through it."""
from __future__ import annotations

import base64
import gzip
import json

import pytest
import yaml
from kubernetes import client

from harness.core.artifacts import scrub_tree, write_text
from harness.core.contract import load
from harness.core.errors import UsageError
from harness.core.redact import (
    Redactor,
    manifest_secrets,
    redact_manifest,
    redact_values,
    redactor_for,
    sensitive_key,
)
from harness.k8s.diagnostics import collect, release_secrets_redactor

PASSWORD = "s3cr3t-Pa55word!"
TOKEN = "tok-0123456789abcdef"
b64 = base64.b64encode(PASSWORD.encode()).decode()

MANIFEST = f"""---
# Source: app/templates/configmap.yaml
apiVersion: v1
kind: ConfigMap
metadata:
  name: app-config
data:
  greeting: hello
---
# Source: app/templates/secret.yaml
apiVersion: v1
kind: Secret
metadata:
  name: app-secret
type: Opaque
data:
  password: {b64}
stringData:
  token: {TOKEN}
---
# Source: app/templates/deployment.yaml
apiVersion: apps/v1
kind: Deployment
metadata:
  name: app
spec:
  replicas: 2
"""


def test_secret_in_a_multi_document_manifest_keeps_its_keys_and_loses_its_data():
    out = redact_manifest(MANIFEST)
    docs = [d for d in yaml.safe_load_all(out) if d]
    assert [d["kind"] for d in docs] == ["ConfigMap", "Secret", "Deployment"]
    secret = docs[1]
    assert secret["data"] == {"password": f"<redacted {len(PASSWORD)} bytes>"}
    assert secret["stringData"] == {"token": f"<redacted {len(TOKEN)} bytes>"}
    assert secret["metadata"] == {"name": "app-secret"} and secret["type"] == "Opaque"
    assert docs[0]["data"] == {"greeting": "hello"} and docs[2]["spec"] == {"replicas": 2}
    assert "# Source: app/templates/secret.yaml" in out and "# Source: app/templates/configmap.yaml" in out
    assert b64 not in out and TOKEN not in out and PASSWORD not in out
    assert manifest_secrets(MANIFEST) == {PASSWORD.encode(), TOKEN.encode()}


def test_a_manifest_without_secrets_is_left_byte_for_byte():
    plain = MANIFEST.split("---\n# Source: app/templates/secret.yaml")[0]
    assert redact_manifest(plain) == plain


def test_an_unparsable_manifest_is_hidden_whole():
    broken = f"kind: Secret\ndata: {{password: {b64}\n  : ]["
    out = redact_manifest(broken)
    assert out.startswith("<redacted ") and b64 not in out


def test_kubectl_last_applied_annotation_of_a_secret_is_redacted():
    doc = {"kind": "Secret", "metadata": {"name": "s", "annotations": {
        "kubectl.kubernetes.io/last-applied-configuration": json.dumps({"data": {"password": b64}})}},
        "data": {"password": b64}}
    out = Redactor().objects([doc])[0]
    assert b64 not in json.dumps(out)
    assert out["metadata"]["name"] == "s"


@pytest.mark.parametrize("key, sensitive", [
    ("password", True), ("DB_PASSWORD", True), ("apiKey", True), ("existingSecret", True), ("dsn", True),
    ("credentials", True), ("authToken", True), ("replicas", False), ("image", False), ("host", False)])
def test_sensitive_keys(key, sensitive):
    assert sensitive_key(key) is sensitive


def test_nested_values_are_redacted_by_key_and_by_contract_path():
    values = {
        "replicaCount": 2,
        "image": {"repository": "demo", "tag": "1.0.0"},
        "database": {"auth": {"username": "app", "password": PASSWORD, "enabled": True}, "dsn": None},
        "apiTokens": ["first-token-value", "second-token-value"],
        "oidc": {"client": {"id": "web", "value": "listed-by-contract"}},
        "metrics": {"enabled": False},
        "tls": {"secretName": ""},
    }
    out = redact_values(values, ["oidc.client"])
    assert out["replicaCount"] == 2 and out["image"] == {"repository": "demo", "tag": "1.0.0"}
    assert out["database"]["auth"] == {"username": "app", "password": f"<redacted {len(PASSWORD)} bytes>",
                                       "enabled": True}
    assert out["database"]["dsn"] is None  # nothing to hide
    assert out["apiTokens"] == ["<redacted 17 bytes>", "<redacted 18 bytes>"]
    assert out["oidc"]["client"] == {"id": "<redacted 3 bytes>", "value": "<redacted 18 bytes>"}
    assert out["metrics"] == {"enabled": False} and out["tls"] == {"secretName": ""}  # nothing to hide
    assert values["database"]["auth"]["password"] == PASSWORD  # the input is not changed
    # without the contract path the same subtree is kept (its keys name nothing secret)
    assert redact_values(values)["oidc"] == values["oidc"]


def test_a_password_in_a_log_line_and_its_base64_are_replaced():
    r = redactor_for(manifests=[MANIFEST])
    basic = base64.b64encode(f"admin:{PASSWORD}".encode()).decode()
    log = (f"connecting with password={PASSWORD}\n"
           f"env DB_PASSWORD_B64={b64}\n"
           f"urlsafe {base64.urlsafe_b64encode(PASSWORD.encode()).decode().rstrip('=')}\n"
           f"Authorization: Basic {basic}\n"
           f'json {json.dumps({"p": PASSWORD})}\n'
           f"token {TOKEN} ok\n")
    out = r.text(log)
    assert PASSWORD not in out and b64 not in out and TOKEN not in out
    assert base64.urlsafe_b64encode(PASSWORD.encode()).decode().rstrip("=") not in out
    assert "connecting with password=<redacted>" in out and "token <redacted> ok" in out
    # the credential inside the longer base64 text is cut: it no longer decodes to the password
    basic_line = next(ln for ln in out.splitlines() if ln.startswith("Authorization"))
    assert "<redacted>" in basic_line and basic not in basic_line


def test_text_without_secrets_is_unchanged_and_short_secrets_are_not_searched():
    r = Redactor(frozenset({b"abc", PASSWORD.encode()}))
    text = "abc is three letters; nothing secret here"
    assert r.text(text) == text
    assert Redactor().text(text) == text


def test_a_multi_line_secret_is_found_line_by_line_in_a_yaml_dump():
    pem = "-----BEGIN KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\nBKcwggSjAgEAAoIBAQC7\n-----END KEY-----\n"
    r = Redactor(frozenset({pem.encode()}))
    dumped = yaml.safe_dump({"data": {"key.pem": pem}})
    out = r.text(dumped)
    assert "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC" not in out and "BKcwggSjAgEAAoIBAQC7" not in out


def test_helm_storage_secret_is_decoded_for_its_manifest_values_and_chart_defaults():
    release = {"name": "app", "version": 1, "manifest": MANIFEST, "config": {"db": {"password": "user-given-pw"}},
               "chart": {"values": {"auth": {"token": "chart-default-tok"}}},
               "hooks": [{"manifest": "kind: Secret\nstringData: {k: hook-secret-value}\n"}]}
    payload = base64.b64encode(gzip.compress(json.dumps(release).encode())).decode()
    storage = {"type": "helm.sh/release.v1", "data": {"release": base64.b64encode(payload.encode()).decode()}}
    other = {"type": "Opaque", "data": {"dsn": base64.b64encode(b"postgres://u:pw-123456@db/x").decode()}}
    r = release_secrets_redactor([storage, other])
    assert r.secrets == {PASSWORD.encode(), TOKEN.encode(), b"user-given-pw", b"chart-default-tok",
                         b"hook-secret-value", b"postgres://u:pw-123456@db/x"}
    # the storage Secret's own payload is not a "secret" to search for (it is never written)
    assert payload.encode() not in r.secrets
    # an undecodable storage Secret is skipped, not fatal
    assert release_secrets_redactor([{"type": "helm.sh/release.v1", "data": {"release": "!!"}}]).secrets == set()


def test_write_text_and_scrub_tree(tmp_path):
    r = Redactor(frozenset({PASSWORD.encode()}))
    path = write_text(tmp_path / "a" / "log.txt", f"pw {PASSWORD}\n", r)
    assert path.read_text() == "pw <redacted>\n"
    (tmp_path / "verdict.json").write_text(json.dumps({"reason": f"failed with {b64}"}))
    (tmp_path / "plot.png").write_bytes(b"\x89PNG" + PASSWORD.encode())
    (tmp_path / "clean.txt").write_text("nothing\n")
    changed = scrub_tree(tmp_path, r)
    assert [p.name for p in changed] == ["verdict.json"]
    assert b64 not in (tmp_path / "verdict.json").read_text()
    assert (tmp_path / "plot.png").read_bytes().endswith(PASSWORD.encode())  # binary left alone
    assert scrub_tree(tmp_path / "missing", r) == []


def test_collect_writes_helm_values_and_manifest_redacted(tmp_path):
    conf = client.Configuration()
    conf.host = "http://127.0.0.1:9"  # discard port: no Secrets readable, so the helm data must suffice
    conf.retries = False
    api = client.ApiClient(conf)

    class FakeHelm:
        def list(self, namespace):
            return [{"name": "app"}]

        def history(self, release, namespace):
            return [{"revision": 1, "description": f"Install failed: bad password {PASSWORD}"}]

        def get_values(self, release, namespace, all):
            return {"auth": {"password": PASSWORD}, "oidc": {"value": "listed-by-contract"}, "replicas": 1}

        def get_manifest(self, release, namespace):
            return MANIFEST

    dest = tmp_path / "diag"
    dest.mkdir()
    (dest / "verdict.json").write_text(json.dumps({"reason": f"saw token {TOKEN}"}))  # written before the failure
    collect(api, "ns-x", dest, helm=FakeHelm(), sensitive_values=["oidc.value"])
    everything = "".join(p.read_text() for p in dest.rglob("*") if p.is_file())
    for needle in (PASSWORD, b64, TOKEN, "listed-by-contract"):
        assert needle not in everything, needle
    values = yaml.safe_load((dest / "helm/app/values.yaml").read_text())
    assert values == {"auth": {"password": f"<redacted {len(PASSWORD)} bytes>"},
                      "oidc": {"value": "<redacted 18 bytes>"}, "replicas": 1}
    assert "kind: Secret" in (dest / "helm/app/manifest.yaml").read_text()
    assert "<redacted>" in (dest / "helm/app/history.json").read_text()
    assert "list secrets (for redaction)" in (dest / "errors.txt").read_text()


def test_contract_sensitive_values(tmp_path):
    base = "release: app\nscenarios: [drain]\nimages: [demo/app:1.0.0]\ningress: {host: app.test}\n"
    (tmp_path / "harness-contract.yaml").write_text(base + "sensitiveValues: [auth.oidc.clientSecret, db.url]\n")
    assert load(tmp_path).sensitive_values == ("auth.oidc.clientSecret", "db.url")
    (tmp_path / "harness-contract.yaml").write_text(base)
    assert load(tmp_path).sensitive_values == ()
    (tmp_path / "harness-contract.yaml").write_text(base + "sensitiveValues: [ok.path, 'bad path', 3]\n")
    with pytest.raises(UsageError) as err:
        load(tmp_path)
    assert "sensitiveValues: 'bad path' is not a values path" in str(err.value)
    assert "sensitiveValues: 3 is not a values path" in str(err.value)
    (tmp_path / "harness-contract.yaml").write_text(base + "sensitiveValues: auth.token\n")
    with pytest.raises(UsageError, match="sensitiveValues: want a list"):
        load(tmp_path)


def test_set_arguments_and_command_lines_hide_secret_values():
    from harness.core.redact import redact_argv, redact_set

    assert redact_set("image.tag=1.2,auth.password=hunter22,list\\,with=comma") == \
        "image.tag=1.2,auth.password=<redacted 8 bytes>,list\\,with=comma"
    assert redact_set("tokens[0]=abcd") == "tokens[0]=<redacted 4 bytes>"
    assert redact_set("replicas=3") == "replicas=3"
    argv = ["gate", "--chart", "c", "--set", "db.password=pw123", "--set=apiKey=k999", "--values", "v.yaml"]
    assert redact_argv(argv) == ["gate", "--chart", "c", "--set", "db.password=<redacted 5 bytes>",
                                 "--set=apiKey=<redacted 4 bytes>", "--values", "v.yaml"]


def test_secret_references_are_hidden_in_values_but_not_searched_for_in_text():
    values = {"database": {"existingSecret": "postgres", "existingSecretKey": "password", "password": "real-pw-1"},
              "tls": {"secretName": "web-tls"}}
    out = redact_values(values)
    assert out["database"] == {"existingSecret": "<redacted 8 bytes>", "existingSecretKey": "<redacted 8 bytes>",
                               "password": "<redacted 9 bytes>"}
    assert out["tls"] == {"secretName": "<redacted 7 bytes>"}
    r = redactor_for(values=[values])
    assert r.secrets == {b"real-pw-1"}
    assert r.text("connected to postgres with password real-pw-1 (web-tls)") == \
        "connected to postgres with password <redacted> (web-tls)"
    # listed by the contract: searched for whatever its key
    assert redactor_for(values=[values], sensitive_paths=["tls.secretName"]).secrets == {b"real-pw-1", b"web-tls"}
