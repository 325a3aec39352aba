"""Namespace names, label values, artifact directory names, keep policy decisions."""
from __future__ import annotations

import re

import pytest

from harness.core.errors import UsageError
from harness.k8s.diagnostics import artifact_dir, safe_name
from harness.k8s.namespaces import (
    RUN_LABEL,
    TEST_ANNOTATION,
    TEST_LABEL,
    label_value,
    namespace_body,
    namespace_name,
    new_run_id,
    should_keep,
)

DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")


@pytest.mark.parametrize("prefix", [
    "test_upgrade_keeps_serving", "Test::Weird[Param-1]", "x" * 100, "--__--", "a" * 56 + "-" + "b" * 10,
])
def test_namespace_name_is_dns_label_with_random_suffix(prefix):
    a, b = namespace_name(prefix), namespace_name(prefix)
    for name in (a, b):
        assert DNS_LABEL.match(name) and len(name) <= 63, name
        assert re.search(r"-[a-z0-9]{6}$", name)
    assert a != b


def test_namespace_name_keeps_readable_prefix():
    assert namespace_name("test_upgrade_keeps_serving", "abc123") == "test-upgrade-keeps-serving-abc123"
    assert namespace_name("x" * 100, "abc123") == "x" * 56 + "-abc123"


def test_label_value_is_valid_and_unique_when_trimmed():
    nodeid = "scenarios/test_upgrade.py::test_upgrade_keeps_serving[realtime]"
    v = label_value(nodeid)
    assert LABEL_VALUE.match(v) and len(v) <= 63
    long_a = "scenarios/test_x.py::test_" + "a" * 80 + "[1]"
    long_b = "scenarios/test_x.py::test_" + "a" * 80 + "[2]"
    va, vb = label_value(long_a), label_value(long_b)
    assert len(va) <= 63 and LABEL_VALUE.match(va) and va != vb
    assert LABEL_VALUE.match(label_value(new_run_id()))


def test_namespace_body_labels_run_and_test():
    body = namespace_body("ns-abc123", run_id="20250101-000000-ab12", test_id="t.py::test_a[x]")
    labels = body["metadata"]["labels"]
    assert labels[RUN_LABEL] == "20250101-000000-ab12"
    assert labels[TEST_LABEL] == "t.py_test_a_x"
    assert body["metadata"]["annotations"][TEST_ANNOTATION] == "t.py::test_a[x]"


@pytest.mark.parametrize(("nodeid", "want"), [
    ("scenarios/test_upgrade.py::test_x[realtime]", "scenarios_test_upgrade.py__test_x-realtime"),
    ("tests/unit/test_a.py::TestK::test_b", "tests_unit_test_a.py__TestK__test_b"),
    ("t.py::test[a/b c:d]", "t.py__test-a_b_c_d"),
])
def test_artifact_names(nodeid, want, tmp_path):
    assert safe_name(nodeid) == want
    assert artifact_dir(tmp_path, nodeid) == tmp_path / want


def test_artifact_name_long_ids_stay_unique_and_bounded():
    a = safe_name("t.py::test[" + "x" * 300 + "1]")
    b = safe_name("t.py::test[" + "x" * 300 + "2]")
    assert a != b and len(a) <= 120 and len(b) <= 120


@pytest.mark.parametrize(("policy", "failed", "keep"), [
    ("never", False, False), ("never", True, False),
    ("on-failure", False, False), ("on-failure", True, True),
    ("always", False, True), ("always", True, True),
])
def test_keep_policy(policy, failed, keep):
    assert should_keep(policy, failed) is keep


def test_keep_policy_unknown():
    with pytest.raises(UsageError, match="'sometimes' is not one of never, on-failure, always"):
        should_keep("sometimes", True)
