"""No secret byte reaches artifacts/ or report/ (issue 14, item 3).

A chart with a Secret (``data`` and ``stringData``), a ``password`` value, a token under a key that
names a secret and a value only the contract lists as sensitive; its pod prints the password and its
base64 to its log, and an Event quotes the token. Diagnostics are collected the way the ``namespace``
fixture does after a failed test (the namespace's Secrets learned first, then
``diagnostics.collect_safely`` with the run's helm), a record whose reason quotes the password is
written to scenarios.json and the gate report is rendered from it; then every file under the
artifacts and report directories is searched for each secret, raw and base64.
"""
from __future__ import annotations

import base64
import datetime as dt
import uuid
from pathlib import Path

import pytest
import yaml
from kubernetes import client

from harness.k8s import diagnostics
from harness.k8s.wait import wait_for
from harness.report.render import GateInfo, load_results, write_report
from harness.scenario.result import ScenarioResult, write_results
from harness.tools.helm import Helm

pytestmark = pytest.mark.cluster

SENSITIVE = ("listed.plain",)  # what a contract's sensitiveValues would say


def _chart(root: Path, image: str) -> Path:
    chart = root / "secretive"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: secretive\nversion: 0.1.0\n")
    (chart / "values.yaml").write_text("password: \"\"\nauth: {apiToken: \"\"}\nlisted: {plain: \"\"}\n")
    (chart / "templates" / "secret.yaml").write_text(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: secretive\ntype: Opaque\n"
        "data:\n  password: {{ .Values.password | b64enc }}\n"
        "stringData:\n  token: {{ .Values.auth.apiToken | quote }}\n")
    (chart / "templates" / "configmap.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: secretive\n"
        "data:\n  encoded: {{ .Values.password | b64enc | quote }}\n  listed: {{ .Values.listed.plain | quote }}\n")
    (chart / "templates" / "deployment.yaml").write_text(f"""\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: secretive
spec:
  replicas: 1
  selector: {{matchLabels: {{app: secretive}}}}
  template:
    metadata: {{labels: {{app: secretive}}}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
        - name: app
          image: {image}
          imagePullPolicy: Never
          env:
            - name: PASSWORD
              valueFrom: {{secretKeyRef: {{name: secretive, key: password}}}}
            - name: TOKEN
              valueFrom: {{secretKeyRef: {{name: secretive, key: token}}}}
            - name: LISTED
              value: {{{{ .Values.listed.plain | quote }}}}
            - name: ENCODED  # the password's base64, from the ConfigMap (no base64 applet needed)
              valueFrom: {{configMapKeyRef: {{name: secretive, key: encoded}}}}
          command: ["sh", "-c"]
          args:
            - >-
              echo "connecting with password=$PASSWORD";
              echo "password base64=$ENCODED";
              echo "token=$TOKEN listed=$LISTED";
              echo "logged-all-secrets";
              exec sleep 3600
""")
    return chart


def _forms(secret: str) -> set[bytes]:
    raw = secret.encode()
    std, url = base64.b64encode(raw), base64.urlsafe_b64encode(raw)
    return {raw, std, std.rstrip(b"="), url, url.rstrip(b"=")}


def test_no_secret_byte_reaches_artifacts_or_report(cluster, kube_api, namespace, helm, helm_home, harness_config,
                                                    toolbox, tmp_path):
    password = "pw-" + uuid.uuid4().hex[:20]
    token = "tok-" + uuid.uuid4().hex[:20]
    listed = "listed-" + uuid.uuid4().hex[:16]
    values = tmp_path / "values.yaml"
    values.write_text(yaml.safe_dump({"password": password, "auth": {"apiToken": token}, "listed": {"plain": listed}}))
    helm.install("secretive", _chart(tmp_path, toolbox), values=[values], wait=True, timeout=180)

    core = client.CoreV1Api(kube_api)

    def logged() -> tuple[bool, str]:
        pods = core.list_namespaced_pod(namespace, label_selector="app=secretive").items
        if not pods:
            return False, "no pod yet"
        text = core.read_namespaced_pod_log(pods[0].metadata.name, namespace, container="app")
        return "logged-all-secrets" in text, f"log so far: {text[-200:]!r}"
    wait_for(logged, timeout=120, interval=1, what="the pod printed its secrets")
    now = dt.datetime.now(dt.UTC)
    core.create_namespaced_event(namespace, client.CoreV1Event(
        metadata=client.V1ObjectMeta(name=f"secretive.{uuid.uuid4().hex[:8]}"),
        involved_object=client.V1ObjectReference(kind="ConfigMap", name="secretive", namespace=namespace),
        reason="ConfigInvalid", message=f"rejected token {token}", type="Warning",
        first_timestamp=now, last_timestamp=now, count=1))

    # what the namespace fixture does after a failed test (harness/plugin/session.py)
    artifacts = tmp_path / "artifacts"
    redactor = diagnostics.namespace_redactor(kube_api, namespace, SENSITIVE)
    dest = diagnostics.artifact_dir(artifacts, "tests/cluster/test_secrets_cluster.py::test_fails[secretive]")
    diag_helm = Helm(cluster.kubeconfig, home=helm_home, kube_context=cluster.context or None,
                     binary=harness_config.helm)
    path, error = diagnostics.collect_safely(kube_api, namespace, dest, helm=diag_helm, redactor=redactor,
                                             sensitive_values=SENSITIVE)
    assert error is None and path == dest, error
    # the record of the failed test quotes the password; scenarios.json goes through the run's redactor
    write_results(artifacts / "scenarios.json", [ScenarioResult(
        scenario="upgrade", chart="secretive", variant="default", control=None, outcome="FAIL",
        reason=f"install failed: password {password} rejected", test_id="t")], redactor=redactor)
    report = tmp_path / "report"
    write_report(load_results(artifacts), GateInfo(exit_code=1, why="a scenario failed"), report_dir=report,
                 artifacts_dir=artifacts)

    # the evidence is there (so the search below is not vacuous) and says what it hides
    log = next((dest / "logs").rglob("app.log")).read_text()
    assert "connecting with password=<redacted>" in log and "password base64=<redacted>" in log, log
    assert "token=<redacted> listed=<redacted>" in log, log
    assert "rejected token <redacted>" in (dest / "events.txt").read_text()
    manifest = yaml.safe_load_all((dest / "helm" / "secretive" / "manifest.yaml").read_text())
    secret = next(d for d in manifest if d and d.get("kind") == "Secret")
    assert secret["data"] == {"password": f"<redacted {len(password)} bytes>"}
    assert secret["stringData"] == {"token": f"<redacted {len(token)} bytes>"}
    vals = yaml.safe_load((dest / "helm" / "secretive" / "values.yaml").read_text())
    assert vals["password"] == f"<redacted {len(password)} bytes>"
    assert vals["auth"]["apiToken"] == f"<redacted {len(token)} bytes>"
    assert vals["listed"]["plain"] == f"<redacted {len(listed)} bytes>"
    assert (dest / "resources" / "pods.yaml").exists() and (dest / "resources" / "configmaps.yaml").exists()
    assert (report / "index.html").exists()

    leaks = []
    files = [p for d in (artifacts, report) for p in d.rglob("*") if p.is_file()]
    assert len(files) >= 10, files
    for p in files:
        data = p.read_bytes()
        for name, secret_text in (("password", password), ("token", token), ("listed value", listed)):
            for form in _forms(secret_text):
                if form in data:
                    leaks.append(f"{p.relative_to(tmp_path)}: the {name} ({form.decode()!r})")
    assert not leaks, "secrets written:\n" + "\n".join(leaks)
