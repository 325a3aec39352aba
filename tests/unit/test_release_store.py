"""Reading a release from helm's storage Secrets (harness/k8s/release_store.py) without a cluster:
payloads built the way helm's encodeRelease builds them, served by a fake Secret reader."""
from __future__ import annotations

import base64
import gzip

import pytest
from observe_fakes import (
    MANIFEST_V1,
    MANIFEST_V2,
    FakeReader,
    api_data,
    helm_encode,
    release_json,
)

from harness.core.errors import HarnessError
from harness.k8s.release_store import (
    ReleaseDecodeError,
    ReleaseNotFound,
    ReleaseStore,
    decode_release,
    revisions_from_items,
    unwrap_secret_data,
)

# --------------------------------------------------------------------------- decoding


def test_decodes_what_helm_encodes():
    rel = release_json("demo", 3, MANIFEST_V1)
    assert decode_release(helm_encode(rel)) == rel
    assert decode_release(unwrap_secret_data(api_data(helm_encode(rel)))) == rel


def test_decodes_releases_stored_before_compression():
    rel = release_json("demo", 1, MANIFEST_V1)
    assert decode_release(helm_encode(rel, compress=False)) == rel


@pytest.mark.parametrize("payload, words", [
    ("not base64 !!", "not base64"),
    (base64.b64encode(b"\x1f\x8b\x08 broken gzip").decode(), "not a valid gzip stream"),
    (base64.b64encode(b"{not json").decode(), "not JSON"),
    (base64.b64encode(gzip.compress(b"[1, 2]")).decode(), "not an object"),
])
def test_undecodable_payloads_raise_one_clear_line(payload, words):
    with pytest.raises(ReleaseDecodeError) as err:
        decode_release(payload, where="Secret ns/sh.helm.release.v1.demo.v1")
    msg = str(err.value)
    assert words in msg and "sh.helm.release.v1.demo.v1" in msg and "\n" not in msg
    assert isinstance(err.value, HarnessError)


def test_secret_data_that_is_not_base64_is_named():
    with pytest.raises(ReleaseDecodeError, match="data.release is not base64"):
        unwrap_secret_data("%%%")


def test_revisions_come_from_helm_labels_only():
    items = [
        {"metadata": {"name": "a", "uid": "1", "labels": {"owner": "helm", "version": "2", "status": "deployed"}}},
        {"metadata": {"name": "b", "uid": "2", "labels": {"owner": "helm", "version": "1", "status": "superseded"}}},
        {"metadata": {"name": "c", "uid": "3", "labels": {"owner": "someone", "version": "3"}}},
        {"metadata": {"name": "d", "uid": "4", "labels": {"owner": "helm", "version": "x"}}},
        {"metadata": {"name": "e"}},
    ]
    assert [(r.revision, r.status) for r in revisions_from_items(items)] == [(1, "superseded"), (2, "deployed")]


# --------------------------------------------------------------------------- the store and its cache


def test_latest_revision_status_and_manifest():
    reader = FakeReader()
    reader.put("demo", 1, MANIFEST_V1, "superseded")
    reader.put("demo", 2, MANIFEST_V2, "deployed")
    store = ReleaseStore(None, "ns", "demo", reader=reader)
    assert store.status() == ("deployed", 2)
    rev = store.get()
    assert (rev.revision, rev.chart, rev.app_version) == (2, "demo-0.2.0", "2.0")
    assert "demo:2.0" in store.manifest() and "demo:1.0" in store.manifest(1)
    assert [o["kind"] for o in store.objects()] == ["Deployment", "Service"]


def test_the_same_revision_is_decoded_once():
    reader = FakeReader()
    reader.put("demo", 1, MANIFEST_V1)
    store = ReleaseStore(None, "ns", "demo", reader=reader)
    calls = []

    def workloads(objs):
        calls.append(1)
        return [o["metadata"]["name"] for o in objs if o["kind"] == "Deployment"]

    for _ in range(5):
        store.manifest()
        store.objects()
        assert store.derived("workloads", workloads) == ["demo"]
    assert store.decode_count == 1
    assert reader.reads == 1
    assert len(calls) == 1


def test_a_new_revision_is_decoded_and_derived_again():
    reader = FakeReader()
    reader.put("demo", 1, MANIFEST_V1, "deployed")
    store = ReleaseStore(None, "ns", "demo", reader=reader)

    def images(objs):
        return sorted(c["image"] for o in objs if o["kind"] == "Deployment"
                      for c in o["spec"]["template"]["spec"]["containers"])

    assert store.derived("images", images) == ["demo:1.0"]
    reader.put("demo", 1, MANIFEST_V1, "superseded")
    reader.put("demo", 2, MANIFEST_V2, "pending-upgrade")
    assert store.status() == ("pending-upgrade", 2)
    assert store.derived("images", images) == ["demo:2.0"]
    reader.put("demo", 2, MANIFEST_V2, "deployed")   # helm rewrites the Secret when the status changes
    assert store.status() == ("deployed", 2)          # the labels are read fresh
    assert store.derived("images", images) == ["demo:2.0"]
    assert store.derived("images", images, revision=1) == ["demo:1.0"]
    assert store.decode_count == 2


def test_a_reinstalled_revision_with_a_new_secret_is_decoded_again():
    reader = FakeReader()
    reader.put("demo", 1, MANIFEST_V1, uid="first")
    store = ReleaseStore(None, "ns", "demo", reader=reader)
    assert "demo:1.0" in store.manifest()
    reader.put("demo", 1, MANIFEST_V2, uid="second")   # uninstalled and installed again
    assert "demo:2.0" in store.manifest()
    assert store.decode_count == 2


def test_a_missing_release_or_revision_is_one_line():
    reader = FakeReader()
    store = ReleaseStore(None, "ns", "demo", reader=reader)
    with pytest.raises(ReleaseNotFound, match=r"^release demo not found in namespace ns \(no Secret labelled"):
        store.status()
    reader.put("demo", 1, MANIFEST_V1)
    with pytest.raises(ReleaseNotFound, match="has no revision 7 in namespace ns"):
        store.manifest(7)


def test_an_undecodable_secret_names_it():
    reader = FakeReader()
    reader.secrets[1] = ("deployed", "u", api_data("definitely not helm"))
    store = ReleaseStore(None, "ns", "demo", reader=reader)
    with pytest.raises(ReleaseDecodeError, match=r"Secret ns/sh\.helm\.release\.v1\.demo\.v1: .*not base64"):
        store.manifest()
    assert store.decode_count == 0


def test_history_is_read_fresh_like_helm_history():
    reader = FakeReader()
    reader.put("demo", 1, MANIFEST_V1, "deployed")
    reader.put("demo", 2, MANIFEST_V2, "pending-upgrade", description="Preparing upgrade")
    store = ReleaseStore(None, "ns", "demo", reader=reader)
    store.get(2)  # cached while pending
    reader.put("demo", 2, MANIFEST_V2, "failed", description='Upgrade "demo" failed: context deadline exceeded')
    reader.put("demo", 1, MANIFEST_V1, "superseded")
    reader.put("demo", 3, MANIFEST_V1, "deployed", description="Rollback to 1")
    hist = store.history()
    assert [(h["revision"], h["status"], h["description"]) for h in hist] == [
        (1, "superseded", "Install complete"),
        (2, "failed", 'Upgrade "demo" failed: context deadline exceeded'),
        (3, "deployed", "Rollback to 1")]
    assert hist[0]["chart"] == "demo-0.1.0" and hist[2]["app_version"] == "3.0"
    assert hist[2]["updated"] == "2026-01-01T00:00:03Z"
