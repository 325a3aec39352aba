"""Fakes for the observation tests (imported as a plain module): helm storage Secrets built the way
helm's encodeRelease builds them (pkg/storage/driver/util.go), a fake Secret reader, and pods."""
from __future__ import annotations

import base64
import gzip
import json

from unit_helpers import kobj

from harness.k8s.release_store import StoredRevision, revisions_from_items, secret_name

MANIFEST_V1 = """---
# Source: demo/templates/deployment.yaml
apiVersion: apps/v1
kind: Deployment
metadata:
  name: demo
spec:
  replicas: 2
  selector:
    matchLabels: {app: demo}
  template:
    metadata: {labels: {app: demo}}
    spec:
      containers:
        - name: web
          image: demo:1.0
          readinessProbe: {httpGet: {path: /healthz, port: 8080}, periodSeconds: 2}
---
apiVersion: v1
kind: Service
metadata:
  name: demo
"""
MANIFEST_V2 = MANIFEST_V1.replace("demo:1.0", "demo:2.0")


def release_json(name: str, revision: int, manifest: str, status: str = "deployed",
                 description: str = "Install complete") -> dict:
    return {"name": name, "namespace": "ns", "version": revision, "manifest": manifest,
            "info": {"status": status, "description": description,
                     "last_deployed": f"2026-01-01T00:00:0{revision}Z"},
            "chart": {"metadata": {"name": "demo", "version": f"0.{revision}.0", "appVersion": f"{revision}.0"}},
            "config": {}}


def helm_encode(release: dict, *, compress: bool = True) -> str:
    """What helm stores in data.release: base64(gzip(json)) (pkg/storage/driver/util.go encodeRelease)."""
    raw = json.dumps(release).encode()
    if compress:
        raw = gzip.compress(raw, compresslevel=9)
    return base64.b64encode(raw).decode()


def api_data(payload: str) -> str:
    """The Secret's data.release as the Kubernetes API serves it: base64 once more."""
    return base64.b64encode(payload.encode()).decode()


class FakeReader:
    """Secrets of one namespace: ``{revision: (status, uid, data.release as served)}``."""

    def __init__(self) -> None:
        self.secrets: dict[int, tuple[str, str, str]] = {}
        self.reads = 0
        self.lists = 0

    def put(self, release: str, revision: int, manifest: str, status: str = "deployed", uid: str = "",
            description: str = "Install complete") -> None:
        self.secrets[revision] = (status, uid or f"uid-{revision}", api_data(helm_encode(
            release_json(release, revision, manifest, status, description))))

    def list_revisions(self, namespace: str, release: str) -> list[StoredRevision]:
        self.lists += 1
        items = [{"metadata": {"name": secret_name(release, rev), "uid": uid,
                               "labels": {"owner": "helm", "name": release, "version": str(rev), "status": st}}}
                 for rev, (st, uid, _) in self.secrets.items()]
        return revisions_from_items(items)

    def read_payload(self, namespace: str, name: str) -> str | None:
        self.reads += 1
        rev = int(name.rsplit(".v", 1)[1])
        return self.secrets[rev][2] if rev in self.secrets else None


def pod(name: str, rv: str, *, uid: str | None = None, labels: dict | None = None, ready: bool = True,
        deleting: bool = False, restarts: int = 0, image: str = "demo:1.0"):
    md = {"name": name, "namespace": "ns", "uid": uid or f"uid-{name}", "resourceVersion": rv,
          "labels": labels if labels is not None else {"app": "demo"}}
    if deleting:
        md["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    return kobj("V1Pod", {
        "metadata": md,
        "spec": {"containers": [{"name": "web", "image": image}]},
        "status": {"conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
                   "containerStatuses": [{"name": "web", "image": image, "imageID": "", "ready": ready,
                                          "restartCount": restarts}]}})
