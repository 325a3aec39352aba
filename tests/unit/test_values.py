"""Values merging (helm's coalescing of -f files and --set) and --set parsing."""
from __future__ import annotations

import pytest

from harness.core.errors import UsageError
from harness.core.values import load_values_file, merge_values, parse_set


def test_merge_maps_recursively_later_wins_lists_replace():
    base = {"image": {"repository": "web", "tag": "1.0"}, "ports": [80, 443], "replicas": 1}
    over = {"image": {"tag": "1.1"}, "ports": [8080]}
    merged = merge_values(base, over)
    assert merged == {"image": {"repository": "web", "tag": "1.1"}, "ports": [8080], "replicas": 1}
    assert base["image"]["tag"] == "1.0"  # inputs untouched


def test_merge_null_deletes_key():
    assert merge_values({"a": {"b": 1, "c": 2}}, {"a": {"b": None}}) == {"a": {"c": 2}}


def test_merge_scalar_replaced_by_map_and_back():
    assert merge_values({"a": 1}, {"a": {"b": 2}}) == {"a": {"b": 2}}
    assert merge_values({"a": {"b": 2}}, {"a": "x"}) == {"a": "x"}


@pytest.mark.parametrize(("expr", "want"), [
    ("a.b=c", {"a": {"b": "c"}}),
    ("a=1,b=true,c=null,d=0.5,e=007", {"a": 1, "b": True, "c": None, "d": "0.5", "e": "007"}),
    (r"msg=x\,y", {"msg": "x,y"}),
    (r"annotations.kubernetes\.io/ingress-class=nginx", {"annotations": {"kubernetes.io/ingress-class": "nginx"}}),
    ("env[1].name=B", {"env": [None, {"name": "B"}]}),
    ("list[0]=a", {"list": ["a"]}),
])
def test_parse_set(expr, want):
    assert parse_set(expr) == want


@pytest.mark.parametrize("expr", ["novalue", "a..b=1", "=1"])
def test_parse_set_rejects(expr):
    with pytest.raises(UsageError):
        parse_set(expr)



def test_load_values_file_errors(tmp_path):
    p = tmp_path / "v.yaml"
    p.write_text("a: 1\n b: 2\n")
    with pytest.raises(UsageError, match=r"is not valid YAML at line 2, column 3"):
        load_values_file(p)
    p.write_text("")
    assert load_values_file(p) == {}
    with pytest.raises(UsageError, match="does not exist"):
        load_values_file(tmp_path / "missing.yaml")
