"""The release store and the pod informer through the real Kubernetes client, against a tiny fake API
server on 127.0.0.1: the requests they send (metadata-only list, label selector, watch resumption)
and the answers they parse, without a cluster."""
from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import pytest
from kubernetes import client
from observe_fakes import MANIFEST_V1, MANIFEST_V2, api_data, helm_encode, release_json

from harness.k8s.informer import PodInformer
from harness.k8s.release_store import ReleaseNotFound, ReleaseStore, secret_name
from harness.k8s.wait import wait_for


def pod_json(name: str, rv: str) -> dict:
    return {"kind": "Pod", "apiVersion": "v1",
            "metadata": {"name": name, "namespace": "ns", "uid": f"uid-{name}", "resourceVersion": rv,
                         "labels": {"app": "demo"}},
            "spec": {"containers": [{"name": "web", "image": "demo:1.0"}]}}


class FakeApi:
    """Serves helm storage Secrets and pods of namespace ``ns``; records every request."""

    def __init__(self) -> None:
        self.secrets: dict[str, dict] = {}
        self.pod_lists: list[tuple[list[dict], str]] = []
        self.watches: list[list[dict]] = []   # one entry per watch request: the event lines to send
        self.requests: list[tuple[str, dict, dict]] = []
        self.done = threading.Event()
        api = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep the test output quiet
                pass

            def do_GET(self):
                url = urlparse(self.path)
                query = {k: v[0] for k, v in parse_qs(url.query).items()}
                api.requests.append((url.path, query, dict(self.headers)))
                code, body = api.answer(url.path, query)
                data = b"".join(json.dumps(b).encode() + b"\n" for b in body) if isinstance(body, list) \
                    else json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def answer(self, path: str, query: dict) -> tuple[int, object]:
        if path == "/api/v1/namespaces/ns/secrets":
            want = dict(kv.split("=") for kv in query.get("labelSelector", "").split(",") if kv)
            items = [{"metadata": s["metadata"]} for s in self.secrets.values()
                     if all(s["metadata"]["labels"].get(k) == v for k, v in want.items())]
            return 200, {"kind": "PartialObjectMetadataList", "apiVersion": "meta.k8s.io/v1",
                         "metadata": {"resourceVersion": "7"}, "items": items}
        if path.startswith("/api/v1/namespaces/ns/secrets/"):
            name = path.rsplit("/", 1)[1]
            if name not in self.secrets:
                return 404, {"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "NotFound",
                             "code": 404, "message": f'secrets "{name}" not found'}
            return 200, self.secrets[name]
        if path == "/api/v1/namespaces/ns/pods":
            if query.get("watch") == "true":
                if not self.watches:
                    self.done.wait(0.1)
                    return 200, []
                return 200, self.watches.pop(0)
            items, rv = self.pod_lists.pop(0) if self.pod_lists else ([], "0")
            return 200, {"kind": "PodList", "apiVersion": "v1", "metadata": {"resourceVersion": rv}, "items": items}
        return 404, {"kind": "Status", "code": 404, "message": "not here"}

    def put_release(self, release: str, revision: int, manifest: str, status: str) -> None:
        name = secret_name(release, revision)
        self.secrets[name] = {
            "kind": "Secret", "apiVersion": "v1", "type": "helm.sh/release.v1",
            "metadata": {"name": name, "namespace": "ns", "uid": f"uid-{revision}",
                         "labels": {"owner": "helm", "name": release, "version": str(revision), "status": status}},
            "data": {"release": api_data(helm_encode(release_json(release, revision, manifest, status)))}}

    def client(self):
        cfg = client.Configuration()
        cfg.host = f"http://127.0.0.1:{self.server.server_address[1]}"
        return client.ApiClient(cfg)


@pytest.fixture
def fake_api():
    api = FakeApi()
    api.thread.start()
    yield api
    api.done.set()
    api.server.shutdown()
    api.server.server_close()


def test_store_lists_metadata_only_and_reads_each_revision_once(fake_api):
    fake_api.put_release("demo", 1, MANIFEST_V1, "superseded")
    fake_api.put_release("demo", 2, MANIFEST_V2, "deployed")
    fake_api.put_release("other", 1, MANIFEST_V1, "deployed")
    store = ReleaseStore(fake_api.client(), "ns", "demo")
    assert store.status() == ("deployed", 2)
    for _ in range(3):
        assert "demo:2.0" in store.manifest()
    assert "demo:1.0" in store.manifest(1)
    lists = [(q, h) for p, q, h in fake_api.requests if p.endswith("/secrets")]
    gets = [p for p, _, _ in fake_api.requests if "/secrets/" in p]
    assert all(q["labelSelector"] == "owner=helm,name=demo" for q, _ in lists)
    assert all("as=PartialObjectMetadataList" in h["Accept"] for _, h in lists)
    assert sorted(gets) == [f"/api/v1/namespaces/ns/secrets/{secret_name('demo', r)}" for r in (1, 2)]
    assert store.decode_count == 2


def test_store_names_a_missing_release(fake_api):
    with pytest.raises(ReleaseNotFound, match="release nope not found in namespace ns"):
        ReleaseStore(fake_api.client(), "ns", "nope").manifest()


def test_informer_lists_watches_resumes_and_relists_on_410(fake_api):
    fake_api.pod_lists = [([pod_json("a", "10")], "10"), ([pod_json("b", "30")], "30")]
    fake_api.watches = [
        [{"type": "ADDED", "object": pod_json("c", "11")}],
        [{"type": "ERROR", "object": {"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": 410,
                                      "reason": "Expired", "message": "too old resource version: 11 (25)"}}],
        [{"type": "ADDED", "object": pod_json("d", "31")},
         {"type": "BOOKMARK", "object": {"kind": "Pod", "apiVersion": "v1", "metadata": {"resourceVersion": "35"}}}],
    ]
    inf = PodInformer(fake_api.client(), "ns", slice_seconds=1)
    try:
        assert inf.start(sync_timeout=10)
        wait_for(lambda: (not fake_api.watches and inf.resource_version == "35", f"rv={inf.resource_version}"),
                 timeout=15, interval=0.02, what="the scripted watches to be served")
        assert sorted(p.metadata.name for p in inf.pods()) == ["b", "d"]
        assert isinstance(inf.pods()[0], client.V1Pod)
        watched = [q.get("resourceVersion") for p, q, _ in fake_api.requests
                   if p.endswith("/pods") and q.get("watch") == "true"]
        assert watched[:3] == ["10", "11", "30"]
        assert inf.lists == 2 and inf.errors == []
    finally:
        fake_api.done.set()
        inf.stop()
